public import Foundation
public import SigilVerifier

/// An audit event as JSON: `sigil log --json`, `GET /v1/audit` and the remote client.
///
/// Keys: `action`, `actor`, `at` (Unix seconds), `details` (an object), `guids`, and
/// `actor_name` (API events) when the ledger knows the actor's name (``Issuer/actorNames(_:as:)``).
///
/// ```swift
/// let json = Wire.encode(events.map(WireEvent.init))
/// ```
public struct WireEvent: Codable, Sendable, Hashable {
    public var at: Int64
    public var actor: String
    public var action: AuditAction
    public var guids: [TokenID]
    public var details: [String: JSONValue]
    /// `actor_name`: the actor's name, when the ledger knows it; left out otherwise.
    public var actorName: String?

    /// The event with its actor's name, as the API writes it.
    public init(_ event: AuditEvent, actorName: String?) {
        self.init(event)
        self.actorName = actorName
    }

    public init(_ event: AuditEvent) {
        actorName = nil
        at = event.at
        actor = event.actor
        action = event.action
        guids = event.guids
        // The library writes every details object itself; one it cannot read shows as {}.
        details = (try? Wire.decoder.decode([String: JSONValue].self, from: Data(event.detailsJSON.utf8))) ?? [:]
    }

    /// The event, with its details as sorted JSON text.
    public var event: AuditEvent {
        AuditEvent(
            at: at, actor: actor, action: action, guids: guids,
            detailsJSON: String(decoding: Wire.encode(details), as: UTF8.self))
    }

    enum Key: String, CodingKey {
        case action, actor, at, details, guids
        case actorName = "actor_name"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(action.rawValue, forKey: .action)
        try c.encode(actor, forKey: .actor)
        try c.encodeIfPresent(actorName, forKey: .actorName)
        try c.encode(at, forKey: .at)
        try c.encode(details, forKey: .details)
        try c.encode(guids.map(\.description), forKey: .guids)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        at = try c.decode(Int64.self, forKey: .at)
        actor = try c.decode(String.self, forKey: .actor)
        guard let action = AuditAction(rawValue: try c.decode(String.self, forKey: .action)) else {
            throw DecodingError.dataCorruptedError(forKey: .action, in: c, debugDescription: "unknown action")
        }
        self.action = action
        guids = try c.decode([String].self, forKey: .guids).map { text in
            guard let id = TokenID(uuidString: text) else {
                throw DecodingError.dataCorruptedError(forKey: .guids, in: c, debugDescription: "not a GUID")
            }
            return id
        }
        details = try c.decode([String: JSONValue].self, forKey: .details)
        actorName = try c.decodeIfPresent(String.self, forKey: .actorName)
    }
}

extension WireEvent: WireListItem {
    public static let listKey = "events"
}
