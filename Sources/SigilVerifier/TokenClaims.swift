/// The claims a Sigil v1 token carries, all sealed by its MAC.
///
/// ```swift
/// let claims = try TokenClaims(keyID: "k1", audience: "billing", id: id,
///                              validFrom: 1_767_225_600, validTo: nil, scope: .readOnly)
/// let body = claims.body()      // the canonical bytes the tag is computed over
/// ```
public struct TokenClaims: Sendable, Hashable {
    /// The token format version this library reads and writes.
    public static let version: UInt8 = 1
    /// The text prefix every token starts with.
    public static let prefix = "sgl_"
    /// The longest token text accepted, prefix included.
    public static let maxTextLength = 4096
    /// Length of the HMAC-SHA256 tag after the body.
    public static let tagLength = 32
    /// The most `resource.action` pairs a custom scope may hold.
    public static let maxScopeEntries = 256

    public let keyID: String
    public let audience: String
    public let id: TokenID
    /// Unix seconds, inclusive.
    public let validFrom: Int64
    /// Unix seconds, exclusive; nil means the token never expires.
    public let validTo: Int64?
    public let scope: Scope

    /// Checks every field against the format's rules, so a ``TokenClaims`` value always encodes.
    ///
    /// - Throws: ``VerificationError`` with reason `malformed` and the rule that failed.
    public init(keyID: String, audience: String, id: TokenID, validFrom: Int64, validTo: Int64?, scope: Scope)
        throws(VerificationError)
    {
        guard Self.isValidKeyID(keyID) else {
            throw VerificationError(.malformed, "key id must be 1-32 characters of [A-Za-z0-9_-]")
        }
        guard Self.isValidAudience(audience) else {
            throw VerificationError(.malformed, "audience \(Self.audienceRule)")
        }
        if let validTo {
            guard validTo != 0, validTo > validFrom else {
                throw VerificationError(.malformed, "valid_to must be after valid_from")
            }
        }
        if case .custom(let pairs) = scope {
            guard (1...Self.maxScopeEntries).contains(pairs.count) else {
                throw VerificationError(.malformed, "a custom scope holds 1-256 resource.action pairs")
            }
            for pair in pairs where !Scope.isValidPair(pair) {
                _ = pair
                throw VerificationError(
                    .malformed, "scope entries are resource.action, each part [a-z][a-z0-9_-]{0,31}")
            }
            for (a, b) in zip(pairs, pairs.dropFirst()) where !a.utf8.lexicographicallyPrecedes(b.utf8) {
                throw VerificationError(.malformed, "scope entries must be sorted bytewise without duplicates")
            }
        }
        self.keyID = keyID
        self.audience = audience
        self.id = id
        self.validFrom = validFrom
        self.validTo = validTo
        self.scope = scope
    }

    /// Whether `keyID` is 1-32 characters of `[A-Za-z0-9_-]`.
    public static func isValidKeyID(_ keyID: some StringProtocol) -> Bool {
        let b = Array(keyID.utf8)
        return b.withUnsafeBufferPointer { TokenLayout.isKeyID($0) }
    }

    /// The audience rule of the token format (docs/FORMAT.md), written once: the verifier's
    /// messages, the issuer's `Audience` and the console's form all show these.
    public static let audiencePattern = "[A-Za-z0-9._:-]{1,64}"
    /// ``audiencePattern`` as people read it, after the word "audience".
    public static let audienceRule = "must be 1-64 ASCII characters of A-Z a-z 0-9 . _ : -"
    /// The longest audience, in bytes (every allowed character is ASCII).
    public static let maxAudienceBytes = 64

    /// Whether `audience` matches ``audiencePattern``.
    public static func isValidAudience(_ audience: some StringProtocol) -> Bool {
        let b = Array(audience.utf8)
        return b.withUnsafeBufferPointer { TokenLayout.isAudience($0) }
    }

    /// The canonical body bytes (everything the tag covers), per docs/FORMAT.md.
    public func body() -> [UInt8] {
        var out: [UInt8] = [Self.version]
        out.append(UInt8(keyID.utf8.count))
        out.append(contentsOf: keyID.utf8)
        out.append(UInt8(audience.utf8.count))
        out.append(contentsOf: audience.utf8)
        out.append(contentsOf: id.bytes)
        Self.appendBigEndian(UInt64(bitPattern: validFrom), to: &out)
        Self.appendBigEndian(UInt64(bitPattern: validTo ?? 0), to: &out)
        out.append(scope.kindCode)
        if case .custom(let pairs) = scope {
            out.append(UInt8(pairs.count >> 8))
            out.append(UInt8(pairs.count & 0xff))
            for pair in pairs {
                out.append(UInt8(pair.utf8.count))
                out.append(contentsOf: pair.utf8)
            }
        }
        return out
    }

    /// Reads the claims of `token` **without checking its MAC**.
    ///
    /// For display (`sigil inspect`) only: nothing read here may be trusted. Use
    /// ``Verifier/verifyClaims(_:for:at:)`` to get claims you can act on.
    ///
    /// - Throws: ``VerificationError`` with reason `malformed`.
    public static func decodeUnverified(_ token: String) throws(VerificationError) -> TokenClaims {
        let bytes = try decodeText(token)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(VerificationError) in try TokenLayout(raw).claims(raw) }
        }
        return try result.get()
    }

    /// The decoded bytes (`body || tag`) of a token's text, after the text-level checks.
    package static func decodeText(_ token: String) throws(VerificationError) -> [UInt8] {
        let utf8 = Array(token.utf8)
        let result = utf8.withUnsafeBufferPointer { text in
            Result { () throws(VerificationError) in try decodePayload(text) }
        }
        return try result.get()
    }

    private static func decodePayload(_ text: UnsafeBufferPointer<UInt8>) throws(VerificationError) -> [UInt8] {
        let payload = try TokenLayout.payload(of: text)
        guard let n = Base64URL.decodedLength(payload.count) else {
            throw VerificationError(.malformed, "the base64url text has an impossible length")
        }
        var out = [UInt8](repeating: 0, count: n)
        let ok = out.withUnsafeMutableBufferPointer { Base64URL.decode(payload, into: $0) }
        guard ok else {
            throw VerificationError(.malformed, "the text is not canonical unpadded base64url")
        }
        return out
    }

    static func appendBigEndian(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}
