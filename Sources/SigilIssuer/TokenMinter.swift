import SigilIssuerCrypto
public import SigilVerifier

/// Mints Sigil v1 tokens: derives K_aud from a master secret and seals claims with it.
///
/// ```swift
/// let claims = try TokenClaims(keyID: "k1", audience: "billing", id: TokenMinter.newTokenID(),
///                              validFrom: now, validTo: now + 86_400, scope: .all)
/// let token = try TokenMinter.mint(claims, masterSecret: secret)   // "sgl_…", show it once
/// ```
public enum TokenMinter {
    /// The HKDF `info` prefix; the audience follows after a zero byte.
    public static let infoPrefix: [UInt8] = Array("sigil/v1/token".utf8) + [0]

    /// K_aud = HKDF-SHA256(IKM = master secret, salt = empty, info = "sigil/v1/token" 0x00 audience, L = 32).
    ///
    /// - Throws: ``IssuerError`` if the secret is not 32 bytes, the audience is invalid, or OpenSSL fails.
    public static func audienceKey(masterSecret: [UInt8], audience: String) throws(IssuerError) -> [UInt8] {
        guard masterSecret.count == 32 else { throw IssuerError(.badData, "a master secret must be 32 bytes") }
        _ = try Audience(audience)
        guard
            let key = OpenSSL.hkdfSHA256(
                ikm: masterSecret, salt: [], info: infoPrefix + Array(audience.utf8), outputLength: 32)
        else { throw IssuerError(.badData, "OpenSSL HKDF failed") }
        return key
    }

    /// `sgl_` + base64url(body || HMAC-SHA256(K_aud, body)).
    public static func mint(_ claims: TokenClaims, audienceKey: [UInt8]) throws(IssuerError) -> String {
        guard audienceKey.count == 32 else { throw IssuerError(.badData, "an audience key must be 32 bytes") }
        var bytes = claims.body()
        var tag = [UInt8](repeating: 0, count: 32)
        let ok = audienceKey.withUnsafeBytes { key in
            bytes.withUnsafeBytes { body in
                tag.withUnsafeMutableBytes { OpenSSL.hmacSHA256(key: key, message: body, into: $0) }
            }
        }
        guard ok else { throw IssuerError(.badData, "OpenSSL HMAC failed") }
        bytes.append(contentsOf: tag)
        let text = TokenClaims.prefix + Base64URL.encode(bytes)
        guard text.utf8.count <= TokenClaims.maxTextLength else {
            throw IssuerError(.invalidInput, "the token would be longer than 4096 characters: use fewer scope entries")
        }
        return text
    }

    /// Derives K_aud for the claims' audience and mints the token.
    public static func mint(_ claims: TokenClaims, masterSecret: [UInt8]) throws(IssuerError) -> String {
        var key = try audienceKey(masterSecret: masterSecret, audience: claims.audience)
        defer { key.withUnsafeMutableBytes { OpenSSL.cleanse($0) } }
        return try mint(claims, audienceKey: key)
    }

    /// A fresh RFC 9562 version-4 UUID from `RAND_bytes`.
    public static func newTokenID() -> TokenID {
        var bytes = OpenSSL.randomBytes(count: 16)
        bytes[6] = bytes[6] & 0x0f | 0x40  // version 4
        bytes[8] = bytes[8] & 0x3f | 0x80  // RFC 9562 variant
        return TokenID(rawValue: bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
    }
}
