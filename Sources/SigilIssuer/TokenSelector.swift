import Foundation
public import SigilVerifier

/// How commands name a token: a whole GUID (with or without hyphens) or a unique prefix of
/// 8-31 hex digits. The one parser for the local ledger and for clients of the API, whose
/// paths take whole GUIDs only and so look prefixes up first.
///
/// ```swift
/// switch try TokenSelector("3f2a9c1e") {
/// case .id(let id): print(id)
/// case .prefix(let hex): print("look up", hex)
/// }
/// ```
public enum TokenSelector: Sendable, Hashable {
    case id(TokenID)
    case prefix(String)

    /// - Throws: ``IssuerError`` `invalid_input` / `notASelector`; the text is not echoed,
    ///   because people paste tokens where a GUID belongs.
    public init(_ selector: String) throws(IssuerError) {
        if let id = TokenID(uuidString: selector) {
            self = .id(id)
            return
        }
        let hex = selector.replacingOccurrences(of: "-", with: "").lowercased()
        guard hex.count >= 8, hex.count < 32, hex.utf8.allSatisfy(TokenFilter.isHexDigit) else {
            throw IssuerError(
                .invalidInput,
                "an argument of \(selector.count) characters is not a GUID or a prefix of at least 8 hex digits",
                detail: .notASelector(length: selector.count))
        }
        self = .prefix(hex)
    }

    /// A whole GUID, as the API's paths and bodies take: a prefix, a
    /// token or anything else is refused, and the text is not echoed.
    ///
    /// - Parameters:
    ///   - text: The value as given.
    ///   - field: The name the message gives it (`guid`, `guids[3]`).
    /// - Returns: The token ID.
    /// - Throws: ``IssuerError`` `invalid_input` / `notASelector`: "guid must be a whole GUID
    ///   (N characters given)".
    public static func wholeID(_ text: String, field: String = "guid") throws(IssuerError) -> TokenID {
        guard let id = TokenID(uuidString: text) else {
            throw IssuerError(
                .invalidInput, "\(field) must be a whole GUID (\(text.count) characters given)",
                detail: .notASelector(length: text.count))
        }
        return id
    }

    /// The one token among `matches` (at most 6 rows, as both look-ups ask for) for `hex`.
    ///
    /// - Throws: ``IssuerError`` `not_found` for none, `invalid_input` / `ambiguousPrefix`
    ///   for several.
    public static func unique(_ matches: [TokenRecord], prefix hex: String) throws(IssuerError) -> TokenRecord {
        guard let first = matches.first else {
            throw IssuerError(.notFound, "no token GUID starts with \(hex)", detail: .tokenNotFound(hex))
        }
        guard matches.count == 1 else {
            throw IssuerError(
                .invalidInput, "prefix \(hex) matches several tokens; give more digits",
                detail: .ambiguousPrefix(hex, matches: matches.prefix(5).map(\.id)))
        }
        return first
    }
}

extension TokenSelector {
    /// The smallest and largest 16-byte GUIDs that start with `hex`: a range the primary
    /// index answers without reading other rows.
    package static func range(ofPrefix hex: String) -> ([UInt8], [UInt8]) {
        // Digits were checked by the caller: 0-9, a-f (A-F read alike).
        let digits = hex.utf8.prefix(32).map { $0 <= 0x39 ? $0 - 0x30 : ($0 | 0x20) - 0x61 + 10 }
        func padded(_ pad: UInt8) -> [UInt8] {
            let all = digits + [UInt8](repeating: pad, count: 32 - digits.count)
            return (0..<16).map { all[2 * $0] << 4 | all[2 * $0 + 1] }
        }
        return (padded(0), padded(0x0f))
    }
}
