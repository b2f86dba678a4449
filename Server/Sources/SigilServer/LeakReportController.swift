import Foundation
public import Hummingbird
import Logging
import SigilIssuer
import SigilVerifier

/// A leak-report intake compatible with GitLab's Token Revocation API, so GitLab's secret
/// detection (or any scanner) can post the Sigil tokens it finds and have them revoked at once.
///
/// - `GET  /v1/leak-reports/revocable_token_types` → `{"types": ["gitleaks_rule_id_sigil_api_token"]}`
/// - `POST /v1/leak-reports/revoke_tokens` with `[{"type", "token", "location"}]` → 204
///
/// Both need `Authorization: <intake token>` (GitLab sends the token as is; `Bearer <token>`
/// works too), compared in constant time with the one the server was started with. The answer
/// is 204 whatever the tokens were: forged, foreign and unknown tokens are ignored, so a
/// reporter learns nothing about which tokens exist. Wrong intake tokens are rate limited per
/// client (the right one never is); a token is never logged or echoed.
public struct LeakReportController: Sendable {
    /// The `type` GitLab derives from the gitleaks rule `sigil_api_token` (docs/scanning/).
    public static let tokenType = "gitleaks_rule_id_sigil_api_token"
    /// Reports per request, as GitHub's and GitLab's revocation APIs bound them.
    public static let maxReports = 1_000

    /// Wrong intake tokens: 6 per client, one more every 10 seconds. The right one is never
    /// limited, so nobody can shut the intake by sending wrong tokens from a shared address.
    public static func defaultLimiter() -> FailedAuthLimiter { FailedAuthLimiter(burst: 6, refillPerSecond: 0.1) }

    let issuer: IssuerQueue
    let publisher: Publisher
    let secret: [UInt8]?
    let limiter: FailedAuthLimiter

    public init(
        issuer: IssuerQueue, publisher: Publisher, secret: [UInt8]?,
        limiter: FailedAuthLimiter = LeakReportController.defaultLimiter()
    ) {
        self.issuer = issuer
        self.publisher = publisher
        self.secret = secret
        self.limiter = limiter
    }

    /// Adds the routes to `group` (`/v1`).
    public func addRoutes(to group: RouterGroup<ServerContext>) {
        let reports = group.group("leak-reports")
        reports.get("revocable_token_types") { request, context in
            try check(request, context)
            return JSONResponse.make(["types": [Self.tokenType]])
        }
        reports.post("revoke_tokens") { request, context in
            try check(request, context)
            guard let body = try await APIBody.decode([Report].self, from: request) else {
                throw APIError.badRequest("this route needs a JSON array of {type, token, location}")
            }
            guard body.count <= Self.maxReports else {
                throw APIError.badRequest("at most \(Self.maxReports) tokens per request")
            }
            let reports = body.filter { $0.type == Self.tokenType }.map {
                Issuer.LeakReport(token: $0.token, location: $0.location ?? "")
            }
            let revoked = try await issuer.write { try $0.revokeLeaked(reports) }
            ServerMetrics.shared.tokensChanged(.revoke, count: revoked)
            if revoked > 0 { publisher.noteChange() }
            context.logger.notice(
                "leak report", metadata: ["reported": "\(body.count)", "revoked": "\(revoked)"])
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    /// The intake token, checked first; only a wrong one meets the limit (429 once the client's
    /// wrong tries are used up), so the right one is never refused.
    private func check(_ request: Request, _ context: ServerContext) throws {
        let values = request.headers[values: .authorization]
        guard !values.isEmpty else {
            throw APIError(
                .unauthorized, "invalid_token", "send the leak-report intake token in the Authorization header")
        }
        // Only a caller with some credential learns that the intake is off.
        guard let secret else {
            throw APIError(
                .notFound, "not_found",
                "the leak-report intake is off on this server; start it with --leak-report-token-file FILE")
        }
        // GitLab sends the intake token as is; `Bearer <token>` is read as every front end reads it.
        let presented: Substring =
            switch BearerCredentials(authorization: values) {
            case .bearer(let token): token
            case .absent, .malformed: Substring(values[0])
            case .repeated: ""
            }
        guard !presented.isEmpty, Secrets.equal(Array(presented.utf8), secret) else {
            ServerMetrics.shared.authenticationFailed(reason: "leak_report_token")
            try limiter.chargeFailure(context.client, what: "wrong leak-report intake tokens")
            throw APIError(
                .unauthorized, "invalid_token", "send the leak-report intake token in the Authorization header")
        }
    }

    struct Report: Decodable {
        let type: String
        let token: String
        let location: String?
    }
}
