import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SigilServer
import SigilVerifier
import Testing

/// The cookie pair `sigil_session=<id>` from a sign-in's `Set-Cookie`.
func sessionCookie(_ response: TestResponse) throws -> String {
    let setCookie = try #require(response.headers[.setCookie], "no Set-Cookie")
    return String(try #require(setCookie.split(separator: ";").first))
}

extension TestClientProtocol {
    /// Signs in with `token`; returns the cookie pair and the CSRF secret.
    func signIn(_ token: String) async throws -> (cookie: String, csrf: String) {
        let response = try await send(.post, "/v1/session", json: ["token": token])
        try #require(response.status == .created, "\(String(buffer: response.body))")
        let csrf = try #require(try json(response)["csrf_token"] as? String)
        return (try sessionCookie(response), csrf)
    }
}

@Suite("Console sessions: sign-in, CSRF, guessed cookies and the per-token cap")
struct SessionTests {
    @Test("Sign-in sets an HttpOnly SameSite=Strict cookie; the session then stands in for the token")
    func signIn() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let response = try await client.send(.post, "/v1/session", json: ["token": server.orgToken])
            #expect(response.status == .created)
            let setCookie = try #require(response.headers[.setCookie])
            #expect(setCookie.hasPrefix("sigil_session="))
            #expect(
                setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/"))
            #expect(!String(buffer: response.body).contains(server.orgToken), "the token never goes back")
            let object = try json(response)
            #expect(object["guid"] as? String == server.orgID.description)
            let cookie = try sessionCookie(response)
            let show = try await client.send(.get, "/v1/session", headers: [("Cookie", cookie)])
            #expect(show.status == .ok)
            #expect(try json(show)["guid"] as? String == server.orgID.description)
            let list = try await client.send(.get, "/v1/tokens", headers: [("Cookie", cookie)])
            #expect(list.status == .ok, "a safe method needs no CSRF header")
        }
    }

    @Test("A state-changing request of a session needs its CSRF header: missing or wrong is 403 csrf_failed")
    func csrf() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let (cookie, csrf) = try await client.signIn(server.orgToken)
            let create: [String: Any] = ["name": "from console", "audience": "billing", "scope": "read-only"]
            for extra in [[], [("X-CSRF-Token", "wrong")], [("X-CSRF-Token", csrf), ("X-CSRF-Token", csrf)]] {
                let refused = try await client.send(
                    .post, "/v1/tokens", headers: [("Cookie", cookie)] + extra, json: create)
                #expect(refused.status == .forbidden)
                #expect(try json(refused)["error"] as? String == "csrf_failed")
            }
            let created = try await client.send(
                .post, "/v1/tokens", headers: [("Cookie", cookie), ("X-CSRF-Token", csrf)], json: create)
            #expect(created.status == .created, "\(String(buffer: created.body))")
            // Sign out ends the session: the same cookie is then 401 session_expired.
            let out = try await client.send(
                .delete, "/v1/session", headers: [("Cookie", cookie), ("X-CSRF-Token", csrf)])
            #expect(out.status == .noContent)
            let after = try await client.send(.get, "/v1/tokens", headers: [("Cookie", cookie)])
            #expect(after.status == .unauthorized)
            #expect(try json(after)["reason"] as? String == "session_expired")
        }
        // The CSRF failures were not authentication failures: nothing was charged.
        #expect(server.app.limiter.retryAfter("unknown") == nil)
    }

    @Test(
        "A guessed session cookie costs the failed-authentication budget",
        .bug(id: "21-6", "that a guessed cookie is charged had no test"))
    func guessedCookie() async throws {
        let server = try ServerHarness(limiter: FailedAuthLimiter(burst: 3, refillPerSecond: 0.001))
        try await server.test { client in
            for attempt in 1...3 {
                let guess = try await client.send(
                    .get, "/v1/tokens", headers: [("Cookie", "sigil_session=guess\(attempt)")])
                #expect(guess.status == .unauthorized)
                #expect(try json(guess)["reason"] as? String == "session_expired")
            }
            let limited = try await client.send(.get, "/v1/tokens", headers: [("Cookie", "sigil_session=guess4")])
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
            // The right token is never refused by the limit.
            let good = try await client.send(.get, "/v1/tokens", token: server.orgToken)
            #expect(good.status == .ok)
        }
    }

    @Test("A failed sign-in costs the budget; a good one never meets it")
    func signInCharges() async throws {
        let server = try ServerHarness(limiter: FailedAuthLimiter(burst: 2, refillPerSecond: 0.001))
        try await server.test { client in
            for _ in 1...2 {
                let bad = try await client.send(.post, "/v1/session", json: ["token": "sgl_guess"])
                #expect(bad.status == .unauthorized)
            }
            let limited = try await client.send(.post, "/v1/session", json: ["token": "sgl_guess"])
            #expect(limited.status == .tooManyRequests)
            _ = try await client.signIn(server.orgToken)
        }
    }

    @Test("A token holds at most 16 sessions: its 17th sign-in ends its oldest, never another token's")
    func perTokenCap() async throws {
        let server = try ServerHarness()
        let other = try server.issue("other", audience: "sigil")
        try await server.test { client in
            let (otherCookie, _) = try await client.signIn(other)
            var cookies: [String] = []
            for _ in 0..<SessionStore.maxSessionsPerToken {
                cookies.append(try await client.signIn(server.orgToken).cookie)
            }
            #expect(server.app.sessions.count == SessionStore.maxSessionsPerToken + 1)
            let newest = try await client.signIn(server.orgToken).cookie
            #expect(server.app.sessions.count == SessionStore.maxSessionsPerToken + 1)
            let oldest = try await client.send(.get, "/v1/session", headers: [("Cookie", cookies[0])])
            #expect(oldest.status == .unauthorized, "the oldest session ended")
            for cookie in [cookies[1], newest, otherCookie] {
                let live = try await client.send(.get, "/v1/session", headers: [("Cookie", cookie)])
                #expect(live.status == .ok)
            }
        }
    }

    @Test("When the store is full, a sign-in is refused with 503 and Retry-After; nobody is signed out")
    func storeFull() async throws {
        let server = try ServerHarness(maxSessions: 2)
        let other = try server.issue("other", audience: "sigil")
        try await server.test { client in
            let first = try await client.signIn(server.orgToken).cookie
            _ = try await client.signIn(server.orgToken)
            let refused = try await client.send(.post, "/v1/session", json: ["token": other])
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == "60")
            let answer = try await client.send(.get, "/v1/session", headers: [("Cookie", first)])
            #expect(answer.status == .ok)
        }
    }
}
