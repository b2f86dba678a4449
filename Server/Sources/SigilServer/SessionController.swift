import Foundation
public import Hummingbird
import Logging
import SigilIssuer
import SigilVerifier

/// `/v1/session`: the web console signs in with a token and gets a cookie session.
///
/// `POST` checks the token exactly as ``BearerAuthMiddleware`` does (``Issuer/authenticate(_:now:)``,
/// the same failed-authentication budget, which a good token never meets) and opens a
/// ``SessionStore`` session in the ledger (at most ``SessionStore/maxSessionsPerToken`` per
/// token). `GET` and `DELETE` run behind the bearer middleware, which accepts the session
/// cookie in place of `Authorization` and asks state-changing requests for the CSRF header.
///
/// ```swift
/// SessionController(issuer: issuer, sessions: sessions, limiter: limiter)
///     .addRoutes(open: router.group("v1"), guarded: authenticatedV1)
/// ```
public struct SessionController: Sendable {
    let issuer: IssuerQueue
    let sessions: SessionStore
    let limiter: FailedAuthLimiter

    public init(issuer: IssuerQueue, sessions: SessionStore, limiter: FailedAuthLimiter) {
        self.issuer = issuer
        self.sessions = sessions
        self.limiter = limiter
        sessions.attach(issuer)
    }

    /// `POST /v1/session` on `open` (no authentication); `GET` and `DELETE` on `guarded`.
    public func addRoutes(open: RouterGroup<ServerContext>, guarded: RouterGroup<ServerContext>) {
        open.post("session", use: signIn)
        guarded.get("session", use: show)
        guarded.delete("session", use: signOut)
    }

    @Sendable func signIn(_ request: Request, context: ServerContext) async throws -> Response {
        guard let body = try await APIBody.decode(SignInBody.self, from: request) else {
            throw APIError.badRequest("this route needs a JSON body")
        }
        let caller: Caller
        do {
            caller = try await issuer.read { issuer throws(VerificationError) in try issuer.authenticate(body.token) }
        } catch let error as VerificationError {
            context.logger.notice("refused token", metadata: ["reason": "\(error.reason.rawValue)"])
            ServerMetrics.shared.authenticationFailed(reason: error.reason.rawValue)
            // As in BearerAuthMiddleware: only a failure meets the limit, a good token never does.
            if error.reason != .revocationsStale { try limiter.chargeFailure(context.client) }
            throw error
        }
        context.record.callerID = caller.id
        let (id, session) = try await sessions.open(caller: caller)
        let object = try await describe(caller, session: session)
        return JSONResponse.make(
            object, status: .created, headers: [.setCookie: sessions.cookie(id: id, session: session)])
    }

    @Sendable func show(_ request: Request, context: ServerContext) async throws -> Response {
        let caller = try context.authenticated
        var session: SessionStore.Session?
        if let id = SessionStore.sessionID(in: request.headers) { session = try await sessions.session(id) }
        return JSONResponse.make(try await describe(caller, session: session))
    }

    @Sendable func signOut(_ request: Request, context: ServerContext) async throws -> Response {
        _ = try context.authenticated
        if let id = SessionStore.sessionID(in: request.headers) { try await sessions.close(id) }
        var headers = HTTPFields()
        headers[.setCookie] = sessions.clearingCookie()
        headers[.cacheControl] = "no-store"
        return Response(status: .noContent, headers: headers)
    }

    /// What the console needs to know about the signed-in token: who it is, which routes it
    /// may call and what it may grant. Every answer comes from SigilIssuer's own rules
    /// (`authorize`, ``Issuer/uncovered(_:by:catalog:)``), so the page never re-implements them.
    func describe(_ caller: Caller, session: SessionStore.Session?) async throws -> [String: Any] {
        let (permissions, catalog, policies) = try await issuer.read { issuer in
            let catalog = try issuer.catalog()
            // The lifetime policies of the audiences the caller reaches: the console checks a
            // window against them with the issuer's values.
            let policies = try issuer.policies().filter { caller.reaches($0.audience) }
            let permissions = Catalog.issuer.resources.flatMap { resource, actions in
                actions.keys.map { "\(resource).\($0)" }
            }.filter { permission in
                do {
                    try issuer.authorize(caller, permission)
                    return true
                } catch {
                    return false
                }
            }.sorted()
            return (permissions, catalog, policies)
        }
        let pairs = catalog.resources.flatMap { resource, actions in actions.keys.map { "\(resource).\($0)" } }
            .filter { Issuer.uncovered(.custom([$0]), by: caller.scope, catalog: catalog) == nil }.sorted()
        var object: [String: Any] = [
            "guid": caller.id.description,
            // Who is signed in: the audit log's name, and the person for a member's session.
            "actor": caller.actor.name,
            "member": caller.member.map { member -> Any in
                ["id": member.id.description, "email": member.email, "name": member.name]
            } ?? NSNull(),
            "audience": caller.audience,
            "audiences": caller.audiences.map { Array($0).sorted() as Any } ?? NSNull(),
            "scope": Render.scope(caller.scope),
            "valid_to": caller.validTo.map { $0 as Any } ?? NSNull(),
            "valid_from": caller.validFrom.map { $0 as Any } ?? NSNull(),
            "policies": policies.map { policy -> [String: Any] in
                [
                    "audience": policy.audience, "max_lifetime": TimeText.formatDuration(policy.maxLifetime),
                    "max_lifetime_seconds": policy.maxLifetime, "allow_never_expires": policy.allowNeverExpires,
                ]
            },
            "permissions": permissions,
            "grantable": [
                "all": Issuer.uncovered(.all, by: caller.scope, catalog: catalog) == nil,
                "read-only": Issuer.uncovered(.readOnly, by: caller.scope, catalog: catalog) == nil,
                "pairs": pairs,
            ] as [String: Any],
        ]
        if let session {
            object["csrf_token"] = session.csrf
            object["expires_at"] = session.expiresAt
        }
        return object
    }
}

/// `POST /v1/session`.
struct SignInBody: Decodable {
    let token: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        try c.refuseUnknown(["token"])
        token = try c.decode(String.self, forKey: AnyKey("token"))
    }
}
