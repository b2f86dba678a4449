import Foundation
package import JWTKit
import SigilIssuer
import SigilVerifier

/// The claims of a verified ID token that sign-in uses.
public struct IDTokenIdentity: Sendable, Equatable {
    public let subject: String
    /// The email, only when the provider says it is verified (`email_verified` true).
    public let verifiedEmail: String?
    /// Whether an email was present but not verified.
    public let hasUnverifiedEmail: Bool
}

/// Checks an ID token: its JWS signature (RS256 or ES256, through jwt-kit) against one key of
/// the provider's JWKS chosen by `kid`, then `iss`, `aud` (and `azp` when several audiences),
/// `exp`, `iat` and `nonce` with a bounded clock skew (OpenID Connect Core 3.1.3.7).
///
/// Pure: the keys, the time and the expected values are given, so it is tested without a
/// network (IntegrationTests/SigilServerTests/OIDCVerifierTests.swift).
///
/// ```swift
/// let verifier = IDTokenVerifier(issuer: issuer, clientID: "sigil", clockSkew: 60)
/// let identity = try await verifier.verify(idToken, keys: jwks, nonce: flow.nonce, now: now)
/// ```
public struct IDTokenVerifier: Sendable {
    public let issuer: String
    public let clientID: String
    public let clockSkew: Int64
    /// The only algorithms accepted: the header's `alg` must be one, and match the key's.
    public static let algorithms: Set<String> = ["RS256", "ES256"]

    public init(issuer: String, clientID: String, clockSkew: Int) {
        self.issuer = issuer
        self.clientID = clientID
        self.clockSkew = Int64(clockSkew)
    }

    /// The header fields the key is chosen by, read before any key is trusted.
    public struct Header: Sendable, Equatable {
        public let alg: String
        public let kid: String?
    }

    /// Reads the JWS header. Throws ``OIDCRefusal/badToken`` for anything but a compact JWS
    /// with an accepted `alg`.
    public static func header(of token: String) throws(OIDCRefusal) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 16_384, parts.count == 3, let bytes = Base64URL.decode(parts[0]),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let alg = object["alg"] as? String, algorithms.contains(alg)
        else { throw .badToken }
        if let crit = object["crit"], !(crit is NSNull) { throw .badToken }
        return Header(alg: alg, kid: object["kid"] as? String)
    }

    /// Verifies `token` with `key` (the JWKS entry its `kid` named) and checks the claims.
    ///
    /// - Throws: ``OIDCRefusal``: `bad_signature`, `bad_token`, `wrong_issuer`,
    ///   `wrong_audience`, `expired`, `issued_in_future`, `nonce_mismatch`.
    package func verify(_ token: String, key: JWK, nonce: String, now: Int64) async throws(OIDCRefusal)
        -> IDTokenIdentity
    {
        let header = try Self.header(of: token)
        if let keyAlg = key.algorithm?.rawValue, keyAlg != header.alg { throw .badSignature }
        let expectedType: JWK.KeyType = header.alg == "ES256" ? .ecdsa : .rsa
        guard key.keyType == expectedType else { throw .badSignature }
        let claims: IDTokenClaims
        do {
            let keys = JWTKeyCollection()
            try await keys.add(jwk: key)
            claims = try await keys.verify(token, as: IDTokenClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch {
            throw .badToken
        }
        guard claims.iss == issuer else { throw .wrongIssuer }
        guard claims.aud.contains(clientID) else { throw .wrongAudience }
        if claims.aud.count > 1, claims.azp != clientID { throw .wrongAudience }
        if let azp = claims.azp, azp != clientID { throw .wrongAudience }
        guard now <= claims.exp + clockSkew else { throw .expired }
        guard claims.iat <= now + clockSkew else { throw .issuedInFuture }
        guard let sent = claims.nonce, Secrets.equal(Array(sent.utf8), Array(nonce.utf8)) else { throw .nonceMismatch }
        let email = claims.email.map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        return IDTokenIdentity(
            subject: claims.sub, verifiedEmail: claims.emailVerified ? email : nil,
            hasUnverifiedEmail: email != nil && !claims.emailVerified)
    }
}

/// The ID token's claims as providers write them: `aud` a string or a list, times as numbers,
/// `email_verified` a boolean (or, from some providers, the string "true").
struct IDTokenClaims: JWTPayload {
    let iss: String
    let sub: String
    let aud: [String]
    let azp: String?
    let exp: Int64
    let iat: Int64
    let nonce: String?
    let email: String?
    let emailVerified: Bool

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, azp, exp, iat, nonce, email
        case emailVerified = "email_verified"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        iss = try c.decode(String.self, forKey: .iss)
        sub = try c.decode(String.self, forKey: .sub)
        if let one = try? c.decode(String.self, forKey: .aud) {
            aud = [one]
        } else {
            aud = try c.decode([String].self, forKey: .aud)
        }
        azp = try c.decodeIfPresent(String.self, forKey: .azp)
        exp = Int64(try c.decode(Double.self, forKey: .exp))
        iat = Int64(try c.decode(Double.self, forKey: .iat))
        nonce = try c.decodeIfPresent(String.self, forKey: .nonce)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .emailVerified) {
            emailVerified = flag
        } else {
            emailVerified = (try? c.decodeIfPresent(String.self, forKey: .emailVerified)) == "true"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iss, forKey: .iss)
        try c.encode(sub, forKey: .sub)
        try c.encode(aud, forKey: .aud)
        try c.encode(exp, forKey: .exp)
        try c.encode(iat, forKey: .iat)
        try c.encodeIfPresent(nonce, forKey: .nonce)
        try c.encodeIfPresent(email, forKey: .email)
        try c.encode(emailVerified, forKey: .emailVerified)
    }

    /// The claims are checked by ``IDTokenVerifier`` with its own clock and skew.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
