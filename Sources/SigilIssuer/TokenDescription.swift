/// A token's description: free text of at most ``maxBytes`` UTF-8 bytes, possibly empty, with
/// no control or format character (``Labels/checkText(_:field:required:maxBytes:)``).
///
/// The limit is in bytes, not characters: 200 graphemes of combining marks were 80 KB. The
/// console reads the limit from `GET /v1/rules` instead of keeping its own.
///
/// ```swift
/// let description = try TokenDescription("Deploys from CI")
/// ```
public struct TokenDescription: Sendable, Hashable, CustomStringConvertible {
    /// The longest description, in UTF-8 bytes.
    public static let maxBytes = 1_000

    public let text: String

    /// - Throws: ``IssuerError`` `invalid_input` / `invalidLabel(field: "description", …)`.
    public init(_ text: String) throws(IssuerError) {
        try Labels.checkText(text, field: "description", required: false, maxBytes: Self.maxBytes)
        self.text = text
    }

    public var description: String { text }
}
