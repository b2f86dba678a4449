/// Which page of a listing a caller asks for: at most ``maxLimit`` rows from an offset that the
/// previous page's cursor names.
///
/// The one definition of a page's size and of the peek that tells whether another page
/// follows: the issuer fetches ``fetchLimit`` rows (one more than the page) and ``page(_:)``
/// keeps ``limit`` of them. The server's `limit` and `cursor` parameters, the CLI's remote
/// paging and its bulk changes all use these numbers.
///
/// ```swift
/// let request = try PageRequest(limit: 100, cursor: nil)
/// let page = try issuer.tokens(TokenQuery(), page: request, as: caller)
/// print(page.items.count, page.nextCursor ?? "last page")
/// ```
public struct PageRequest: Sendable, Hashable {
    /// The most rows one page holds, and the most tokens one change through the API names.
    public static let maxLimit = 1_000
    /// The rows a page holds when the caller does not say.
    public static let defaultLimit = 100
    /// The largest offset a cursor may name.
    public static let maxOffset = 999_999_999

    /// Rows on this page: 1…``maxLimit``.
    public let limit: Int
    /// Rows skipped before it.
    public let offset: Int

    /// - Throws: ``IssuerError`` `invalid_input` / `invalidLabel(field: "limit" | "cursor", …)`.
    public init(limit: Int = PageRequest.defaultLimit, offset: Int = 0) throws(IssuerError) {
        guard (1...Self.maxLimit).contains(limit) else {
            let problem = "must be an integer from 1 to \(Self.maxLimit)"
            throw IssuerError(
                .invalidInput, "limit \(problem)", detail: .invalidLabel(field: "limit", problem: problem))
        }
        guard (0...Self.maxOffset).contains(offset) else { throw Self.badCursor }
        self.limit = limit
        self.offset = offset
    }

    /// A page from a cursor this issuer gave out (``Page/nextCursor``), or the first page.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` for a limit out of range or a cursor that is
    ///   not one of ours.
    public init(limit: Int = PageRequest.defaultLimit, cursor: String?) throws(IssuerError) {
        guard let cursor else {
            try self.init(limit: limit, offset: 0)
            return
        }
        // The cursor is opaque to callers; today it is the offset of the page's first row.
        guard cursor.utf8.count <= 9, cursor.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let offset = Int(cursor)
        else { throw Self.badCursor }
        try self.init(limit: limit, offset: offset)
    }

    /// The rows to ask the store for: one more than the page, to learn whether another follows.
    public var fetchLimit: Int { limit + 1 }

    /// The page among `rows`, fetched with ``fetchLimit`` from ``offset``.
    public func page<Item>(_ rows: [Item]) -> Page<Item> {
        Page(items: Array(rows.prefix(limit)), nextCursor: rows.count > limit ? String(offset + limit) : nil)
    }

    private static let badCursor = IssuerError(
        .invalidInput, "cursor is not one this server gave out",
        detail: .invalidLabel(field: "cursor", problem: "is not one this server gave out"))
}

/// One page of a listing and the cursor of the next, nil on the last page.
public struct Page<Item> {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

extension Page: Sendable where Item: Sendable {}
