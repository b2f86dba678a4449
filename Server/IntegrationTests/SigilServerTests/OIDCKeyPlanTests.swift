import JWTKit
import SigilServer
import Testing

/// When the provider's JWKS is read again (no network: the decision only, with `now` injected).
@Suite("Single sign-on: when the JWKS is read")
struct OIDCKeyPlanTests {
    static let now: Int64 = 1_800_000_000
    static let refresh: Int64 = 300

    static func keys() throws -> [String: JWK] {
        let (_, jwk) = try OIDCVerifierTests.es256Key(kid: "k1")
        return ["k1": jwk]
    }

    static func plan(
        _ kid: String?, keys: [String: JWK], fetchedAt: Int64?, attemptedAt: Int64?, refresh: Int64 = refresh
    ) -> String {
        switch OIDCProvider.plan(
            kid: kid, keys: keys, fetchedAt: fetchedAt, attemptedAt: attemptedAt, now: now, refreshInterval: refresh)
        {
        case .use: "use"
        case .unknown: "unknown"
        case .unavailable: "unavailable"
        case .fetch: "fetch"
        }
    }

    @Test("A known kid in a fresh set is used; an unknown one waits for the refresh interval")
    func fresh() throws {
        let keys = try Self.keys()
        #expect(Self.plan("k1", keys: keys, fetchedAt: Self.now - 10, attemptedAt: Self.now - 10) == "use")
        #expect(Self.plan("k2", keys: keys, fetchedAt: Self.now - 10, attemptedAt: Self.now - 10) == "unknown")
        #expect(Self.plan("k2", keys: keys, fetchedAt: Self.now - 400, attemptedAt: Self.now - 400) == "fetch")
    }

    @Test("A set older than the bound is read again even for a known kid (a withdrawn key stops being trusted)")
    func stale() throws {
        let keys = try Self.keys()
        let old = Self.now - OIDCProvider.keysMaxAge
        #expect(Self.plan("k1", keys: keys, fetchedAt: old, attemptedAt: old) == "fetch")
        // Its read failed just now: the withdrawn key is still not trusted; try later.
        #expect(Self.plan("k1", keys: keys, fetchedAt: old, attemptedAt: Self.now - 1) == "unavailable")
        #expect(
            Self.plan("k1", keys: keys, fetchedAt: old, attemptedAt: Self.now - OIDCProvider.firstFetchRetry)
                == "fetch")
    }

    @Test("Before a read succeeds: unavailable (not unknown_key), with a short back-off")
    func noReadYet() {
        // The first read is under way, or failed a moment ago.
        #expect(Self.plan("k1", keys: [:], fetchedAt: nil, attemptedAt: Self.now) == "unavailable")
        #expect(Self.plan("k1", keys: [:], fetchedAt: nil, attemptedAt: Self.now - 1) == "unavailable")
        // Not the refresh interval: a few seconds later it is tried again.
        #expect(
            Self.plan("k1", keys: [:], fetchedAt: nil, attemptedAt: Self.now - OIDCProvider.firstFetchRetry)
                == "fetch")
        #expect(Self.plan("k1", keys: [:], fetchedAt: nil, attemptedAt: nil) == "fetch")
    }
}
