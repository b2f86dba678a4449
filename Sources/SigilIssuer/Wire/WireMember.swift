public import SigilVerifier

/// A member as JSON: `sigil members … --json`, the API's member answers and what the remote
/// client reads back.
///
/// Keys: `id`, `email`, `name`, `audience`, `scope` (as ``WireScope``: `"all"`, `"read-only"`
/// or an array of `resource.action`), `status` (`active` or `suspended`), `created_by`,
/// `created_at` (Unix seconds, as a token's) and `last_sign_in_at` (Unix seconds, `null` before
/// the first sign-in; never left out), and `created_by_name` (API answers) when the ledger knows
/// the creator's name (``Issuer/actorNames(_:as:)``), left out otherwise.
///
/// ```swift
/// let bytes = Wire.encode(WireMember(member))
/// let back = try Wire.decoder.decode(WireMember.self, from: bytes).member
/// ```
public struct WireMember: Codable, Sendable, Hashable {
    public var member: Member
    /// `created_by_name`: the creator's name, when the ledger knows it (``Issuer/actorNames(_:as:)``).
    public var creatorName: String?

    public init(_ member: Member) {
        self.member = member
        creatorName = nil
    }

    /// The member with its creator's name, as the API writes it.
    public init(_ member: Member, creatorName: String?) {
        self.member = member
        self.creatorName = creatorName
    }

    enum Key: String, CodingKey {
        case id, email, name, audience, scope, status
        case createdBy = "created_by", createdAt = "created_at", lastSignInAt = "last_sign_in_at"
        case createdByName = "created_by_name"
    }

    public func encode(to encoder: any Encoder) throws {
        let m = member
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(m.id.description, forKey: .id)
        try c.encode(m.email, forKey: .email)
        try c.encode(m.name, forKey: .name)
        try c.encode(m.audience, forKey: .audience)
        try WireScope(m.scope).encode(to: c.superEncoder(forKey: .scope))
        try c.encode(m.status.rawValue, forKey: .status)
        try c.encode(m.createdBy, forKey: .createdBy)
        try c.encodeIfPresent(creatorName, forKey: .createdByName)
        try c.encode(m.createdAt, forKey: .createdAt)
        try c.encode(m.lastSignInAt, forKey: .lastSignInAt)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        guard let id = TokenID(uuidString: try c.decode(String.self, forKey: .id)) else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "not a GUID")
        }
        guard let status = MemberStatus(rawValue: try c.decode(String.self, forKey: .status)) else {
            throw DecodingError.dataCorruptedError(forKey: .status, in: c, debugDescription: "unknown status")
        }
        member = Member(
            id: id, email: try c.decode(String.self, forKey: .email), name: try c.decode(String.self, forKey: .name),
            audience: try c.decode(String.self, forKey: .audience),
            scope: try c.decode(WireScope.self, forKey: .scope).scope, status: status,
            createdBy: try c.decode(String.self, forKey: .createdBy),
            createdAt: try c.decode(Int64.self, forKey: .createdAt),
            lastSignInAt: try c.decodeIfPresent(Int64.self, forKey: .lastSignInAt))
        creatorName = try c.decodeIfPresent(String.self, forKey: .createdByName)
    }
}

extension WireMember: WireListItem {
    public static let listKey = "members"
}

extension ScopeRequest {
    /// The request a ``WireScope`` stands for (a custom scope's pairs as sent: `resource.*`
    /// expands at the issuer).
    public init(_ wire: WireScope) {
        switch wire.scope {
        case .all: self = .all
        case .readOnly: self = .readOnly
        case .custom(let pairs): self = .custom(pairs)
        }
    }

    /// This request as a ``WireScope``.
    public var wire: WireScope {
        switch self {
        case .all: WireScope(.all)
        case .readOnly: WireScope(.readOnly)
        case .custom(let pairs): WireScope(.custom(pairs))
        }
    }
}

/// The body of `POST /v1/members`: `{"email", "name", "audience", "scope"}`, every key required.
///
/// ```swift
/// let body = Wire.encode(WireMemberRequest(request))
/// let request = try Wire.decoder.decode(WireMemberRequest.self, from: body).request
/// ```
public struct WireMemberRequest: Codable, Sendable, Hashable {
    public var request: MemberRequest

    public init(_ request: MemberRequest) { self.request = request }

    enum Key: String, CodingKey { case email, name, audience, scope }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(request.email, forKey: .email)
        try c.encode(request.name, forKey: .name)
        try c.encode(request.audience, forKey: .audience)
        try request.scope.wire.encode(to: c.superEncoder(forKey: .scope))
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        request = MemberRequest(
            email: try c.decode(String.self, forKey: .email), name: try c.decode(String.self, forKey: .name),
            audience: try c.decode(String.self, forKey: .audience),
            scope: ScopeRequest(try c.decode(WireScope.self, forKey: .scope)))
    }
}

/// The body of `PATCH /v1/members/{id}`: any of `name`, `audience`, `scope`.
public struct WireMemberEdit: Codable, Sendable, Hashable {
    public var edit: MemberEdit

    public init(_ edit: MemberEdit) { self.edit = edit }

    enum Key: String, CodingKey { case name, audience, scope }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encodeIfPresent(edit.name, forKey: .name)
        try c.encodeIfPresent(edit.audience, forKey: .audience)
        if let scope = edit.scope { try scope.wire.encode(to: c.superEncoder(forKey: .scope)) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        edit = MemberEdit(
            name: try c.decodeIfPresent(String.self, forKey: .name),
            audience: try c.decodeIfPresent(String.self, forKey: .audience),
            scope: try c.decodeIfPresent(WireScope.self, forKey: .scope).map(ScopeRequest.init))
    }
}

/// The body of `POST /v1/members/{id}/suspend`: `{"cascade": bool}` (false when left out).
public struct WireMemberSuspend: Codable, Sendable, Hashable {
    public var cascade: Bool

    public init(cascade: Bool = false) { self.cascade = cascade }

    enum Key: String, CodingKey { case cascade }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(cascade, forKey: .cascade)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        cascade = try c.decodeIfPresent(Bool.self, forKey: .cascade) ?? false
    }
}

/// The answer of `POST /v1/members/{id}/suspend`: the member and the GUIDs of the tokens the
/// cascade deactivated: `{"member": {…}, "deactivated": [GUID…]}`.
public struct WireMemberSuspension: Codable, Sendable, Hashable {
    public var member: WireMember
    public var deactivated: [TokenID]

    public init(_ result: MemberSuspension) {
        self.init(result, creatorName: nil)
    }

    /// The suspension with its member's creator's name, as the API writes every member.
    public init(_ result: MemberSuspension, creatorName: String?) {
        member = WireMember(result.member, creatorName: creatorName)
        deactivated = result.deactivated
    }

    enum Key: String, CodingKey { case member, deactivated }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(member, forKey: .member)
        try c.encode(deactivated.map(\.description), forKey: .deactivated)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        member = try c.decode(WireMember.self, forKey: .member)
        deactivated = try c.decode([String].self, forKey: .deactivated).map { text in
            guard let id = TokenID(uuidString: text) else {
                throw DecodingError.dataCorruptedError(forKey: .deactivated, in: c, debugDescription: "not a GUID")
            }
            return id
        }
    }
}
