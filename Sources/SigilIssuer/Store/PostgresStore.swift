import Foundation
package import SigilVerifier

/// The ledger in PostgreSQL, for several issuer hosts (`sigil-server` replicas, CLIs) on one
/// shared database. The same tables and rules as ``SQLiteStore``; the only code that speaks SQL
/// to PostgreSQL.
///
/// - Every call of ``Issuer`` is one transaction. A write transaction first takes a
///   transaction-level advisory lock (`pg_advisory_xact_lock`), so writers on every host run one
///   at a time, exactly as SQLite's `BEGIN IMMEDIATE` makes them on one host: a rule checked in
///   a transaction still holds when it commits, and making a revocation list (next sequence,
///   sign, store) can never give one sequence to two lists. The lock waits at most the busy
///   timeout (`lock_timeout`), then `lock_busy`. Readers take a `REPEATABLE READ` snapshot and
///   never wait.
/// - A write that changed something sends `NOTIFY sigil_ledger` with the ledger's schema and this
///   store's random ID before it commits; ``changeCounter()`` counts the notifications of other
///   stores on the same schema, which
///   is how every replica learns of a new list (LISTEN/NOTIFY) and wakes its long polls.
/// - The schema version is one row in `schema_version`; migrations are numbered, forward-only
///   and run under an advisory lock, so two hosts starting at once do not both migrate.
/// - The database holds no secret: keyrings stay files in each host's home.
package final class PostgresStore: LedgerStore {
    /// The schema version this build writes. A database with a higher one is refused.
    package static let schemaVersion = 3
    /// The `LISTEN`/`NOTIFY` channel every change is announced on.
    package static let channel = "sigil_ledger"
    /// Advisory lock keys ("SIGILWR" and "SIGILMG" as numbers): one for writers, one for migrations.
    static let writerLock: Int64 = 0x5349_4749_4C57_5200
    static let migrationLock: Int64 = 0x5349_4749_4C4D_4700

    private let connection: PostgresConnection
    private let url: String
    private var listener: PostgresConnection?
    private var foreignChanges: Int64 = 0
    private var changed = false
    private let instanceID = TokenMinter.newTokenID().hexString
    /// The ledger's schema: two ledgers in one database (each its own `search_path`) share the
    /// channel, so a note names its schema and a store counts only its own ledger's notes.
    private var schema = ""
    private var notePayload: String { schema + " " + instanceID }
    /// The URL without its password: what messages name.
    package let location: String
    private let busySeconds: Double
    package var queryTimeLimit: Double?

    /// Whether `text` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
    package static func isURL(_ text: String) -> Bool { DatabaseLocation.isPostgresURL(text) }

    /// `url` with every password replaced by `***`, safe for messages and logs.
    package static func redact(_ url: String) -> String { DatabaseLocation.redact(url) }

    /// Connects, checks the schema and brings it up to date.
    ///
    /// - Throws: ``IssuerError``: `unavailable` (a bad URL, a database that is down or
    ///   refuses the credentials), `bad_data` (a newer schema), `lock_busy`.
    package init(url: String, busyTimeout seconds: Double) throws(IssuerError) {
        self.url = url
        location = Self.redact(url)
        busySeconds = seconds
        do {
            connection = try PostgresConnection(url: url)
        } catch {
            throw Self.unavailable(error, location: Self.redact(url))
        }
        do {
            let milliseconds = Int64(min(max(seconds, 0), 3_600) * 1000)
            // lock_timeout 0 would mean "wait for ever": 1 ms is the closest to "do not wait".
            try connection.executeScript(
                "SET lock_timeout = \(max(milliseconds, 1)); SET client_min_messages = warning; SET TIME ZONE 'UTC'")
            try migrate()
            schema = try connection.execute("SELECT current_schema()").text(0, 0)
        } catch let error as PostgresError {
            connection.close()
            throw translate(error)
        } catch let error as IssuerError {
            connection.close()
            throw error
        } catch {
            connection.close()
            throw IssuerError(.badData, "\(location): \(error)")
        }
    }

    package func close() {
        connection.close()
        listener?.close()
        listener = nil
    }

    private static func unavailable(_ error: PostgresError, location: String) -> IssuerError {
        var reason = error.message
        while let last = reason.last, ".?; ".contains(last) { reason.removeLast() }
        return IssuerError(
            .unavailable,
            "cannot reach the ledger database \(location): \(reason). Check the URL, that the server is up and the credentials; nothing was changed",
            detail: .databaseUnavailable(location: location))
    }

    /// Maps SQLSTATEs to the issuer's reasons, with messages that say what to do.
    package func translate(_ error: PostgresError) -> IssuerError {
        if error.isConnectionFailure || error.sqlState.hasPrefix("28") || error.sqlState == "3D000" {
            return Self.unavailable(error, location: location)
        }
        switch error.sqlState {
        case "57014" where queryTimeLimit != nil:  // query_canceled: statement_timeout
            return IssuerError.queryTimedOut(queryTimeLimit ?? 0)
        case "55P03", "40001", "40P01":
            return IssuerError(
                .lockBusy, "another sigil process holds the ledger database \(location) (waited \(busySeconds) s)",
                detail: .databaseBusy(path: location, seconds: busySeconds))
        case "53100", "25006":
            return IssuerError(.cannotWrite, "cannot write \(location): \(error.message); nothing was changed")
        default:
            if error.sqlState.hasPrefix("23") { return IssuerError(.conflict, "\(location): \(error.message)") }
            return IssuerError(.badData, "\(location): \(error.description)")
        }
    }

    // MARK: Schema

    /// Forward-only migrations: index i brings version i to i + 1. Text compares bytewise
    /// (`COLLATE "C"`), as in SQLite, so listings sort the same on both stores.
    private static let migrations: [String] = [
        """
        CREATE TABLE tokens (
            seq          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            guid         bytea NOT NULL UNIQUE CHECK (length(guid) = 16),
            name         text COLLATE "C" NOT NULL,
            name_folded  text COLLATE "C" NOT NULL,
            description  text COLLATE "C" NOT NULL DEFAULT '',
            audience     text COLLATE "C" NOT NULL,
            scope_kind   text COLLATE "C" NOT NULL CHECK (scope_kind IN ('all', 'read-only', 'custom')),
            scope_pairs  text COLLATE "C" NOT NULL DEFAULT '',
            valid_from   bigint NOT NULL,
            valid_to     bigint,
            kid          text COLLATE "C" NOT NULL,
            status       text COLLATE "C" NOT NULL CHECK (status IN ('active', 'inactive', 'revoked')),
            created_at   bigint NOT NULL,
            updated_at   bigint NOT NULL,
            revoked_at   bigint,
            deleted_at   bigint,
            created_by   text COLLATE "C" NOT NULL,
            parent       bytea REFERENCES tokens (guid)
        );
        CREATE INDEX tokens_live_name ON tokens (deleted_at, name_folded, seq);
        CREATE INDEX tokens_live_status ON tokens (deleted_at, status, seq);
        CREATE INDEX tokens_live_expires ON tokens (deleted_at, valid_to, seq);
        CREATE INDEX tokens_audience ON tokens (audience, seq);
        CREATE INDEX tokens_listed ON tokens (status, valid_to) WHERE status <> 'active';
        CREATE INDEX tokens_parent ON tokens (parent) WHERE parent IS NOT NULL;
        CREATE TABLE events (
            id       bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at       bigint NOT NULL,
            actor    text COLLATE "C" NOT NULL,
            action   text COLLATE "C" NOT NULL,
            details  text NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_actor ON events (actor, id);
        CREATE INDEX events_action ON events (action, id);
        CREATE TABLE event_tokens (
            event  bigint NOT NULL REFERENCES events (id),
            guid   bytea NOT NULL,
            PRIMARY KEY (event, guid)
        );
        CREATE INDEX event_tokens_guid ON event_tokens (guid, event);
        CREATE TABLE catalog (
            resource  text COLLATE "C" NOT NULL,
            action    text COLLATE "C" NOT NULL,
            access    text NOT NULL CHECK (access IN ('read', 'write')),
            PRIMARY KEY (resource, action)
        );
        CREATE TABLE issuer_state (
            key    text COLLATE "C" PRIMARY KEY,
            value  bigint NOT NULL
        );
        """,
        // 2: signed lists kept for sigil-server, which serves the newest. A plain primary key
        // (never an upsert): a second list under one sequence fails instead of replacing it.
        """
        CREATE TABLE revocation_lists (
            sequence   bigint PRIMARY KEY,
            issued_at  bigint NOT NULL,
            changes    bigint NOT NULL,
            bytes      bytea NOT NULL
        );
        """,
        // 3: lifetime policies, one per audience (`sigil policy set`).
        """
        CREATE TABLE policies (
            audience            text COLLATE "C" PRIMARY KEY,
            max_lifetime        bigint NOT NULL CHECK (max_lifetime > 0),
            allow_never_expires bigint NOT NULL CHECK (allow_never_expires IN (0, 1)),
            set_at              bigint NOT NULL,
            set_by              text COLLATE "C" NOT NULL
        );
        """,
    ]

    private func schemaVersionNow() throws -> Int? {
        let exists = try connection.execute("SELECT to_regclass('schema_version') IS NOT NULL")
        guard exists.int64(0, 0) == 1 else { return nil }
        let row = try connection.execute("SELECT version FROM schema_version")
        return row.rowCount == 0 ? nil : Int(row.int64(0, 0))
    }

    private func tooNew(_ version: Int) -> IssuerError {
        IssuerError(
            .badData,
            "\(location) has schema version \(version), made by a newer Sigil; this one understands up to version \(Self.schemaVersion). Nothing was changed.",
            detail: .databaseTooNew(path: location, found: version, supported: Self.schemaVersion))
    }

    private func migrate() throws {
        // Readers must not wait: only a database that needs migrating takes the lock.
        if let version = try schemaVersionNow() {
            if version == Self.schemaVersion { return }
            if version > Self.schemaVersion { throw tooNew(version) }
        }
        try connection.executeScript("BEGIN")
        do {
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(Self.migrationLock)])
            try connection.executeScript("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            let found = try schemaVersionNow()
            if found == nil { try connection.executeScript("INSERT INTO schema_version (version) VALUES (0)") }
            let version = found ?? 0
            guard version <= Self.schemaVersion else { throw tooNew(version) }
            for next in version..<Self.schemaVersion {
                try connection.executeScript(Self.migrations[next])
                try connection.execute("UPDATE schema_version SET version = $1", [.int(Int64(next + 1))])
            }
            try connection.executeScript("COMMIT")
        } catch {
            try? connection.executeScript("ROLLBACK")
            throw error
        }
    }

    // MARK: Transactions and the change signal

    package func transaction<T>(write: Bool, _ body: () throws -> T) throws -> T {
        if connection.isBroken, !connection.reset() {
            throw Self.unavailable(
                PostgresError(sqlState: "", message: "the connection was lost", isConnectionFailure: true),
                location: location)
        }
        do {
            if write {
                try connection.executeScript("BEGIN ISOLATION LEVEL READ COMMITTED")
                changed = false
                try connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(Self.writerLock)])
            } else {
                try connection.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                if let limit = queryTimeLimit {
                    // SET LOCAL: for this transaction only; 0 would mean no limit.
                    let milliseconds = max(1, Int64(min(max(limit, 0), 3_600) * 1000))
                    try connection.executeScript("SET LOCAL statement_timeout = \(milliseconds)")
                }
            }
        } catch {
            try? connection.executeScript("ROLLBACK")
            throw translate(error)
        }
        do {
            let result = try body()
            if write, changed {
                // Delivered to listeners only if the transaction commits.
                try connection.execute("SELECT pg_notify($1, $2)", [.text(Self.channel), .text(notePayload)])
            }
            try connection.executeScript("COMMIT")
            return result
        } catch let error as PostgresError {
            try? connection.executeScript("ROLLBACK")
            throw translate(error)
        } catch {
            try? connection.executeScript("ROLLBACK")
            throw error
        }
    }

    /// Counts notifications from other stores on a second connection that `LISTEN`s; after a
    /// lost connection it reconnects and counts one change, since some may have been missed.
    package func changeCounter() throws(IssuerError) -> Int64 {
        do {
            if let listener, listener.isBroken {
                listener.close()
                self.listener = nil
            }
            if listener == nil {
                let fresh = try PostgresConnection(url: url)
                try fresh.executeScript("LISTEN \(Self.channel)")
                if foreignChanges > 0 { foreignChanges += 1 }
                listener = fresh
            }
            if let listener {
                let ours = schema + " "
                for note in try listener.notifications()
                where note.payload.hasPrefix(ours) && note.payload != notePayload {
                    foreignChanges += 1
                }
            }
            return foreignChanges
        } catch {
            listener?.close()
            listener = nil
            throw translate(error)
        }
    }

    /// Nothing to give back by hand: autovacuum reclaims the purged rows.
    package func compact() throws(IssuerError) {}

    // MARK: Tokens

    private static let columns = """
        guid, name, description, audience, scope_kind, scope_pairs, valid_from, valid_to, kid, status, \
        created_at, updated_at, revoked_at, deleted_at, created_by, parent
        """

    private static func tokenID(_ r: PostgresResult, _ row: Int, _ column: Int) -> TokenID? {
        guard !r.isNull(row, column) else { return nil }
        let raw = r.bytes(row, column)
        guard raw.count == 16 else { return nil }
        return TokenID(rawValue: raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
    }

    /// A row as a record, refusing any damage instead of reading it as a default.
    private func record(_ r: PostgresResult, _ row: Int) throws -> TokenRecord {
        guard let id = Self.tokenID(r, row, 0) else {
            throw IssuerError(.badData, "\(location): a token row has a bad GUID")
        }
        func damaged(_ what: String) -> IssuerError {
            IssuerError(
                .badData, "\(location): token \(id) is damaged (\(what)); restore the database from a backup",
                detail: .databaseCorrupt(path: location))
        }
        for column in [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 14] where r.isNull(row, column) {
            throw damaged("a required column is empty")
        }
        let scope: Scope
        switch r.text(row, 4) {
        case "all": scope = .all
        case "read-only": scope = .readOnly
        case "custom":
            let pairs = r.text(row, 5).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !pairs.isEmpty, pairs.allSatisfy({ Scope.isValidPair($0) }) else { throw damaged("its scope") }
            scope = .custom(pairs)
        default: throw damaged("its scope kind")
        }
        guard let status = TokenStatus(rawValue: r.text(row, 9)) else { throw damaged("its status") }
        return TokenRecord(
            id: id, name: r.text(row, 1), description: r.text(row, 2), audience: r.text(row, 3), scope: scope,
            validFrom: r.int64(row, 6), validTo: r.optionalInt64(row, 7), keyID: r.text(row, 8), status: status,
            createdAt: r.int64(row, 10), updatedAt: r.int64(row, 11), revokedAt: r.optionalInt64(row, 12),
            createdBy: r.text(row, 14), deletedAt: r.optionalInt64(row, 13), parent: Self.tokenID(r, row, 15))
    }

    private func records(_ r: PostgresResult) throws -> [TokenRecord] {
        try (0..<r.rowCount).map { try record(r, $0) }
    }

    private func values(_ t: TokenRecord) -> [PostgresValue] {
        let (kind, pairs) =
            switch t.scope {
            case .all: ("all", "")
            case .readOnly: ("read-only", "")
            case .custom(let pairs): ("custom", pairs.joined(separator: ","))
            }
        return [
            .bytes(t.id.bytes), .text(t.name), .text(t.description), .text(t.audience), .text(kind), .text(pairs),
            .int(t.validFrom), .int(t.validTo), .text(t.keyID), .text(t.status.rawValue), .int(t.createdAt),
            .int(t.updatedAt), .int(t.revokedAt), .int(t.deletedAt), .text(t.createdBy), .bytes(t.parent?.bytes),
            .text(t.name.lowercased()),
        ]
    }

    package func insert(_ t: TokenRecord) throws {
        changed = true
        try connection.execute(
            "INSERT INTO tokens (\(Self.columns), name_folded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            values(t))
    }

    package func token(_ id: TokenID) throws -> TokenRecord? {
        try records(connection.execute("SELECT \(Self.columns) FROM tokens WHERE guid = $1", [.bytes(id.bytes)]))
            .first
    }

    package func tokens(withPrefix hex: String, limit: Int) throws -> [TokenRecord] {
        let (low, high) = SQLiteStore.range(ofPrefix: hex)
        return try records(
            connection.execute(
                "SELECT \(Self.columns) FROM tokens WHERE guid BETWEEN $1 AND $2 AND deleted_at IS NULL ORDER BY guid LIMIT $3",
                [.bytes(low), .bytes(high), .int(Int64(limit))]))
    }

    /// Builds the WHERE clause and its bindings for a filter. Values are always bound.
    private func whereClause(_ query: TokenQuery, access: (String) -> Access?) -> (String, [PostgresValue]) {
        var parts = ["deleted_at IS NULL"]
        var values: [PostgresValue] = []
        func next(_ value: PostgresValue) -> String {
            values.append(value)
            return "$\(values.count)"
        }
        let f = query.filter
        for word in f.nameWords { parts.append("strpos(name_folded, \(next(.text(word)))) > 0") }
        if let prefix = f.guidPrefix {
            let (low, high) = SQLiteStore.range(ofPrefix: prefix)
            parts.append("guid BETWEEN \(next(.bytes(low))) AND \(next(.bytes(high)))")
        }
        if let audience = f.audience { parts.append("audience = \(next(.text(audience)))") }
        if let status = f.status { parts.append("status = \(next(.text(status.rawValue)))") }
        if let scope = f.scope {
            switch scope {
            case .all: parts.append("scope_kind = 'all'")
            case .readOnly: parts.append("scope_kind = 'read-only'")
            case .grants(let pair):
                // Unknown pairs count as write: a read-only token never grants what might write.
                let isRead = access(pair) == .read
                parts.append(
                    "(scope_kind = 'all'\(isRead ? " OR scope_kind = 'read-only'" : "") OR (scope_kind = 'custom' AND strpos(',' || scope_pairs || ',', \(next(.text("," + pair + ",")))) > 0))"
                )
            }
        }
        if let audiences = query.audiences {
            let list = audiences.sorted().map { next(.text($0)) }.joined(separator: ", ")
            parts.append(list.isEmpty ? "FALSE" : "audience IN (\(list))")
        }
        if query.violatingPolicy { parts.append(Self.violatesPolicy) }
        return (parts.joined(separator: " AND "), values)
    }

    package func forEach(_ query: TokenQuery, access: (String) -> Access?, _ body: (TokenRecord) throws -> Void) throws
    {
        var (clause, values) = whereClause(query, access: access)
        let order =
            switch query.sort {
            case .created: "seq"
            case .name: "name_folded, seq"
            case .status: "status, seq"
            case .expires: "valid_to IS NULL, valid_to, seq"
            }
        values.append(.int(query.limit.map(Int64.init)))  // LIMIT NULL: no limit
        let limitIndex = values.count
        values.append(.int(Int64(query.offset)))
        clause += " ORDER BY \(order) LIMIT $\(limitIndex) OFFSET $\(values.count)"
        let r = try connection.execute("SELECT \(Self.columns) FROM tokens WHERE \(clause)", values)
        for row in 0..<r.rowCount { try body(try record(r, row)) }
    }

    package func count(_ query: TokenQuery, access: (String) -> Access?) throws -> Int {
        let (clause, values) = whereClause(query, access: access)
        return Int(try connection.execute("SELECT count(*) FROM tokens WHERE \(clause)", values).int64(0, 0))
    }

    package func isEmpty() throws -> Bool {
        try connection.execute("SELECT NOT EXISTS (SELECT 1 FROM tokens)").int64(0, 0) == 1
    }

    package func tokenRowCount() throws -> Int {
        Int(try connection.execute("SELECT count(*) FROM tokens").int64(0, 0))
    }

    package func updateLabels(_ id: TokenID, name: String?, description: String?, now: Int64) throws {
        changed = true
        try connection.execute(
            """
            UPDATE tokens SET name = coalesce($2, name), name_folded = coalesce($3, name_folded),
                description = coalesce($4, description), updated_at = $5
            WHERE guid = $1
            """, [.bytes(id.bytes), .text(name), .text(name?.lowercased()), .text(description), .int(now)])
    }

    package func setStatus(_ ids: [TokenID], to status: TokenStatus, now: Int64) throws {
        changed = true
        try connection.execute(
            """
            UPDATE tokens SET status = $2, updated_at = $3,
                revoked_at = CASE WHEN $2 = 'revoked' THEN coalesce(revoked_at, $3) ELSE revoked_at END
            WHERE guid = ANY($1)
            """, [.byteArrays(ids.map(\.bytes)), .text(status.rawValue), .int(now)])
    }

    package func markDeleted(_ ids: [TokenID], now: Int64) throws {
        changed = true
        try connection.execute(
            """
            UPDATE tokens SET status = 'revoked', deleted_at = coalesce(deleted_at, $2), updated_at = $2,
                revoked_at = coalesce(revoked_at, $2)
            WHERE guid = ANY($1)
            """, [.byteArrays(ids.map(\.bytes)), .int(now)])
    }

    package func purgeTombstones(before cutoff: Int64) throws -> Int {
        changed = true
        return try connection.execute(
            """
            DELETE FROM tokens WHERE deleted_at IS NOT NULL AND valid_to IS NOT NULL AND valid_to <= $1
                AND guid NOT IN (SELECT parent FROM tokens WHERE parent IS NOT NULL)
            """, [.int(cutoff)]
        ).affectedRows
    }

    package func descendants(of id: TokenID) throws -> [TokenID] {
        let r = try connection.execute(
            """
            WITH RECURSIVE tree(guid) AS (
                SELECT guid FROM tokens WHERE parent = $1
                UNION SELECT t.guid FROM tokens t JOIN tree ON t.parent = tree.guid
            ) SELECT guid FROM tree
            """, [.bytes(id.bytes)])
        return (0..<r.rowCount).compactMap { Self.tokenID(r, $0, 0) }
    }

    package func revocationEntries(now: Int64, grace: Int64) throws -> [(TokenID, RevocationStatus)] {
        let r = try connection.execute(
            "SELECT guid, status FROM tokens WHERE status IS DISTINCT FROM 'active' AND (valid_to IS NULL OR valid_to > $1 - $2)",
            [.int(now), .int(grace)])
        var out: [(TokenID, RevocationStatus)] = []
        for row in 0..<r.rowCount {
            // A list that silently leaves a revoked token off is worse than no new list.
            guard let id = Self.tokenID(r, row, 0) else {
                throw IssuerError(
                    .badData, "\(location): a revoked or inactive token has a damaged GUID; no list was signed",
                    detail: .databaseCorrupt(path: location))
            }
            switch r.optionalText(row, 1) {
            case "revoked": out.append((id, .revoked))
            case "inactive": out.append((id, .deactivated))
            default:
                throw IssuerError(
                    .badData, "\(location): token \(id) has a damaged status; no list was signed",
                    detail: .databaseCorrupt(path: location))
            }
        }
        out.sort { $0.0 < $1.0 }
        return out
    }

    // MARK: Lifetime policies

    package func policies() throws -> [LifetimePolicy] {
        let r = try connection.execute(
            "SELECT audience, max_lifetime, allow_never_expires, set_at, set_by FROM policies ORDER BY audience")
        return (0..<r.rowCount).map { row in
            LifetimePolicy(
                audience: r.text(row, 0), maxLifetime: r.int64(row, 1), allowNeverExpires: r.int64(row, 2) != 0,
                setAt: r.int64(row, 3), setBy: r.text(row, 4))
        }
    }

    package func putPolicy(_ policy: LifetimePolicy) throws {
        changed = true
        try connection.execute(
            """
            INSERT INTO policies (audience, max_lifetime, allow_never_expires, set_at, set_by)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (audience) DO UPDATE SET max_lifetime = excluded.max_lifetime,
            allow_never_expires = excluded.allow_never_expires, set_at = excluded.set_at, set_by = excluded.set_by
            """,
            [
                .text(policy.audience), .int(policy.maxLifetime), .int(policy.allowNeverExpires ? 1 : 0),
                .int(policy.setAt), .text(policy.setBy),
            ])
    }

    package func removePolicy(audience: String) throws -> Bool {
        let r = try connection.execute("DELETE FROM policies WHERE audience = $1 RETURNING 1", [.text(audience)])
        if r.rowCount > 0 { changed = true }
        return r.rowCount > 0
    }

    // MARK: Issuer state

    package func state(_ key: String) throws -> Int64? {
        let r = try connection.execute("SELECT value FROM issuer_state WHERE key = $1", [.text(key)])
        return r.rowCount == 0 ? nil : r.int64(0, 0)
    }

    package func setState(_ key: String, _ value: Int64) throws {
        changed = true
        try connection.execute(
            "INSERT INTO issuer_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [.text(key), .int(value)])
    }

    package func incrementState(_ key: String) throws {
        changed = true
        try connection.execute(
            "INSERT INTO issuer_state (key, value) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET value = issuer_state.value + 1",
            [.text(key)])
    }

    // MARK: Published lists

    package func putList(sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8]) throws {
        changed = true
        try connection.execute(
            "INSERT INTO revocation_lists (sequence, issued_at, changes, bytes) VALUES ($1, $2, $3, $4)",
            [.int(Int64(bitPattern: sequence)), .int(issuedAt), .int(changes), .bytes(bytes)])
        try connection.execute(
            "DELETE FROM revocation_lists WHERE sequence NOT IN (SELECT sequence FROM revocation_lists ORDER BY sequence < 0 DESC, sequence DESC LIMIT 4)"
        )
    }

    package func latestList() throws -> (sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8])? {
        let r = try connection.execute(
            "SELECT sequence, issued_at, changes, bytes FROM revocation_lists ORDER BY sequence < 0 DESC, sequence DESC LIMIT 1"
        )
        guard r.rowCount > 0 else { return nil }
        return (UInt64(bitPattern: r.int64(0, 0)), r.int64(0, 1), r.int64(0, 2), r.bytes(0, 3))
    }

    // MARK: Catalog

    package func catalog() throws -> Catalog {
        let r = try connection.execute("SELECT resource, action, access FROM catalog")
        var resources: [String: [String: Access]] = [:]
        for row in 0..<r.rowCount {
            guard let access = Access(rawValue: r.text(row, 2)) else { continue }
            resources[r.text(row, 0), default: [:]][r.text(row, 1)] = access
        }
        return Catalog(resources: resources).withIssuerResources()
    }

    package func hasCatalogEntries() throws -> Bool {
        try connection.execute("SELECT EXISTS (SELECT 1 FROM catalog)").int64(0, 0) == 1
    }

    package func putCatalogEntry(resource: String, action: String, access: Access) throws {
        changed = true
        try connection.execute(
            """
            INSERT INTO catalog (resource, action, access) VALUES ($1, $2, $3)
            ON CONFLICT (resource, action) DO UPDATE SET access = excluded.access
            """, [.text(resource), .text(action), .text(access.rawValue)])
    }

    // MARK: Audit

    package func append(_ event: AuditEvent) throws {
        changed = true
        let id = try connection.execute(
            "INSERT INTO events (at, actor, action, details) VALUES ($1, $2, $3, $4) RETURNING id",
            [.int(event.at), .text(event.actor), .text(event.action.rawValue), .text(event.detailsJSON)]
        ).int64(0, 0)
        try link(event: id, event.guids)
    }

    /// One statement for all of an event's GUIDs: a bulk revoke of 10k tokens is one round trip.
    private func link(event id: Int64, _ guids: [TokenID]) throws {
        guard !guids.isEmpty else { return }
        try connection.execute(
            "INSERT INTO event_tokens (event, guid) SELECT $1, g FROM unnest($2::bytea[]) AS g ON CONFLICT DO NOTHING",
            [.int(id), .byteArrays(guids.map(\.bytes))])
    }

    package func events(_ query: AuditQuery) throws -> [AuditEvent] {
        var parts: [String] = ["TRUE"]
        var values: [PostgresValue] = []
        func next(_ value: PostgresValue) -> String {
            values.append(value)
            return "$\(values.count)"
        }
        if let guid = query.guid {
            parts.append("id IN (SELECT event FROM event_tokens WHERE guid = \(next(.bytes(guid.bytes))))")
        }
        if let actor = query.actor { parts.append("actor = \(next(.text(actor)))") }
        if let action = query.action { parts.append("action = \(next(.text(action.rawValue)))") }
        if let since = query.since { parts.append("at >= \(next(.int(since)))") }
        if let audiences = query.audiences {
            let list = audiences.sorted().map { next(.text($0)) }.joined(separator: ", ")
            parts.append(
                list.isEmpty
                    ? "FALSE"
                    : "id IN (SELECT et.event FROM event_tokens et JOIN tokens t ON t.guid = et.guid WHERE t.audience IN (\(list)))"
            )
        }
        let limit = next(.int(Int64(query.limit)))
        let offset = next(.int(Int64(query.offset)))
        let r = try connection.execute(
            "SELECT id, at, actor, action, details FROM events WHERE \(parts.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(limit) OFFSET \(offset)",
            values)
        var out: [AuditEvent] = []
        for row in 0..<r.rowCount {
            let id = r.int64(row, 0)
            guard let action = AuditAction(rawValue: r.text(row, 3)) else {
                throw IssuerError(
                    .badData, "\(location): audit event \(id) has an unknown action",
                    detail: .databaseCorrupt(path: location))
            }
            let details = r.text(row, 4)
            guard (try? JSONSerialization.jsonObject(with: Data(details.utf8))) is [String: Any] else {
                throw IssuerError(
                    .badData, "\(location): audit event \(id) has damaged details",
                    detail: .databaseCorrupt(path: location))
            }
            // A caller limited to some audiences sees only their tokens' GUIDs in each event.
            let reach = query.audiences.map { $0.sorted() } ?? []
            let links = try connection.execute(
                query.audiences == nil
                    ? "SELECT guid FROM event_tokens WHERE event = $1 ORDER BY guid"
                    : "SELECT et.guid FROM event_tokens et JOIN tokens t ON t.guid = et.guid WHERE et.event = $1 AND t.audience IN (\((0..<reach.count).map { "$\($0 + 2)" }.joined(separator: ", "))) ORDER BY et.guid",
                [.int(id)] + reach.map { .text($0) })
            out.append(
                AuditEvent(
                    at: r.int64(row, 1), actor: r.text(row, 2), action: action,
                    guids: (0..<links.rowCount).compactMap { Self.tokenID(links, $0, 0) }, detailsJSON: details))
        }
        return out
    }

    // MARK: Copying a whole ledger

    package func snapshot() throws -> LedgerSnapshot {
        var out = LedgerSnapshot()
        let tokens = try connection.execute("SELECT \(Self.columns), seq FROM tokens ORDER BY seq")
        for row in 0..<tokens.rowCount { out.tokens.append((tokens.int64(row, 16), try record(tokens, row))) }
        var index: [Int64: Int] = [:]
        let events = try connection.execute("SELECT id, at, actor, action, details FROM events ORDER BY id")
        for row in 0..<events.rowCount {
            guard let action = AuditAction(rawValue: events.text(row, 3)) else { continue }
            index[events.int64(row, 0)] = out.events.count
            out.events.append(
                (
                    events.int64(row, 0),
                    AuditEvent(
                        at: events.int64(row, 1), actor: events.text(row, 2), action: action, guids: [],
                        detailsJSON: events.text(row, 4))
                ))
        }
        let links = try connection.execute("SELECT event, guid FROM event_tokens ORDER BY event, guid")
        for row in 0..<links.rowCount {
            guard let i = index[links.int64(row, 0)], let guid = Self.tokenID(links, row, 1) else { continue }
            out.events[i].event.guids.append(guid)
        }
        let catalog = try connection.execute("SELECT resource, action, access FROM catalog ORDER BY resource, action")
        for row in 0..<catalog.rowCount {
            guard let access = Access(rawValue: catalog.text(row, 2)) else { continue }
            out.catalog.append((catalog.text(row, 0), catalog.text(row, 1), access))
        }
        out.policies = try policies()
        let state = try connection.execute("SELECT key, value FROM issuer_state ORDER BY key")
        for row in 0..<state.rowCount { out.state.append((state.text(row, 0), state.int64(row, 1))) }
        let lists = try connection.execute(
            "SELECT sequence, issued_at, changes, bytes FROM revocation_lists ORDER BY sequence")
        for row in 0..<lists.rowCount {
            out.lists.append(
                (UInt64(bitPattern: lists.int64(row, 0)), lists.int64(row, 1), lists.int64(row, 2), lists.bytes(row, 3))
            )
        }
        return out
    }

    /// Whether the database holds no token, event, catalog entry, state or list.
    package func holdsNothing() throws -> Bool {
        try connection.execute(
            """
            SELECT NOT EXISTS (SELECT 1 FROM tokens) AND NOT EXISTS (SELECT 1 FROM events)
                AND NOT EXISTS (SELECT 1 FROM catalog) AND NOT EXISTS (SELECT 1 FROM issuer_state)
                AND NOT EXISTS (SELECT 1 FROM revocation_lists) AND NOT EXISTS (SELECT 1 FROM policies)
            """
        ).int64(0, 0) == 1
    }

    package func restore(_ snapshot: LedgerSnapshot) throws {
        guard try holdsNothing() else {
            throw IssuerError(
                .conflict, "\(location) already holds a ledger; copy only into an empty database. Nothing was copied.")
        }
        changed = true
        for (seq, t) in snapshot.tokens {
            try connection.execute(
                "INSERT INTO tokens (\(Self.columns), name_folded, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                values(t) + [.int(seq)])
        }
        for (id, e) in snapshot.events {
            try connection.execute(
                "INSERT INTO events (id, at, actor, action, details) VALUES ($1, $2, $3, $4, $5)",
                [.int(id), .int(e.at), .text(e.actor), .text(e.action.rawValue), .text(e.detailsJSON)])
            try link(event: id, e.guids)
        }
        // Identity columns continue above the copied rows.
        try connection.executeScript(
            """
            SELECT setval(pg_get_serial_sequence('tokens', 'seq'), coalesce((SELECT max(seq) FROM tokens), 0) + 1, false);
            SELECT setval(pg_get_serial_sequence('events', 'id'), coalesce((SELECT max(id) FROM events), 0) + 1, false);
            """)
        for entry in snapshot.catalog {
            try putCatalogEntry(resource: entry.resource, action: entry.action, access: entry.access)
        }
        for (key, value) in snapshot.state { try setState(key, value) }
        for policy in snapshot.policies { try putPolicy(policy) }
        for list in snapshot.lists {
            try connection.execute(
                "INSERT INTO revocation_lists (sequence, issued_at, changes, bytes) VALUES ($1, $2, $3, $4)",
                [.int(Int64(bitPattern: list.sequence)), .int(list.issuedAt), .int(list.changes), .bytes(list.bytes)])
        }
    }
}
