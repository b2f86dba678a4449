import SigilVerifier

// The webhook tables of migration 5 (SQLDialect.swift): the sender's lease, each endpoint's
// cursor on the audit log, and the queued deliveries. The rules are Issuer+Webhooks.swift's.

/// The `webhook_deliveries` columns a claim reads, in the order ``WebhookDelivery/init(row:)`` reads.
private let deliveryColumns = "seq, endpoint, delivery, event_type, event_id, body, created_at, attempts"

/// The `webhook_endpoints` columns, in the order ``WebhookCursor/init(row:)`` reads.
private let cursorColumns =
    """
    name, version, after_event, final_through, gap_below, gap_horizon, gap_seen_at, expiry_checked, after_guid,
    expiry_target, expiry_after_to, expiry_after_seq
    """

extension WebhookDelivery {
    /// A claimed row; nil for one whose event type this build does not know (it is left queued).
    init?(row r: some SQLRow) {
        guard let event = WebhookEvent(rawValue: r.text(3)) else { return nil }
        self.init(
            seq: r.int64(0), endpoint: r.text(1), id: r.text(2), event: event, eventID: r.optionalInt64(4),
            body: r.bytes(5), queuedAt: r.int64(6), attempt: Int(r.int64(7)) + 1)
    }
}

extension WebhookCursor {
    init(row r: some SQLRow) {
        self.init(
            name: r.text(0), version: r.int64(1), afterEvent: r.int64(2), finalThrough: r.int64(3),
            gapBelow: r.optionalInt64(4), gapHorizon: r.optionalInt64(5), gapSeenAt: r.optionalInt64(6),
            expiryChecked: r.int64(7), afterGUID: r.tokenID(8),
            expiryResume: ExpiryResume(
                target: r.optionalInt64(9), validTo: r.optionalInt64(10), seq: r.optionalInt64(11)))
    }

    var values: [SQLValue] {
        [
            .text(name), .int(version), .int(afterEvent), .int(finalThrough), .int(gapBelow), .int(gapHorizon),
            .int(gapSeenAt), .int(expiryChecked), .bytes(afterGUID?.bytes), .int(expiryResume?.target),
            .int(expiryResume?.validTo), .int(expiryResume?.seq),
        ]
    }
}

extension SQLStore {
    // MARK: The lease

    package func webhookLease(_ name: String) throws -> WebhookLease? {
        try rows("SELECT holder, taken_at, expires_at FROM webhook_lease WHERE name = ?1", [.text(name)]) {
            WebhookLease(holder: $0.text(0), takenAt: $0.int64(1), expiresAt: $0.int64(2))
        }.first
    }

    package func putWebhookLease(_ name: String, _ lease: WebhookLease) throws {
        try run(
            """
            INSERT INTO webhook_lease (name, holder, taken_at, expires_at) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, taken_at = excluded.taken_at,
                expires_at = excluded.expires_at
            """, [.text(name), .text(lease.holder), .int(lease.takenAt), .int(lease.expiresAt)])
    }

    // MARK: Cursors

    func webhookCursor(_ name: String) throws -> WebhookCursor? {
        try rows("SELECT \(cursorColumns) FROM webhook_endpoints WHERE name = ?1", [.text(name)]) {
            WebhookCursor(row: $0)
        }.first
    }

    /// Stores `cursor` if the row still has `expected` as its version (nil: no row yet); whether it did.
    func putWebhookCursor(_ cursor: WebhookCursor, expected: Int64?) throws -> Bool {
        guard let expected else {
            return try run(
                "INSERT INTO webhook_endpoints (\(cursorColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (name) DO NOTHING",
                cursor.values) == 1
        }
        return try run(
            """
            UPDATE webhook_endpoints SET version = ?2, after_event = ?3, final_through = ?4, gap_below = ?5,
                gap_horizon = ?6, gap_seen_at = ?7, expiry_checked = ?8, after_guid = ?9, expiry_target = ?10,
                expiry_after_to = ?11, expiry_after_seq = ?12
            WHERE name = ?1 AND version = ?13
            """, cursor.values + [.int(expected)]) == 1
    }

    // MARK: Reading the audit log

    /// Events after `id`, oldest first, at most `limit`, without their GUIDs.
    func events(after id: Int64, limit: Int) throws -> [(id: Int64, event: AuditEvent)] {
        try rows(
            "SELECT id, at, actor, action, details FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
            [.int(id), .int(Int64(limit))]
        ) { r -> (id: Int64, event: AuditEvent)? in
            // An action this build does not know is none webhooks report.
            guard let action = AuditAction(rawValue: r.text(3)) else { return nil }
            return (
                r.int64(0),
                AuditEvent(at: r.int64(1), actor: r.text(2), action: action, guids: [], detailsJSON: r.text(4))
            )
        }.compactMap { $0 }
    }

    /// The GUIDs audit event `id` names, in GUID order.
    func eventGUIDs(_ id: Int64) throws -> [TokenID] {
        try rows("SELECT guid FROM event_tokens WHERE event = ?1 ORDER BY guid", [.int(id)]) { $0.tokenID(0) }
            .compactMap { $0 }
    }

    /// At most `limit` of the GUIDs audit event `id` names, in GUID order, after `after` (nil:
    /// from the first): one page of a large event.
    func eventGUIDs(_ id: Int64, after: TokenID?, limit: Int) throws -> [TokenID] {
        guard let after else {
            return try rows(
                "SELECT guid FROM event_tokens WHERE event = ?1 ORDER BY guid LIMIT ?2", [.int(id), .int(Int64(limit))]
            ) { $0.tokenID(0) }.compactMap { $0 }
        }
        return try rows(
            "SELECT guid FROM event_tokens WHERE event = ?1 AND guid > ?2 ORDER BY guid LIMIT ?3",
            [.int(id), .bytes(after.bytes), .int(Int64(limit))]
        ) { $0.tokenID(0) }.compactMap { $0 }
    }

    /// The token rows of `ids` there are (deleted ones included): one statement on PostgreSQL.
    func tokens(_ ids: [TokenID]) throws -> [TokenID: TokenRecord] {
        var out: [TokenID: TokenRecord] = [:]
        guard !ids.isEmpty else { return out }
        let sql = "SELECT \(tokenColumns) FROM tokens WHERE \(dialect.guidIs("?1"))"
        let decode: (Row) throws -> Void = { row in
            let t = try TokenRecord(row: row, location: self.location)
            out[t.id] = t
        }
        if dialect.name == SQLDialect.postgres.name {
            try query(sql, [.byteArrays(ids.map(\.bytes))], decode)
        } else {
            for id in ids { try query(sql, [.bytes(id.bytes)], decode) }
        }
        return out
    }

    /// Where the transaction's snapshot stands among PostgreSQL's transactions: the oldest
    /// still running (`xmin`) and the first not yet started (`xmax`), as 64-bit IDs that never
    /// wrap. Nil where event IDs follow commit order (``SQLDialect/eventIDsFollowCommits``:
    /// SQLite, whose one writer at a time commits them in order).
    func snapshotHorizon() throws -> (xmin: Int64, xmax: Int64)? {
        guard !dialect.eventIDsFollowCommits else { return nil }
        return try rows(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ) { ($0.int64(0), $0.int64(1)) }.first
    }

    /// The ID of the event after which the webhook cursor of an older sigil-server (the time
    /// of the last audit second read, `at`, and how many of its events were read, `seen`)
    /// stands: the event before the first one it had not read.
    func eventIDBefore(legacyAt at: Int64, seen: Int64) throws -> Int64 {
        let unread = [
            try integer(
                "SELECT id FROM events WHERE at = ?1 ORDER BY id LIMIT 1 OFFSET ?2", [.int(at), .int(max(0, seen))]),
            try integer("SELECT min(id) FROM events WHERE at > ?1", [.int(at)]),
        ].compactMap { $0 }
        guard let first = unread.min() else { return try newestEventID() }
        return first - 1
    }

    func deleteState(_ keys: [String]) throws {
        for key in keys { try run("DELETE FROM issuer_state WHERE key = ?1", [.text(key)]) }
    }

    // MARK: Deliveries

    func insertWebhookDelivery(
        endpoint: String, id: String, _ n: WebhookNotification, queuedAt: Int64
    ) throws {
        try run(
            """
            INSERT INTO webhook_deliveries (endpoint, delivery, event_type, event_id, body, created_at, next_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (delivery) DO NOTHING
            """,
            [.text(endpoint), .text(id), .text(n.event.rawValue), .int(n.eventID), .bytes(n.body), .int(queuedAt)])
    }

    /// How many deliveries each endpoint has queued.
    func webhookQueueDepths() throws -> [String: Int] {
        var out: [String: Int] = [:]
        try query("SELECT endpoint, count(*) FROM webhook_deliveries GROUP BY endpoint", []) {
            out[$0.text(0)] = Int($0.int64(1))
        }
        return out
    }

    func webhookQueueDepth(_ endpoint: String) throws -> Int {
        Int(try integer("SELECT count(*) FROM webhook_deliveries WHERE endpoint = ?1", [.text(endpoint)]) ?? 0)
    }

    /// Deliveries of `endpoint` due at `now` and not being sent, soonest first, then in queue order.
    func dueWebhookDeliveries(_ endpoint: String, now: Int64, limit: Int) throws -> [WebhookDelivery] {
        try rows(
            """
            SELECT \(deliveryColumns) FROM webhook_deliveries
            WHERE endpoint = ?1 AND next_at <= ?2 AND coalesce(sending_until, 0) <= ?2
            ORDER BY next_at, seq LIMIT ?3
            """, [.text(endpoint), .int(now), .int(Int64(limit))]
        ) { WebhookDelivery(row: $0) }.compactMap { $0 }
    }

    /// When the next of `endpoint`'s deliveries is due (its next attempt, or the end of a claim).
    func nextWebhookDue(_ endpoint: String) throws -> Int64? {
        try integer(
            """
            SELECT min(CASE WHEN coalesce(sending_until, 0) > next_at THEN sending_until ELSE next_at END)
            FROM webhook_deliveries WHERE endpoint = ?1
            """, [.text(endpoint)])
    }

    func claimWebhookDelivery(seq: Int64, until: Int64) throws {
        try run(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, sending_until = ?2 WHERE seq = ?1",
            [.int(seq), .int(until)])
    }

    /// Removes a delivery; whether it was still there.
    func deleteWebhookDelivery(seq: Int64) throws -> Bool {
        try run("DELETE FROM webhook_deliveries WHERE seq = ?1", [.int(seq)]) > 0
    }

    /// Schedules a delivery's next attempt; whether it was still there.
    func retryWebhookDelivery(seq: Int64, at next: Int64, error: String) throws -> Bool {
        try run(
            "UPDATE webhook_deliveries SET next_at = ?2, sending_until = NULL, last_error = ?3 WHERE seq = ?1",
            [.int(seq), .int(next), .text(error)]) > 0
    }

    /// Makes `endpoint`'s deliveries that wait for a retry due at `now`, those already due
    /// included, so all of them go in queue order; how many.
    func hastenWebhookRetries(_ endpoint: String, now: Int64) throws -> Int {
        try run(
            """
            UPDATE webhook_deliveries SET next_at = ?2
            WHERE endpoint = ?1 AND attempts > 0 AND next_at <> ?2 AND coalesce(sending_until, 0) <= ?2
            """, [.text(endpoint), .int(now)])
    }

    /// Removes the deliveries of endpoints other than `names` queued before `cutoff`; how many.
    func dropWebhookDeliveries(notFor names: [String], queuedBefore cutoff: Int64) throws -> Int {
        var b: [SQLValue] = [.int(cutoff)]
        let list = names.map { name -> String in
            b.append(.text(name))
            return "?\(b.count)"
        }
        let others = list.isEmpty ? "" : " AND endpoint NOT IN (\(list.joined(separator: ", ")))"
        return try run("DELETE FROM webhook_deliveries WHERE created_at < ?1\(others)", b)
    }

    // MARK: Copying a ledger (`ledger migrate`)

    /// Every cursor and queued delivery, in queue order.
    func webhookTables() throws -> WebhookTables {
        var out = WebhookTables()
        out.cursors = try rows("SELECT \(cursorColumns) FROM webhook_endpoints ORDER BY name") {
            WebhookCursor(row: $0)
        }
        out.deliveries = try rows(
            """
            SELECT endpoint, delivery, event_type, event_id, body, created_at, attempts, next_at, last_error
            FROM webhook_deliveries ORDER BY seq
            """
        ) { r -> [SQLValue] in
            [
                .text(r.text(0)), .text(r.text(1)), .text(r.text(2)), .int(r.optionalInt64(3)), .bytes(r.bytes(4)),
                .int(r.int64(5)), .int(r.int64(6)), .int(r.int64(7)), .text(r.optionalText(8)),
            ]
        }
        return out
    }

    /// Writes copied cursors and deliveries; a claim in flight in the source is due at once here.
    func restoreWebhooks(_ tables: WebhookTables) throws {
        for cursor in tables.cursors { _ = try putWebhookCursor(cursor, expected: nil) }
        for row in tables.deliveries {
            try run(
                """
                INSERT INTO webhook_deliveries
                    (endpoint, delivery, event_type, event_id, body, created_at, attempts, next_at, last_error)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                """, row)
        }
    }
}

/// The webhook rows a ledger copy carries: cursors as they are, deliveries as bound values.
package struct WebhookTables: Sendable {
    var cursors: [WebhookCursor] = []
    var deliveries: [[SQLValue]] = []

    package init() {}
}
