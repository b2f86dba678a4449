import Foundation
public import Hummingbird
import SigilIssuer

/// `GET /v1/rules`: the issuer's limits, patterns and enumerations (``IssuerRules/current``),
/// so the console checks a form with SigilIssuer's values and keeps no rule of its own.
///
/// Any signed-in caller may read it: it says nothing about the ledger, only what the issuer
/// accepts. The caller's own window and lifetime policies are in `GET /v1/session`.
public struct RulesController: Sendable {
    public init() {}

    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("rules", use: show)
    }

    /// The rules never change while the server runs: encoded once.
    static let body: ByteBuffer = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = (try? Array(encoder.encode(IssuerRules.current))) ?? Array("{}".utf8)
        bytes.append(0x0a)
        return ByteBuffer(bytes: bytes)
    }()

    @Sendable func show(_ request: Request, context: ServerContext) async throws -> Response {
        _ = try context.authenticated
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: Self.body))
    }
}
