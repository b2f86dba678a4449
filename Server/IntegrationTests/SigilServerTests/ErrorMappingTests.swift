import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SigilIssuer
import SigilServer
import Testing

/// One request and what the router must answer: status, `error`, `code`, and a field to check.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let method: HTTPRequest.Method
    let path: String
    /// Which token sends it: the organization's, a read-only billing token's, a made-up one, none.
    var caller: Who = .organization
    var body: String?
    let status: Int
    let error: String
    var code: String?
    /// A field of the body and the value it must have.
    var field: (String, String)?
    /// A response header and the value it must have.
    var header: (String, String)?

    enum Who: Sendable { case organization, readOnly, forged, none }

    var testDescription: String { name }
}

let missingGUID = "0f0e0d0c-0b0a-4908-8706-050403020100"

/// Issuer errors, verification errors, routing and body errors, and what each becomes over HTTP.
let errorTable: [ErrorCase] = [
    .init(
        name: "an unknown GUID is 404 not_found", method: .get, path: "/v1/tokens/\(missingGUID)", status: 404,
        error: "not_found", code: "not_found"),
    .init(
        name: "a scope without tokens.create is 403 insufficient_scope naming it", method: .post, path: "/v1/tokens",
        caller: .readOnly, body: #"{"name":"x","audience":"billing","scope":"read-only"}"#, status: 403,
        error: "insufficient_scope", code: "forbidden", field: ("scope", "tokens.create"),
        header: ("WWW-Authenticate", #"Bearer error="insufficient_scope""#)),
    .init(
        name: "a token of another audience is 404, as if it did not exist", method: .get,
        path: "/v1/tokens/\(missingGUID)", caller: .readOnly, status: 404, error: "not_found", code: "not_found"),
    .init(
        name: "a bad audience is 422 invalid_input", method: .post, path: "/v1/tokens",
        body: #"{"name":"x","audience":"bad audience","scope":"all"}"#, status: 422, error: "invalid_input",
        code: "invalid_input"),
    .init(
        name: "a prefix where a GUID goes is 400", method: .get, path: "/v1/tokens/0f0e0d0c", status: 400,
        error: "bad_request"),
    .init(
        name: "an unknown body field is 400", method: .post, path: "/v1/tokens",
        body: #"{"name":"x","audience":"billing","scope":"all","colour":"red"}"#, status: 400, error: "bad_request"),
    .init(
        name: "a body that is not JSON is 400", method: .post, path: "/v1/tokens", body: "{", status: 400,
        error: "bad_request"),
    .init(
        name: "cascade on deactivate is 400 (only revoke cascades)", method: .post,
        path: "/v1/tokens/\(missingGUID)/deactivate", body: #"{"cascade":true}"#, status: 400, error: "bad_request",
        code: "invalid_input"),
    .init(
        name: "no credentials is 401 missing_token with a bare challenge", method: .get, path: "/v1/tokens",
        caller: .none, status: 401, error: "invalid_token", field: ("reason", "missing_token"),
        header: ("WWW-Authenticate", #"Bearer realm="sigil""#)),
    .init(
        name: "a made-up token is 401 malformed", method: .get, path: "/v1/tokens", caller: .forged, status: 401,
        error: "invalid_token", field: ("reason", "malformed"),
        header: ("WWW-Authenticate", #"Bearer error="invalid_token", error_description="malformed""#)),
    .init(
        name: "a known path with another method is 405 with Allow", method: .put, path: "/v1/tokens", status: 405,
        error: "method_not_allowed", header: ("Allow", "GET, POST")),
    .init(
        name: "405 on a captured path lists its methods", method: .put, path: "/v1/tokens/\(missingGUID)",
        status: 405, error: "method_not_allowed", header: ("Allow", "GET, PATCH, DELETE")),
    .init(
        name: "405 on the health route", method: .delete, path: "/v1/health", caller: .none, status: 405,
        error: "method_not_allowed", header: ("Allow", "GET")),
    .init(
        name: "an unknown path is 404 no such route", method: .get, path: "/v1/nothing-here", status: 404,
        error: "not_found"),
]

@Suite("Errors become one status and body: the router's error mapping")
struct ErrorMappingTests {
    @Test("Error table: status, error, code, fields and headers", arguments: errorTable)
    func mapping(_ row: ErrorCase) async throws {
        let server = try ServerHarness()
        let reader = try server.issue("reader", scope: .readOnly)
        let token: String? =
            switch row.caller {
            case .organization: server.orgToken
            case .readOnly: reader
            case .forged: "sgl_not-a-real-token"
            case .none: nil
            }
        try await server.test { client in
            var fields = headers(token: token)
            if row.body != nil { fields[.contentType] = "application/json" }
            let response = try await client.execute(
                uri: row.path, method: row.method, headers: fields, body: row.body.map { ByteBuffer(string: $0) })
            #expect(response.status.code == row.status, "\(String(buffer: response.body))")
            let object = try json(response)
            #expect(object["error"] as? String == row.error)
            #expect((object["message"] as? String)?.isEmpty == false)
            if let code = row.code { #expect(object["code"] as? String == code) }
            if let (name, value) = row.field { #expect(object[name] as? String == value) }
            if let (name, value) = row.header {
                #expect(HTTPField.Name(name).flatMap { response.headers[$0] } == value)
            }
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            if let token { #expect(!String(buffer: response.body).contains(token), "never echo the token") }
        }
    }

    @Test("Every status the issuer's errors map to is the one ErrorContract names")
    func contractStatuses() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let response = try await client.send(.get, "/v1/tokens/\(missingGUID)", token: server.orgToken)
            #expect(Int(response.status.code) == ErrorContract.entry(for: .notFound).httpStatus)
        }
    }

    @Test("A window outside the audience's policy is 422 outside_policy with the policy's fields")
    func outsidePolicy() async throws {
        let server = try ServerHarness()
        let issuer = try Issuer(home: server.root + "/home")
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 3_600, allowNeverExpires: false, by: try Actor(name: "tests"))
        try await server.test { client in
            let response = try await client.send(
                .post, "/v1/tokens", token: server.orgToken,
                json: ["name": "long", "audience": "billing", "scope": "all", "expires_in": "2h"])
            #expect(response.status.code == 422, "\(String(buffer: response.body))")
            let object = try json(response)
            #expect(object["error"] as? String == "outside_policy")
            #expect(object["audience"] as? String == "billing")
            #expect(object["max_lifetime"] as? String == "1h")
            #expect(object["allow_never_expires"] as? String == "false")
        }
    }
}
