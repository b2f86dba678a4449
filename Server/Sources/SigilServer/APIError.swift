public import Hummingbird
public import SigilIssuer

/// An answer the server decides itself (not an ``IssuerError`` or a `VerificationError`):
/// malformed input, an unsupported media type, a body too large, a limited client.
///
/// ``ErrorMiddleware`` renders it as `{"error": code, "message": …, "code": …}` with `status`.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    /// The stable code in the body's `error` field.
    public let code: String
    /// The body's `code`: the ``ErrorContract`` entry a client exits by (a remote `sigil`
    /// exits 64 for a bad request, 77 for a refused token, as it would locally).
    public var contract: IssuerError.Code
    /// Safe to show and log: never echoes a token or a body.
    public let message: String
    /// Extra string fields for the body (`reason`).
    public var fields: [String: String] = [:]
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`).
    public var headers: HTTPFields = [:]

    /// An answer with `status`; its ``contract`` code follows from the status unless given.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, contract: IssuerError.Code? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.contract = contract ?? Self.contract(for: status)
    }

    /// What a server-decided status means for a client: the request was wrong (64), the
    /// caller is refused (77), nothing is there (66), or the server cannot answer now (69).
    static func contract(for status: HTTPResponse.Status) -> IssuerError.Code {
        switch status.code {
        case 401, 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 400..<500 where status.code != 429: .invalidInput
        default: .unavailable
        }
    }

    /// 400 `bad_request`.
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
}
