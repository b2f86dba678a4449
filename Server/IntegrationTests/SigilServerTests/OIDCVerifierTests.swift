import Foundation
import HTTPTypes
import JWTKit
import SigilIssuer
import SigilServer
import Testing

/// The ID-token verifier with keys made here (no network): ES256, which the test provider
/// (django-oidc-provider, RS256 only) cannot sign, a signature by another key under a known
/// `kid`, and each claim check at its bounds. The RS256 path runs against the real provider
/// in Server/tests/test_oidc.py.
@Suite("Single sign-on: the ID token verifier")
struct OIDCVerifierTests {
    static let issuer = "https://id.example.com/realms/acme"
    static let clientID = "sigil"
    static let now: Int64 = 1_800_000_000

    struct Claims: JWTPayload {
        var iss = OIDCVerifierTests.issuer
        var sub = "user-1"
        var aud: [String] = [OIDCVerifierTests.clientID]
        var azp: String?
        var exp = OIDCVerifierTests.now + 300
        var iat = OIDCVerifierTests.now - 5
        var nonce: String? = "the-nonce"
        var email: String? = "Ada@Example.org"
        var email_verified: Bool? = true

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A fresh P-256 key and its JWK (kid `kid`).
    static func es256Key(kid: String = "k1") throws -> (ES256PrivateKey, JWK) {
        let key = ES256PrivateKey()
        let parameters = try #require(key.publicKey.parameters)
        return (
            key,
            JWK.ecdsa(.es256, identifier: JWKIdentifier(string: kid), x: parameters.x, y: parameters.y, curve: .p256)
        )
    }

    static func sign(_ claims: Claims, with key: ES256PrivateKey, kid: String = "k1") async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    let verifier = IDTokenVerifier(issuer: Self.issuer, clientID: Self.clientID, clockSkew: 60)

    @Test("An ES256 token signed by the JWKS key verifies; the verified email is returned")
    func es256() async throws {
        let (key, jwk) = try Self.es256Key()
        let token = try await Self.sign(Claims(), with: key)
        let header = try IDTokenVerifier.header(of: token)
        #expect(header.alg == "ES256" && header.kid == "k1")
        let identity = try await verifier.verify(token, key: jwk, nonce: "the-nonce", now: Self.now)
        #expect(identity.verifiedEmail == "Ada@Example.org")
        #expect(identity.subject == "user-1")
    }

    @Test("A token signed by another key under the same kid is refused: bad_signature")
    func otherKey() async throws {
        let (_, published) = try Self.es256Key()
        let (attacker, _) = try Self.es256Key()
        let token = try await Self.sign(Claims(), with: attacker)
        let error = await #expect(throws: OIDCRefusal.self) {
            try await verifier.verify(token, key: published, nonce: "the-nonce", now: Self.now)
        }
        #expect(error?.reason == "bad_signature")
    }

    @Test(
        "Each claim is checked, with the skew as the only slack",
        arguments: [
            ("issuer", "wrong_issuer"), ("audience", "wrong_audience"), ("azp", "wrong_audience"),
            ("two audiences", "wrong_audience"), ("expired", "expired"), ("future", "issued_in_future"),
            ("nonce", "nonce_mismatch"), ("no nonce", "nonce_mismatch"),
        ])
    func claims(change: String, reason: String) async throws {
        let (key, jwk) = try Self.es256Key()
        var claims = Claims()
        switch change {
        case "issuer": claims.iss = Self.issuer + "/"
        case "audience": claims.aud = ["another-app"]
        case "azp": claims.azp = "another-app"
        case "two audiences": claims.aud = [Self.clientID, "another-app"]
        case "expired": claims.exp = Self.now - 61
        case "future": claims.iat = Self.now + 61
        case "nonce": claims.nonce = "another-nonce"
        default: claims.nonce = nil
        }
        let token = try await Self.sign(claims, with: key)
        let error = await #expect(throws: OIDCRefusal.self) {
            try await verifier.verify(token, key: jwk, nonce: "the-nonce", now: Self.now)
        }
        #expect(error?.reason == reason)
    }

    @Test("Within the skew: a token expired 60 s ago, or issued 60 s ahead, is accepted")
    func skew() async throws {
        let (key, jwk) = try Self.es256Key()
        var claims = Claims()
        claims.exp = Self.now - 60
        claims.iat = Self.now + 60
        let token = try await Self.sign(claims, with: key)
        _ = try await verifier.verify(token, key: jwk, nonce: "the-nonce", now: Self.now)
        claims.aud = [Self.clientID, "another-app"]
        claims.azp = Self.clientID
        _ = try await verifier.verify(
            try await Self.sign(claims, with: key), key: jwk, nonce: "the-nonce", now: Self.now)
    }

    @Test("An unverified email is not returned as verified")
    func unverified() async throws {
        let (key, jwk) = try Self.es256Key()
        for flag in [false, nil] as [Bool?] {
            var claims = Claims()
            claims.email_verified = flag
            let identity = try await verifier.verify(
                try await Self.sign(claims, with: key), key: jwk, nonce: "the-nonce", now: Self.now)
            #expect(identity.verifiedEmail == nil)
            #expect(identity.hasUnverifiedEmail)
        }
    }

    @Test(
        "Headers other than a compact JWS with RS256 or ES256 are refused before any key is used",
        arguments: [
            "", "a.b", "e30.e30.", Self.part(#"{"alg":"none"}"#) + ".e30.",
            Self.part(#"{"alg":"HS256","kid":"k1"}"#) + ".e30.sig",
            Self.part(#"{"alg":"ES256","kid":"k1","crit":["exp"]}"#) + ".e30.sig",
        ])
    func headers(token: String) {
        #expect(throws: OIDCRefusal.badToken) { try IDTokenVerifier.header(of: token) }
    }

    @Test("An ES256 token is refused with an RSA JWK under its kid (no algorithm confusion)")
    func keyTypeMismatch() async throws {
        let (key, _) = try Self.es256Key()
        let token = try await Self.sign(Claims(), with: key)
        let rsa = JWK.rsa(.rs256, identifier: "k1", modulus: "AQAB", exponent: "AQAB")
        let error = await #expect(throws: OIDCRefusal.self) {
            try await verifier.verify(token, key: rsa, nonce: "the-nonce", now: Self.now)
        }
        #expect(error?.reason == "bad_signature")
    }

    @Test("The flow cookie opens only unaltered, unexpired, under the same secret")
    func flowCookie() throws {
        let sealer = OIDCFlowCookie(secret: Array("test-only-client-secret".utf8), context: Self.issuer)
        let flow = OIDCFlowCookie.start(now: Self.now, lifetime: 600)
        let sealed = try sealer.seal(flow)
        #expect(sealer.open(sealed, now: Self.now + 600) == flow)
        #expect(sealer.open(sealed, now: Self.now + 601) == nil)
        #expect(!sealed.contains(flow.state) && !sealed.contains(flow.nonce) && !sealed.contains(flow.verifier))
        let other = OIDCFlowCookie(secret: Array("another-client-secret".utf8), context: Self.issuer)
        #expect(other.open(sealed, now: Self.now) == nil)
        var bytes = Array(sealed.utf8)
        bytes[20] = bytes[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(sealer.open(String(decoding: bytes, as: UTF8.self), now: Self.now) == nil)
        // RFC 7636 appendix B.
        #expect(
            OIDCFlowCookie.challenge(of: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
                == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test("Every reason the issuer defines has a refusal page with a 4xx or 502/503 status, never 500")
    func refusalPages() {
        for reason in SignInRefusal.allCases {
            let page = OIDCRefusal.all.first { $0.audited == reason }
            #expect(page != nil, "no page for \(reason.rawValue)")
            #expect(page?.reason == reason.rawValue && page?.message == reason.message)
            let code = page?.status.code ?? 500
            #expect((400..<500).contains(code) || code == 502 || code == 503)
        }
        #expect(OIDCRefusal.sessionsFull.audited == nil && OIDCRefusal.sessionsFull.status.code == 503)
        #expect(OIDCRefusal.providerBadAnswer.status.code == 502)
    }

    static func part(_ json: String) -> String {
        Data(json.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}
