public import Hummingbird
public import Logging
import SigilIssuer
import SigilVerifier

/// Turns every error a route throws into `{"error": …, "message": …, "code": …}` with its status.
///
/// The one place where errors become HTTP: a route never picks a status for a library error
/// itself. An ``IssuerError``'s status, `error` and `code` come from ``ErrorContract`` (the
/// table the CLI exits by); this type adds only the fields and headers that explain a case.
///
/// | error | status, `error`, `code` |
/// |---|---|
/// | ``APIError`` | its own (`bad_request`, `too_large`, `unsupported_media_type`, …) |
/// | `IssuerError` | ``ErrorContract/entry(for:)`` of its code (+ `scope`, `reason`, policy fields, `Retry-After`) |
/// | `VerificationError` | 401 `invalid_token` (+ `reason`, `WWW-Authenticate`) |
/// | anything else | 500 `internal` (logged; the message says nothing more) |
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.response(for: error, logger: context.logger)
        }
    }

    /// The answer for `error`.
    public static func response(for error: any Error, logger: Logger) -> Response {
        let api = apiError(for: error)
        if api.status == .internalServerError {
            // The type and the library's message: neither ever holds a token.
            logger.error("internal error", metadata: ["error": "\(String(reflecting: type(of: error))): \(error)"])
        }
        let body = WireError(
            error: api.code, message: api.message, code: api.contract.rawValue, fields: api.fields)
        return JSONResponse.make(body, status: api.status, headers: api.headers)
    }

    /// The ``APIError`` an error maps to.
    public static func apiError(for error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as IssuerError:
            return map(error)
        case let error as VerificationError:
            return map(error)
        case let error as HTTPError:
            switch error.status {
            case .notFound: return APIError(.notFound, "not_found", "no such route")
            case .contentTooLarge: return APIBody.tooLarge
            case .badRequest: return .badRequest(error.body ?? "bad request")
            default:
                return APIError(error.status, "http_\(error.status.code)", error.body ?? error.status.reasonPhrase)
            }
        default:
            return APIError(.internalServerError, "internal", "the server failed; see its log")
        }
    }

    static func map(_ error: IssuerError) -> APIError {
        let code = error.code
        let entry = ErrorContract.entry(for: code)
        let status = HTTPResponse.Status(code: entry.httpStatus)
        var message = error.message
        // The ledger's own words stay in the log: the caller learns what to do.
        switch code {
        case _ where status == .internalServerError:
            message = "the server failed (\(error.reason.rawValue)); see its log"
        case .lockBusy, .unavailable: message = "the ledger database stayed busy; try again in a moment"
        default: break
        }
        var api = APIError(status, entry.httpError, message, contract: code)
        switch error.detail {
        case .outsidePolicy(let policy, _, _):
            api.fields["audience"] = policy.audience
            api.fields["max_lifetime"] = TimeText.formatDuration(policy.maxLifetime)
            api.fields["allow_never_expires"] = policy.allowNeverExpires ? "true" : "false"
        case .insufficientScope(let what):
            api.fields["scope"] = what
        case .tokenNotVerified(let why):
            api = APIError(
                status, entry.httpError,
                "the token does not verify with this issuer's keys (\(why.rawValue)); nothing revoked", contract: code)
            api.fields["reason"] = why.rawValue
        default: break
        }
        if code == .forbidden { api.headers[.wwwAuthenticate] = #"Bearer error="insufficient_scope""# }
        if code == .lockBusy || code == .unavailable { api.headers[.retryAfter] = "1" }
        return api
    }

    /// 401 with an RFC 6750 challenge; 503 if the ledger could not be read to check the token.
    static func map(_ error: VerificationError) -> APIError {
        let code = error.reason.rawValue
        if error.reason == .revocationsStale {
            var api = APIError(.serviceUnavailable, "unavailable", "the ledger cannot be read; try again in a moment")
            api.headers[.retryAfter] = "1"
            return api
        }
        var api = APIError(.unauthorized, "invalid_token", "the bearer token was refused: \(code)")
        api.fields["reason"] = code
        api.headers[.wwwAuthenticate] = #"Bearer error="invalid_token", error_description="\#(code)""#
        return api
    }
}
