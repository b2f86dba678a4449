import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SigilHummingbird
import SigilIssuer
import SigilVerifier
import Testing

extension Permission {
    static let listDevices = Permission(literal: "devices.list", access: .read)
    static let deleteDevice = Permission(literal: "devices.delete", access: .write)
}

/// The middleware over real HTTP (HummingbirdTesting's live mode: a server on 127.0.0.1).
@Suite("Bearer middleware")
struct BearerMiddlewareTests {
    let fixture: Fixture
    let store: RevocationStore
    let verifier: Verifier
    let capture = LogCapture()

    init() throws {
        fixture = try Fixture()
        store = RevocationStore(keys: fixture.keyset.revocationKeys)
        verifier = try Verifier(keyset: fixture.keyset, revocations: store)
    }

    /// Two routes with their own permission, and one that reads the token from the context.
    func app() -> some ApplicationProtocol {
        let router = Router(context: BasicSigilRequestContext.self)
        router.requiring(.listDevices, verifier: verifier).get("devices") { _, context in
            context.logger.info("listing devices")
            return "devices for \(try context.requireToken().id)"
        }
        router.requiring(.deleteDevice, verifier: verifier).delete("devices/:id") { _, _ in
            HTTPResponse.Status.noContent
        }
        router.group().add(middleware: SigilBearerMiddleware(verifier: verifier)).get("whoami") { _, context in
            "\(context.token?.id.description ?? "none")"
        }
        router.get("unguarded") { _, context in
            (try? context.requireToken()) == nil ? "no token" : "token"
        }
        return Application(router: router, logger: capture.logger("app"))
    }

    struct Answer {
        let status: HTTPResponse.Status
        let challenge: String?
        let body: String
    }

    func send(
        _ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .get, authorization: [String]
    )
        async throws -> Answer
    {
        var headers = HTTPFields()
        for value in authorization { headers.append(HTTPField(name: .authorization, value: value)) }
        return try await client.execute(uri: uri, method: method, headers: headers) { response in
            Answer(
                status: response.status, challenge: response.headers[.wwwAuthenticate],
                body: String(buffer: response.body))
        }
    }

    @Test("A valid token with the permission reaches the route, with the token in the context")
    func accepted() async throws {
        let id = TokenMinter.newTokenID()
        let token = try fixture.token(id: id, scope: .custom(["devices.list"]))
        try await app().test(.live) { client in
            let answer = try await send(client, "/devices", authorization: ["Bearer \(token)"])
            #expect(answer.status == .ok)
            #expect(answer.body == "devices for \(id)")
            let whoami = try await send(client, "/whoami", authorization: ["bearer  \(token)"])
            #expect(whoami.status == .ok)
            #expect(whoami.body == id.description)
        }
        // The route's own log lines carry the token's GUID, put there by the middleware.
        #expect(capture.all.contains { $0.message == "listing devices" && $0.metadata["token_id"] == id.description })
        #expect(!capture.all.contains { $0.text.contains(token) })
    }

    @Test("A valid token without the route's permission gets 403 insufficient_scope")
    func forbidden() async throws {
        let token = try fixture.token(scope: .custom(["devices.list"]))
        try await app().test(.live) { client in
            let answer = try await send(client, "/devices/d1", method: .delete, authorization: ["Bearer \(token)"])
            #expect(answer.status == .forbidden)
            #expect(answer.challenge == #"Bearer error="insufficient_scope", scope="devices.delete""#)
            #expect(
                answer.body == #"{"error":"insufficient_scope","reason":"scope_not_granted","scope":"devices.delete"}"#)
            // The same token on its own route is fine: the permission is per route.
            #expect(try await send(client, "/devices", authorization: ["Bearer \(token)"]).status == .ok)
        }
    }

    @Test(
        "No credentials, or another scheme, get a bare Bearer challenge",
        arguments: [[], ["Basic dXNlcjpwYXNz"], ["Bearertoken"]])
    func missing(authorization: [String]) async throws {
        try await app().test(.live) { client in
            let answer = try await send(client, "/devices", authorization: authorization)
            #expect(answer.status == .unauthorized)
            #expect(answer.challenge == "Bearer")
            #expect(answer.body == #"{"error":"missing_token"}"#)
        }
    }

    @Test(
        "Malformed Bearer credentials or two Authorization headers are 400 invalid_request",
        arguments: [
            ["Bearer"], ["Bearer a b"], ["Bearer sgl_x=y"], ["Bearer sgl_a,b"], ["Bearer sgl_a", "Bearer sgl_b"],
        ])
    func invalidRequest(authorization: [String]) async throws {
        try await app().test(.live) { client in
            let answer = try await send(client, "/devices", authorization: authorization)
            #expect(answer.status == .badRequest)
            #expect(answer.challenge == #"Bearer error="invalid_request""#)
            #expect(answer.body.contains("invalid_request"))
        }
    }

    @Test("Each refused token gets 401 invalid_token with its reason code, never echoed")
    func refused() async throws {
        let now = Int64(Date().timeIntervalSince1970)
        let valid = try fixture.token()
        var forged = Array(valid.utf8)
        let i = forged.count - 10
        forged[i] = forged[i] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let revokedID = TokenMinter.newTokenID()
        let deactivatedID = TokenMinter.newTokenID()
        try store.load(bytes: try fixture.list([(revokedID, .revoked), (deactivatedID, .deactivated)], sequence: 1))
        let cases: [(String, String)] = [
            ("not-a-sigil-token", "malformed"),
            ("sgl_AAAA=", "malformed"),
            (String(decoding: forged, as: UTF8.self), "bad_signature"),
            (try fixture.token(audience: "billing"), "wrong_audience"),
            (try fixture.token(validFrom: now - 7_200, validTo: now - 3_600), "expired"),
            (try fixture.token(validFrom: now + 3_600, validTo: now + 7_200), "not_yet_valid"),
            (try fixture.token(id: revokedID), "revoked"),
            (try fixture.token(id: deactivatedID), "deactivated"),
        ]
        try await app().test(.live) { client in
            for (token, reason) in cases {
                let answer = try await send(client, "/devices", authorization: ["Bearer \(token)"])
                #expect(answer.status == .unauthorized, "\(reason)")
                #expect(answer.challenge == #"Bearer error="invalid_token", error_description="\#(reason)""#)
                #expect(answer.body == #"{"error":"invalid_token","reason":"\#(reason)"}"#)
                #expect(!answer.body.contains(token))
            }
        }
        for (token, _) in cases { #expect(!capture.all.contains { $0.text.contains(token) }) }
        #expect(capture.all.contains { $0.message == "refused token" && $0.metadata["reason"] == "revoked" })
    }

    @Test("A stale list under a fail-closed policy is 503, not a challenge")
    func stale() async throws {
        let closed = RevocationStore(keys: fixture.keyset.revocationKeys, noListPolicy: .failClosed)
        let verifier = try Verifier(keyset: fixture.keyset, revocations: closed)
        let router = Router(context: BasicSigilRequestContext.self)
        router.requiring(nil, verifier: verifier).get("devices") { _, _ in "ok" }
        let token = try fixture.token()
        try await Application(router: router).test(.live) { client in
            let answer = try await send(client, "/devices", authorization: ["Bearer \(token)"])
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.challenge == nil)
            #expect(answer.body == #"{"error":"temporarily_unavailable","reason":"revocations_stale"}"#)
        }
    }

    @Test("A route without the middleware sees no token, and requireToken refuses")
    func unguarded() async throws {
        let token = try fixture.token()
        try await app().test(.live) { client in
            let answer = try await send(client, "/unguarded", authorization: ["Bearer \(token)"])
            #expect(answer.body == "no token")
        }
    }
}
