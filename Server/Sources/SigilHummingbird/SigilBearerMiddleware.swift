public import Hummingbird
import Logging
public import SigilVerifier

/// Lets a request through only if it carries a Sigil token that verifies and, when a
/// permission is given, grants it.
///
/// Reads `Authorization: Bearer sgl_…` (RFC 6750 §2.1, strictly: one header, the scheme
/// name in any case, one b64token) and verifies it offline with `verifier`: format,
/// audience, key, MAC, the revocation list in force, validity window and scope. Refusals
/// are answered here (see ``SigilChallenge``); an accepted request reaches the route with
/// ``SigilRequestContext/token`` set.
///
/// Give each route group the permission it needs (or call `requiring(_:verifier:)` on the router):
///
/// ```swift
/// router.group()
///     .add(middleware: SigilBearerMiddleware(verifier: verifier, requiring: .deleteDevice))
///     .delete("devices/:id") { _, _ in HTTPResponse.Status.noContent }
/// ```
///
/// The token itself is never logged or echoed. A refusal is logged at `notice` with its
/// reason code and safe detail; an accepted request carries the token's GUID in its logger
/// metadata (`token_id`). Verification allocates nothing; the middleware adds no lock.
public struct SigilBearerMiddleware<Context: SigilRequestContext>: RouterMiddleware {
    public let verifier: Verifier
    /// Nil: any valid token is enough.
    public let permission: Permission?

    /// - Parameters:
    ///   - verifier: The verifier over the service's keyset and revocation store.
    ///   - permission: What the route needs; nil accepts any valid token.
    public init(verifier: Verifier, requiring permission: Permission? = nil) {
        self.verifier = verifier
        self.permission = permission
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let token: Substring
        switch Self.credentials(in: request.headers) {
        case .absent:
            return SigilChallenge.missingToken.response()
        case .repeated:
            context.logger.notice("refused: more than one Authorization header")
            return SigilChallenge.repeatedCredentials.response()
        case .malformed:
            context.logger.notice("refused: Bearer credentials that are not one b64token")
            return SigilChallenge.malformedCredentials.response()
        case .bearer(let text):
            token = text
        }

        let verified: VerifiedToken
        do {
            verified = try verifier.verify(String(token), for: permission)
        } catch {
            // `error` is a VerificationError (typed throws): reason and detail are safe to log.
            var metadata: Logger.Metadata = ["reason": "\(error.reason.rawValue)"]
            if let permission { metadata["permission"] = "\(permission.name)" }
            if !error.detail.isEmpty { metadata["detail"] = "\(error.detail)" }
            context.logger.notice("refused token", metadata: metadata)
            return SigilChallenge(refusal: error, permission: permission).response()
        }

        var context = context
        context.token = verified
        context.logger[metadataKey: "token_id"] = "\(verified.id)"
        return try await next(request, context)
    }

    /// What the `Authorization` header holds, as far as the Bearer scheme is concerned.
    public typealias Credentials = BearerCredentials

    /// Parses `Authorization: Bearer <b64token>` (RFC 6750 §2.1) with SigilVerifier's
    /// ``BearerCredentials``, the reading every Sigil front end shares: the scheme name in any
    /// case (RFC 9110 §11.1), one or more spaces, then `1*( ALPHA / DIGIT / "-" / "." /
    /// "_" / "~" / "+" / "/" ) *"="` and nothing else.
    ///
    /// ```swift
    /// SigilBearerMiddleware<BasicSigilRequestContext>.credentials(in: request.headers)
    /// ```
    public static func credentials(in headers: HTTPFields) -> Credentials {
        BearerCredentials(authorization: headers[values: .authorization])
    }
}

extension RouterMethods where Context: SigilRequestContext {
    /// A route group whose routes need a Sigil token granting `permission`.
    ///
    /// ```swift
    /// router.requiring(.listDevices, verifier: verifier).get("devices") { _, _ in devices.all }
    /// router.requiring(.deleteDevice, verifier: verifier).delete("devices/:id") { _, _ in
    ///     HTTPResponse.Status.noContent
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - permission: What every route in the group needs; nil accepts any valid token.
    ///   - verifier: The verifier over the service's keyset and revocation store.
    /// - Returns: A group with a ``SigilBearerMiddleware`` in front of its routes.
    public func requiring(_ permission: Permission?, verifier: Verifier) -> RouterGroup<Context> {
        group().add(middleware: SigilBearerMiddleware<Context>(verifier: verifier, requiring: permission))
    }
}
