public import Hummingbird
public import SigilVerifier

/// A refusal that ``SigilBearerMiddleware`` answers itself, shaped by RFC 6750 §3.
///
/// | Case                                     | Status | `WWW-Authenticate`                                             |
/// |------------------------------------------|--------|----------------------------------------------------------------|
/// | no Bearer credentials                    | 401    | `Bearer`                                                       |
/// | more than one `Authorization` header, or Bearer credentials that are not a b64token | 400 | `Bearer error="invalid_request"` |
/// | a token that fails verification          | 401    | `Bearer error="invalid_token", error_description="<reason>"`   |
/// | a valid token without the permission     | 403    | `Bearer error="insufficient_scope", scope="<resource.action>"` |
/// | revocation list stale, policy fails closed | 503  | none: the client cannot fix it                                 |
///
/// The JSON body repeats the error and the Sigil reason code. Everything interpolated into
/// the header and the body is a reason code or a permission name (`[a-z0-9_.-]`), so
/// nothing needs quoting or escaping, and nothing the client sent is echoed.
///
/// ```swift
/// let refusal = SigilChallenge(refusal: error, permission: .listDevices)
/// return refusal.response()
/// ```
public struct SigilChallenge: Sendable, Hashable {
    public let status: HTTPResponse.Status
    /// Nil for refusals that are not an authentication challenge.
    public let wwwAuthenticate: String?
    /// The JSON body.
    public let body: String

    /// RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    public static let missingToken = SigilChallenge(
        status: .unauthorized, wwwAuthenticate: "Bearer", body: #"{"error":"missing_token"}"#)

    /// RFC 6750 §3.1 `invalid_request`: more than one `Authorization` header.
    public static let repeatedCredentials = SigilChallenge(
        status: .badRequest, wwwAuthenticate: #"Bearer error="invalid_request""#,
        body: #"{"error":"invalid_request","reason":"multiple_authorization_headers"}"#)

    /// RFC 6750 §3.1 `invalid_request`: Bearer credentials that are not one b64token
    /// (RFC 6750 §2.1), such as two words or a control character.
    public static let malformedCredentials = SigilChallenge(
        status: .badRequest, wwwAuthenticate: #"Bearer error="invalid_request""#,
        body: #"{"error":"invalid_request","reason":"malformed_authorization"}"#)

    /// The challenge for a token that `Verifier.verify(_:for:at:)` refused.
    ///
    /// - Parameters:
    ///   - refusal: The verifier's error.
    ///   - permission: The route's permission, named in a 403.
    public init(refusal: VerificationError, permission: Permission?) {
        let code = refusal.reason.rawValue
        switch refusal.reason {
        case .scopeNotGranted:
            let scope = permission?.name ?? ""
            self.init(
                status: .forbidden,
                wwwAuthenticate: #"Bearer error="insufficient_scope", scope="\#(scope)""#,
                body: #"{"error":"insufficient_scope","reason":"\#(code)","scope":"\#(scope)"}"#)
        case .revocationsStale:
            // The service's list is too old and its policy fails closed: not the client's fault.
            self.init(
                status: .serviceUnavailable, wwwAuthenticate: nil,
                body: #"{"error":"temporarily_unavailable","reason":"\#(code)"}"#)
        default:
            // Every other reason (including ones added later) means this token cannot be used.
            self.init(
                status: .unauthorized,
                wwwAuthenticate: #"Bearer error="invalid_token", error_description="\#(code)""#,
                body: #"{"error":"invalid_token","reason":"\#(code)"}"#)
        }
    }

    private init(status: HTTPResponse.Status, wwwAuthenticate: String?, body: String) {
        self.status = status
        self.wwwAuthenticate = wwwAuthenticate
        self.body = body
    }

    /// The HTTP response: status, `WWW-Authenticate` if any, and the JSON body.
    public func response() -> Response {
        var headers = HTTPFields()
        if let wwwAuthenticate { headers[.wwwAuthenticate] = wwwAuthenticate }
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
