import Foundation
import SigilVerifier

/// One webhook to send: its event type and the exact JSON body (never a token).
public struct WebhookNotification: Sendable, Hashable {
    /// `token.expiring`, `token.revoked`, `token.deactivated` or `token.leak_reported`.
    public let event: String
    /// The JSON body, the bytes that are signed.
    public let body: [UInt8]
}

/// What ``Issuer/pendingWebhooks(now:)`` found, and the cursor to store once they are queued.
public struct WebhookBatch: Sendable {
    public let notifications: [WebhookNotification]
    let cursorAt: Int64
    let cursorSeen: Int64
    let checkedAt: Int64
}

/// Webhook signing: `X-Sigil-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
public enum WebhookSigner {
    /// The signature header value for `body` sent at `timestamp` (Unix seconds).
    ///
    /// ```swift
    /// let header = try WebhookSigner.signature(secret: secret, timestamp: now, body: n.body)
    /// ```
    public static func signature(secret: [UInt8], timestamp: Int64, body: [UInt8]) throws(IssuerError) -> String {
        "sha256=" + Secrets.hex(try Secrets.hmacSHA256(key: secret, message: Array("\(timestamp).".utf8) + body))
    }
}

extension Issuer {
    static let webhookAuditAtKey = "webhook_audit_at"
    static let webhookAuditSeenKey = "webhook_audit_seen"
    static let webhookCheckedKey = "webhook_expiry_checked"
    /// Days before `valid_to` that `token.expiring` is sent, largest first.
    public static let webhookExpiryDays: [Int64] = [30, 7, 1]

    /// Notifications due since the stored cursor: audit-log revokes (a `leak-report` actor's
    /// as `token.leak_reported`) and deactivations, and expiry thresholds crossed since the
    /// last check. Nothing is stored: call ``commitWebhooks(_:)`` once they are queued.
    /// Without a stored cursor (the first run) it starts from `now` and sends nothing old.
    ///
    /// ```swift
    /// let batch = try issuer.pendingWebhooks()
    /// queue(batch.notifications); try issuer.commitWebhooks(batch)
    /// ```
    public func pendingWebhooks(now: Int64 = Issuer.currentTime()) throws(IssuerError) -> WebhookBatch {
        let (cursor, events) = try transaction(write: false) { () throws -> ((Int64, Int64, Int64)?, [AuditEvent]) in
            guard let at = try store.state(Self.webhookAuditAtKey) else { return (nil, []) }
            let seen = try store.state(Self.webhookAuditSeenKey) ?? 0
            let checked = try store.state(Self.webhookCheckedKey) ?? now
            var all: [AuditEvent] = []
            let page = 500
            var offset = 0
            while true {
                let got = try store.events(AuditQuery(since: at, limit: page, offset: offset))
                all.append(contentsOf: got)
                if got.count < page { break }
                offset += page
            }
            return ((at, seen, checked), all.reversed())
        }
        guard let (at, seen, checked) = cursor else {
            return WebhookBatch(notifications: [], cursorAt: now, cursorSeen: 0, checkedAt: now)
        }
        var out: [WebhookNotification] = []
        var cursorAt = at
        var cursorSeen = seen
        var skip = seen
        for event in events {
            // Events of the cursor's second already sent come first (oldest first, by id).
            if event.at == at, skip > 0 {
                skip -= 1
                continue
            }
            if event.at == cursorAt { cursorSeen += 1 } else { (cursorAt, cursorSeen) = (event.at, 1) }
            let type: String
            switch event.action {
            case .revoke: type = event.actor == "leak-report" ? "token.leak_reported" : "token.revoked"
            case .deactivate: type = "token.deactivated"
            default: continue
            }
            var extra: [String: Any] = [:]
            if type == "token.leak_reported",
                let details = try? JSONSerialization.jsonObject(with: Data(event.detailsJSON.utf8)) as? [String: Any],
                let location = details["location"] as? String
            {
                extra["location"] = location
            }
            for guid in event.guids {
                let record = try? token(guid.description)
                out.append(
                    Self.webhook(type, guid: guid, record: record, actor: event.actor, at: event.at, extra: extra))
            }
        }
        if now > checked {
            for t in try expiring(within: Self.webhookExpiryDays[0] * 86_400, now: now) {
                guard let end = t.validTo else { continue }
                let due = Self.expiryThreshold(remaining: end - now)
                let before = t.createdAt >= checked ? nil : Self.expiryThreshold(remaining: end - checked)
                guard let due, due != before else { continue }
                out.append(
                    Self.webhook(
                        "token.expiring", guid: t.id, record: t, actor: "sigil-server", at: now,
                        extra: ["days": due]))
            }
        }
        return WebhookBatch(
            notifications: out, cursorAt: cursorAt, cursorSeen: cursorSeen, checkedAt: max(now, checked))
    }

    /// Stores the cursor of a batch once its notifications are queued.
    public func commitWebhooks(_ batch: WebhookBatch) throws(IssuerError) {
        try transaction(write: true) {
            try store.setState(Self.webhookAuditAtKey, batch.cursorAt)
            try store.setState(Self.webhookAuditSeenKey, batch.cursorSeen)
            try store.setState(Self.webhookCheckedKey, batch.checkedAt)
        }
    }

    /// The smallest threshold (in days) at least `remaining` seconds away, nil beyond the largest.
    static func expiryThreshold(remaining: Int64) -> Int64? {
        webhookExpiryDays.reversed().first { remaining <= $0 * 86_400 }
    }

    static func webhook(
        _ type: String, guid: TokenID, record: TokenRecord?, actor: String, at: Int64, extra: [String: Any]
    ) -> WebhookNotification {
        var object: [String: Any] = [
            "event": type, "guid": guid.description, "actor": actor, "at": TimeText.format(at),
        ]
        if let record {
            object["name"] = record.name
            object["audience"] = record.audience
            object["valid_to"] = record.validTo.map { TimeText.format($0) } ?? NSNull()
        }
        for (k, v) in extra { object[k] = v }
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return WebhookNotification(event: type, body: Array(data))
    }
}
