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
        let actor = try q.string("actor")
        if let actor, !Actor.isValid(actor) {
            throw APIError.badRequest("actor must be 1-64 characters of A-Z a-z 0-9 . _ @ : -")
        }
        let action = try q.choice("action", AuditAction.self)
        let since = try q.string("since").map { text -> Int64 in
            guard let t = TimeText.parseTime(text) else {
                throw APIError.badRequest("since is not a time: use RFC 3339, e.g. 2026-01-31T12:00:00Z")
            }
            return t
        }
        let limit = try q.int("limit", in: 1...1_000, default: 100)
        let offset = try q.cursor()
        let query = AuditQuery(guid: guid, actor: actor, action: action, since: since, limit: limit + 1, offset: offset)
        let events = try await issuer.query(as: caller) { try $0.events(query, as: caller) }
        let next: Any = events.count > limit ? String(offset + limit) : NSNull()
        return JSONResponse.make(["events": events.prefix(limit).map(Render.event), "next_cursor": next])
    }
}
