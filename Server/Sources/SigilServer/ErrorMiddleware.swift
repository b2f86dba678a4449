public import Hummingbird
public import Logging
import SigilIssuer
import SigilVerifier

/// Turns every error a route throws into `{"error": code, "message": …}` with its status.
///
/// The one place where the issuer's reasons become HTTP: a route never picks a status for a
/// library error itself.
///
/// | error | status | `error` |
/// |---|---|---|
/// | ``APIError`` | its own | its own (`bad_request`, `too_large`, `unsupported_media_type`, …) |
/// | `IssuerError` `invalid_input`, sealed field | 422 | `sealed_field` |
/// | `IssuerError` `invalid_input`, selector or filter | 400 | `bad_request` |
/// | `IssuerError` `invalid_input`, otherwise | 422 | `invalid_input` |
/// | `IssuerError` `forbidden` | 403 | `insufficient_scope` (+ `scope`: what was too wide) |
/// | `IssuerError` `not_found` | 404 | `not_found` |
/// | `IssuerError` `conflict` | 409 | `conflict` |
/// | `IssuerError` `lock_busy` | 503 | `unavailable` (+ `Retry-After`) |
/// | `VerificationError` | 401 | `invalid_token` (+ `reason`, `WWW-Authenticate`) |
/// | anything else | 500 | `internal` (logged; the message says nothing more) |
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
        var body: [String: Any] = ["error": api.code, "message": api.message]
        for (key, value) in api.fields { body[key] = value }
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
        switch error.reason {
        case .invalidInput:
            switch error.detail {
            case .sealedField: return APIError(.unprocessableContent, "sealed_field", error.message)
            case .outsidePolicy(let policy, _, _):
                var api = APIError(.unprocessableContent, "outside_policy", error.message)
                api.fields["audience"] = policy.audience
                api.fields["max_lifetime"] = TimeText.formatDuration(policy.maxLifetime)
                api.fields["allow_never_expires"] = policy.allowNeverExpires ? "true" : "false"
                return api
            case .notASelector, .ambiguousPrefix, .emptyFilter: return .badRequest(error.message)
            default: return APIError(.unprocessableContent, "invalid_input", error.message)
            }
        case .forbidden:
            var api = APIError(.forbidden, "insufficient_scope", error.message)
            if case .insufficientScope(let what) = error.detail { api.fields["scope"] = what }
            api.headers[.wwwAuthenticate] = #"Bearer error="insufficient_scope""#
            return api
        case .notFound:
            return APIError(.notFound, "not_found", error.message)
        case .conflict:
            if case .sequenceExhausted = error.detail {
                return APIError(.serviceUnavailable, "sequence_exhausted", error.message)
            }
            return APIError(.conflict, "conflict", error.message)
        case .lockBusy, .unavailable:
            var api = APIError(
                .serviceUnavailable, "unavailable", "the ledger database stayed busy; try again in a moment")
            api.headers[.retryAfter] = "1"
            return api
        case .badData, .cannotWrite, .permissions:
            return APIError(
                .internalServerError, "internal", "the server failed (\(error.reason.rawValue)); see its log")
        }
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
