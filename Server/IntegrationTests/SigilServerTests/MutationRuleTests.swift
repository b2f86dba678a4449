import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SigilIssuer
import SigilServer
import SigilVerifier
import Testing

// Rules that survivors of the mutation pass (scripts/mutation.sh, docs/DESIGN.md "Mutation pass
// (#21)") showed no test stated: how long a console session lives, when it ends, which methods
// need its CSRF header, what a boolean query value is, and what a closed broadcaster does.

/// The fixed clock of the session-store tests.
private let t0: Int64 = 1_800_000_000

@Suite("A console session lives no longer than its token, and ends with it")
struct SessionLifetimeRuleTests {
    func caller(validTo: Int64?) -> Caller {
        Caller(id: TokenMinter.newTokenID(), audience: Caller.organization, scope: .all, validTo: validTo)
    }

    @Test(
        "A session ends at its token's valid_to when that comes first, else 8 hours after sign-in; the end is exclusive",
        .bug(id: "21-6", "a session outliving its token's valid_to, or its last second, went unnoticed"),
        arguments: [(t0 + 3_600, t0 + 3_600), (nil, t0 + SessionStore.maxLifetime), (t0 + 86_400, t0 + 8 * 3_600)]
            as [(Int64?, Int64)])
    func lifetime(validTo: Int64?, end: Int64) async throws {
        let server = try ServerHarness()
        let store = SessionStore(issuer: server.app.issuer)
        let (id, session) = try await store.open(caller: caller(validTo: validTo), now: t0)
        #expect(session.expiresAt == end)
        #expect(try await store.session(id, now: end - 1) != nil, "live until its last second")
        #expect(try await store.session(id, now: end) == nil, "gone at its end")
        #expect(try await store.sessionCount() == 0, "an expired session is forgotten once looked at")
    }

    @Test(
        "Expired sessions make room: a store full of them takes a new sign-in; a full store of live ones does not",
        .bug(id: "21-6", "that a full store drops its expired sessions first had no test"))
    func expiredMakeRoom() async throws {
        let server = try ServerHarness()
        let store = SessionStore(issuer: server.app.issuer, maxSessions: 1)
        _ = try await store.open(caller: caller(validTo: nil), now: t0)
        let later = t0 + SessionStore.maxLifetime
        let (id, _) = try await store.open(caller: caller(validTo: nil), now: later)
        #expect(try await store.session(id, now: later) != nil)
        let refused = await #expect(throws: APIError.self) {
            _ = try await store.open(caller: caller(validTo: nil), now: later)
        }
        #expect(refused?.status == .serviceUnavailable)
    }

    @Test(
        "A session whose token is revoked is refused as revoked once, then is gone (session_expired)",
        .bug(id: "21-6", "that a refused token closes its session had no test"))
    func revokedTokenEndsSession() async throws {
        let server = try ServerHarness()
        let token = try server.issue("console", audience: Caller.organization)
        let id = try TokenClaims.decodeUnverified(token).id
        try await server.test { client in
            let (cookie, _) = try await client.signIn(token)
            let before = try await client.send(.get, "/v1/tokens", headers: [("Cookie", cookie)])
            #expect(before.status == .ok)
            let issuer = try Issuer(home: server.root + "/home")
            _ = try issuer.change(.revoke, [id], by: try Actor(name: "tests"))
            let refused = try await client.send(.get, "/v1/tokens", headers: [("Cookie", cookie)])
            #expect(refused.status == .unauthorized)
            #expect(try json(refused)["reason"] as? String == "revoked")
            #expect(try await server.app.sessions.sessionCount() == 0, "the session ended with its token")
            let after = try await client.send(.get, "/v1/tokens", headers: [("Cookie", cookie)])
            #expect(after.status == .unauthorized)
            #expect(try json(after)["reason"] as? String == "session_expired")
        }
    }

    @Test(
        "Every state-changing method of a session needs the CSRF header, DELETE included; GET does not",
        .bug(id: "21-6", "a sign-out (DELETE) without the CSRF header went unnoticed"))
    func deleteNeedsCSRF() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let (cookie, csrf) = try await client.signIn(server.orgToken)
            let safe = try await client.send(.get, "/v1/session", headers: [("Cookie", cookie)])
            #expect(safe.status == .ok, "a safe method needs no CSRF header")
            let refused = try await client.send(.delete, "/v1/session", headers: [("Cookie", cookie)])
            #expect(refused.status == .forbidden)
            #expect(try json(refused)["error"] as? String == "csrf_failed")
            let still = try await client.send(.get, "/v1/session", headers: [("Cookie", cookie)])
            #expect(still.status == .ok, "the refused sign-out ended nothing")
            let out = try await client.send(
                .delete, "/v1/session", headers: [("Cookie", cookie), ("X-CSRF-Token", csrf)])
            #expect(out.status == .noContent)
        }
    }
}

@Suite("A boolean query value is exactly true or false")
struct BooleanQueryRuleTests {
    @Test(
        "Anything but true or false is 400, naming the parameter",
        .bug(id: "21-6", "a boolean parser taking 1 for true went unnoticed"),
        arguments: ["1", "0", "TRUE", "True", "yes", "", "true%20"])
    func refused(value: String) async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let response = try await client.send(.get, "/v1/tokens?violating_policy=\(value)", token: server.orgToken)
            #expect(response.status == .badRequest, "\(String(buffer: response.body))")
            #expect((try json(response)["message"] as? String)?.contains("violating_policy") == true)
        }
    }
}

@Suite("A closed broadcaster answers every later wait at once")
struct ClosedBroadcasterRuleTests {
    @Test(
        "After close, a wait returns long before its timeout",
        .bug(id: "21-6", "a long poll after shutdown waiting out its timeout went unnoticed"))
    func waitAfterClose() async {
        let broadcaster = RevocationBroadcaster()
        broadcaster.publish(PublishedList(sequence: 1, bytes: [1]))
        broadcaster.close()
        let started = ContinuousClock.now
        await broadcaster.wait(newerThan: 1, timeout: .seconds(5))
        #expect(ContinuousClock.now - started < .seconds(4))
        #expect(broadcaster.waiterCount == 0)
    }
}
