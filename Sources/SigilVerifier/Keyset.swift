import FoundationEssentials

/// An Ed25519 public key that signs revocation lists.
public struct RevocationKey: Sendable, Hashable {
    public let keyID: String
    public let publicKey: [UInt8]

    /// - Throws: ``KeysetError`` if the ID is invalid or the key is not 32 bytes.
    public init(keyID: String, publicKey: [UInt8]) throws(KeysetError) {
        guard TokenClaims.isValidKeyID(keyID) else { throw KeysetError("revocation key id is not [A-Za-z0-9_-]{1,32}") }
        guard publicKey.count == 32 else {
            throw KeysetError("revocation key \(keyID) must be 32 bytes, got \(publicKey.count)")
        }
        self.keyID = keyID
        self.publicKey = publicKey
    }
}

/// Everything one service needs to verify tokens and revocation lists: its audience, the
/// per-audience token keys and the revocation-list public keys. Never a master secret.
///
/// Written by `sigil keys export --audience AUD` as JSON (format `sigil-keyset-v1`, see
/// docs/FORMAT.md).
///
/// ```swift
/// let keyset = try Keyset(contentsOf: "/etc/billing/keyset.json")
/// let verifier = try Verifier(keyset: keyset)
/// ```
public struct Keyset: Sendable {
    public static let format = "sigil-keyset-v1"
    /// Keysets are small; anything bigger is refused before parsing.
    public static let maxBytes = 1 << 20

    public let audience: String
    public let tokenKeys: [TokenKey]
    public let revocationKeys: [RevocationKey]

    public init(audience: String, tokenKeys: [TokenKey], revocationKeys: [RevocationKey]) throws(KeysetError) {
        guard TokenClaims.isValidAudience(audience) else {
            throw KeysetError("audience is not \(TokenClaims.audiencePattern)")
        }
        // A duplicate id would make the key a list or token is checked with depend on order.
        guard Set(tokenKeys.map(\.keyID)).count == tokenKeys.count else {
            throw KeysetError("token key ids must be unique; export the keyset again")
        }
        guard Set(revocationKeys.map(\.keyID)).count == revocationKeys.count else {
            throw KeysetError("revocation key ids must be unique; export the keyset again")
        }
        self.audience = audience
        self.tokenKeys = tokenKeys
        self.revocationKeys = revocationKeys
    }

    private struct Wire: Codable {
        struct Token: Codable { var kid: String; var key: String }
        struct Revocation: Codable { var kid: String; var public_key: String }
        var format: String
        var audience: String
        var token_keys: [Token]
        var revocation_keys: [Revocation]
    }

    /// Parses a keyset export held in memory. Services read their file with
    /// ``init(contentsOf:)``, which bounds the read and names the path in errors.
    ///
    /// - Throws: ``KeysetError`` saying which field is wrong (never its value).
    public init(json bytes: [UInt8]) throws(KeysetError) {
        guard bytes.count <= Self.maxBytes else { throw KeysetError("keyset is larger than 1 MiB") }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch {
            throw KeysetError(
                "keyset is not valid sigil-keyset-v1 JSON (format, audience, token_keys, revocation_keys)")
        }
        guard wire.format == Self.format else {
            throw KeysetError("keyset format is not \(Self.format); export it again with this version of sigil")
        }
        var tokenKeys: [TokenKey] = []
        for key in wire.token_keys {
            guard let bytes = Base64URL.decode(key.key) else {
                throw KeysetError("token key \(key.kid.prefix(32)) is not canonical base64url")
            }
            tokenKeys.append(try TokenKey(keyID: key.kid, key: bytes))
        }
        var revocationKeys: [RevocationKey] = []
        for key in wire.revocation_keys {
            guard let bytes = Base64URL.decode(key.public_key) else {
                throw KeysetError("revocation key \(key.kid.prefix(32)) is not canonical base64url")
            }
            revocationKeys.append(try RevocationKey(keyID: key.kid, publicKey: bytes))
        }
        try self.init(audience: wire.audience, tokenKeys: tokenKeys, revocationKeys: revocationKeys)
    }

    /// Reads and parses a keyset export file.
    ///
    /// ```swift
    /// let keyset = try Keyset(contentsOf: "/etc/billing/keyset.json")
    /// ```
    ///
    /// - Throws: ``KeysetError`` naming the path if it cannot be read or parsed.
    public init(contentsOf path: String) throws(KeysetError) {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path: path, maxBytes: Self.maxBytes)
        } catch {
            throw KeysetError("cannot read keyset \(error.description)")
        }
        do {
            try self.init(json: bytes)
        } catch {
            throw KeysetError("\(path): \(error.message)")
        }
    }

    /// The canonical JSON of this keyset (sorted keys, one line), as `sigil keys export` writes it.
    public func json() -> [UInt8] {
        let wire = Wire(
            format: Self.format, audience: audience,
            token_keys: tokenKeys.map { .init(kid: $0.keyID, key: Base64URL.encode($0.key)) },
            revocation_keys: revocationKeys.map { .init(kid: $0.keyID, public_key: Base64URL.encode($0.publicKey)) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Encoding plain strings and arrays cannot fail.
        return (try? Array(encoder.encode(wire))) ?? []
    }
}
