import Foundation
public import Hummingbird
import SigilIssuer
import SigilVerifier

/// `/v1/members`: list, add, show, edit, suspend, activate and remove members (docs/MEMBERS.md).
///
/// Each handler parses, calls one `Issuer` member use case with the caller, and renders with
/// SigilIssuer's ``WireMember``. Whether the caller may do it (`members.*`, audience reach, the
/// delegation rule: nobody adds or edits a member with more than they hold) is decided there.
public struct MembersController: Sendable {
    let issuer: IssuerQueue
    let publisher: Publisher

    public init(issuer: IssuerQueue, publisher: Publisher) {
        self.issuer = issuer
        self.publisher = publisher
    }

    /// Adds the routes to `group`, which is `/v1/members` behind the bearer middleware.
    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get(use: list)
        group.post(use: add)
        group.get("{id}", use: show)
        group.patch("{id}", use: edit)
        group.delete("{id}", use: remove)
        group.post("{id}/suspend", use: suspend)
        group.post("{id}/activate", use: activate)
    }

    @Sendable func list(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let q = try QueryValues(request)
        let pageRequest = try q.values { try q.page() }
        let status = try q.choice("status", MemberStatus.self)
        let (page, names) = try await issuer.query(as: caller) { issuer in
            let page = try issuer.members(status: status, page: pageRequest, as: caller)
            return (page, try issuer.actorNames(page.items.map(\.createdBy), as: caller))
        }
        return JSONResponse.make(
            WirePage(items: page.items.map { Self.wire($0, names) }, nextCursor: page.nextCursor))
    }

    @Sendable func add(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        guard let body = try await APIBody.decode(MemberAddBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body")
        }
        let now = Publisher.wallClock()
        let (member, names) = try await issuer.write { issuer in
            let member = try issuer.addMember(body.request, as: caller, now: now)
            return (member, try issuer.actorNames([member.createdBy], as: caller))
        }
        return JSONResponse.make(
            Self.wire(member, names), status: .created, headers: [.location: "/v1/members/\(member.id)"])
    }

    @Sendable func show(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try Self.memberID(context)
        let (member, names) = try await issuer.read { issuer in
            let member = try issuer.member(id.description, as: caller)
            return (member, try issuer.actorNames([member.createdBy], as: caller))
        }
        return JSONResponse.make(Self.wire(member, names))
    }

    @Sendable func edit(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try Self.memberID(context)
        guard let body = try await APIBody.decode(MemberEditBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body")
        }
        let now = Publisher.wallClock()
        let (member, names) = try await issuer.write { issuer in
            let member = try issuer.editMember(id.description, body.edit, as: caller, now: now)
            return (member, try issuer.actorNames([member.createdBy], as: caller))
        }
        return JSONResponse.make(Self.wire(member, names))
    }

    @Sendable func suspend(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try Self.memberID(context)
        let body = try await APIBody.decode(MemberSuspendBody.self, from: request, required: false)
        let cascade = body?.cascade ?? false
        let now = Publisher.wallClock()
        let (result, names) = try await issuer.write { issuer in
            let result = try issuer.suspendMember(id.description, cascade: cascade, as: caller, now: now)
            return (result, try issuer.actorNames([result.member.createdBy], as: caller))
        }
        if !result.deactivated.isEmpty {
            ServerMetrics.shared.tokensChanged(.deactivate, count: result.deactivated.count)
            publisher.noteChange()
        }
        return JSONResponse.make(WireMemberSuspension(result, creatorName: names[result.member.createdBy]))
    }

    @Sendable func activate(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try Self.memberID(context)
        // No body, or an empty object: the route takes no option.
        _ = try await APIBody.decode(NoOptionsBody.self, from: request, required: false)
        let now = Publisher.wallClock()
        let (member, names) = try await issuer.write { issuer in
            let member = try issuer.activateMember(id.description, as: caller, now: now)
            return (member, try issuer.actorNames([member.createdBy], as: caller))
        }
        return JSONResponse.make(Self.wire(member, names))
    }

    @Sendable func remove(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let id = try Self.memberID(context)
        let now = Publisher.wallClock()
        _ = try await issuer.write { issuer in try issuer.removeMember(id.description, as: caller, now: now) }
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    /// The `{id}` path segment: a whole member ID (a GUID); anything else is 400.
    static func memberID(_ context: ServerContext) throws -> TokenID {
        try parseGUID(context.parameters.get("id") ?? "", field: "id")
    }

    /// A member as the API answers it: SigilIssuer's ``WireMember``, with its creator's name
    /// when the ledger knows it.
    static func wire(_ member: Member, _ names: [String: String]) -> WireMember {
        WireMember(member, creatorName: names[member.createdBy])
    }
}

/// `POST /v1/members`: ``WireMemberRequest``, with unknown keys refused.
struct MemberAddBody: Decodable {
    let request: MemberRequest

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(["email", "name", "audience", "scope"])
        request = try WireMemberRequest(from: decoder).request
    }
}

/// `PATCH /v1/members/{id}`: ``WireMemberEdit``; unknown keys refused, `null` is a mistake.
struct MemberEditBody: Decodable {
    let edit: MemberEdit

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let known: Set<String> = ["name", "audience", "scope"]
        try c.refuseUnknown(known)
        for key in known where c.contains(AnyKey(key)) {
            if try c.decodeNil(forKey: AnyKey(key)) { throw APIError.badRequest("\(key) may not be null") }
        }
        edit = try WireMemberEdit(from: decoder).edit
    }
}

/// `POST /v1/members/{id}/suspend`: ``WireMemberSuspend``, with unknown keys refused.
struct MemberSuspendBody: Decodable {
    let cascade: Bool

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(["cascade"])
        cascade = try WireMemberSuspend(from: decoder).cascade
    }
}

/// A body that must be empty (`{}`) when given.
struct NoOptionsBody: Decodable {
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown([])
    }
}
