import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SigilServer
import Testing

@Suite("The failed-authentication limiter charges failures only, per client")
struct FailedAuthLimiterTests {
    @Test("Only failures are charged: any number of good requests leaves the bucket full")
    func onlyFailures() async throws {
        let server = try ServerHarness(limiter: FailedAuthLimiter(burst: 1, refillPerSecond: 0.001))
        try await server.test { client in
            for _ in 0..<5 {
                let answer = try await client.send(.get, "/v1/catalog", token: server.orgToken)
                #expect(answer.status == .ok)
            }
        }
        #expect(server.app.limiter.retryAfter("unknown") == nil)
    }

    @Test(
        "Once the budget is spent, failures are 429 with Retry-After, and a valid token is still never refused",
        arguments: [
            [("Authorization", "Bearer sgl_wrong")], [("Authorization", "Basic dXNlcjpwYXNz")], [],
            [("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
        ])
    func validNeverRefused(failing: [(String, String)]) async throws {
        let server = try ServerHarness(limiter: FailedAuthLimiter(burst: 2, refillPerSecond: 0.001))
        try await server.test { client in
            for _ in 0..<2 {
                let failed = try await client.send(.get, "/v1/catalog", headers: failing)
                #expect([400, 401].contains(failed.status.code))
            }
            let limited = try await client.send(.get, "/v1/catalog", headers: failing)
            #expect(limited.status == .tooManyRequests)
            #expect(try json(limited)["error"] as? String == "too_many_requests")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            let answer = try await client.send(.get, "/v1/catalog", token: server.orgToken)
            #expect(answer.status == .ok)
        }
    }

    @Test("Buckets are per client; a full one is forgotten first when too many are held")
    func perClient() throws {
        let limiter = FailedAuthLimiter(burst: 1, refillPerSecond: 0.001, maxAddresses: 2)
        try limiter.chargeFailure("10.0.0.1")
        #expect(throws: APIError.self) { try limiter.chargeFailure("10.0.0.1") }
        #expect(limiter.retryAfter("10.0.0.1") != nil)
        #expect(limiter.retryAfter("10.0.0.2") == nil)
        try limiter.chargeFailure("10.0.0.2")
        limiter.recordFailure("10.0.0.3")
        // Three empty buckets over a bound of two: the oldest goes.
        #expect(limiter.retryAfter("10.0.0.1") == nil)
        #expect(limiter.retryAfter("10.0.0.3") != nil)
    }

    @Test("A spent try comes back at the refill rate")
    func refill() throws {
        let limiter = FailedAuthLimiter(burst: 1, refillPerSecond: 1_000_000)
        limiter.recordFailure("10.0.0.1")
        // A microsecond later the try is back: no wait is needed at this rate.
        try limiter.chargeFailure("10.0.0.1")
    }

    /// Spends the budget of the client behind `forwardedFor`, then asks as `other`.
    func spend(trusted: [String], forwardedFor: String, other: String) async throws -> (
        HTTPResponse.Status, ServerHarness
    ) {
        let server = try ServerHarness(
            limiter: FailedAuthLimiter(burst: 2, refillPerSecond: 0.001), trustedProxies: trusted)
        let status = try await server.test(.live) { client in
            for _ in 0..<3 {
                _ = try await client.send(
                    .get, "/v1/catalog", token: "sgl_wrong", headers: [("X-Forwarded-For", forwardedFor)])
            }
            return try await client.send(.get, "/v1/catalog", token: "sgl_wrong", headers: [("X-Forwarded-For", other)])
                .status
        }
        return (status, server)
    }

    @Test("X-Forwarded-For names the client only when the peer is a trusted proxy")
    func forwardedFor() async throws {
        // Trusted: each forwarded client has its own budget.
        let (trusted, server) = try await spend(trusted: ["127.0.0.1/32"], forwardedFor: "10.0.0.1", other: "10.0.0.2")
        #expect(trusted == .unauthorized)
        #expect(server.app.limiter.retryAfter("10.0.0.1") != nil)
        #expect(server.app.limiter.retryAfter("127.0.0.1") == nil)
        // Untrusted: the header is ignored and the peer's one budget is spent.
        let (untrusted, other) = try await spend(trusted: [], forwardedFor: "10.0.0.1", other: "10.0.0.2")
        #expect(untrusted == .tooManyRequests)
        #expect(other.app.limiter.retryAfter("127.0.0.1") != nil)
        #expect(other.app.limiter.retryAfter("10.0.0.1") == nil)
        // Trusted, but another proxy's range: still ignored.
        let (elsewhere, _) = try await spend(trusted: ["192.0.2.0/24"], forwardedFor: "10.0.0.1", other: "10.0.0.2")
        #expect(elsewhere == .tooManyRequests)
    }
}
