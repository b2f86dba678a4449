import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// Console sessions in the ledger (issue #22 item 7): rows any replica reads, holding a hash of
/// the session ID and the token's GUID, never the ID or the token.
@Suite("Console sessions live in the ledger", .bothStores)
struct SessionLedgerTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    /// Issues an organization token at `t0`; returns it and the caller it authenticates as.
    func signingIn(_ name: String = "console", validTo: Int64? = nil) throws -> (IssuedToken, Caller) {
        let expiry: Expiry = validTo.map { .at($0) } ?? .never
        let issued = try issuer.issue(request(name, audience: Caller.organization, expiry: expiry), by: alice, now: t0)
        return (issued, try issuer.authenticate(issued.token, now: t0))
    }

    func open(_ caller: Caller, maxSessions: Int = 100, now: Int64 = t0) throws -> (id: String, session: ConsoleSession)
    {
        try #require(try issuer.openSession(for: caller, maxSessions: maxSessions, now: now))
    }

    @Test("A session row holds the hash of its ID and its token's GUID; another connection serves it")
    func rowHoldsNoSecret() throws {
        let (issued, caller) = try signingIn()
        let (id, session) = try open(caller)
        #expect(id.utf8.count == 43 && session.csrf.utf8.count == 43 && session.csrf != id)
        #expect(session.csrf == Issuer.csrfSecret(ofSession: id))
        let rows = try issuer.store.transaction(write: false) {
            try issuer.store.sessions(of: caller.id, member: false)
        }
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.idHash == Issuer.sessionHash(id) && row.idHash.count == 32)
        #expect(row.idHash != Array(id.utf8) && row.ownerID == issued.record.id)
        #expect(row.createdAt == t0 && row.expiresAt == session.expiresAt)
        // A second issuer on the same ledger (another replica) finds the session by its ID.
        let replica = try temp.issuer(.existing)
        let check = try #require(try replica.checkSession(id, now: t0 + 1))
        #expect(check.session == session)
        #expect(try check.caller.get() == caller)
        #expect(try replica.checkSession(Base64URL.encode([UInt8](repeating: 7, count: 32)), now: t0) == nil)
    }

    @Test("A session acts as exactly its token: the caller built from the ledger equals the token's own")
    func sameCallerAsTheToken() throws {
        let (_, org) = try signingIn("org")
        // A delegated token: custom scope, another audience, its own window and a parent.
        let child = try issuer.issue(
            request(
                "child", audience: "billing", scope: .custom(["invoices.get", "tokens.list"]), validFrom: t0 + 10,
                expiry: .at(t0 + day)),
            as: org, now: t0)
        let caller = try issuer.authenticate(child.token, now: t0 + 20)
        let (id, _) = try open(caller, now: t0 + 20)
        let check = try #require(try issuer.checkSession(id, now: t0 + 30))
        #expect(try check.caller.get() == caller)
        #expect(Caller(record: child.record) == caller)
    }

    @Test(
        "A session ends at its token's valid_to when that comes first, else 8 hours after sign-in; the end is exclusive",
        arguments: [(t0 + 3_600, t0 + 3_600), (nil, t0 + Issuer.sessionLifetime), (t0 + day, t0 + 8 * 3_600)]
            as [(Int64?, Int64)])
    func lifetime(validTo: Int64?, end: Int64) throws {
        let (_, caller) = try signingIn(validTo: validTo)
        let (id, session) = try open(caller)
        #expect(session.expiresAt == end)
        #expect(try issuer.checkSession(id, now: end - 1) != nil, "live until its last second")
        #expect(try issuer.checkSession(id, now: end) == nil, "gone at its end")
        #expect(try issuer.sessionCount() == 0, "an expired session is removed once looked at")
    }

    /// What happens to a signed-in token, and the answer its session then gets.
    enum Change: String, CaseIterable, Sendable {
        case revoke, deactivate, delete, retireKey = "retire its key"
    }

    @Test(
        "A session is refused as its token would be: revoked, deactivated, deleted, key retired",
        arguments: Change.allCases)
    func refusedWithItsToken(change: Change) throws {
        let (issued, caller) = try signingIn()
        let (id, _) = try open(caller)
        let expected: VerificationError.Reason
        switch change {
        case .revoke, .delete:
            _ = try issuer.change(change == .revoke ? .revoke : .delete, [issued.record.id], by: alice, now: t0)
            expected = .revoked
        case .deactivate:
            _ = try issuer.change(.deactivate, [issued.record.id], by: alice, now: t0)
            expected = .deactivated
        case .retireKey:
            _ = try issuer.rotateKey(by: alice, now: t0)
            try issuer.retireKey(issued.record.keyID, by: alice, now: t0)
            expected = .unknownKey
        }
        let bearer = #expect(throws: VerificationError.self) { try issuer.authenticate(issued.token, now: t0 + 1) }
        #expect(bearer?.reason == expected, "the bearer token gets the same answer")
        let check = try #require(try issuer.checkSession(id, now: t0 + 1))
        let refused = #expect(throws: SessionRefusal.self) { try check.caller.get() }
        #expect(refused?.reason == expected.rawValue)
        #expect(try issuer.closeSession(id))
        #expect(try issuer.checkSession(id, now: t0 + 1) == nil)
        #expect(try !issuer.closeSession(id), "closed once")
    }

    @Test("A session of a token not yet valid is refused as not_yet_valid")
    func notYetValid() throws {
        let issued = try issuer.issue(
            request("later", audience: Caller.organization, validFrom: t0 + 100), by: alice, now: t0)
        let (id, _) = try open(Caller(record: issued.record), now: t0)
        let check = try #require(try issuer.checkSession(id, now: t0 + 99))
        let refused = #expect(throws: SessionRefusal.self) { try check.caller.get() }
        #expect(refused?.reason == VerificationError.Reason.notYetValid.rawValue)
        #expect(try issuer.checkSession(id, now: t0 + 100)?.caller.get() == Caller(record: issued.record))
    }

    @Test("A token holds at most 16 sessions: its 17th sign-in ends its own oldest, never another token's")
    func perTokenCap() throws {
        let (_, caller) = try signingIn("busy")
        let (_, other) = try signingIn("other")
        let (otherID, _) = try open(other)
        var ids: [String] = []
        for i in 0..<Issuer.maxSessionsPerToken { ids.append(try open(caller, now: t0 + Int64(i)).id) }
        #expect(try issuer.sessionCount() == Issuer.maxSessionsPerToken + 1)
        let newest = try open(caller, now: t0 + 100).id
        #expect(try issuer.sessionCount() == Issuer.maxSessionsPerToken + 1)
        #expect(try issuer.checkSession(ids[0], now: t0 + 100) == nil, "the oldest ended")
        for id in [ids[1], newest, otherID] { #expect(try issuer.checkSession(id, now: t0 + 100) != nil) }
    }

    @Test("A full ledger refuses a sign-in and signs nobody out; expired sessions make room")
    func globalCap() throws {
        let (_, a) = try signingIn("a")
        let (_, b) = try signingIn("b")
        let first = try open(a, maxSessions: 2).id
        _ = try open(a, maxSessions: 2)
        #expect(try issuer.openSession(for: b, maxSessions: 2, now: t0) == nil)
        #expect(try issuer.checkSession(first, now: t0) != nil)
        let later = t0 + Issuer.sessionLifetime
        let (fresh, _) = try open(b, maxSessions: 2, now: later)
        #expect(try issuer.sessionCount() == 1, "the sign-in purged the expired rows")
        #expect(try issuer.checkSession(fresh, now: later) != nil)
    }

    @Test("A token and a member never share a GUID; on a ledger where they do, their sessions stay apart")
    func tokenAndMemberGUIDsApart() throws {
        let ada = try issuer.addMember(
            MemberRequest(email: "ada@example.com", name: "Ada", audience: "sigil", scope: .all), by: alice, now: t0)
        var chosen = request("same GUID", audience: Caller.organization, expiry: .never)
        chosen.guid = ada.id
        let used = #expect(throws: IssuerError.self) { try issuer.issue(chosen, by: alice, now: t0) }
        #expect(used?.reason == .conflict)
        let (issued, caller) = try signingIn()
        var same = MemberRequest(email: "bob@example.com", name: "Bob", audience: "sigil", scope: .all)
        same.id = issued.record.id
        let taken = #expect(throws: IssuerError.self) { try issuer.addMember(same, by: alice, now: t0) }
        #expect(taken?.reason == .conflict)
        // A ledger written before the rule: a member holds a token's GUID.
        let twin = Member(
            id: issued.record.id, email: "twin@example.com", name: "Twin", audience: "sigil", scope: .all,
            status: .active, createdBy: "alice", createdAt: t0)
        try issuer.store.transaction(write: true) { try issuer.store.insertMember(twin) }
        let member = try #require(try issuer.openMemberSession(email: twin.email, maxSessions: 100, now: t0))
        for n in 0..<Issuer.maxSessionsPerToken { _ = try open(caller, now: t0 + 1 + Int64(n)) }
        #expect(try issuer.checkSession(member.id, now: t0 + 100) != nil, "the token's sign-ins left the member's")
        let rows = try issuer.store.transaction(write: false) {
            (
                try issuer.store.sessions(of: twin.id, member: true),
                try issuer.store.sessions(of: twin.id, member: false)
            )
        }
        #expect(rows.0.count == 1 && rows.1.count == Issuer.maxSessionsPerToken)
    }
}
