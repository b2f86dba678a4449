import SigilIssuer
import SigilVerifier
import Testing

@Suite("Verifier reasons and check order")
struct VerifierReasonTests {
    enum Secret: Sendable { case main, other }

    /// One scenario: how the token is made, what the revocation source says, when and for
    /// what it is checked, and the one reason the verifier must give.
    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var keyID = "k1"
        var audience = TestKeys.audience
        var secret = Secret.main
        var validFrom = TestKeys.validFrom
        var validTo: Int64? = TestKeys.validTo
        var scope = Scope.all
        var text: String? = nil
        var revocation = RevocationCheck.clear
        var now = TestKeys.now
        var permission: Permission? = nil
        var expected: VerificationError.Reason?
        var testDescription: String { name }

        init(_ name: String, expected: VerificationError.Reason?, _ edit: (inout Scenario) -> Void = { _ in }) {
            self.name = name
            self.expected = expected
            edit(&self)
        }

        func token() throws -> String {
            if let text { return text }
            let claims = try TestKeys.claims(
                keyID: keyID, audience: audience, validFrom: validFrom, validTo: validTo, scope: scope)
            return try TestKeys.mint(
                claims, secret: secret == .main ? TestKeys.masterSecret : TestKeys.otherMasterSecret)
        }
    }

    static let expiredNow = TestKeys.validTo + 3_600
    static let earlyNow = TestKeys.validFrom - 3_600
    static let write = Permission("devices.delete", access: .write)

    static let scenarios: [Scenario] = [
        Scenario("valid", expected: nil),
        Scenario("not Sigil text", expected: .malformed) { $0.text = "sgl_AAAA" },
        Scenario("malformed beats everything", expected: .malformed) {
            $0.text = "Bearer sgl_AAAA"
            $0.revocation = .revoked
        },
        Scenario("another audience", expected: .wrongAudience) { $0.audience = "shipping" },
        Scenario("wrong audience + unknown key", expected: .wrongAudience) {
            $0.audience = "shipping"
            $0.keyID = "k9"
        },
        Scenario("wrong audience + unknown key + forged + expired", expected: .wrongAudience) {
            $0.audience = "shipping"
            $0.keyID = "k9"
            $0.secret = .other
            $0.now = expiredNow
        },
        Scenario("unknown key", expected: .unknownKey) { $0.keyID = "k9" },
        Scenario("unknown key + forged + revoked + expired", expected: .unknownKey) {
            $0.keyID = "k9"
            $0.secret = .other
            $0.revocation = .revoked
            $0.now = expiredNow
        },
        Scenario("forged", expected: .badSignature) { $0.secret = .other },
        Scenario("forged + expired", expected: .badSignature) {
            $0.secret = .other
            $0.now = expiredNow
        },
        Scenario("forged + stale + out of scope", expected: .badSignature) {
            $0.secret = .other
            $0.revocation = .stale
            $0.scope = .readOnly
            $0.permission = write
        },
        Scenario("revocations stale", expected: .revocationsStale) { $0.revocation = .stale },
        Scenario("revocations stale + expired + out of scope", expected: .revocationsStale) {
            $0.revocation = .stale
            $0.now = expiredNow
            $0.scope = .readOnly
            $0.permission = write
        },
        Scenario("revoked", expected: .revoked) { $0.revocation = .revoked },
        Scenario("revoked + expired", expected: .revoked) {
            $0.revocation = .revoked
            $0.now = expiredNow
        },
        Scenario("revoked + not yet valid + out of scope", expected: .revoked) {
            $0.revocation = .revoked
            $0.now = earlyNow
            $0.scope = .readOnly
            $0.permission = write
        },
        Scenario("deactivated", expected: .deactivated) { $0.revocation = .deactivated },
        Scenario("deactivated + expired", expected: .deactivated) {
            $0.revocation = .deactivated
            $0.now = expiredNow
        },
        Scenario("not yet valid", expected: .notYetValid) { $0.now = earlyNow },
        Scenario("not yet valid + out of scope", expected: .notYetValid) {
            $0.now = earlyNow
            $0.scope = .custom(["devices.list"])
            $0.permission = write
        },
        Scenario("expired", expected: .expired) { $0.now = expiredNow },
        Scenario("expired + out of scope", expected: .expired) {
            $0.now = expiredNow
            $0.scope = .readOnly
            $0.permission = write
        },
        Scenario("out of scope", expected: .scopeNotGranted) {
            $0.scope = .readOnly
            $0.permission = write
        },
    ]

    @Test("Each scenario gives exactly its reason", arguments: scenarios)
    func reason(_ scenario: Scenario) throws {
        let token = try scenario.token()
        let source = FixedRevocations(otherwise: scenario.revocation)
        let verifier = try TestKeys.verifier(revocations: source)
        let result = Result { () throws(VerificationError) in
            try verifier.verify(token, for: scenario.permission, at: scenario.now)
        }
        switch result {
        case .success(let verified):
            #expect(scenario.expected == nil)
            #expect(verified.id == TestKeys.id1)
        case .failure(let error):
            #expect(error.reason == scenario.expected)
            #expect(!error.description.contains(token))
            #expect(error.description.hasPrefix("[\(error.reason.rawValue)] "))
        }
        // The revocation source is asked only about tokens whose MAC matched, exactly once.
        let macMatched = ![.malformed, .wrongAudience, .unknownKey, .badSignature].contains(scenario.expected)
        #expect(source.callCount == (macMatched ? 1 : 0))
    }

    @Test("Every reason code is reached by some scenario")
    func everyReasonReached() {
        let reached = Set(Self.scenarios.compactMap(\.expected))
        #expect(reached == Set(VerificationError.Reason.allCases))
    }

    @Test("verifyClaims gives the same reason as verify", arguments: scenarios)
    func verifyClaimsAgrees(_ scenario: Scenario) throws {
        let token = try scenario.token()
        let verifier = try TestKeys.verifier(revocations: FixedRevocations(otherwise: scenario.revocation))
        let result = Result { () throws(VerificationError) in
            try verifier.verifyClaims(token, for: scenario.permission, at: scenario.now)
        }
        switch result {
        case .success: #expect(scenario.expected == nil)
        case .failure(let error): #expect(error.reason == scenario.expected)
        }
    }

    @Test("Without a revocation source, revocation reasons cannot occur")
    func noSource() throws {
        let token = try TestKeys.mint(try TestKeys.claims())
        #expect(try TestKeys.verifier().verify(token, at: TestKeys.now).id == TestKeys.id1)
    }

    @Test("Only the token's GUID is looked up")
    func lookupByGUID() throws {
        let source = FixedRevocations([TestKeys.id2: .revoked])
        let verifier = try TestKeys.verifier(revocations: source)
        let clear = try TestKeys.mint(try TestKeys.claims(id: TestKeys.id1))
        let revoked = try TestKeys.mint(try TestKeys.claims(id: TestKeys.id2))
        #expect(try verifier.verify(clear, at: TestKeys.now).id == TestKeys.id1)
        let error = #expect(throws: VerificationError.self) { try verifier.verify(revoked, at: TestKeys.now) }
        #expect(error?.reason == .revoked)
    }

    // MARK: Leeway

    struct Edge: Sendable, CustomTestStringConvertible {
        var leeway: Int64
        var offset: Int64
        var atStart: Bool
        var expected: VerificationError.Reason?
        var testDescription: String {
            "leeway \(leeway): " + (atStart ? "valid_from - leeway" : "valid_to + leeway")
                + (offset == 0 ? "" : " \(offset)")
        }
    }

    static let edges: [Edge] = [0, 1, 60, 86_400].flatMap { leeway in
        [
            Edge(leeway: leeway, offset: 0, atStart: true, expected: nil),
            Edge(leeway: leeway, offset: -1, atStart: true, expected: .notYetValid),
            Edge(leeway: leeway, offset: -1, atStart: false, expected: nil),
            Edge(leeway: leeway, offset: 0, atStart: false, expected: .expired),
        ]
    }

    @Test("Leeway widens both ends of the window by exactly its length", arguments: edges)
    func leewayEdges(_ edge: Edge) throws {
        let validFrom: Int64 = 1_000_000
        let validTo: Int64 = 1_000_010
        let token = try TestKeys.mint(try TestKeys.claims(validFrom: validFrom, validTo: validTo))
        let verifier = try TestKeys.verifier(leeway: edge.leeway)
        #expect(verifier.leeway == edge.leeway)
        let now = (edge.atStart ? validFrom - edge.leeway : validTo + edge.leeway) + edge.offset
        let result = Result { () throws(VerificationError) in try verifier.verify(token, at: now) }
        switch result {
        case .success: #expect(edge.expected == nil)
        case .failure(let error): #expect(error.reason == edge.expected)
        }
    }

    @Test("The default leeway is 60 seconds")
    func defaultLeeway() throws {
        let verifier = try TestKeys.verifier()
        #expect(verifier.leeway == 60)
        let token = try TestKeys.mint(try TestKeys.claims(validFrom: 1_000, validTo: 2_000))
        #expect(throws: Never.self) { try verifier.verify(token, at: 940) }
        #expect(throws: VerificationError.self) { try verifier.verify(token, at: 939) }
        #expect(throws: Never.self) { try verifier.verify(token, at: 2_059) }
        #expect(throws: VerificationError.self) { try verifier.verify(token, at: 2_060) }
    }

    // MARK: Int64 extremes

    static let windows: [(Int64, Int64?)] = [
        (.min, nil), (.min, .max), (.min, .min + 1), (.max - 1, .max), (.max - 1, nil), (-1, 1), (0, nil),
    ]
    static let instants: [Int64] = [.min, .min + 1, .min + 60, -1, 0, 1, .max - 60, .max - 1, .max]

    @Test("Times at Int64's ends never trap and match wide arithmetic", arguments: [0, 60, 86_400] as [Int64])
    func extremes(_ leeway: Int64) throws {
        let verifier = try TestKeys.verifier(leeway: leeway)
        for (validFrom, validTo) in Self.windows {
            let token = try TestKeys.mint(try TestKeys.claims(validFrom: validFrom, validTo: validTo))
            for now in Self.instants {
                // The oracle: the window rules computed without any overflow.
                let wideNow = Int128(now)
                let expected: VerificationError.Reason? =
                    if wideNow + Int128(leeway) < Int128(validFrom) {
                        .notYetValid
                    } else if let validTo, wideNow - Int128(leeway) >= Int128(validTo) {
                        .expired
                    } else {
                        nil
                    }
                let result = Result { () throws(VerificationError) in try verifier.verify(token, at: now) }
                switch result {
                case .success(let verified):
                    #expect(expected == nil, "window \(validFrom)..<\(validTo ?? 0) at \(now)")
                    #expect(verified.validFrom == validFrom)
                    #expect(verified.validTo == validTo)
                case .failure(let error):
                    #expect(error.reason == expected, "window \(validFrom)..<\(validTo ?? 0) at \(now)")
                }
            }
        }
    }
}
