import SigilIssuer
import SigilIssuerCrypto
import SigilVerifier
import Testing

@Suite("Token round trip")
struct TokenRoundTripTests {
    enum Window: String, CaseIterable, Sendable {
        case neverExpires = "never expires"
        case bounded
    }

    struct ScopeCase: Sendable, CustomTestStringConvertible {
        var name: String
        var scope: Scope
        var testDescription: String { name }
    }

    static let scopes = [
        ScopeCase(name: "all", scope: .all),
        ScopeCase(name: "read-only", scope: .readOnly),
        ScopeCase(name: "custom, 1 entry", scope: .custom(["devices.list"])),
        ScopeCase(name: "custom, 256 entries", scope: .custom(TestKeys.pairs256)),
    ]

    @Test("A minted token verifies and returns exactly its claims", arguments: scopes, Window.allCases)
    func roundTrip(_ scopeCase: ScopeCase, _ window: Window) throws {
        let validTo: Int64? = window == .bounded ? TestKeys.validTo : nil
        let claims = try TestKeys.claims(id: TestKeys.id2, validTo: validTo, scope: scopeCase.scope)
        let token = try TestKeys.mint(claims)
        #expect(token.hasPrefix("sgl_"))
        #expect(token.utf8.count <= TokenClaims.maxTextLength)

        let verifier = try TestKeys.verifier()
        let verified = try verifier.verify(token, at: TestKeys.now)
        #expect(verified.id == TestKeys.id2)
        #expect(verified.validFrom == TestKeys.validFrom)
        #expect(verified.validTo == validTo)
        #expect(verified.scopeKind.rawValue == scopeCase.scope.kindCode)
        #expect(try verifier.verifyClaims(token, at: TestKeys.now) == claims)
        #expect(try TokenClaims.decodeUnverified(token) == claims)
    }

    @Test("The token is sgl_ + base64url(body || HMAC-SHA256(HKDF key, body))", arguments: scopes)
    func wireForm(_ scopeCase: ScopeCase) throws {
        let claims = try TestKeys.claims(scope: scopeCase.scope)
        let token = try TestKeys.mint(claims)
        let decoded = try #require(Base64URL.decode(token.dropFirst(4)))
        let body = claims.body()
        // K_aud derived here straight from the format description.
        let key = try #require(
            OpenSSL.hkdfSHA256(
                ikm: TestKeys.masterSecret, salt: [], info: tokenInfoPrefix + Array("billing".utf8), outputLength: 32))
        #expect(try TestKeys.audienceKey() == key)
        let tag = try #require(hmacSHA256(key: key, message: body))
        #expect(decoded == body + tag)
        #expect(try TokenClaims.decodeText(token) == body + tag)
    }

    @Test("The body layout matches the format field by field")
    func bodyLayout() throws {
        let claims = try TestKeys.claims(scope: .custom(["devices.list", "users.get"]))
        var raw = RawBody(custom: ["devices.list", "users.get"])
        #expect(claims.body() == raw.bytes)
        raw = RawBody()
        raw.validTo = 0
        #expect(try TestKeys.claims(validTo: nil).body() == raw.bytes)
        raw.scopeKind = 2
        #expect(try TestKeys.claims(validTo: nil, scope: .readOnly).body() == raw.bytes)
    }

    @Test("A token minted with an audience key verifies like one minted from the master secret")
    func mintWithAudienceKey() throws {
        let claims = try TestKeys.claims()
        let viaKey = try TokenMinter.mint(claims, audienceKey: try TestKeys.audienceKey())
        #expect(viaKey == (try TestKeys.mint(claims)))
        #expect(throws: IssuerError.self) { try TokenMinter.mint(claims, audienceKey: [1, 2, 3]) }
    }

    @Test("A verifier with several keys picks the token's key by ID")
    func severalKeys() throws {
        let verifier = try TestKeys.verifier(keys: [("k1", TestKeys.masterSecret), ("k2", TestKeys.otherMasterSecret)])
        #expect(verifier.keyIDs == ["k1", "k2"])
        let k1 = try TestKeys.mint(try TestKeys.claims(keyID: "k1"))
        let k2 = try TestKeys.mint(try TestKeys.claims(keyID: "k2"), secret: TestKeys.otherMasterSecret)
        #expect(try verifier.verify(k1, at: TestKeys.now).id == TestKeys.id1)
        #expect(try verifier.verify(k2, at: TestKeys.now).id == TestKeys.id1)
        // k2's ID with k1's secret: the key is found, the MAC is not right.
        let crossed = try TestKeys.mint(try TestKeys.claims(keyID: "k2"))
        let error = #expect(throws: VerificationError.self) { try verifier.verify(crossed, at: TestKeys.now) }
        #expect(error?.reason == .badSignature)
    }

    @Test("Longest key ID and audience and the full charsets round-trip")
    func longestFields() throws {
        let keyID = "Az09_-" + String(repeating: "k", count: 26)
        let audience = "Az09._:-" + String(repeating: "a", count: 56)
        #expect(keyID.utf8.count == 32)
        #expect(audience.utf8.count == 64)
        let claims = try TestKeys.claims(keyID: keyID, audience: audience)
        let token = try TestKeys.mint(claims)
        let verifier = try TestKeys.verifier(audience: audience, keys: [(keyID, TestKeys.masterSecret)])
        #expect(try verifier.verifyClaims(token, at: TestKeys.now) == claims)
    }

    @Test("Without an explicit time the system clock is used")
    func systemClock() throws {
        let token = try TestKeys.mint(try TestKeys.claims(validFrom: 0, validTo: nil))
        #expect(try TestKeys.verifier().verify(token).validTo == nil)
        #expect(Verifier.unixNow() > TestKeys.now - 86_400 * 365)
    }

    @Test("Fresh token IDs are RFC 9562 version-4 UUIDs and differ")
    func newTokenIDs() {
        let ids = (0..<64).map { _ in TokenMinter.newTokenID() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let bytes = id.bytes
            #expect(bytes[6] >> 4 == 4)
            #expect(bytes[8] >> 6 == 0b10)
        }
    }

    @Test("TokenID text forms round-trip and bad forms are refused")
    func tokenIDText() throws {
        let id = TestKeys.id1
        #expect(id.description == "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90")
        #expect(TokenID(uuidString: id.description) == id)
        #expect(TokenID(uuidString: id.description.uppercased()) == id)
        #expect(TokenID(uuidString: id.hexString) == id)
        #expect(TokenID(bytes: id.bytes) == id)
        for bad in [
            "", "0b0e5c6a2f4d4c1e9a535d3f1e2b7c9", "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c9g",
            "0b0e5c6a2-f4d-4c1e-9a53-5d3f1e2b7c90", "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c900",
        ] {
            #expect(TokenID(uuidString: bad) == nil, "\(bad)")
        }
    }

    @Test(
        "Claims that break a format rule cannot be built",
        arguments: [
            ("", "billing", Int64(0), Int64?.none, Scope.all),
            (String(repeating: "k", count: 33), "billing", 0, nil, .all),
            ("k.1", "billing", 0, nil, .all),
            ("k1", "", 0, nil, .all),
            ("k1", String(repeating: "a", count: 65), 0, nil, .all),
            ("k1", "bill/ing", 0, nil, .all),
            ("k1", "billing", 10, 10, .all),
            ("k1", "billing", 10, 9, .all),
            ("k1", "billing", -5, 0, .all),
            ("k1", "billing", 0, nil, .custom([])),
            ("k1", "billing", 0, nil, .custom(["b.x", "a.x"])),
            ("k1", "billing", 0, nil, .custom(["a.x", "a.x"])),
            ("k1", "billing", 0, nil, .custom(["Devices.list"])),
            ("k1", "billing", 0, nil, .custom(["devices"])),
            ("k1", "billing", 0, nil, .custom(TestKeys.pairs256 + ["zz.zz"])),
        ] as [(String, String, Int64, Int64?, Scope)])
    func invalidClaims(_ keyID: String, _ audience: String, _ validFrom: Int64, _ validTo: Int64?, _ scope: Scope) {
        let error = #expect(throws: VerificationError.self) {
            try TokenClaims(
                keyID: keyID, audience: audience, id: TestKeys.id1, validFrom: validFrom, validTo: validTo, scope: scope
            )
        }
        #expect(error?.reason == .malformed)
    }

    @Test("The minter refuses a token longer than 4096 characters")
    func mintTooLong() throws {
        let long = (0..<60).map {
            "r" + String(repeating: "a", count: 29) + format2($0) + "." + String(repeating: "b", count: 32)
        }
        let claims = try TestKeys.claims(scope: .custom(long))
        #expect(throws: IssuerError.self) { try TestKeys.mint(claims) }
    }

    @Test("Bad verifier configurations are refused")
    func badConfiguration() throws {
        let key = try TestKeys.audienceKey()
        #expect(throws: KeysetError.self) { try TokenKey(keyID: "k 1", key: key) }
        #expect(throws: KeysetError.self) { try TokenKey(keyID: "k1", key: Array(key.prefix(31))) }
        let k1 = try TokenKey(keyID: "k1", key: key)
        #expect(throws: KeysetError.self) { try Verifier(audience: "bad audience", keys: [k1]) }
        #expect(throws: KeysetError.self) { try Verifier(audience: "billing", keys: [k1, k1]) }
        #expect(throws: KeysetError.self) { try Verifier(audience: "billing", keys: [k1], leeway: -1) }
        #expect(throws: KeysetError.self) { try Verifier(audience: "billing", keys: [k1], leeway: 86_401) }
        #expect(throws: IssuerError.self) { try TokenMinter.audienceKey(masterSecret: [1], audience: "billing") }
        #expect(throws: IssuerError.self) {
            try TokenMinter.audienceKey(masterSecret: TestKeys.masterSecret, audience: "")
        }
    }
}

/// Two lowercase letters for `n` in 0..<676, so generated names sort in numeric order.
func format2(_ n: Int) -> String {
    let letters = Array("abcdefghijklmnopqrstuvwxyz")
    return String([letters[n / 26], letters[n % 26]])
}
