public import SigilVerifier

/// A type listed in a ``WirePage``, under its own key (`tokens`, `events`).
public protocol WireListItem: Codable, Sendable {
    /// The key the page's array sits under.
    static var listKey: String { get }
}

/// One page of a listing: the items under ``WireListItem/listKey`` and `next_cursor`
/// (`null` on the last page).
///
/// ```swift
/// let page = WirePage(items: rows.map { WireToken($0, writesParent: true) }, nextCursor: "100")
/// // {"next_cursor":"100","tokens":[…]}
/// ```
public struct WirePage<Item: WireListItem>: Codable, Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WireKey.self)
        try c.encode(items, forKey: WireKey(Item.listKey))
        try c.encode(nextCursor, forKey: WireKey("next_cursor"))
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: WireKey.self)
        items = try c.decode([Item].self, forKey: WireKey(Item.listKey))
        nextCursor = try c.decodeIfPresent(String.self, forKey: WireKey("next_cursor"))
    }
}

/// The answer to a bulk change: `{"action", "count", "guids"}` (the tokens whose state changed).
public struct WireBulkResult: Codable, Sendable, Hashable {
    public var action: String
    public var guids: [TokenID]

    public init(action: LifecycleAction, guids: [TokenID]) {
        self.action = action.rawValue
        self.guids = guids
    }

    enum Key: String, CodingKey { case action, count, guids }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(action, forKey: .action)
        try c.encode(guids.count, forKey: .count)
        try c.encode(guids.map(\.description), forKey: .guids)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        action = try c.decode(String.self, forKey: .action)
        guids = try c.decode([String].self, forKey: .guids).map { text in
            guard let id = TokenID(uuidString: text) else {
                throw DecodingError.dataCorruptedError(forKey: .guids, in: c, debugDescription: "not a GUID")
            }
            return id
        }
    }
}
