import SigilIssuer
import SigilVerifier
import Testing

@Suite("Tampered, truncated and hand-made bad tokens")
struct TokenMutationTests {
    /// Reasons a token that was not minted as-is may get: never a later one, since its MAC
    /// cannot match.
    static let preMACReasons: Set<VerificationError.Reason> = [.malformed, .wrongAudience, .unknownKey, .badSignature]

    static let scopes: [Scope] = [.all, .readOnly, .custom(["devices.list", "invoices.read", "users.get"])]

    /// Verifies `token`, expects a refusal, and returns its reason.
    static func refusal(
        _ token: String, _ verifier: Verifier, sourceLocation: SourceLocation = #_sourceLocation
    ) -> VerificationError.Reason? {
        let result = Result { () throws(VerificationError) in try verifier.verify(token, at: TestKeys.now) }
        switch result {
        case .success:
            Issue.record("a tampered token was accepted", sourceLocation: sourceLocation)
            return nil
        case .failure(let error):
            // Short texts ("sgl") occur in the fixed help text; only real token text counts.
            if token.count >= 8, error.description.contains(token) {
                Issue.record("the error message contains the token", sourceLocation: sourceLocation)
            }
            return error.reason
        }
    }

    @Test("Every single-bit flip of the decoded bytes is refused before revocation checks", arguments: scopes)
    func decodedBitFlips(_ scope: Scope) throws {
        let token = try TestKeys.mint(try TestKeys.claims(scope: scope))
        let source = FixedRevocations()
        let verifier = try TestKeys.verifier(revocations: source)
        #expect(throws: Never.self) { try verifier.verify(token, at: TestKeys.now) }
        #expect(source.callCount == 1)

        let bytes = try TokenClaims.decodeText(token)
        let bodyCount = bytes.count - TokenClaims.tagLength
        var flips = 0
        for index in bytes.indices {
            for bit in 0..<8 {
                var mutated = bytes
                mutated[index] ^= 1 << bit
                let text = TokenClaims.prefix + Base64URL.encode(mutated)
                let reason = Self.refusal(text, verifier)
                #expect(
                    reason.map { Self.preMACReasons.contains($0) } == true, "byte \(index) bit \(bit): \(reason as Any)"
                )
                if index >= bodyCount { #expect(reason == .badSignature, "tag byte \(index) bit \(bit)") }
                flips += 1
            }
        }
        #expect(flips == bytes.count * 8)
        #expect(source.callCount == 1, "the revocation source was consulted for a tampered token")
    }

    @Test("Every single-bit flip of the text is refused", arguments: scopes)
    func textBitFlips(_ scope: Scope) throws {
        let token = try TestKeys.mint(try TestKeys.claims(scope: scope))
        let source = FixedRevocations()
        let verifier = try TestKeys.verifier(revocations: source)
        let text = Array(token.utf8)
        for index in text.indices {
            for bit in 0..<8 {
                var mutated = text
                mutated[index] ^= 1 << bit
                let reason = Self.refusal(String(decoding: mutated, as: UTF8.self), verifier)
                #expect(reason.map { Self.preMACReasons.contains($0) } == true, "char \(index) bit \(bit)")
                if index < 4 { #expect(reason == .malformed, "prefix char \(index) bit \(bit)") }
            }
        }
        #expect(source.callCount == 0)
    }

    @Test("Every truncation of the text is malformed", arguments: scopes)
    func truncations(_ scope: Scope) throws {
        let token = try TestKeys.mint(try TestKeys.claims(scope: scope))
        let verifier = try TestKeys.verifier()
        let text = Array(token.utf8)
        for length in 0..<text.count {
            let prefix = String(decoding: text[..<length], as: UTF8.self)
            #expect(Self.refusal(prefix, verifier) == .malformed, "length \(length)")
            #expect(throws: VerificationError.self) { try TokenClaims.decodeUnverified(prefix) }
        }
    }

    @Test("Appending any character is refused")
    func extensions() throws {
        let token = try TestKeys.mint(try TestKeys.claims())
        let verifier = try TestKeys.verifier()
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. \n" {
            #expect(Self.refusal(token + String(c), verifier) == .malformed, "appended \(c.debugDescription)")
        }
    }

    // MARK: Hand-made bad inputs, one parsing rule each

    struct BadInput: Sendable, CustomTestStringConvertible {
        var name: String
        var make: @Sendable () throws -> String
        var testDescription: String { name }
    }

    /// A body with the given edit, sealed with the right key so only the edited rule fails.
    static func body(_ name: String, _ edit: @escaping @Sendable (inout RawBody) -> Void) -> BadInput {
        BadInput(name: name) {
            var raw = RawBody()
            edit(&raw)
            return try raw.sealed(key: try TestKeys.audienceKey())
        }
    }

    static func text(_ name: String, _ edit: @escaping @Sendable (String) throws -> String) -> BadInput {
        BadInput(name: name) { try edit(try TestKeys.mint(try TestKeys.claims())) }
    }

    /// A valid token whose base64url text has `residue` characters in its last quantum.
    static func token(residue: Int) throws -> String {
        for extra in 0..<3 {
            let audience = "billing" + String(repeating: "x", count: extra)
            let token = try TestKeys.mint(try TestKeys.claims(audience: audience))
            if (token.utf8.count - 4) % 4 == residue { return token }
        }
        throw VerificationError(.malformed, "no token with that residue")
    }

    /// The text with character `index` of the payload replaced by `c`.
    static func replacing(_ token: String, at index: Int, with c: String) -> String {
        var chars = Array(token)
        chars[4 + index] = Character(c)
        return String(chars)
    }

    static let longPairs: [String] = (0..<47).map {
        String(repeating: "a", count: 30) + format2($0) + "." + String(repeating: "b", count: 31)
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "empty string") { "" },
        BadInput(name: "prefix only") { "sgl_" },
        BadInput(name: "prefix without underscore") { "sgl" },
        text("missing prefix") { String($0.dropFirst(4)) },
        text("uppercase prefix") { "SGL_" + $0.dropFirst(4) },
        text("other prefix") { "sgk_" + $0.dropFirst(4) },
        text("prefix twice") { "sgl_" + $0 },
        text("leading space") { " " + $0 },
        text("Bearer scheme left in") { "Bearer " + $0 },
        text("trailing newline") { $0 + "\n" },
        text("one padding character appended") { $0 + "=" },
        BadInput(name: "padded to a multiple of four (one =)") {
            try token(residue: 3) + "="
        },
        BadInput(name: "padded to a multiple of four (two =)") {
            try token(residue: 2) + "=="
        },
        BadInput(name: "non-canonical trailing bits (2-char tail)") {
            let t = try token(residue: 2)
            return replacing(t, at: t.count - 5, with: String(nextAlphabetChar(t.last)))
        },
        BadInput(name: "non-canonical trailing bits (3-char tail)") {
            let t = try token(residue: 3)
            return replacing(t, at: t.count - 5, with: String(nextAlphabetChar(t.last)))
        },
        BadInput(name: "length 1 mod 4") {
            var t = try token(residue: 0)
            t.append("A")
            return t
        },
        text("standard-alphabet +") { replacing($0, at: 10, with: "+") },
        text("standard-alphabet /") { replacing($0, at: 10, with: "/") },
        text("padding in the middle") { replacing($0, at: 10, with: "=") },
        text("dot") { replacing($0, at: 10, with: ".") },
        text("space") { replacing($0, at: 10, with: " ") },
        text("non-ASCII letter") { replacing($0, at: 10, with: "é") },
        text("NUL byte") { replacing($0, at: 10, with: "\0") },
        text("longer than 4096 characters") { $0 + String(repeating: "A", count: 4100 - $0.count) },
        body("4096 limit exceeded by a validly sealed body") { $0 = RawBody(custom: longPairs) },
        body("version 0") { $0.version = 0 },
        body("version 2") { $0.version = 2 },
        body("version 255") { $0.version = 255 },
        body("key id length 0") { $0.keyID = [] },
        body("key id length 33") { $0.keyID = Array(String(repeating: "k", count: 33).utf8) },
        body("key id with a dot") { $0.keyID = Array("k.1".utf8) },
        body("key id with a space") { $0.keyID = Array("k 1".utf8) },
        body("key id length past the end") { $0.keyIDLength = 250 },
        body("audience length 0") { $0.audience = [] },
        body("audience length 65") { $0.audience = Array(String(repeating: "a", count: 65).utf8) },
        body("audience with a slash") { $0.audience = Array("bill/ing".utf8) },
        body("audience with a non-ASCII byte") { $0.audience = Array("bïlling".utf8) },
        body("audience length past the end") { $0.audienceLength = 250 },
        body("valid_to equal to valid_from") { $0.validTo = $0.validFrom },
        body("valid_to before valid_from") { $0.validTo = $0.validFrom - 1 },
        body("valid_to before a negative valid_from") {
            $0.validFrom = -10
            $0.validTo = -20
        },
        body("scope kind 0") { $0.scopeKind = 0 },
        body("scope kind 4") { $0.scopeKind = 4 },
        body("scope kind 255") { $0.scopeKind = 255 },
        body("custom scope with count 0") { $0 = RawBody(custom: []) },
        body("custom scope with 257 entries") { $0 = RawBody(custom: TestKeys.pairs256 + ["zz.zz"]) },
        body("custom count larger than the entries") {
            $0 = RawBody(custom: ["devices.list"])
            $0.scopeCount = 2
        },
        body("custom count smaller than the entries") {
            $0 = RawBody(custom: ["devices.list", "users.get"])
            $0.scopeCount = 1
        },
        body("custom entries not sorted") { $0 = RawBody(custom: ["users.get", "devices.list"]) },
        body("custom entries duplicated") { $0 = RawBody(custom: ["devices.list", "devices.list"]) },
        body("custom entry with an uppercase letter") { $0 = RawBody(custom: ["devices.List"]) },
        body("custom entry without a dot") { $0 = RawBody(custom: ["deviceslist"]) },
        body("custom entry with an empty resource") { $0 = RawBody(custom: [".list"]) },
        body("custom entry with an empty action") { $0 = RawBody(custom: ["devices."]) },
        body("custom entry starting with a digit") { $0 = RawBody(custom: ["1devices.list"]) },
        body("custom entry with a 33-character part") {
            $0 = RawBody(custom: [String(repeating: "d", count: 33) + ".list"])
        },
        body("custom entry with two dots") { $0 = RawBody(custom: ["devices.list.all"]) },
        body("custom entry with a space") { $0 = RawBody(custom: ["devices.li st"]) },
        body("custom entry of length 2") { $0 = RawBody(custom: ["a."]) },
        body("custom entry of length 0") {
            $0 = RawBody(custom: ["devices.list"])
            $0.entries.append([])
            $0.scopeCount = 2
        },
        body("custom entry length past the end") {
            $0 = RawBody(custom: ["devices.list"])
            $0.trailing = [200]
            $0.scopeCount = 2
        },
        body("trailing byte after an all scope") { $0.trailing = [0] },
        body("trailing byte after a custom scope") {
            $0 = RawBody(custom: ["devices.list"])
            $0.trailing = [0]
        },
        body("read-only scope followed by a count") {
            $0.scopeKind = 2
            $0.scopeCount = 0
        },
        text("a byte after the tag") {
            var bytes = try TokenClaims.decodeText($0)
            bytes.append(0)
            return "sgl_" + Base64URL.encode(bytes)
        },
        text("the tag's last byte missing") {
            let bytes = try TokenClaims.decodeText($0)
            return "sgl_" + Base64URL.encode(bytes.dropLast())
        },
        text("only a tag") { _ in "sgl_" + Base64URL.encode([UInt8](repeating: 7, count: 32)) },
        text("one byte and a tag") { _ in "sgl_" + Base64URL.encode([UInt8](repeating: 1, count: 33)) },
    ]

    @Test("Each hand-made bad input is malformed and never echoed", arguments: badInputs)
    func malformed(_ input: BadInput) throws {
        let token = try input.make()
        let verifier = try TestKeys.verifier()
        let error = #expect(throws: VerificationError.self) { try verifier.verify(token, at: TestKeys.now) }
        #expect(error?.reason == .malformed)
        if token.count >= 8 { #expect(error?.description.contains(token) == false) }
        let payload = token.hasPrefix("sgl_") ? String(token.dropFirst(4)) : token
        if payload.count >= 8 { #expect(error?.description.contains(payload) == false) }
        let unverified = #expect(throws: VerificationError.self) { try TokenClaims.decodeUnverified(token) }
        #expect(unverified?.reason == .malformed)
    }

    @Test("The unedited hand-made body is a valid token (the table's control)")
    func control() throws {
        let token = try RawBody().sealed(key: try TestKeys.audienceKey())
        #expect(try TestKeys.verifier().verifyClaims(token, at: TestKeys.now) == (try TestKeys.claims()))
        let pairs = try RawBody(custom: TestKeys.pairs256).sealed(key: try TestKeys.audienceKey())
        #expect(try TestKeys.verifier().verify(pairs, at: TestKeys.now).scopeKind == .custom)
    }

    @Test("A body of exactly 4096 characters is valid; one entry more is not")
    func lengthLimit() throws {
        let key = try TestKeys.audienceKey()
        let exact = try RawBody(custom: Array(Self.longPairs.prefix(46))).sealed(key: key)
        #expect(exact.utf8.count == 4096)
        #expect(throws: Never.self) { try TestKeys.verifier().verify(exact, at: TestKeys.now) }
        let over = try RawBody(custom: Self.longPairs).sealed(key: key)
        #expect(over.utf8.count > 4096)
        let error = #expect(throws: VerificationError.self) { try TestKeys.verifier().verify(over, at: TestKeys.now) }
        #expect(error?.reason == .malformed)
    }

    @Test(
        "A body cut short is malformed at every length",
        arguments: [Scope.all, .custom(["devices.list", "users.get"])])
    func bodyCuts(_ scope: Scope) throws {
        let body = try TestKeys.claims(scope: scope).body()
        let key = try TestKeys.audienceKey()
        let verifier = try TestKeys.verifier()
        for length in 0..<body.count {
            let cut = Array(body.prefix(length))
            let tag = try #require(hmacSHA256(key: key, message: cut))
            let token = "sgl_" + Base64URL.encode(cut + tag)
            let error = #expect(throws: VerificationError.self) { try verifier.verify(token, at: TestKeys.now) }
            #expect(error?.reason == .malformed, "length \(length)")
        }
    }
}

/// The alphabet character after `c` (value + 1): on a tail character whose unused bits are
/// zero this sets the lowest unused bit.
func nextAlphabetChar(_ c: Character?) -> Character {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    guard let c, let i = alphabet.firstIndex(of: c) else { return "?" }
    return alphabet[(i + 1) % 64]
}
