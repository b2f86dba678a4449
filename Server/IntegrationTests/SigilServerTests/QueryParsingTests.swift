import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SigilServer
import Testing

@Suite("Query strings are parsed strictly: unknown names, bounds and repeats are 400")
struct QueryParsingTests {
    @Test(
        "Refused query strings name the problem",
        arguments: [
            ("/v1/tokens?stauts=revoked", "unknown query parameter stauts"),
            ("/v1/tokens?status=active&status=revoked", "give status at most once"),
            ("/v1/tokens?limit=10&limit=10", "give limit at most once"),
            ("/v1/tokens?status=gone", "status must be one of"),
            ("/v1/tokens?limit=0", "limit"),
            ("/v1/tokens?limit=1001", "limit"),
            ("/v1/tokens?limit=-1", "limit"),
            ("/v1/tokens?limit=ten", "limit"),
            ("/v1/tokens?violating_policy=yes", "violating_policy must be true or false"),
            ("/v1/tokens?name=%ZZ", "malformed %-escape"),
            ("/v1/tokens?name=abc%", "malformed %-escape"),
            ("/v1/tokens?name=%4", "malformed %-escape"),
            ("/v1/tokens?name=%FF", "malformed %-escape"),
            ("/v1/tokens?name=%C3", "malformed %-escape"),
            ("/v1/tokens?cursor=not-a-cursor", "cursor"),
            ("/v1/audit?action=explode", "action must be one of"),
            ("/v1/audit?since=yesterday", "since"),
            ("/v1/audit?status=active", "unknown query parameter status"),
            ("/v1/catalog?x=1", "this route takes none"),
            ("/v1/health?verbose=1", "this route takes none"),
        ])
    func refused(uri: String, says: String) async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let response = try await client.send(.get, uri, token: server.orgToken)
            #expect(response.status == .badRequest, "\(String(buffer: response.body))")
            let object = try json(response)
            #expect(object["error"] as? String == "bad_request")
            #expect((object["message"] as? String)?.contains(says) == true, "\(object["message"] ?? "")")
        }
    }

    @Test(
        "Accepted query strings: bounds included, form encoding decoded",
        arguments: [
            "/v1/tokens?limit=1", "/v1/tokens?limit=1000", "/v1/tokens?status=active&sort=name",
            "/v1/tokens?name=organization", "/v1/tokens?name=organ%69zation", "/v1/tokens?violating_policy=false",
            "/v1/tokens?", "/v1/audit?limit=1000&action=issue", "/v1/catalog",
        ])
    func accepted(uri: String) async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let response = try await client.send(.get, uri, token: server.orgToken)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
        }
    }

    @Test("A name filter decodes %XX and + before matching")
    func decoding() async throws {
        let server = try ServerHarness()
        _ = try server.issue("ci deploy")
        try await server.test { client in
            for uri in ["/v1/tokens?name=ci+deploy", "/v1/tokens?name=ci%20deploy"] {
                let object = try json(try await client.send(.get, uri, token: server.orgToken))
                let names = (object["tokens"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == ["ci deploy"], "\(uri)")
            }
        }
    }

    @Test("A method the path does not take is 405 even with an unknown parameter; an unknown path stays 404")
    func orderOfChecks() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let wrongMethod = try await client.send(.put, "/v1/tokens?stauts=1", token: server.orgToken)
            #expect(wrongMethod.status == .methodNotAllowed)
            let noRoute = try await client.send(.get, "/v1/nowhere?x=1", token: server.orgToken)
            #expect(noRoute.status == .notFound)
        }
    }

    @Test("Unknown parameters are refused before authentication costs anything")
    func beforeAuthentication() async throws {
        // One try in the bucket: a single charge would empty it.
        let server = try ServerHarness(limiter: FailedAuthLimiter(burst: 1, refillPerSecond: 0.001))
        try await server.test { client in
            let response = try await client.send(.get, "/v1/tokens?stauts=1")
            #expect(response.status == .badRequest)
        }
        #expect(server.app.limiter.retryAfter("unknown") == nil)
    }
}
