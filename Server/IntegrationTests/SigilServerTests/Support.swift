import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SigilIssuer
import SigilServer
import SigilVerifier
import Testing

/// A sigil-server on a fresh temporary home (keyring, SQLite ledger), driven through
/// HummingbirdTesting: `.router` runs requests through the router in memory, `.live` over a
/// real socket on 127.0.0.1 (the peer address then is real, for `X-Forwarded-For`).
///
/// The organization token (`sigil`, scope `all`) is issued on the home's own issuer, as
/// `sigil issue` would; the server opens the same home, as `sigil-server --home` does.
final class ServerHarness: Sendable {
    let root: String
    let app: SigilServerApp
    /// A token of audience `sigil` with scope `all`, valid for a day.
    let orgToken: String
    let orgID: TokenID

    init(
        limiter: FailedAuthLimiter = FailedAuthLimiter(), trustedProxies: [String] = [], maxSessions: Int = 100
    ) throws {
        root = FileManager.default.temporaryDirectory.path + "/sigil-server-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let home = root + "/home"
        let issuer = try Issuer(home: home, mode: .createIfMissing)
        let org = try issuer.issue(
            IssueRequest(name: "organization", audience: "sigil", scope: .all, expiry: .after(86_400)),
            by: try Actor(name: "tests"))
        orgToken = org.token
        orgID = org.record.id
        var app = try SigilServerApp(
            home: home, hostname: "127.0.0.1", port: 0, logger: Logger(label: "sigil-server-tests"),
            limiter: limiter, maxSessions: maxSessions)
        app.trustedProxies = trustedProxies.compactMap { IPAddressRange($0) }
        self.app = app
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Issues a token on the home directly (not through the API).
    func issue(
        _ name: String, audience: String = "billing", scope: ScopeRequest = .all, expiry: Expiry = .after(86_400)
    ) throws -> String {
        let issuer = try Issuer(home: root + "/home")
        return try issuer.issue(
            IssueRequest(name: name, audience: audience, scope: scope, expiry: expiry), by: try Actor(name: "tests")
        ).token
    }

    /// Runs `body` against the server's router.
    func test<Value: Sendable>(
        _ setup: TestingSetup = .router, _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await Application(router: app.router(), logger: Logger(label: "sigil-server-tests")).test(setup, body)
    }
}

/// A response's JSON object.
func json(_ response: TestResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
    return try #require(object as? [String: Any], "not a JSON object: \(String(buffer: response.body))")
}

/// Request headers: an optional bearer token plus any others.
func headers(token: String? = nil, _ more: [(String, String)] = []) -> HTTPFields {
    var fields = HTTPFields()
    if let token { fields[.authorization] = "Bearer \(token)" }
    for (name, value) in more {
        if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
    }
    return fields
}

/// A JSON body.
func body(_ object: [String: Any]) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
}

extension TestClientProtocol {
    /// `execute` with a bearer token, extra headers and a JSON body.
    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, headers more: [(String, String)] = [],
        json object: [String: Any]? = nil
    ) async throws -> TestResponse {
        var fields = headers(token: token, more)
        if object != nil { fields[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: fields, body: try object.map(body))
    }
}
