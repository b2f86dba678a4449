import Foundation
import SigilVerifier

/// What a webhook tells a receiver: the `event` field of its payload and its `X-Sigil-Event` header.
public enum WebhookEvent: String, Sendable, Hashable, CaseIterable, Comparable {
    /// A revoke in the audit log (API, CLI, another server).
    case revoked = "token.revoked"
    /// A revoke whose audit actor is `leak-report` (the leak intake).
    case leakReported = "token.leak_reported"
    /// A deactivation in the audit log.
    case deactivated = "token.deactivated"
    /// An active token's `valid_to` came within 30, 7 or 1 days.
    case expiring = "token.expiring"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Webhook signing: `X-Sigil-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
public enum WebhookSigner {
    /// The signature header value for `body` sent at `timestamp` (Unix seconds).
    ///
    /// ```swift
    /// let header = try WebhookSigner.signature(secret: secret, timestamp: now, body: delivery.body)
    /// ```
    public static func signature(secret: [UInt8], timestamp: Int64, body: [UInt8]) throws(IssuerError) -> String {
        "sha256=" + Secrets.hex(try Secrets.hmacSHA256(key: secret, message: Array("\(timestamp).".utf8) + body))
    }
}

/// One notification as it is queued: its type, the exact body that is signed, the audit event
/// it comes from (nil for `token.expiring`) and the key its delivery ID is derived from.
struct WebhookNotification: Sendable, Hashable {
    let event: WebhookEvent
    let body: [UInt8]
    let eventID: Int64?
    /// Unique per notification of one ledger: the same notification queued again (a ledger
    /// restored from a backup reads its log again) gets the same delivery ID.
    let key: String
}

extension Issuer {
    /// Days before `valid_to` that `token.expiring` is sent, largest first.
    public static let webhookExpiryDays: [Int64] = [30, 7, 1]

    /// The smallest threshold (in days) at least `remaining` seconds away, nil beyond the largest.
    static func expiryThreshold(remaining: Int64) -> Int64? {
        webhookExpiryDays.reversed().first { remaining <= $0 * 86_400 }
    }

    /// The threshold (days) of a `token.expiring` notice for `t` in the expiry check from
    /// `checked` to `target`: nil unless its threshold at `target` differs from the one it had
    /// at `checked` (a token created since had none). A token created in the second of
    /// `checked` counts as new: the check of that second may not have seen it, and a second
    /// notice has the same delivery ID. One created after `target` is new to the next check.
    static func expiryCrossing(_ t: TokenRecord, checked: Int64, at target: Int64) -> Int64? {
        guard let end = t.validTo, end > target, t.createdAt <= target,
            let due = expiryThreshold(remaining: end - target)
        else { return nil }
        let before = t.createdAt >= checked ? nil : expiryThreshold(remaining: end - checked)
        return due == before ? nil : due
    }

    /// What an audit event is reported as, nil for an action webhooks do not report.
    static func webhookEvent(of event: AuditEvent) -> WebhookEvent? {
        switch event.action {
        case .revoke: event.actor == "leak-report" ? .leakReported : .revoked
        case .deactivate: .deactivated
        default: nil
        }
    }

    /// The notifications of one audit event (one per token it names), or none for an action
    /// webhooks do not report.
    static func webhooks(
        ofEvent id: Int64, _ event: AuditEvent, records: [TokenID: TokenRecord]
    ) -> [WebhookNotification] {
        guard let type = webhookEvent(of: event) else { return [] }
        var extra: [String: Any] = ["event_id": id]
        if type == .leakReported,
            let details = try? JSONSerialization.jsonObject(with: Data(event.detailsJSON.utf8)) as? [String: Any],
            let location = details["location"] as? String
        {
            extra["location"] = location
        }
        return event.guids.map { guid in
            WebhookNotification(
                event: type,
                body: webhookBody(
                    type, guid: guid, record: records[guid], actor: event.actor, at: event.at, extra: extra),
                // The event's time and kind too: a ledger restored from a backup hands out the
                // IDs of events it lost again, and a new event under an old ID is a new notification.
                eventID: id, key: "\(id).\(event.at).\(type.rawValue).\(guid)")
        }
    }

    /// The `token.expiring` notice of a token that crossed `days` (its threshold) at `now`.
    static func expiryWebhook(_ t: TokenRecord, days: Int64, now: Int64) -> WebhookNotification {
        WebhookNotification(
            event: .expiring,
            body: webhookBody(.expiring, guid: t.id, record: t, actor: "sigil-server", at: now, extra: ["days": days]),
            eventID: nil, key: "expiring.\(t.id).\(t.validTo ?? 0).\(days)")
    }

    static func webhookBody(
        _ type: WebhookEvent, guid: TokenID, record: TokenRecord?, actor: String, at: Int64, extra: [String: Any]
    ) -> [UInt8] {
        var object: [String: Any] = [
            "event": type.rawValue, "guid": guid.description, "actor": actor, "at": TimeText.format(at),
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
        return Array(data)
    }
}
