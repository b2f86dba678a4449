import Hummingbird
import Logging
import SigilVerifier

/// Lets a request through only if it carries a Sigil token that grants `permission`.
///
/// Reads `Authorization: Bearer sgl_…` (RFC 6750 §2.1) and verifies it offline with
/// `verifier`: format, audience, key, MAC, the revocation list in force, validity window and
/// scope, in that order. Refusals are answered here (see ``AuthChallenge``); an accepted request
/// reaches the route with ``SigilRequestContext/token`` set.
///
/// Add one per route, so each route declares the permission it needs:
///
/// ```swift
/// router.group()
///     .add(middleware: BearerTokenMiddleware(verifier: verifier, requiring: .deleteDevice))
///     .delete("devices/:id") { request, context in … }
/// ```
///
/// The token itself is never logged. A refusal is logged with its reason code and safe detail;
/// an accepted request carries the token's GUID in its logger metadata.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = SigilRequestContext

    let verifier: Verifier
    let permission: Permission

    init(verifier: Verifier, requiring permission: Permission) {
        self.verifier = verifier
        self.permission = permission
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let token: String
        switch Self.credentials(in: request.headers) {
        case .absent:
            return AuthChallenge.missingToken.response()
        case .repeated:
            context.logger.notice("refused: more than one Authorization header")
            return AuthChallenge.repeatedCredentials.response()
        case .bearer(let text):
            token = text
        }

        let verified: VerifiedToken
        do {
            verified = try verifier.verify(token, for: permission)
        } catch {
            // `error` is a VerificationError (typed throws): reason and detail are safe to log.
            var metadata: Logger.Metadata = [
                "reason": "\(error.reason.rawValue)", "permission": "\(permission.name)",
            ]
            if !error.detail.isEmpty { metadata["detail"] = "\(error.detail)" }
            context.logger.notice("refused token", metadata: metadata)
            return AuthChallenge(refusal: error, permission: permission).response()
        }

        var context = context
        context.token = verified
        context.logger[metadataKey: "token_id"] = "\(verified.id)"
        return try await next(request, context)
    }

    /// What the `Authorization` header holds, as far as the Bearer scheme is concerned.
    enum Credentials: Equatable {
        /// No header, or credentials for another scheme (RFC 6750 §3.1: no error code).
        case absent
        /// More than one `Authorization` header.
        case repeated
        /// The text after `Bearer ` (possibly empty or not a Sigil token: the verifier decides).
        case bearer(String)
    }

    /// Parses `Authorization: Bearer <token>`; the scheme name is case-insensitive (RFC 9110 §11.1).
    static func credentials(in headers: HTTPFields) -> Credentials {
        let values = headers[values: .authorization]
        guard values.count <= 1 else { return .repeated }
        guard let value = values.first else { return .absent }
        let scheme = value.prefix { $0 != " " }
        guard scheme.utf8.count == 6, scheme.lowercased() == "bearer" else { return .absent }
        return .bearer(String(value.dropFirst(scheme.count).drop { $0 == " " }))
    }
}
