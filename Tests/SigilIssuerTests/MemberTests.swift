import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// Members in the ledger (issue #25 item 1): people with rights written like a token's grant,
/// managed by the local operator or through the API, every change audited.
@Suite("Members", .bothStores)
struct MemberTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func add(
        _ email: String = "ada@example.com", name: String = "Ada", audience: String = Caller.organization,
        scope: ScopeRequest = .all, now: Int64 = t0
    ) throws -> Member {
        try issuer.addMember(
            MemberRequest(email: email, name: name, audience: audience, scope: scope), by: alice, now: now)
    }

    /// A token caller issued by alice at `t0`.
    func tokenCaller(
        audience: String = Caller.organization, scope: ScopeRequest = .all, expiry: Expiry = .never
    ) throws -> Caller {
        let issued = try issuer.issue(
            request("caller", audience: audience, scope: scope, expiry: expiry), by: alice, now: t0)
        return try issuer.authenticate(issued.token, now: t0)
    }

    @Test("A member is stored with its email lower-cased, a v4 ID, its rights and who added it")
    func addStores() throws {
        let member = try add("Ada.Lovelace+Ops@Example.COM", audience: "billing", scope: .custom(["devices.*"]))
        #expect(member.email == "ada.lovelace+ops@example.com")
        #expect(member.id.description.dropFirst(14).first == "4")
        #expect(
            member.scope
                == .custom(["devices.create", "devices.delete", "devices.get", "devices.list", "devices.update"]))
        #expect(member.status == .active && member.createdBy == "alice" && member.createdAt == t0)
        #expect(member.lastSignInAt == nil)
        #expect(try issuer.member(member.id.description) == member)
        #expect(try issuer.member("ADA.lovelace+ops@example.com") == member)
        #expect(try issuer.member(member.id.description.replacingOccurrences(of: "-", with: "")) == member)
        // Another connection (a replica) reads the same row.
        #expect(try temp.issuer(.existing).member(member.id.description) == member)
    }

    @Test("An email already a member's, in any case, is a conflict; nothing is added")
    func duplicateEmail() throws {
        _ = try add("ada@example.com")
        let error = #expect(throws: IssuerError.self) { try add("ADA@Example.com", name: "Other Ada") }
        #expect(error?.reason == .conflict)
        #expect(error?.detail == .memberExists(email: "ada@example.com"))
        #expect(try issuer.memberCount() == 1)
    }

    @Test(
        "Bad emails are refused as invalid_input naming the field",
        arguments: [
            "", "ada", "ada@", "@example.com", "ada@example", "ada@@example.com", "ada example@example.com",
            "ada@exa_mple.com", "ada@-example.com", "ada@example..com", "ädä@example.com", "ada\n@example.com",
            "a\u{1b}[31m@example.com", String(repeating: "a", count: 65) + "@example.com",
            "ada@" + String(repeating: "a", count: 250) + ".com", "\"ada\"@example.com",
        ])
    func badEmail(email: String) throws {
        let error = #expect(throws: IssuerError.self) { try add(email) }
        #expect(error?.reason == .invalidInput)
        #expect(isInvalidLabel(error, field: "email"))
        #expect(try issuer.memberCount() == 0)
    }

    @Test("Bad names, audiences and scope pairs are refused; nothing is added")
    func badValues() throws {
        for (name, audience, scope, field) in [
            ("", "sigil", ScopeRequest.all, "name"), ("a\u{202E}b", "sigil", .all, "name"),
            ("Ada", "Bad Audience", .all, "audience"), ("Ada", "sigil", .custom(["nope.nope"]), "scope"),
        ] {
            let error = #expect(throws: IssuerError.self, "\(field)") {
                try add(name: name, audience: audience, scope: scope)
            }
            #expect(error?.reason == .invalidInput, "\(field)")
        }
        #expect(try issuer.memberCount() == 0)
    }

    @Test("Unknown IDs and emails are not_found; a selector that is neither is invalid_input")
    func unknown() throws {
        _ = try add()
        for selector in [TokenMinter.newTokenID().description, "bob@example.com"] {
            for run in [
                { _ = try issuer.member(selector) }, { _ = try issuer.removeMember(selector, by: alice) },
                { _ = try issuer.suspendMember(selector, by: alice) },
                { _ = try issuer.activateMember(selector, by: alice) },
                { _ = try issuer.editMember(selector, MemberEdit(name: "X"), by: alice) },
            ] as [() throws -> Void] {
                let error = #expect(throws: IssuerError.self) { try run() }
                #expect(error?.reason == .notFound)
                #expect(error?.detail == .memberNotFound(selector))
            }
        }
        let error = #expect(throws: IssuerError.self) { try issuer.member("ada") }
        #expect(error?.reason == .invalidInput)
    }

    @Test("Listing pages in the order members were added, filtered by status")
    func listing() throws {
        let emails = (0..<5).map { "m\($0)@example.com" }
        for email in emails { _ = try add(email) }
        _ = try issuer.suspendMember("m1@example.com", by: alice, now: t0 + 1)
        _ = try issuer.suspendMember("m3@example.com", by: alice, now: t0 + 1)
        let first = try issuer.members(page: PageRequest(limit: 2, cursor: nil))
        #expect(first.items.map(\.email) == ["m0@example.com", "m1@example.com"] && first.nextCursor == "2")
        let second = try issuer.members(page: PageRequest(limit: 2, cursor: first.nextCursor))
        #expect(second.items.map(\.email) == ["m2@example.com", "m3@example.com"])
        let last = try issuer.members(page: PageRequest(limit: 2, cursor: second.nextCursor))
        #expect(last.items.map(\.email) == ["m4@example.com"] && last.nextCursor == nil)
        let suspended = try issuer.members(status: .suspended, page: PageRequest())
        #expect(suspended.items.map(\.email) == ["m1@example.com", "m3@example.com"])
        #expect(try issuer.members(status: .active, page: PageRequest()).items.count == 3)
    }

    @Test("Edit changes name, audience and scope; an empty edit is invalid_input; each change is one event")
    func edit() throws {
        let member = try add()
        let edited = try issuer.editMember(
            member.email, MemberEdit(name: "Ada L.", audience: "billing", scope: .readOnly), by: alice, now: t0 + 5)
        #expect(edited.name == "Ada L." && edited.audience == "billing" && edited.scope == .readOnly)
        #expect(edited.updatedAt == t0 + 5 && edited.createdAt == t0)
        #expect(try issuer.member(member.email) == edited)
        let error = #expect(throws: IssuerError.self) { try issuer.editMember(member.email, MemberEdit(), by: alice) }
        #expect(error?.reason == .invalidInput)
        let events = try issuer.events(.member)
        #expect(events.count == 2)
        let details = try #require(events.first).detailsJSON
        #expect(details.contains(#""change":"edit""#) && details.contains(#""audience":"billing""#))
        #expect(details.contains(#""scope":"read-only""#) && details.contains(#""name":"Ada L.""#))
        #expect(events.first?.actor == "alice")
    }

    @Test("Suspend, activate and remove are audited with the change; removal deletes the row")
    func lifecycle() throws {
        let member = try add()
        #expect(try issuer.suspendMember(member.email, by: alice, now: t0 + 1).member.status == .suspended)
        #expect(try issuer.activateMember(member.email, by: alice, now: t0 + 2).status == .active)
        // Activating an active member changes nothing and records nothing.
        #expect(try issuer.activateMember(member.email, by: alice, now: t0 + 3).updatedAt == t0 + 2)
        #expect(
            try issuer.removeMember(member.id.description, by: alice, now: t0 + 4)
                == member.with(status: .active, updatedAt: t0 + 2))
        #expect(try issuer.memberCount() == 0)
        let changes = try issuer.events(.member).map { event in
            ["add", "suspend", "activate", "remove"].first { event.detailsJSON.contains(#""change":"\#($0)""#) } ?? "?"
        }
        #expect(changes == ["remove", "activate", "suspend", "add"])
        // The email may be added again, as a new member.
        #expect(try add().id != member.id)
    }

    @Test("suspend --cascade deactivates exactly the member's active tokens, and says which")
    func cascade() throws {
        let member = try add(audience: Caller.organization)
        let ada = Caller(member: member)
        let mine = try (0..<3).map { i in
            try issuer.issue(request("ada \(i)", audience: "billing", scope: .readOnly), as: ada, now: t0).record
        }
        #expect(mine.allSatisfy { $0.createdBy == "member:ada@example.com" && $0.parent == nil })
        _ = try issuer.change(.revoke, [mine[2].id], by: alice, now: t0 + 1)
        let other = try issuer.issue(request("alice's"), by: alice, now: t0).record
        let bob = try add("bob@example.com")
        let bobs = try issuer.issue(request("bob's"), as: Caller(member: bob), now: t0).record
        let plain = try issuer.suspendMember(member.email, cascade: false, by: alice, now: t0 + 2)
        #expect(plain.deactivated.isEmpty)
        _ = try issuer.activateMember(member.email, by: alice, now: t0 + 3)
        let result = try issuer.suspendMember(member.email, cascade: true, by: alice, now: t0 + 4)
        #expect(Set(result.deactivated) == [mine[0].id, mine[1].id])
        #expect(try issuer.stored(mine[0].id)?.status == .inactive && issuer.stored(mine[1].id)?.status == .inactive)
        #expect(try issuer.stored(mine[2].id)?.status == .revoked)
        #expect(try issuer.stored(other.id)?.status == .active && issuer.stored(bobs.id)?.status == .active)
        let deactivation = try #require(try issuer.events(.deactivate).first)
        #expect(Set(deactivation.guids) == [mine[0].id, mine[1].id] && deactivation.actor == "alice")
        #expect(deactivation.detailsJSON.contains(#""member":"ada@example.com""#))
    }

    @Test("A member acts as member:<email>: its tokens name it as creator and have no parent")
    func memberActor() throws {
        let member = try add(
            "grace@example.com", audience: "billing", scope: .custom(["tokens.create", "devices.get"]))
        let caller = Caller(member: member)
        #expect(caller.actor.name == "member:grace@example.com" && caller.member == member && caller.id == member.id)
        let issued = try issuer.issue(request("by grace", scope: .custom(["devices.get"])), as: caller, now: t0)
        #expect(issued.record.createdBy == "member:grace@example.com" && issued.record.parent == nil)
        #expect(try issuer.events(.issue).first?.actor == "member:grace@example.com")
        let mine = try issuer.tokens(TokenQuery(createdBy: caller.actor.name))
        #expect(mine.map(\.id) == [issued.record.id])
    }
}

extension Member {
    func with(status: MemberStatus, updatedAt: Int64) -> Member {
        var copy = self
        copy.status = status
        copy.updatedAt = updatedAt
        return copy
    }
}

/// Single sign-on's side of the ledger (issue #25 items 2–4): a member's session, its verdicts,
/// and the audit of sign-ins and refusals.
@Suite("Member sessions and sign-ins", .bothStores)
struct MemberSessionTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func add(_ email: String = "ada@example.com") throws -> Member {
        try issuer.addMember(
            MemberRequest(email: email, name: "Ada", audience: "billing", scope: .readOnly), by: alice, now: t0)
    }

    @Test(
        "An active member signs in by email in any case: last sign-in set, sign-in audited, session acts as the member")
    func signIn() throws {
        let member = try add()
        let (id, session) = try #require(
            try issuer.openMemberSession(email: "ADA@example.com", maxSessions: 10, now: t0 + 5))
        #expect(
            session.tokenID == nil && session.member?.id == member.id
                && session.expiresAt == t0 + 5 + Issuer.sessionLifetime)
        #expect(session.csrf == Issuer.csrfSecret(ofSession: id))
        let stored = try issuer.member(member.email)
        #expect(stored.lastSignInAt == t0 + 5)
        let check = try #require(try issuer.checkSession(id, now: t0 + 6))
        let caller = try check.caller.get()
        #expect(caller == Caller(member: stored) && caller.actor.name == "member:ada@example.com")
        #expect(check.session.member == stored && check.session.tokenID == nil)
        let event = try #require(try issuer.events(.signIn).first)
        #expect(event.actor == "member:ada@example.com" && event.detailsJSON.contains(member.id.description))
        // The rights a session acts with are the member's row now: an edit applies at once.
        _ = try issuer.editMember(member.email, MemberEdit(scope: .custom(["devices.get"])), by: alice, now: t0 + 7)
        #expect(try issuer.checkSession(id, now: t0 + 8)?.caller.get().scope == .custom(["devices.get"]))
    }

    @Test("Not a member, or suspended: forbidden with the reason, audited as sign-in-refused, no session")
    func refused() throws {
        _ = try add()
        _ = try add("grace@example.com")
        _ = try issuer.suspendMember("grace@example.com", by: alice, now: t0)
        for (email, reason) in [
            ("bob@example.com", SignInRefusal.notAMember), ("not an email", .notAMember),
            ("Grace@example.com", .memberSuspended),
        ] {
            let error = #expect(throws: IssuerError.self) {
                try issuer.openMemberSession(email: email, maxSessions: 10, now: t0 + 1)
            }
            #expect(error?.reason == .forbidden && error?.detail == .signInRefused(reason))
            #expect(ErrorContract.entry(for: try #require(error).code).httpStatus == 403)
        }
        #expect(try issuer.sessionCount() == 0)
        let events = try issuer.events(.signInRefused)
        #expect(events.count == 3 && events.allSatisfy { $0.actor == "sso" })
        #expect(events[0].detailsJSON == #"{"reason":"member_suspended","email":"grace@example.com"}"#)
        #expect(events[1].detailsJSON == #"{"reason":"not_a_member"}"#, "a malformed email is not recorded")
        #expect(events[2].detailsJSON == #"{"reason":"not_a_member","email":"bob@example.com"}"#)
    }

    @Test("Refusals found before the member lookup are audited with their reason", arguments: SignInRefusal.allCases)
    func recordRefusal(reason: SignInRefusal) throws {
        try issuer.recordRefusedSignIn(email: "Eve@Example.com", reason: reason, now: t0)
        let event = try #require(try issuer.events(.signInRefused).first)
        #expect(event.detailsJSON == #"{"reason":"\#(reason.rawValue)","email":"eve@example.com"}"#)
        #expect(!reason.message.isEmpty)
    }

    @Test(
        "A suspended or removed member's session ends at its next request with member_suspended / member_removed",
        arguments: [SignInRefusal.memberSuspended, .memberRemoved])
    func sessionVerdict(refusal: SignInRefusal) throws {
        let member = try add()
        let (id, _) = try #require(try issuer.openMemberSession(email: member.email, maxSessions: 10, now: t0))
        if refusal == .memberSuspended {
            _ = try issuer.suspendMember(member.email, by: alice, now: t0 + 1)
        } else {
            _ = try issuer.removeMember(member.email, by: alice, now: t0 + 1)
        }
        let check = try #require(try issuer.checkSession(id, now: t0 + 2))
        let error = #expect(throws: SessionRefusal.self) { try check.caller.get() }
        #expect(error == .member(refusal) && error?.reason == refusal.rawValue)
        #expect(try issuer.checkSession(id, now: t0 + 3) == nil, "the session row was deleted")
        #expect(try issuer.sessionCount() == 0)
    }

    @Test("A member holds at most 16 sessions, and a full ledger refuses the sign-in (nil) without auditing it")
    func caps() throws {
        let member = try add()
        var ids: [String] = []
        for i in 0..<17 {
            ids.append(
                try #require(try issuer.openMemberSession(email: member.email, maxSessions: 100, now: t0 + Int64(i))).id
            )
        }
        #expect(try issuer.checkSession(ids[0], now: t0 + 20) == nil, "the oldest ended")
        #expect(try issuer.checkSession(ids[16], now: t0 + 20) != nil)
        let before = try issuer.events(.signIn).count
        #expect(try issuer.openMemberSession(email: member.email, maxSessions: 1, now: t0 + 30) == nil)
        #expect(try issuer.events(.signIn).count == before)
    }
}

/// The member's wire shapes (issue #25): what `--json`, the API and the remote client share.
@Suite("Member wire shapes")
struct WireMemberTests {
    static let member = Member(
        id: TokenID(rawValue: 0x0b0e_5c6a_2f4d_4c1e_9a53_5d3f_1e2b_7c90), email: "ada@example.com", name: "Ada",
        audience: "sigil", scope: .custom(["devices.get", "tokens.list"]), status: .suspended, createdBy: "alice",
        createdAt: 1_800_000_000, lastSignInAt: nil)

    @Test("A member ID reads with or without hyphens, in any case; nothing else is one")
    func memberID() {
        let id = Self.member.id
        let hex = id.description.replacingOccurrences(of: "-", with: "")
        #expect(Issuer.memberID(id.description) == id && Issuer.memberID(hex) == id)
        #expect(Issuer.memberID(hex.uppercased()) == id)
        for text in ["ada@example.com", String(hex.dropLast()), hex + "0", String(hex.dropLast()) + "g", ""] {
            #expect(Issuer.memberID(text) == nil, "\(text)")
        }
    }

    @Test("A member is written with exactly the documented keys; last_sign_in_at null, never left out; it reads back")
    func member() throws {
        let bytes = Wire.encode(WireMember(Self.member))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(
            text
                == #"{"audience":"sigil","created_at":1800000000,"created_by":"alice","email":"ada@example.com","id":"0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90","last_sign_in_at":null,"name":"Ada","scope":["devices.get","tokens.list"],"status":"suspended"}"#
        )
        #expect(try Wire.decoder.decode(WireMember.self, from: Data(bytes)).member == Self.member)
        var signedIn = Self.member
        signedIn.lastSignInAt = 1_800_000_100
        signedIn.scope = .all
        let again = Wire.encode(WireMember(signedIn))
        #expect(String(decoding: again, as: UTF8.self).contains(#""last_sign_in_at":1800000100"#))
        #expect(try Wire.decoder.decode(WireMember.self, from: Data(again)).member == signedIn)
        let page = Wire.encode(WirePage(items: [WireMember(Self.member)], nextCursor: nil))
        #expect(String(decoding: page, as: UTF8.self).hasPrefix(#"{"members":[{"#))
    }

    @Test("Request bodies: add needs every key, edit takes any, suspend's cascade defaults to false")
    func requests() throws {
        let add = try Wire.decoder.decode(
            WireMemberRequest.self,
            from: Data(#"{"email":"a@example.com","name":"A","audience":"billing","scope":["devices.*"]}"#.utf8))
        #expect(
            add.request
                == MemberRequest(email: "a@example.com", name: "A", audience: "billing", scope: .custom(["devices.*"])))
        #expect(
            try Wire.decoder.decode(WireMemberRequest.self, from: Data(Wire.encode(add))).request == add.request)
        #expect(throws: DecodingError.self) {
            try Wire.decoder.decode(WireMemberRequest.self, from: Data(#"{"email":"a@example.com","name":"A"}"#.utf8))
        }
        let edit = try Wire.decoder.decode(WireMemberEdit.self, from: Data(#"{"scope":"read-only"}"#.utf8))
        #expect(edit.edit == MemberEdit(scope: .readOnly))
        #expect(String(decoding: Wire.encode(WireMemberEdit(MemberEdit(name: "B"))), as: UTF8.self) == #"{"name":"B"}"#)
        #expect(try Wire.decoder.decode(WireMemberSuspend.self, from: Data("{}".utf8)).cascade == false)
        #expect(try Wire.decoder.decode(WireMemberSuspend.self, from: Data(#"{"cascade":true}"#.utf8)).cascade)
        let id = TokenID(rawValue: 1)
        let answer = Wire.encode(WireMemberSuspension(MemberSuspension(member: Self.member, deactivated: [id])))
        let back = try Wire.decoder.decode(WireMemberSuspension.self, from: Data(answer))
        #expect(back.member.member == Self.member && back.deactivated == [id])
    }

    @Test("GET /v1/rules carries the email rule, member statuses and sign-in refusals from their one definition")
    func rules() {
        let rules = IssuerRules.current
        #expect(rules.email.pattern == MemberEmail.pattern && rules.email.maxBytes == 254)
        #expect(rules.memberStatuses == ["active", "suspended"])
        #expect(
            rules.signInRefusals.contains("not_a_member") && rules.signInRefusals.count == SignInRefusal.allCases.count)
        #expect(rules.auditActions.suffix(3) == ["member", "sign-in", "sign-in-refused"])
        #expect(rules.actor.maxBytes == 261)
        // The pattern the console checks agrees with the issuer on a few addresses.
        for (email, valid) in [("ada+ops@example.com", true), ("ada@example", false), ("a b@example.com", false)] {
            let regex = try? Regex("^" + MemberEmail.pattern + "$")
            #expect(((try? regex?.wholeMatch(in: email)) != nil) == valid, "\(email)")
            #expect(((try? MemberEmail(email)) != nil) == valid, "\(email)")
        }
    }
}
