public import SigilVerifier

/// A token's lifecycle state in the ledger.
public enum TokenStatus: String, Codable, Sendable, CaseIterable {
    case active, inactive, revoked
}

/// What the issuer keeps about a token: its metadata, never the token itself.
public struct TokenRecord: Codable, Sendable, Hashable {
    public var id: TokenID
    public var name: String
    public var description: String
    public var audience: String
    public var scope: Scope
    public var validFrom: Int64
    public var validTo: Int64?
    public var keyID: String
    public var status: TokenStatus
    public var createdAt: Int64
    public var updatedAt: Int64
    public var revokedAt: Int64?
    public var createdBy: String
    /// Deleted tokens leave listings but stay in the ledger (a tombstone), revoked, until valid_to passes.
    public var deletedAt: Int64?

    public init(claims: TokenClaims, name: String, description: String, createdBy: String, now: Int64) {
        id = claims.id
        self.name = name
        self.description = description
        audience = claims.audience
        scope = claims.scope
        validFrom = claims.validFrom
        validTo = claims.validTo
        keyID = claims.keyID
        status = .active
        createdAt = now
        updatedAt = now
        revokedAt = nil
        self.createdBy = createdBy
        deletedAt = nil
    }

    public init(
        id: TokenID, name: String, description: String, audience: String, scope: Scope, validFrom: Int64,
        validTo: Int64?, keyID: String, status: TokenStatus, createdAt: Int64, updatedAt: Int64, revokedAt: Int64?,
        createdBy: String, deletedAt: Int64?
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.audience = audience
        self.scope = scope
        self.validFrom = validFrom
        self.validTo = validTo
        self.keyID = keyID
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.revokedAt = revokedAt
        self.createdBy = createdBy
        self.deletedAt = deletedAt
    }

    public var isDeleted: Bool { deletedAt != nil }

    /// Whether the token's window has closed for good at `now`.
    public func hasExpired(at now: Int64) -> Bool { validTo.map { now >= $0 } ?? false }

    enum CodingKeys: String, CodingKey {
        case id = "guid", name, description, audience, scope, validFrom = "valid_from", validTo = "valid_to"
        case keyID = "kid", status, createdAt = "created_at", updatedAt = "updated_at", revokedAt = "revoked_at"
        case createdBy = "created_by", deletedAt = "deleted_at"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let id = TokenID(uuidString: try c.decode(String.self, forKey: .id)) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "not a GUID")
        }
        self.id = id
        name = try c.decode(String.self, forKey: .name)
        description = try c.decodeIfPresent(String.self, forKey: .description) ?? ""
        audience = try c.decode(String.self, forKey: .audience)
        scope = try Self.decodeScope(c)
        validFrom = try c.decode(Int64.self, forKey: .validFrom)
        validTo = try c.decodeIfPresent(Int64.self, forKey: .validTo)
        keyID = try c.decode(String.self, forKey: .keyID)
        status = try c.decode(TokenStatus.self, forKey: .status)
        createdAt = try c.decode(Int64.self, forKey: .createdAt)
        updatedAt = try c.decode(Int64.self, forKey: .updatedAt)
        revokedAt = try c.decodeIfPresent(Int64.self, forKey: .revokedAt)
        createdBy = try c.decodeIfPresent(String.self, forKey: .createdBy) ?? ""
        deletedAt = try c.decodeIfPresent(Int64.self, forKey: .deletedAt)
    }

    static func decodeScope(_ c: KeyedDecodingContainer<CodingKeys>) throws -> Scope {
        if let pairs = try? c.decode([String].self, forKey: .scope) { return .custom(pairs) }
        switch try c.decode(String.self, forKey: .scope) {
        case "all": return .all
        case "read-only": return .readOnly
        default: throw DecodingError.dataCorruptedError(forKey: .scope, in: c, debugDescription: "unknown scope")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.description, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(audience, forKey: .audience)
        switch scope {
        case .all: try c.encode("all", forKey: .scope)
        case .readOnly: try c.encode("read-only", forKey: .scope)
        case .custom(let pairs): try c.encode(pairs, forKey: .scope)
        }
        try c.encode(validFrom, forKey: .validFrom)
        try c.encodeIfPresent(validTo, forKey: .validTo)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encodeIfPresent(revokedAt, forKey: .revokedAt)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encodeIfPresent(deletedAt, forKey: .deletedAt)
    }
}
