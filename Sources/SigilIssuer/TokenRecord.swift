public import SigilVerifier

/// A token's lifecycle state in the ledger.
public enum TokenStatus: String, Sendable, CaseIterable {
    case active, inactive, revoked
}

/// What the issuer keeps about a token: its metadata, never the token itself.
public struct TokenRecord: Sendable, Hashable {
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
    /// The token that created this one through the API, if any.
    public var parent: TokenID?

    public init(
        claims: TokenClaims, name: String, description: String, createdBy: String, now: Int64, parent: TokenID? = nil
    ) {
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
        self.parent = parent
    }

    public init(
        id: TokenID, name: String, description: String, audience: String, scope: Scope, validFrom: Int64,
        validTo: Int64?, keyID: String, status: TokenStatus, createdAt: Int64, updatedAt: Int64, revokedAt: Int64?,
        createdBy: String, deletedAt: Int64?, parent: TokenID? = nil
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
        self.parent = parent
    }

    public var isDeleted: Bool { deletedAt != nil }

    /// Whether the token's window has closed for good at `now`.
    public func hasExpired(at now: Int64) -> Bool { validTo.map { now >= $0 } ?? false }
}
