import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// One hostile token and what the verifier must answer.
struct TokenCase: Sendable, CustomTestStringConvertible {
    let name: String
    let text: @Sendable () throws -> String
    /// nil: the token must verify.
    let expected: VerificationError.Reason?
    var at: Int64 = Sigil.now
    var permission: Permission? = nil

    var testDescription: String { name }
}

private func valid(_ claims: @escaping @Sendable () throws -> TokenClaims) -> @Sendable () throws -> String {
    { try Known.token(claims()) }
}

/// A valid token with `edit` applied to its text.
private func edited(_ edit: @escaping @Sendable (String) -> String) -> @Sendable () throws -> String {
    { edit(try Known.token(Known.claims())) }
}

/// A valid token with `edit` applied to its decoded bytes.
private func bytesEdited(_ edit: @escaping @Sendable ([UInt8]) -> [UInt8]) -> @Sendable () throws -> String {
    {
        let token = try Known.token(Known.claims())
        let raw = try #require(Base64URL.decode(token.dropFirst(4)))
        return TokenClaims.prefix + Base64URL.encode(edit(raw))
    }
}

private let cyrillicBilling = "bill\u{0456}ng"  // "і" (U+0456) looks like "i"
private let cyrillicA = "b\u{0430}lling"  // not a word, but "а" (U+0430) looks like "a"

@Suite("Hostile tokens")
struct HostileTokenTests {
    static let cases: [TokenCase] = [
        TokenCase(name: "empty text", text: { "" }, expected: .malformed),
        TokenCase(name: "prefix only", text: { "sgl_" }, expected: .malformed),
        TokenCase(
            name: "oversize: 5,000 characters", text: { "sgl_" + String(repeating: "A", count: 4996) },
            expected: .malformed),
        TokenCase(
            name: "oversize: exactly one past 4,096", text: { "sgl_" + String(repeating: "A", count: 4093) },
            expected: .malformed),
        TokenCase(
            name: "NUL byte inside", text: edited { t in String(t.prefix(20)) + "\u{0}" + String(t.dropFirst(20)) },
            expected: .malformed),
        TokenCase(name: "NUL byte appended", text: edited { $0 + "\u{0}" }, expected: .malformed),
        TokenCase(name: "CRLF appended (library does not trim)", text: edited { $0 + "\r\n" }, expected: .malformed),
        TokenCase(name: "leading space", text: edited { " " + $0 }, expected: .malformed),
        TokenCase(name: "base64 padding appended", text: edited { $0 + "=" }, expected: .malformed),
        TokenCase(
            name: "standard base64 alphabet (+ /)",
            text: edited { $0.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "+" },
            expected: .malformed),
        TokenCase(
            name: "Cyrillic ѕ look-alike in the prefix", text: edited { "\u{0455}" + $0.dropFirst() },
            expected: .malformed),
        TokenCase(name: "upper-case prefix", text: edited { "SGL_" + $0.dropFirst(4) }, expected: .malformed),
        TokenCase(
            name: "fullwidth letters in the payload",
            text: edited { String($0.prefix(10)) + "\u{FF21}" + String($0.dropFirst(11)) }, expected: .malformed),
        TokenCase(
            name: "non-canonical last character (unused bits set)",
            text: { RawToken.text(RawToken.body(), tag: [UInt8](repeating: 0, count: 31)) + "B" }, expected: .malformed),
        TokenCase(name: "version 2", text: { RawToken.text(RawToken.body(version: 2)) }, expected: .malformed),
        TokenCase(name: "0-length key id", text: { RawToken.text(RawToken.body(keyID: [])) }, expected: .malformed),
        TokenCase(
            name: "33-byte key id", text: { RawToken.text(RawToken.body(keyID: Array(repeating: 0x6b, count: 33))) },
            expected: .malformed),
        TokenCase(
            name: "NUL inside the key id", text: { RawToken.text(RawToken.body(keyID: [0x6b, 0, 0x31])) },
            expected: .malformed),
        TokenCase(
            name: "0-length audience", text: { RawToken.text(RawToken.body(audience: [])) }, expected: .malformed),
        TokenCase(
            name: "Cyrillic і in the audience bytes",
            text: { RawToken.text(RawToken.body(audience: Array(cyrillicBilling.utf8))) }, expected: .malformed),
        TokenCase(
            name: "Cyrillic а in the audience bytes",
            text: { RawToken.text(RawToken.body(audience: Array(cyrillicA.utf8))) }, expected: .malformed),
        TokenCase(
            name: "65-byte audience",
            text: { RawToken.text(RawToken.body(audience: Array(repeating: 0x61, count: 65))) }, expected: .malformed),
        TokenCase(
            name: "another audience", text: valid { try Known.claims(audience: "billing2") }, expected: .wrongAudience),
        TokenCase(
            name: "audience differing only in case", text: valid { try Known.claims(audience: "Billing") },
            expected: .wrongAudience),
        TokenCase(name: "unknown key id", text: valid { try Known.claims(keyID: "k9") }, expected: .unknownKey),
        TokenCase(
            name: "flipped last tag byte",
            text: bytesEdited {
                var b = $0; b[b.count - 1] ^= 1; return b
            }, expected: .badSignature),
        TokenCase(
            name: "flipped GUID byte",
            text: bytesEdited {
                var b = $0; b[1 + 1 + Known.keyID.utf8.count + 1 + 7 + 3] ^= 0x80; return b
            }, expected: .badSignature),
        TokenCase(name: "tag one byte short", text: bytesEdited { Array($0.dropLast()) }, expected: .malformed),
        TokenCase(name: "one byte after the tag", text: bytesEdited { $0 + [0] }, expected: .malformed),
        TokenCase(
            name: "tag only, no body", text: { RawToken.text([], tag: [UInt8](repeating: 7, count: 32)) },
            expected: .malformed),
        TokenCase(
            name: "valid_to equal to valid_from", text: { RawToken.text(RawToken.body(validFrom: 5, validTo: 5)) },
            expected: .malformed),
        TokenCase(
            name: "negative window (valid_to before valid_from)",
            text: { RawToken.text(RawToken.body(validFrom: -5, validTo: -10)) }, expected: .malformed),
        TokenCase(
            name: "valid_from Int64.min, never expires",
            text: valid { try Known.claims(validFrom: .min, validTo: nil) }, expected: nil),
        TokenCase(
            name: "window at the top of Int64", text: valid { try Known.claims(validFrom: .max - 1, validTo: .max) },
            expected: .notYetValid),
        TokenCase(
            name: "checked at Int64.max (no overflow)", text: valid { try Known.claims(validTo: nil) }, expected: nil,
            at: .max),
        TokenCase(
            name: "checked at Int64.min (no overflow)", text: valid { try Known.claims() }, expected: .notYetValid,
            at: .min),
        TokenCase(
            name: "expired 61 s ago (past the leeway)", text: valid { try Known.claims(validTo: Sigil.now - 61) },
            expected: .expired),
        TokenCase(
            name: "expired 59 s ago (inside the leeway)", text: valid { try Known.claims(validTo: Sigil.now - 59) },
            expected: nil),
        TokenCase(
            name: "valid in 61 s (past the leeway)", text: valid { try Known.claims(validFrom: Sigil.now + 61) },
            expected: .notYetValid),
        TokenCase(name: "scope kind 0", text: { RawToken.text(RawToken.body(scopeKind: 0)) }, expected: .malformed),
        TokenCase(name: "scope kind 4", text: { RawToken.text(RawToken.body(scopeKind: 4)) }, expected: .malformed),
        TokenCase(
            name: "custom scope with 0 entries",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope([]))) }, expected: .malformed),
        TokenCase(
            name: "custom scope with 257 entries",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope(manyPairs(257)))) },
            expected: .malformed),
        TokenCase(
            name: "custom scope with 256 entries", text: valid { try Known.claims(scope: .custom(manyPairs(256))) },
            expected: nil, permission: Permission("r000.a", access: .write)),
        TokenCase(
            name: "count says 2, one entry follows",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope(["a.b"], count: 2))) },
            expected: .malformed),
        TokenCase(
            name: "unsorted scope entries",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope(["b.b", "a.a"]))) },
            expected: .malformed),
        TokenCase(
            name: "duplicate scope entries",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope(["a.a", "a.a"]))) },
            expected: .malformed),
        TokenCase(
            name: "upper-case scope entry",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope(["Devices.list"]))) },
            expected: .malformed),
        TokenCase(
            name: "scope entry with a NUL",
            text: { RawToken.text(RawToken.body(scopeKind: 3, scope: RawToken.customScope(["a.b\u{0}"]))) },
            expected: .malformed),
        TokenCase(
            name: "read-only token asked to write", text: valid { try Known.claims(scope: .readOnly) },
            expected: .scopeNotGranted, permission: Permission("devices.delete", access: .write)),
        TokenCase(
            name: "custom scope without the permission",
            text: valid { try Known.claims(scope: .custom(["devices.list"])) }, expected: .scopeNotGranted,
            permission: Permission("devices.lis", access: .read)),
    ]

    static func manyPairs(_ n: Int) -> [String] {
        (0..<n).map { i in "r" + String(repeating: "0", count: 3 - String(i).count) + String(i) + ".a" }
    }

    @Test("Each hostile token gets its reason, a message that says how to fix it, and no echo", arguments: cases)
    func hostile(_ c: TokenCase) throws {
        let text = try c.text()
        let verifier = try Known.verifier
        do {
            _ = try verifier.verify(text, for: c.permission, at: c.at)
            #expect(c.expected == nil, "accepted, expected \(String(describing: c.expected))")
        } catch {
            #expect(error.reason == c.expected)
            #expect(error.description.hasPrefix("[\(error.reason.rawValue)] "))
            #expect(error.description.count > 40, "the message says how to fix it: \(error.description)")
            if text.count >= 12 { #expect(!error.description.contains(text), "the message echoes the token") }
        }
        // The display decoder agrees with the verifier about what is malformed.
        let decoded = Result { try TokenClaims.decodeUnverified(text) }
        if c.expected == .malformed {
            #expect(throws: VerificationError.self) { try decoded.get() }
        } else {
            #expect(throws: Never.self) { try decoded.get() }
        }
    }

    @Test("TokenClaims refuses 257 scope entries, Cyrillic audiences and empty fields")
    func claimsRefuse() {
        let bad: [() throws -> TokenClaims] = [
            { try Known.claims(scope: .custom(Self.manyPairs(257))) },
            { try Known.claims(scope: .custom([])) },
            { try Known.claims(audience: cyrillicBilling) },
            { try Known.claims(audience: "") },
            { try Known.claims(keyID: "") },
            { try Known.claims(validFrom: 10, validTo: 10) },
            { try Known.claims(validFrom: -10, validTo: 0) },
        ]
        for make in bad {
            let error = #expect(throws: VerificationError.self) { try make() }
            #expect(error?.reason == .malformed)
        }
        #expect(!TokenClaims.isValidAudience(cyrillicA))
    }
}
