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
    public enum Credentials: Equatable, Sendable {
        /// No header, or credentials for another scheme (RFC 6750 §3.1: no error code).
        case absent
        /// More than one `Authorization` header.
        case repeated
        /// `Bearer` followed by something that is not exactly one b64token.
        case malformed
        /// The b64token after `Bearer ` (not necessarily a Sigil token: the verifier decides).
        case bearer(Substring)
    }

    /// Parses `Authorization: Bearer <b64token>` (RFC 6750 §2.1): the scheme name in any
    /// case (RFC 9110 §11.1), one or more spaces, then `1*( ALPHA / DIGIT / "-" / "." /
    /// "_" / "~" / "+" / "/" ) *"="` and nothing else.
    ///
    /// ```swift
    /// SigilBearerMiddleware<BasicSigilRequestContext>.credentials(in: request.headers)
    /// ```
    public static func credentials(in headers: HTTPFields) -> Credentials {
        let values = headers[values: .authorization]
        guard values.count <= 1 else { return .repeated }
        guard let value = values.first else { return .absent }
        let utf8 = value.utf8
        let scheme = utf8.prefix { $0 != UInt8(ascii: " ") }
        guard scheme.count == 6, String(decoding: scheme, as: UTF8.self).lowercased() == "bearer" else {
            return .absent
        }
        let rest = Substring(value).utf8.dropFirst(6).drop { $0 == UInt8(ascii: " ") }
        guard utf8.count > 6, utf8[utf8.index(utf8.startIndex, offsetBy: 6)] == UInt8(ascii: " ") else {
            return .malformed
        }
        guard isB64Token(rest) else { return .malformed }
        return .bearer(Substring(rest))
    }

    static func isB64Token(_ bytes: Substring.UTF8View) -> Bool {
        var sawEquals = false
        var count = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "="):
                sawEquals = true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if sawEquals { return false }
                count += 1
            default:
                return false
            }
        }
        return count > 0
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
