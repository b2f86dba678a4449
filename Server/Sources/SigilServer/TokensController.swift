import Foundation
public import Hummingbird
import SigilIssuer
import SigilVerifier

/// `/v1/tokens`: list, create, get, rename, lifecycle changes, delete and bulk changes.
///
/// Each handler parses, calls one `Issuer` use case with the caller, and renders. Whether the
/// caller may do it (permission, audience reach, delegation, window) is decided in SigilIssuer.
public struct TokensController: Sendable {
    let issuer: IssuerQueue
    let publisher: Publisher

    public init(issuer: IssuerQueue, publisher: Publisher) {
        self.issuer = issuer
        self.publisher = publisher
    }

    /// Adds the routes to `group`, which is `/v1/tokens` behind the bearer middleware.
    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get(use: list)
        group.post(use: create)
        group.post("bulk", use: bulk)
        group.post("revoke-by-token", use: revokeByToken)
        group.get("{guid}", use: get)
        group.patch("{guid}", use: update)
        group.delete("{guid}", use: delete)
        group.post("{guid}/deactivate") { request, context in
            try await change(.deactivate, request, context)
        }
        group.post("{guid}/activate") { request, context in try await change(.activate, request, context) }
        group.post("{guid}/revoke") { request, context in try await change(.revoke, request, context) }
    }

    @Sendable func list(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let q = try QueryValues(request)
        // TokenFilter checks the audience (Audience's rule and message) with the other values.
        let (filter, pageRequest) = try q.values {
            let filter = try TokenFilter(
                name: try q.string("name"), guidPrefix: try q.string("guid"), scope: try q.string("scope"),
                audience: try q.string("audience"), status: try q.choice("status", TokenStatus.self))
            return (filter, try q.page())
        }
        let sort = try q.choice("sort", TokenSort.self) ?? .created
        let violating = try q.bool("violating_policy")
        // The caller's own actor name (`token:<GUID>`, `member:<email>`): what `created_by` holds
        // for the tokens it issued.
        let creator = try q.bool("created_by_me") ? caller.actor.name : nil
        let (page, names) = try await issuer.query(as: caller) { issuer in
            let page = try issuer.tokens(
                TokenQuery(filter: filter, sort: sort, violatingPolicy: violating, createdBy: creator),
                page: pageRequest, as: caller)
            return (page, try issuer.actorNames(page.items.map(\.createdBy), as: caller))
        }
        return JSONResponse.make(
            WirePage(items: page.items.map { Self.wire($0, names) }, nextCursor: page.nextCursor))
    }

    /// An API row, with its creator's name when the ledger knows it.
    static func wire(_ row: TokenRecord, _ names: [String: String], token: String? = nil) -> WireToken {
        WireToken(row, token: token, writesParent: true, creatorName: names[row.createdBy])
    }

    @Sendable func create(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        guard let body = try await APIBody.decode(CreateBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body")
        }
        let issueRequest = IssueRequest(
            name: body.name, description: body.description ?? "", audience: body.audience, scope: body.scope,
            validFrom: body.validFrom, expiry: body.expiry,
            // ChosenGUID's rule and message: 422 invalid_input through the error table.
            guid: try body.guid.map { text throws(IssuerError) in try ChosenGUID.parse(text) })
        // The server's clock (SIGIL_NOW in tests) starts the window and counts expires_in.
        let now = Publisher.wallClock()
        let (issued, names) = try await issuer.write { issuer in
            let issued = try issuer.issue(issueRequest, as: caller, now: now)
            return (issued, try issuer.actorNames([issued.record.createdBy], as: caller))
        }
        ServerMetrics.shared.tokensIssued()
        return JSONResponse.make(
            Self.wire(issued.record, names, token: issued.token), status: .created,
            headers: [.location: "/v1/tokens/\(issued.record.id)"])
    }

    @Sendable func get(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try context.guidParameter()
        let (row, names) = try await issuer.read { issuer in
            let row = try issuer.token(id.description, as: caller)
            return (row, try issuer.actorNames([row.createdBy], as: caller))
        }
        return JSONResponse.make(Self.wire(row, names))
    }

    @Sendable func update(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try context.guidParameter()
        guard let body = try await APIBody.decode(PatchBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body")
        }
        let (row, names) = try await issuer.write { issuer in
            let row = try issuer.edit(
                id.description, name: body.name, description: body.description, sealed: body.sealed, as: caller)
            return (row, try issuer.actorNames([row.createdBy], as: caller))
        }
        return JSONResponse.make(Self.wire(row, names))
    }

    @Sendable func delete(_ request: Request, context: ServerContext) async throws -> Response {
        try await change(.delete, request, context)
    }

    func change(_ action: LifecycleAction, _ request: Request, _ context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try context.guidParameter()
        let options = try await APIBody.decode(ChangeBody.self, from: request, required: false) ?? ChangeBody()
        // Which actions cascade is SigilIssuer's rule; the API has answered 400 for the others.
        if options.cascade, !action.cascades {
            throw APIError.badRequest("cascade applies to revoke only")
        }
        let result = try await issuer.write { try $0.change(action, [id], cascade: options.cascade, as: caller) }
        ServerMetrics.shared.tokensChanged(action, count: result.changed.count)
        if !result.changed.isEmpty { publisher.noteChange() }
        guard let row = result.tokens.first(where: { $0.id == id }) else {
            throw APIError(.internalServerError, "internal", "the change did not return its token")
        }
        return JSONResponse.make(WireToken(row, writesParent: true))
    }

    /// Revokes the token in the body after its tag verifies with the issuer's keys; the caller
    /// needs `tokens.revoke` over its audience, as for a revoke by GUID. The token is never echoed.
    @Sendable func revokeByToken(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        guard let body = try await APIBody.decode(TokenBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body: {\"token\": \"sgl_…\"}")
        }
        // A token that does not verify is 422 `token_not_verified` with its `reason` (ErrorMiddleware).
        let result = try await issuer.write { try $0.revoke(token: body.token, as: caller) }
        ServerMetrics.shared.tokensChanged(.revoke, count: result.changed.count)
        if !result.changed.isEmpty { publisher.noteChange() }
        guard let row = result.tokens.first else {
            throw APIError(.internalServerError, "internal", "the change did not return its token")
        }
        return JSONResponse.make(WireToken(row, writesParent: true))
    }

    @Sendable func bulk(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        guard let body = try await APIBody.decode(BulkBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body")
        }
        let result = try await issuer.write { issuer in
            try issuer.change(body.action, body.guids, cascade: body.cascade, as: caller)
        }
        ServerMetrics.shared.tokensChanged(body.action, count: result.changed.count)
        if !result.changed.isEmpty { publisher.noteChange() }
        return JSONResponse.make(WireBulkResult(action: body.action, guids: result.changed))
    }
}

/// Any JSON object key: the wire model's.
typealias AnyKey = WireKey

extension KeyedDecodingContainer where K == AnyKey {
    /// Refuses keys outside `known`: a typo (`expires`) must not be silently ignored.
    func refuseUnknown(_ known: Set<String>) throws {
        if let unknown = allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw APIError.badRequest(
                "unknown field \(unknown.count <= 40 ? unknown : "(\(unknown.count) characters)"); known: \(known.sorted().joined(separator: ", "))"
            )
        }
    }

    /// An RFC 3339 time.
    func time(_ key: String) throws -> Int64? {
        guard let text = try decodeIfPresent(String.self, forKey: AnyKey(key)) else { return nil }
        guard let t = TimeText.parseTime(text) else {
            throw APIError.badRequest("\(key) is not a time: use RFC 3339, e.g. 2026-01-31T12:00:00Z")
        }
        return t
    }
}

/// `POST /v1/tokens`.
struct CreateBody: Decodable {
    let name: String
    let description: String?
    let audience: String
    let scope: ScopeRequest
    let validFrom: Int64?
    let expiry: Expiry
    /// The GUID the client picked, as sent; ``ChosenGUID`` reads it (canonical v4, never used).
    let guid: String?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(Self.fields)
        // Present means a string: `null` is a mistake, not "pick one for me" (leave the key out).
        guid = c.contains(AnyKey("guid")) ? try c.decode(String.self, forKey: AnyKey("guid")) : nil
        name = try c.decode(String.self, forKey: AnyKey("name"))
        description = try c.decodeIfPresent(String.self, forKey: AnyKey("description"))
        audience = try c.decode(String.self, forKey: AnyKey("audience"))
        // The word first: a failed `try?` builds a DecodingError with its coding path and
        // message, which cost more than the rest of this body when every create paid for it.
        switch try? c.decode(String.self, forKey: AnyKey("scope")) {
        case "all"?: scope = .all
        case "read-only"?: scope = .readOnly
        case _?: throw Self.badScope
        case nil:
            guard let pairs = try? c.decode([String].self, forKey: AnyKey("scope")) else {
                // Neither: the decoder's own words (required, null, wrong type), as before.
                _ = try c.decode(String.self, forKey: AnyKey("scope"))
                throw Self.badScope
            }
            scope = .custom(pairs)
        }
        validFrom = try c.time("valid_from")
        if c.contains(AnyKey("expires_in")) {
            // The expiry is computed on the issuer's clock (Expiry.after), not the client's.
            if c.contains(AnyKey("valid_to")) {
                let never = try c.decodeNil(forKey: AnyKey("valid_to"))
                throw APIError.badRequest(
                    "expires_in conflicts with valid_to\(never ? ": null (never expires)" : ""); give one of them")
            }
            expiry = .after(try Self.duration(c))
        } else if !c.contains(AnyKey("valid_to")) {
            expiry = .default
        } else if try c.decodeNil(forKey: AnyKey("valid_to")) {
            expiry = .never
        } else if let t = try c.time("valid_to") {
            expiry = .at(t)
        } else {
            expiry = .default
        }
    }
}

extension CreateBody {
    static let fields: Set<String> = [
        "name", "description", "audience", "scope", "valid_from", "valid_to", "expires_in", "guid",
    ]

    static let badScope = APIError.badRequest("scope must be \"all\", \"read-only\" or an array of resource.action")

    /// `expires_in`: a number of seconds, or text such as `90d` (``TimeText/parseDuration(_:)``).
    static func duration(_ c: KeyedDecodingContainer<AnyKey>) throws -> Int64 {
        let key = AnyKey("expires_in")
        let refused = APIError.badRequest(
            "expires_in must be a whole number of seconds from 1 to \(TimeText.maxDuration) or \(TimeText.acceptedDurations)"
        )
        if let seconds = try? c.decode(Int64.self, forKey: key) {
            guard TimeText.isDuration(seconds) else { throw refused }
            return seconds
        }
        guard let text = try? c.decode(String.self, forKey: key), let seconds = TimeText.parseDuration(text) else {
            throw refused
        }
        return seconds
    }
}

/// `PATCH /v1/tokens/{guid}`: name and description; every other field is sealed.
struct PatchBody: Decodable {
    let name: String?
    let description: String?
    let sealed: [String]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        // Present means a string: null is not "leave it", it is a mistake.
        name = c.contains(AnyKey("name")) ? try c.decode(String.self, forKey: AnyKey("name")) : nil
        description =
            c.contains(AnyKey("description")) ? try c.decode(String.self, forKey: AnyKey("description")) : nil
        sealed = c.allKeys.map(\.stringValue).filter { $0 != "name" && $0 != "description" }.sorted()
            .map { $0.count <= 40 ? $0 : String($0.prefix(40)) }
    }
}

/// The body of `POST /v1/tokens/revoke-by-token`.
struct TokenBody: Decodable {
    let token: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        // `cascade` here used to be accepted and ignored: a caller thought descendants were revoked.
        try c.refuseUnknown(["token"])
        token = try c.decode(String.self, forKey: AnyKey("token"))
    }
}

/// The optional body of `POST …/deactivate|activate|revoke`.
struct ChangeBody: Decodable {
    var cascade = false

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(["cascade"])
        cascade = try c.decodeIfPresent(Bool.self, forKey: AnyKey("cascade")) ?? false
    }
}

/// `POST /v1/tokens/bulk`.
struct BulkBody: Decodable {
    let action: LifecycleAction
    let guids: [TokenID]
    let cascade: Bool

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(["action", "guids", "cascade"])
        let name = try c.decode(String.self, forKey: AnyKey("action"))
        guard let action = LifecycleAction(rawValue: name) else {
            throw APIError.badRequest(
                "action must be one of: \(LifecycleAction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.action = action
        let texts = try c.decode([String].self, forKey: AnyKey("guids"))
        guard !texts.isEmpty else { throw APIError.badRequest("guids must name at least one token") }
        guids = try texts.enumerated().map { i, text in try parseGUID(text, field: "guids[\(i)]") }
        cascade = try c.decodeIfPresent(Bool.self, forKey: AnyKey("cascade")) ?? false
        if cascade, !action.cascades { throw APIError.badRequest("cascade applies to revoke only") }
    }
}
