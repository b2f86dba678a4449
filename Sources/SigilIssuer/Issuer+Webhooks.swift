import Foundation
package import SigilVerifier

/// Who sends a ledger's webhooks: the holder's ID and when its lease began and ends (Unix ms).
public struct WebhookLease: Sendable, Hashable {
    public let holder: String
    public let takenAt: Int64
    public let expiresAt: Int64
}

/// One queued notification, claimed for an attempt (``Issuer/claimWebhooks(for:limit:holder:schedule:nowMilliseconds:)``).
public struct WebhookDelivery: Sendable, Hashable {
    let seq: Int64
    /// The endpoint's name.
    public let endpoint: String
    /// `X-Sigil-Delivery`: the same on every attempt, from any sender; what receivers dedupe on.
    public let id: String
    public let event: WebhookEvent
    /// The audit event it reports; nil for `token.expiring`.
    public let eventID: Int64?
    /// The exact body to sign and send.
    public let body: [UInt8]
    /// When it was queued (Unix ms): retries stop ``WebhookSchedule/retryFor`` after it.
    public let queuedAt: Int64
    /// This attempt's number, 1 for the first.
    public let attempt: Int
}

/// An endpoint's place in the audit log (`webhook_endpoints`).
///
/// Every event up to ``afterEvent`` is queued or was of no interest. On PostgreSQL an event ID
/// is taken before its transaction commits, so a smaller ID may still appear after a larger
/// one was read; the cursor passes a missing ID only once it is final: at or below
/// ``finalThrough``. A gap is judged by ``gapBelow``, ``gapHorizon`` and ``gapSeenAt``: every
/// ID up to `gapBelow` was taken before a snapshot whose next transaction ID was `gapHorizon`;
/// once no transaction older than that runs, and a grace period has passed, those IDs are final.
package struct WebhookCursor: Sendable, Hashable {
    package var name: String
    /// Bumped by every store; a sender stores its cursor only over the version it read.
    package var version: Int64
    package var afterEvent: Int64
    package var finalThrough: Int64
    package var gapBelow: Int64?
    package var gapHorizon: Int64?
    package var gapSeenAt: Int64?
    /// The last expiry check, Unix seconds.
    package var expiryChecked: Int64
    /// Within the event after ``afterEvent``, the last GUID already queued: an event naming
    /// more tokens than one pass takes (a bulk revoke of a million) is queued a page at a time.
    package var afterGUID: TokenID? = nil
    /// An expiry check that did not fit one pass; nil when none is under way.
    package var expiryResume: ExpiryResume? = nil
}

/// Where an expiry check stopped: the check's time, and the last token it read in the expiry
/// index's order (`valid_to`, then `seq`). The next pass finishes that same check, from there.
package struct ExpiryResume: Sendable, Hashable {
    /// The time of the check (Unix seconds): which thresholds were crossed is judged at it.
    package var target: Int64
    package var validTo: Int64
    package var seq: Int64

    package init(target: Int64, validTo: Int64, seq: Int64) {
        (self.target, self.validTo, self.seq) = (target, validTo, seq)
    }

    /// A stored one: all three columns or none.
    init?(target: Int64?, validTo: Int64?, seq: Int64?) {
        guard let target, let validTo, let seq else { return nil }
        self.init(target: target, validTo: validTo, seq: seq)
    }
}

/// What ``Issuer/prepareWebhooks(for:schedule:nowMilliseconds:)`` read: each endpoint's
/// notifications and the cursor to store with them.
public struct WebhookBatch: Sendable {
    struct Part: Sendable {
        var cursor: WebhookCursor
        /// The cursor as read; nil for an endpoint seen for the first time.
        let stored: WebhookCursor?
        var notifications: [WebhookNotification]
    }
    let parts: [Part]
    let endpoints: [String]
    let usedLegacyCursor: Bool
    /// More events wait after these: prepare again at once.
    public let hasMore: Bool
    /// An audit ID gap holds later events back until the transactions running now end
    /// (PostgreSQL only): prepare again soon.
    public let waitsForGap: Bool
    /// Endpoints whose queue is full (``WebhookSchedule/maxQueued``): their cursor waits.
    public let fullEndpoints: [String]
    /// How many notifications it holds.
    public var count: Int { parts.reduce(0) { $0 + $1.notifications.count } }
}

/// What ``Issuer/queueWebhooks(_:holder:schedule:nowMilliseconds:)`` stored.
public struct WebhookQueueReport: Sendable, Hashable {
    /// Deliveries queued, per endpoint name (endpoints that got none are absent).
    public let queued: [String: Int]
    /// False when `holder` no longer held the lease: nothing was stored.
    public let isLeaseHeld: Bool
    /// Endpoints whose cursor moved since the batch was read (another sender): not stored.
    public let conflicts: [String]
    /// Deliveries of endpoints no longer configured, dropped ``WebhookSchedule/retryFor`` after
    /// they were queued.
    public let dropped: Int
}

/// What ``Issuer/claimWebhooks(for:limit:holder:schedule:nowMilliseconds:)`` claimed.
public struct WebhookClaim: Sendable, Hashable {
    /// Deliveries to send now, soonest due first.
    public let deliveries: [WebhookDelivery]
    /// When the endpoint's next delivery is due (Unix ms); nil when its queue is empty.
    public let nextDue: Int64?
    /// False when `holder` no longer held the lease: nothing was claimed.
    public let isLeaseHeld: Bool
}

/// How an attempt ended, as ``Issuer/finishWebhook(_:failure:schedule:nowMilliseconds:)`` recorded it.
public enum WebhookOutcome: Sendable, Hashable {
    /// Answered 2xx and removed from the queue; `hastened` deliveries of the same endpoint that
    /// waited for a retry are due at once (the receiver is back).
    case delivered(hastened: Int)
    /// Tried again at this time (Unix ms).
    case retry(at: Int64)
    /// Its retry window passed: removed from the queue.
    case givenUp
}

extension Issuer {
    /// The lease row's name: one sender per ledger.
    static let webhookLeaseName = "sender"
    /// The cursor of sigil-server before migration 5: an audit second and how many of its events were read.
    static let legacyWebhookKeys = (
        at: "webhook_audit_at", seen: "webhook_audit_seen", checked: "webhook_expiry_checked"
    )
    /// Audit events one prepare reads per endpoint.
    static let webhookEventBatch = 256
    /// Notifications one prepare queues per endpoint (a larger event or expiry check goes on
    /// in the next pass, from where this one stopped).
    static let webhookNotificationBatch = 1_000
    /// Tokens one pass of an expiry check reads at most, and per query.
    package static let webhookExpiryScan = 8_192
    static let webhookExpiryPage = 1_024
    /// How long an audit ID gap is watched at least before it is passed (ms): covers a
    /// transaction that took its event ID but had no transaction ID yet when the gap was seen.
    static let webhookGapGrace: Int64 = 1_000
    /// The longest `last_error` kept.
    static let webhookErrorBytes = 200

    /// Unix milliseconds.
    public static func currentMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Takes the ledger's webhook lease for `holder`, or renews it: when no one holds it, it
    /// ran out, or `holder` already holds it. One sender per ledger at a time; another takes
    /// over once a holder stops renewing.
    ///
    /// ```swift
    /// let (held, lease) = try issuer.takeWebhookLease(holder: "web-1/4242/9f3a", schedule: schedule)
    /// ```
    ///
    /// - Returns: Whether `holder` holds it now, and the lease as stored.
    /// - Throws: ``IssuerError`` from the store.
    public func takeWebhookLease(
        holder: String, schedule: WebhookSchedule, nowMilliseconds now: Int64 = Issuer.currentMilliseconds()
    ) throws(IssuerError) -> (held: Bool, lease: WebhookLease) {
        try transaction(write: true) {
            if let current = try store.webhookLease(Self.webhookLeaseName), current.holder != holder,
                current.expiresAt > now
            {
                return (false, current)
            }
            let previous = try store.webhookLease(Self.webhookLeaseName)
            let lease = WebhookLease(
                holder: holder, takenAt: previous?.holder == holder ? previous?.takenAt ?? now : now,
                expiresAt: now + WebhookSchedule.milliseconds(schedule.lease))
            try store.putWebhookLease(Self.webhookLeaseName, lease)
            return (true, lease)
        }
    }

    /// Ends `holder`'s lease now, so another sender takes over at its next check (a graceful
    /// shutdown). Nothing happens if another holds it.
    public func releaseWebhookLease(holder: String, nowMilliseconds now: Int64 = Issuer.currentMilliseconds())
        throws(IssuerError)
    {
        try transaction(write: true) {
            guard let current = try store.webhookLease(Self.webhookLeaseName), current.holder == holder else { return }
            try store.putWebhookLease(
                Self.webhookLeaseName,
                WebhookLease(holder: holder, takenAt: current.takenAt, expiresAt: min(current.expiresAt, now)))
        }
    }

    /// The ledger's webhook lease as stored; nil before any sender took it.
    public func webhookLease() throws(IssuerError) -> WebhookLease? {
        try transaction(write: false) { try store.webhookLease(Self.webhookLeaseName) }
    }

    private func holds(_ holder: String, at now: Int64) throws -> Bool {
        guard let lease = try store.webhookLease(Self.webhookLeaseName) else { return false }
        return lease.holder == holder && lease.expiresAt > now
    }

    /// Reads, in one read-only snapshot, what each endpoint has not queued yet: audit revokes
    /// (a `leak-report` actor's as `token.leak_reported`) and deactivations after its cursor,
    /// and expiry thresholds crossed since its last check; filtered by its events. Stores
    /// nothing: ``queueWebhooks(_:holder:schedule:nowMilliseconds:)`` does, if the cursors have
    /// not moved meanwhile.
    ///
    /// An endpoint seen for the first time starts after the newest event (nothing older is
    /// sent), or where the cursor of an older sigil-server stood.
    ///
    /// ```swift
    /// let batch = try issuer.prepareWebhooks(for: endpoints, schedule: schedule)
    /// let report = try issuer.queueWebhooks(batch, holder: holder, schedule: schedule)
    /// ```
    ///
    /// - Throws: ``IssuerError`` from the store.
    public func prepareWebhooks(
        for endpoints: [WebhookEndpoint], schedule: WebhookSchedule,
        nowMilliseconds now: Int64 = Issuer.currentMilliseconds()
    ) throws(IssuerError) -> WebhookBatch {
        let seconds = now / 1_000
        return try transaction(write: false) {
            let horizon = try store.snapshotHorizon()
            let highest = try store.newestEventID()
            let keys = Self.legacyWebhookKeys
            let legacyAt = try store.state(keys.at)
            var usedLegacy = false
            var parts: [WebhookBatch.Part] = []
            var hasMore = false
            var waitsForGap = false
            var full: [String] = []
            for endpoint in endpoints {
                let stored = try store.webhookCursor(endpoint.name)
                var cursor: WebhookCursor
                if let stored {
                    cursor = stored
                } else {
                    var start = highest
                    var checked = seconds
                    if let legacyAt {
                        start = try store.eventIDBefore(legacyAt: legacyAt, seen: try store.state(keys.seen) ?? 0)
                        checked = try store.state(keys.checked) ?? seconds
                        usedLegacy = true
                    }
                    cursor = WebhookCursor(
                        name: endpoint.name, version: 0, afterEvent: start, finalThrough: start, gapBelow: nil,
                        gapHorizon: nil, gapSeenAt: nil, expiryChecked: checked, afterGUID: nil)
                }
                cursor.version += 1
                // Which IDs are final: on SQLite every one committed; on PostgreSQL those below a gap
                // that no running transaction can fill any more.
                if let horizon {
                    if let below = cursor.gapBelow, let gapHorizon = cursor.gapHorizon, let seen = cursor.gapSeenAt,
                        horizon.xmin >= gapHorizon, now - seen >= Self.webhookGapGrace
                    {
                        cursor.finalThrough = max(cursor.finalThrough, below)
                        (cursor.gapBelow, cursor.gapHorizon, cursor.gapSeenAt) = (nil, nil, nil)
                    }
                } else {
                    cursor.finalThrough = max(cursor.finalThrough, highest)
                }
                let queued = try store.webhookQueueDepth(endpoint.name)
                var out: [WebhookNotification] = []
                var isFull = false
                var blocked = false
                let events = try store.events(after: cursor.afterEvent, limit: Self.webhookEventBatch)
                for (id, event) in events {
                    guard id <= cursor.finalThrough || id == cursor.afterEvent + 1 else {
                        blocked = true
                        break
                    }
                    // Room in this pass and in the endpoint's queue: an event is taken a page
                    // of GUIDs at a time, so no pass holds more than a batch, however many
                    // tokens one event names.
                    let room = min(Self.webhookNotificationBatch - out.count, schedule.maxQueued - queued - out.count)
                    var page: [TokenID] = []
                    var found: [WebhookNotification] = []
                    // An event of a kind the endpoint does not take is passed whole, its GUIDs unread.
                    if let type = Self.webhookEvent(of: event), endpoint.events.contains(type) {
                        guard room > 0 else {
                            isFull = queued + out.count >= schedule.maxQueued
                            break
                        }
                        var part = event
                        page = try store.eventGUIDs(id, after: cursor.afterGUID, limit: room + 1)
                        part.guids = Array(page.prefix(room))
                        found = Self.webhooks(ofEvent: id, part, records: try store.tokens(part.guids))
                    }
                    out += found
                    if !page.isEmpty, page.count > room {
                        // More of this event waits: the cursor stays on it, after the page's last GUID.
                        cursor.afterGUID = page[room - 1]
                        isFull = queued + out.count >= schedule.maxQueued
                        break
                    }
                    cursor.afterEvent = id
                    cursor.afterGUID = nil
                    if out.count >= Self.webhookNotificationBatch { break }
                }
                if !isFull, !blocked,
                    events.count == Self.webhookEventBatch || out.count >= Self.webhookNotificationBatch
                        || cursor.afterGUID != nil,
                    cursor.afterEvent < highest
                {
                    hasMore = true
                }
                if blocked, let horizon {
                    waitsForGap = true
                    if cursor.gapBelow == nil {
                        (cursor.gapBelow, cursor.gapHorizon, cursor.gapSeenAt) = (highest, horizon.xmax, now)
                    }
                }
                if !isFull, !endpoint.events.contains(.expiring) {
                    cursor.expiryChecked = max(cursor.expiryChecked, seconds)
                    cursor.expiryResume = nil
                } else if !isFull, (cursor.expiryResume?.target ?? seconds) > cursor.expiryChecked {
                    // Bounded as an event is: the check queues what fits the pass and the queue,
                    // reads at most `webhookExpiryScan` tokens, and keeps its place for the next pass.
                    let room = min(Self.webhookNotificationBatch - out.count, schedule.maxQueued - queued - out.count)
                    if room > 0 {
                        let step = try expiryStep(cursor, room: room, now: seconds)
                        out += step.notifications
                        if let resume = step.resume {
                            cursor.expiryResume = resume
                            isFull = queued + out.count >= schedule.maxQueued
                            if !isFull { hasMore = true }
                        } else {
                            cursor.expiryChecked = cursor.expiryResume?.target ?? seconds
                            cursor.expiryResume = nil
                        }
                    }
                }
                if isFull { full.append(endpoint.name) }
                parts.append(WebhookBatch.Part(cursor: cursor, stored: stored, notifications: out))
            }
            return WebhookBatch(
                parts: parts, endpoints: endpoints.map(\.name), usedLegacyCursor: usedLegacy, hasMore: hasMore,
                waitsForGap: waitsForGap, fullEndpoints: full)
        }
    }

    /// One pass of an endpoint's expiry check, the one under way or a new one from its last
    /// check to `now`: the notices that fit `room`, judged at the check's own time, and where it
    /// stopped (nil: done). It reads the expiry index from its place on, at most
    /// ``webhookExpiryScan`` tokens, so neither a pass nor a whole check grows with the square
    /// of its size; a token that expired before `now` gets no notice.
    private func expiryStep(_ cursor: WebhookCursor, room: Int, now: Int64) throws -> (
        notifications: [WebhookNotification], resume: ExpiryResume?
    ) {
        let target = cursor.expiryResume?.target ?? now
        let horizon = target + Self.webhookExpiryDays[0] * 86_400
        var place = cursor.expiryResume.map { (validTo: $0.validTo, seq: $0.seq) }
        var out: [WebhookNotification] = []
        var read = 0
        func stopped() -> ExpiryResume? {
            place.map { ExpiryResume(target: target, validTo: $0.validTo, seq: $0.seq) }
        }
        while true {
            let rows = try store.activeTokens(
                expiringAfter: now, through: horizon, resumingAfter: place, limit: Self.webhookExpiryPage)
            for (seq, t) in rows {
                place = (t.validTo ?? 0, seq)
                read += 1
                guard let days = Self.expiryCrossing(t, checked: cursor.expiryChecked, at: target) else { continue }
                out.append(Self.expiryWebhook(t, days: days, now: target))
                if out.count >= room { return (out, stopped()) }
            }
            if rows.count < Self.webhookExpiryPage { return (out, nil) }
            if read >= Self.webhookExpiryScan { return (out, stopped()) }
        }
    }

    /// Queues a prepared batch, in one write transaction: each endpoint's deliveries and its
    /// new cursor together, so an event is queued once or not at all, and only if `holder`
    /// holds the lease and the cursor is still the one the batch was read from. Also drops
    /// deliveries of endpoints not in the batch once their retry window has passed.
    ///
    /// - Returns: What was queued; a lost lease or a moved cursor stores nothing for it.
    /// - Throws: ``IssuerError`` from the store.
    public func queueWebhooks(
        _ batch: WebhookBatch, holder: String, schedule: WebhookSchedule,
        nowMilliseconds now: Int64 = Issuer.currentMilliseconds()
    ) throws(IssuerError) -> WebhookQueueReport {
        try transaction(write: true) {
            guard try holds(holder, at: now) else {
                return WebhookQueueReport(queued: [:], isLeaseHeld: false, conflicts: [], dropped: 0)
            }
            var queued: [String: Int] = [:]
            var conflicts: [String] = []
            for part in batch.parts {
                var unchanged = part.cursor
                unchanged.version -= 1
                // An idle poll writes nothing: every commit wakes the change signal of each replica.
                if part.notifications.isEmpty, unchanged == part.stored { continue }
                guard try store.putWebhookCursor(part.cursor, expected: part.stored?.version) else {
                    conflicts.append(part.cursor.name)
                    continue
                }
                for n in part.notifications {
                    try store.insertWebhookDelivery(
                        endpoint: part.cursor.name, id: Self.deliveryID(endpoint: part.cursor.name, key: n.key), n,
                        queuedAt: now)
                }
                if !part.notifications.isEmpty { queued[part.cursor.name] = part.notifications.count }
            }
            if batch.usedLegacyCursor, conflicts.isEmpty {
                // Consumed: an endpoint added later starts at the newest event, not here.
                let keys = Self.legacyWebhookKeys
                try store.deleteState([keys.at, keys.seen, keys.checked])
            }
            let dropped = try store.dropWebhookDeliveries(
                notFor: batch.endpoints, queuedBefore: now - WebhookSchedule.milliseconds(schedule.retryFor))
            return WebhookQueueReport(queued: queued, isLeaseHeld: true, conflicts: conflicts, dropped: dropped)
        }
    }

    /// A delivery's ID: a UUID-shaped keyed hash of the endpoint's name and the notification,
    /// so the same notification queued again for the same endpoint keeps its ID.
    static func deliveryID(endpoint: String, key: String) -> String {
        var bytes =
            (try? Secrets.hmacSHA256(
                key: Array("sigil/v1/webhook-delivery".utf8), message: Array((endpoint + "\n" + key).utf8))) ?? []
        bytes = Array(bytes.prefix(16))
        guard bytes.count == 16 else { return UUID().uuidString.lowercased() }
        bytes[6] = bytes[6] & 0x0f | 0x80  // RFC 9562 version 8: a custom layout
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = Secrets.hex(bytes)
        let cut = [8, 4, 4, 4, 12]
        var parts: [Substring] = []
        var start = hex.startIndex
        for length in cut {
            let end = hex.index(start, offsetBy: length)
            parts.append(hex[start..<end])
            start = end
        }
        return parts.joined(separator: "-")
    }

    /// Claims up to `limit` of an endpoint's due deliveries for `holder` to send now: each
    /// counts an attempt and is not handed out again until it is finished or two attempt
    /// timeouts have passed (a sender that died mid-attempt).
    ///
    /// ```swift
    /// let claim = try issuer.claimWebhooks(for: "siem", limit: 4, holder: holder, schedule: schedule)
    /// for delivery in claim.deliveries { send(delivery) }
    /// ```
    ///
    /// - Returns: The claimed deliveries and when the next is due; nothing if `holder` lost the lease.
    /// - Throws: ``IssuerError`` from the store.
    public func claimWebhooks(
        for endpoint: String, limit: Int, holder: String, schedule: WebhookSchedule,
        nowMilliseconds now: Int64 = Issuer.currentMilliseconds()
    ) throws(IssuerError) -> WebhookClaim {
        try transaction(write: true) {
            guard try holds(holder, at: now) else {
                return WebhookClaim(deliveries: [], nextDue: nil, isLeaseHeld: false)
            }
            let due = limit > 0 ? try store.dueWebhookDeliveries(endpoint, now: now, limit: limit) : []
            for delivery in due {
                try store.claimWebhookDelivery(seq: delivery.seq, until: schedule.claimEnds(at: now))
            }
            return WebhookClaim(deliveries: due, nextDue: try store.nextWebhookDue(endpoint), isLeaseHeld: true)
        }
    }

    /// Records how an attempt ended: a 2xx (`failure` nil) removes the delivery, and if it had
    /// failed before, makes the endpoint's other deliveries that wait for a retry due now;
    /// a failure schedules the next attempt (``WebhookSchedule``) or, past the retry window,
    /// drops it.
    ///
    /// - Parameters:
    ///   - delivery: The claimed delivery that was sent.
    ///   - failure: Why the attempt failed (kept as the delivery's last error; never a secret or
    ///     payload), or nil for a 2xx.
    ///   - schedule: The retry rules.
    ///   - now: When the attempt ended, Unix milliseconds.
    /// - Returns: What became of the delivery.
    /// - Throws: ``IssuerError`` from the store.
    public func finishWebhook(
        _ delivery: WebhookDelivery, failure: String?, schedule: WebhookSchedule,
        nowMilliseconds now: Int64 = Issuer.currentMilliseconds()
    ) throws(IssuerError) -> WebhookOutcome {
        try transaction(write: true) {
            guard let failure else {
                _ = try store.deleteWebhookDelivery(seq: delivery.seq)
                let hastened = delivery.attempt > 1 ? try store.hastenWebhookRetries(delivery.endpoint, now: now) : 0
                return .delivered(hastened: hastened)
            }
            guard
                let next = schedule.nextAttempt(
                    afterAttempt: delivery.attempt, failedAt: now, queuedAt: delivery.queuedAt)
            else {
                _ = try store.deleteWebhookDelivery(seq: delivery.seq)
                return .givenUp
            }
            var reason = failure
            while reason.utf8.count > Self.webhookErrorBytes { reason.removeLast() }
            _ = try store.retryWebhookDelivery(seq: delivery.seq, at: next, error: reason)
            return .retry(at: next)
        }
    }

    /// Hands claimed deliveries back unsent (a sender stopping): due at once for the next
    /// sender, their attempt still counted.
    public func releaseWebhooks(
        _ deliveries: [WebhookDelivery], nowMilliseconds now: Int64 = Issuer.currentMilliseconds()
    )
        throws(IssuerError)
    {
        try transaction(write: true) {
            for d in deliveries { _ = try store.retryWebhookDelivery(seq: d.seq, at: now, error: "the sender stopped") }
        }
    }

    /// How many deliveries each endpoint has queued (by name; endpoints with none are absent).
    public func webhookQueueDepths() throws(IssuerError) -> [String: Int] {
        try transaction(write: false) { try store.webhookQueueDepths() }
    }

    /// An endpoint's cursor as stored, for tests and diagnostics.
    package func webhookCursor(_ name: String) throws(IssuerError) -> WebhookCursor? {
        try transaction(write: false) { try store.webhookCursor(name) }
    }
}
