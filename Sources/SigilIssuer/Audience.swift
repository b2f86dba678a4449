import SigilVerifier

/// The application or tenant a token is for, by the token format's rule (``TokenClaims/audiencePattern``).
///
/// The token format fixes the character set (``TokenClaims/isValidAudience(_:)``, the
/// verifier's rule); this type gives it the issuer's one message, so the CLI, the API and the
/// console refuse a bad audience with the same words. Front ends construct it and never check
/// an audience themselves.
///
/// ```swift
/// let audience = try Audience("billing")
/// print(audience.text)
/// ```
public struct Audience: Sendable, Hashable, CustomStringConvertible {
    /// The longest audience, in bytes (every character is ASCII).
    public static let maxBytes = TokenClaims.maxAudienceBytes
    /// The rule as people read it, after the field's name.
    public static let rule = TokenClaims.audienceRule
    /// The rule as a regular expression (JavaScript and HTML `pattern` syntax) for the console.
    public static let pattern = TokenClaims.audiencePattern

    public let text: String

    /// - Throws: ``IssuerError`` `invalid_input` / `invalidAudience(length:)`: "audience " +
    ///   ``rule`` + " (got N bytes)". The text is not echoed.
    public init(_ text: String) throws(IssuerError) {
        guard TokenClaims.isValidAudience(text) else {
            throw IssuerError(
                .invalidInput, "audience \(Self.rule) (got \(text.utf8.count) bytes)",
                detail: .invalidAudience(length: text.utf8.count))
        }
        self.text = text
    }

    public var description: String { text }
}
