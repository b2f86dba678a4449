import Foundation
public import Hummingbird
import SigilIssuer
import SigilVerifier

/// `GET /v1/audit`: the audit log, newest first (`audit.list`). A caller outside the
/// organization audience sees only events about tokens it reaches (the library filters).
public struct AuditController: Sendable {
    let issuer: IssuerQueue

    public init(issuer: IssuerQueue) { self.issuer = issuer }

    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("audit", use: list)
    }

    @Sendable func list(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        let q = try QueryValues(request)
        let guid = try q.string("guid").map { try parseGUID($0) }
        let (actor, pageRequest) = try q.values { (try q.string("actor").map { try ActorName($0).text }, try q.page()) }
        let action = try q.choice("action", AuditAction.self)
        let since = try q.string("since").map { text -> Int64 in
            guard let t = TimeText.parseTime(text) else {
                throw APIError.badRequest("since is not a time: use RFC 3339, e.g. 2026-01-31T12:00:00Z")
            }
            return t
        }
        let query = AuditQuery(guid: guid, actor: actor, action: action, since: since)
        let (page, names) = try await issuer.query(as: caller) { issuer in
            let page = try issuer.events(query, page: pageRequest, as: caller)
            return (page, try issuer.actorNames(page.items.map(\.actor), as: caller))
        }
        return JSONResponse.make(
            WirePage(
                items: page.items.map { WireEvent($0, actorName: names[$0.actor]) }, nextCursor: page.nextCursor))
    }
}
