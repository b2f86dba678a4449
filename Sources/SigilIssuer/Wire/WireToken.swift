public import SigilVerifier

/// A token row as JSON: `sigil list|show|issue --json`, the API's token answers and what the
/// remote client reads back.
///
/// Keys: `audience`, `created_at`, `created_by`, `deleted`, `description`, `expires` (RFC 3339
/// or `never`), `guid`, `kid`, `name`, `parent` (API rows only), `revoked_at`, `scope`
/// (`"all"`, `"read-only"` or an array of `resource.action`), `status`, `updated_at`,
/// `valid_from`, `valid_to`, and `token` in the answer to an issue. `revoked_at`,
/// `valid_to` and `parent` are `null` when unset, never left out. `created_by_name` (API rows)
/// is the creator's name when the ledger knows it (``Issuer/actorNames(_:as:)``: the creating
/// token's or member's), and left out otherwise.
///
/// ```swift
/// let row = WireToken(record, writesParent: true)
/// let back = try Wire.decoder.decode(WireToken.self, from: Wire.encode(row)).record
/// ```
public struct WireToken: Codable, Sendable, Hashable {
    public var record: TokenRecord
    /// The token text, only in the answer to an issue (it is shown once).
    public var token: String?
    /// Whether `parent` is written: the API's rows have it, the CLI's `--json` never had it.
    public var writesParent: Bool
    /// `created_by_name`: the creator's name, when the ledger knows it (``Issuer/actorNames(_:as:)``).
    public var creatorName: String?

    public init(_ record: TokenRecord, token: String? = nil, writesParent: Bool = false, creatorName: String? = nil) {
        self.record = record
        self.token = token
        self.writesParent = writesParent
        self.creatorName = creatorName
    }

    enum Key: String, CodingKey {
        case audience, deleted, description, expires, guid, kid, name, parent, scope, status, token
        case createdAt = "created_at", createdBy = "created_by", createdByName = "created_by_name"
        case revokedAt = "revoked_at"
        case updatedAt = "updated_at", validFrom = "valid_from", validTo = "valid_to"
    }

    public func encode(to encoder: any Encoder) throws {
        let t = record
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(t.audience, forKey: .audience)
        try c.encode(t.createdAt, forKey: .createdAt)
        try c.encode(t.createdBy, forKey: .createdBy)
        try c.encodeIfPresent(creatorName, forKey: .createdByName)
        try c.encode(t.isDeleted, forKey: .deleted)
        try c.encode(t.description, forKey: .description)
        try c.encode(Self.expires(t.validTo), forKey: .expires)
        try c.encode(t.id.description, forKey: .guid)
        try c.encode(t.keyID, forKey: .kid)
        try c.encode(t.name, forKey: .name)
        if writesParent { try c.encode(t.parent?.description, forKey: .parent) }
        try c.encode(t.revokedAt, forKey: .revokedAt)
        try WireScope(t.scope).encode(to: c.superEncoder(forKey: .scope))
        try c.encode(t.status.rawValue, forKey: .status)
        try c.encode(t.updatedAt, forKey: .updatedAt)
        try c.encode(t.validFrom, forKey: .validFrom)
        try c.encode(t.validTo, forKey: .validTo)
        try c.encodeIfPresent(token, forKey: .token)
    }

    /// Reads a row; `deleted` becomes a deletion at `updated_at` (the API sends no `deleted_at`).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        func guid(_ key: Key) throws -> TokenID? {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let id = TokenID(uuidString: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a GUID")
            }
            return id
        }
        guard let id = try guid(.guid) else {
            throw DecodingError.valueNotFound(String.self, .init(codingPath: [Key.guid], debugDescription: "guid"))
        }
        guard let status = TokenStatus(rawValue: try c.decode(String.self, forKey: .status)) else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: c, debugDescription: "unknown status")
        }
        let updated = try c.decode(Int64.self, forKey: .updatedAt)
        let deleted = try c.decode(Bool.self, forKey: .deleted)
        record = TokenRecord(
            id: id, name: try c.decode(String.self, forKey: .name),
            description: try c.decode(String.self, forKey: .description),
            audience: try c.decode(String.self, forKey: .audience),
            scope: try c.decode(WireScope.self, forKey: .scope).scope,
            validFrom: try c.decode(Int64.self, forKey: .validFrom),
            validTo: try c.decodeIfPresent(Int64.self, forKey: .validTo),
            keyID: try c.decode(String.self, forKey: .kid), status: status,
            createdAt: try c.decode(Int64.self, forKey: .createdAt), updatedAt: updated,
            revokedAt: try c.decodeIfPresent(Int64.self, forKey: .revokedAt),
            createdBy: try c.decode(String.self, forKey: .createdBy), deletedAt: deleted ? updated : nil,
            parent: try guid(.parent))
        token = try c.decodeIfPresent(String.self, forKey: .token)
        writesParent = c.contains(.parent)
        creatorName = try c.decodeIfPresent(String.self, forKey: .createdByName)
    }

    /// `expires`: the expiry as RFC 3339 text, or `never`.
    static func expires(_ validTo: Int64?) -> String { validTo.map { TimeText.format($0) } ?? "never" }
}

extension WireToken: WireListItem {
    public static let listKey = "tokens"
}

/// A scope as JSON: `"all"`, `"read-only"` or an array of `resource.action`.
public struct WireScope: Codable, Sendable, Hashable {
    public var scope: Scope

    public init(_ scope: Scope) { self.scope = scope }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch scope {
        case .all: try c.encode("all")
        case .readOnly: try c.encode("read-only")
        case .custom(let pairs): try c.encode(pairs)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let pairs = try? c.decode([String].self) {
            scope = .custom(pairs)
            return
        }
        switch try c.decode(String.self) {
        case "all": scope = .all
        case "read-only": scope = .readOnly
        default: throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown scope")
        }
    }
}

extension JSONWriter {
    /// Writes `t` as ``WireToken`` encodes it, byte for byte, without building a value per
    /// field: `list --json` streams 100k rows through this, sigil-server's pages 100 at a time.
    package mutating func token(
        _ t: TokenRecord, writesParent: Bool = false, token: String? = nil, creatorName: String? = nil
    ) {
        byte(0x7b)
        key("audience", first: true)
        string(t.audience)
        key("created_at")
        int(t.createdAt)
        key("created_by")
        string(t.createdBy)
        if let creatorName {
            key("created_by_name")
            string(creatorName)
        }
        key("deleted")
        bool(t.isDeleted)
        key("description")
        string(t.description)
        key("expires")
        string(WireToken.expires(t.validTo))
        key("guid")
        guid(t.id)
        key("kid")
        string(t.keyID)
        key("name")
        string(t.name)
        if writesParent {
            key("parent")
            if let parent = t.parent { guid(parent) } else { raw("null") }
        }
        key("revoked_at")
        optionalInt(t.revokedAt)
        key("scope")
        switch t.scope {
        case .all: string("all")
        case .readOnly: string("read-only")
        case .custom(let pairs): stringArray(pairs)
        }
        key("status")
        string(t.status.rawValue)
        if let token {
            key("token")
            string(token)
        }
        key("updated_at")
        int(t.updatedAt)
        key("valid_from")
        int(t.validFrom)
        key("valid_to")
        optionalInt(t.validTo)
        byte(0x7d)
    }
}
