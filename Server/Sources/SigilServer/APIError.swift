public import Hummingbird

/// An answer the server decides itself (not an ``IssuerError`` or a `VerificationError`):
/// malformed input, an unsupported media type, a body too large, a limited client.
///
/// ``ErrorMiddleware`` renders it as `{"error": code, "message": …}` with `status`.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    /// The stable code in the body's `error` field.
    public let code: String
    /// Safe to show and log: never echoes a token or a body.
    public let message: String
    /// Extra string fields for the body (`reason`).
    public var fields: [String: String] = [:]
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`).
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// 400 `bad_request`.
    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
}
