public import SigilVerifier

/// The body of `POST /v1/tokens`: what the remote client sends to issue a token.
///
/// Keys: `name`, `audience`, `scope` (as ``WireScope``), and when set `description`,
/// `valid_from` (RFC 3339), `valid_to` (RFC 3339, or `null` for a token that never expires)
/// `expires_in` (seconds, counted by the issuer on its own clock) and `guid` (a GUID chosen
/// beforehand, ``ChosenGUID``). A default expiry sends
/// neither `valid_to` nor `expires_in`: sigil-server refuses both together.
///
/// ```swift
/// let body = Wire.encode(WireIssueRequest(request))
/// // {"audience":"billing","expires_in":7776000,"name":"CI deploy","scope":"all"}
/// ```
public struct WireIssueRequest: Encodable, Sendable, Hashable {
    public var request: IssueRequest

    public init(_ request: IssueRequest) { self.request = request }

    enum Key: String, CodingKey {
        case audience, description, guid, name, scope
        case expiresIn = "expires_in", validFrom = "valid_from", validTo = "valid_to"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(request.name, forKey: .name)
        try c.encode(request.audience, forKey: .audience)
        if !request.description.isEmpty { try c.encode(request.description, forKey: .description) }
        let scope: Scope =
            switch request.scope {
            case .all: .all
            case .readOnly: .readOnly
            case .custom(let pairs): .custom(pairs)
            }
        try WireScope(scope).encode(to: c.superEncoder(forKey: .scope))
        if let from = request.validFrom { try c.encode(TimeText.format(from), forKey: .validFrom) }
        if let guid = request.guid { try c.encode(guid.description, forKey: .guid) }
        switch request.expiry {
        case .default: break
        case .never: try c.encodeNil(forKey: .validTo)
        case .at(let t): try c.encode(TimeText.format(t), forKey: .validTo)
        case .after(let seconds): try c.encode(seconds, forKey: .expiresIn)
        }
    }
}

/// The body of `PATCH /v1/tokens/{guid}`: a new `name` and/or `description`, plus any sealed
/// field the caller asked to change (`scope`, `audience`, `valid_from`, `valid_to`), sent as
/// given so the issuer refuses it (`sealed_field`) exactly as it does locally.
///
/// ```swift
/// let body = Wire.encode(WireTokenPatch(name: "CI deploy (prod)"))
/// // {"name":"CI deploy (prod)"}
/// ```
public struct WireTokenPatch: Encodable, Sendable, Hashable {
    public var name: String?
    public var description: String?
    /// Sealed fields by their API name; `name` and `description` here are ignored.
    public var sealed: [String: JSONValue]

    public init(name: String? = nil, description: String? = nil, sealed: [String: JSONValue] = [:]) {
        self.name = name
        self.description = description
        self.sealed = sealed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WireKey.self)
        for (key, value) in sealed where key != "name" && key != "description" {
            try c.encode(value, forKey: WireKey(key))
        }
        try c.encodeIfPresent(name, forKey: WireKey("name"))
        try c.encodeIfPresent(description, forKey: WireKey("description"))
    }
}

/// The body of `POST /v1/tokens/bulk`: `action`, `guids`, and `cascade` when asked (revoke only).
///
/// ```swift
/// let body = Wire.encode(WireBulkRequest(action: .revoke, guids: ids, cascade: true))
/// ```
public struct WireBulkRequest: Encodable, Sendable, Hashable {
    public var action: LifecycleAction
    public var guids: [TokenID]
    public var cascade: Bool

    public init(action: LifecycleAction, guids: [TokenID], cascade: Bool = false) {
        self.action = action
        self.guids = guids
        self.cascade = cascade
    }

    enum Key: String, CodingKey { case action, cascade, guids }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(action.rawValue, forKey: .action)
        try c.encode(guids.map(\.description), forKey: .guids)
        // Left out when false: the bytes older servers accepted.
        if cascade { try c.encode(true, forKey: .cascade) }
    }
}

/// The body of `POST /v1/tokens/revoke-by-token`: `{"token": …}`. Never logged or printed.
public struct WireTokenText: Encodable, Sendable, Hashable {
    public var token: String

    public init(_ token: String) { self.token = token }
}

/// The answer of `GET /v1/catalog`: `{"resources": {resource: {action: "read"|"write"}}}`.
///
/// ```swift
/// let catalog = try Wire.decoder.decode(WireCatalog.self, from: bytes).catalog
/// ```
public struct WireCatalog: Codable, Sendable, Hashable {
    public var catalog: Catalog

    public init(_ catalog: Catalog) { self.catalog = catalog }

    enum Key: String, CodingKey { case resources }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(catalog.resources.mapValues { $0.mapValues(\.rawValue) }, forKey: .resources)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let resources = try c.decode([String: [String: String]].self, forKey: .resources)
        catalog = Catalog(
            resources: try resources.mapValues { actions in
                try actions.mapValues { text in
                    guard let access = Access(rawValue: text) else {
                        throw DecodingError.dataCorruptedError(
                            forKey: .resources, in: c, debugDescription: "access is read or write")
                    }
                    return access
                }
            })
    }
}
