import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// A value a front end hands the issuer, and the one message that refuses it (nil: accepted).
struct ValueCase: Sendable, CustomTestStringConvertible {
    enum Kind: String, Sendable { case audience, actor, creator, name, description }

    let kind: Kind
    let text: String
    let message: String?

    init(_ kind: Kind, _ text: String, _ message: String?) {
        self.kind = kind
        self.text = text
        self.message = message
    }

    var testDescription: String { "\(kind.rawValue) of \(text.utf8.count) bytes" }

    func construct() throws(IssuerError) {
        switch kind {
        case .audience: _ = try Audience(text)
        case .actor: _ = try ActorName(text)
        case .creator: _ = try ActorName(text, field: "created_by")
        case .name: _ = try TokenName(text)
        case .description: _ = try TokenDescription(text)
        }
    }
}

@Suite("Each value rule has one type and one message")
struct ValidatedValueTests {
    static let audienceRule = "audience must be 1-64 ASCII characters of A-Z a-z 0-9 . _ : -"
    static let actorRule = "must be 1-261 characters of A-Z a-z 0-9 . _ @ : + -"

    static let table: [ValueCase] = [
        ValueCase(.audience, "billing", nil),
        ValueCase(.audience, "eu.billing:v2_x-1", nil),
        ValueCase(.audience, String(repeating: "a", count: 64), nil),
        ValueCase(.audience, "", "\(audienceRule) (got 0 bytes)"),
        ValueCase(.audience, String(repeating: "a", count: 65), "\(audienceRule) (got 65 bytes)"),
        ValueCase(.audience, "bill ing", "\(audienceRule) (got 8 bytes)"),
        ValueCase(.audience, "alice@corp", "\(audienceRule) (got 10 bytes)"),
        ValueCase(.audience, "bіlling", "\(audienceRule) (got 8 bytes)"),  // a Cyrillic і
        ValueCase(.actor, "alice@example.com", nil),
        ValueCase(.actor, "token:3f2a9c1e", nil),
        ValueCase(.actor, "", "actor \(actorRule) (got 0 bytes)"),
        ValueCase(.actor, "al ice", "actor \(actorRule) (got 6 bytes)"),
        ValueCase(.actor, String(repeating: "x", count: 262), "actor \(actorRule) (got 262 bytes)"),
        ValueCase(.creator, "esc\u{1b}[0m", "created_by \(actorRule) (got 7 bytes)"),
        ValueCase(.name, "CI deploy", nil),
        ValueCase(.name, " ", "name must not be empty"),
        ValueCase(.name, String(repeating: "n", count: 201), "name is longer than 200 bytes (UTF-8)"),
        ValueCase(.description, "", nil),
        ValueCase(.description, String(repeating: "d", count: 1_000), nil),
        ValueCase(.description, String(repeating: "é", count: 501), "description is longer than 1000 bytes (UTF-8)"),
        ValueCase(.description, String(repeating: "d", count: 1_001), "description is longer than 1000 bytes (UTF-8)"),
        ValueCase(
            .description, "a\nb", "description must not contain control characters (newlines, tabs, escape, NUL)"),
    ]

    @Test("Good values construct; bad ones fail with their one message", arguments: table)
    func value(_ row: ValueCase) {
        do {
            try row.construct()
            #expect(row.message == nil, "accepted, but the table expects: \(row.message ?? "")")
        } catch {
            #expect(error.reason == .invalidInput)
            #expect(error.message == row.message)
        }
    }

    @Test(
        "An audience filter follows the audience rule",
        .bug(id: 21, "the audience character set was checked only in TokensController"))
    func audienceFilter() throws {
        #expect(try TokenFilter(audience: "billing").audience == "billing")
        let error = #expect(throws: IssuerError.self) { try TokenFilter(audience: "bill ing") }
        #expect(error?.message == "\(Self.audienceRule) (got 8 bytes)")
        guard case .invalidAudience(let length) = error?.detail else {
            Issue.record("expected invalidAudience, got \(String(describing: error?.detail))")
            return
        }
        #expect(length == 8)
    }

    @Test(
        "An audit query's actor follows ActorName's rule",
        .bug(id: 21, "actor names were checked in AuditController and Log but not in AuditQuery"))
    func auditActor() throws {
        try AuditQuery(actor: "alice").validate()
        let error = #expect(throws: IssuerError.self) { try AuditQuery(actor: "al ice").validate() }
        #expect(error?.message == "actor \(Self.actorRule) (got 6 bytes)")
    }

    @Test("The issuer refuses a bad audience with Audience's message wherever it takes one", .bothStores)
    func issuerUsesAudience() throws {
        let temp = try TempHome()
        let issuer = try temp.issuer()
        let alice = try Actor(name: "alice")
        let expected = "\(Self.audienceRule) (got 8 bytes)"
        let issue = #expect(throws: IssuerError.self) {
            try issuer.issue(request(audience: "bill ing"), by: alice, now: t0)
        }
        #expect(issue?.message == expected)
        let keyset = #expect(throws: IssuerError.self) { try issuer.keyset(audience: "bill ing") }
        #expect(keyset?.message == expected)
        let policy = #expect(throws: IssuerError.self) {
            try issuer.setPolicy(audience: "bill ing", maxLifetime: 86_400, allowNeverExpires: false, by: alice)
        }
        #expect(policy?.message == expected)
    }
}

@Suite("A page is at most PageRequest.maxLimit rows, and its cursor names the next")
struct PageRequestTests {
    @Test(
        "Limits outside 1…1000 and foreign cursors are refused",
        arguments: [
            (0, nil as String?, "limit must be an integer from 1 to 1000"),
            (1_001, nil, "limit must be an integer from 1 to 1000"),
            (10, "-1", "cursor is not one this server gave out"),
            (10, "1e3", "cursor is not one this server gave out"),
            (10, "1000000000", "cursor is not one this server gave out"),
            (10, "", "cursor is not one this server gave out"),
        ])
    func refused(limit: Int, cursor: String?, message: String) {
        let error = #expect(throws: IssuerError.self) { try PageRequest(limit: limit, cursor: cursor) }
        #expect(error?.reason == .invalidInput)
        #expect(error?.message == message)
    }

    @Test("The peek: one row more than the page says another page follows")
    func peek() throws {
        let request = try PageRequest(limit: 2, cursor: "4")
        #expect(request.offset == 4)
        #expect(request.fetchLimit == 3)
        #expect(request.page([1, 2, 3]).items == [1, 2])
        #expect(request.page([1, 2, 3]).nextCursor == "6")
        #expect(request.page([1, 2]).nextCursor == nil)
        #expect(try PageRequest(limit: PageRequest.maxLimit, cursor: nil).limit == 1_000)
        #expect(try PageRequest(cursor: nil).limit == PageRequest.defaultLimit)
    }

    @Test("The issuer pages a caller's listing and audit log with the same request", .bothStores)
    func issuerPages() throws {
        let temp = try TempHome()
        let issuer = try temp.issuer()
        let alice = try Actor(name: "alice")
        let root = try issuer.issue(request("root"), by: alice, now: t0)
        let caller = Caller(claims: try TokenClaims.decodeUnverified(root.token))
        for i in 1...2 { _ = try issuer.issue(request("child \(i)"), as: caller, now: t0) }
        let first = try issuer.tokens(TokenQuery(), page: try PageRequest(limit: 2, cursor: nil), as: caller)
        #expect(first.items.map(\.name) == ["root", "child 1"])
        #expect(first.nextCursor == "2")
        let second = try issuer.tokens(
            TokenQuery(), page: try PageRequest(limit: 2, cursor: first.nextCursor), as: caller)
        #expect(second.items.map(\.name) == ["child 2"])
        #expect(second.nextCursor == nil)
        let events = try issuer.events(AuditQuery(), page: try PageRequest(limit: 2, cursor: nil), as: caller)
        #expect(events.items.count == 2)
        #expect(events.nextCursor == "2")
    }
}

@Suite("The rules a front end reads come from the issuer's definitions")
struct IssuerRulesForFrontEndsTests {
    @Test(
        "Limits and enumerations equal the types'",
        .bug(id: 21, "the console allowed 2,000-character descriptions and listed no policy action"))
    func current() {
        let rules = IssuerRules.current
        #expect(rules.description.maxBytes == 1_000)
        #expect(rules.name.maxBytes == 200)
        #expect(rules.audience.maxBytes == 64)
        #expect(rules.audience.pattern == "[A-Za-z0-9._:-]{1,64}")
        #expect(rules.audience.message == ValidatedValueTests.audienceRule)
        #expect(rules.page.maxLimit == 1_000)
        #expect(rules.auditActions.contains("policy"))
        #expect(rules.auditActions == AuditAction.allCases.map(\.rawValue))
        #expect(rules.cascadingActions == ["revoke"])
        #expect(rules.statuses == ["active", "inactive", "revoked"])
    }

    @Test(
        "The audience pattern accepts exactly what Audience accepts",
        arguments: [
            "billing", "", "bill ing", "a@b", String(repeating: "a", count: 64), String(repeating: "a", count: 65),
            "x:y.z_-",
        ])
    func pattern(text: String) throws {
        let regex = try Regex("^" + IssuerRules.current.audience.pattern + "$")
        #expect((text.wholeMatch(of: regex) != nil) == ((try? Audience(text)) != nil))
    }
}

@Suite("A whole GUID is the API's selector")
struct WholeGUIDTests {
    @Test(
        "Whole GUIDs in either case are accepted",
        arguments: [
            "3f2a9c1e-0b1c-4d5e-8f90-a1b2c3d4e5f6", "3F2A9C1E-0B1C-4D5E-8F90-A1B2C3D4E5F6",
        ])
    func whole(text: String) throws {
        #expect(try TokenSelector.wholeID(text).description == "3f2a9c1e-0b1c-4d5e-8f90-a1b2c3d4e5f6")
    }

    @Test(
        "A prefix, a token or nothing is refused without being echoed",
        arguments: [
            "3f2a9c1e", "", "sgl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "3f2a9c1e-0b1c-4d5e-8f90-a1b2c3d4e5f6x",
        ])
    func refused(text: String) {
        let error = #expect(throws: IssuerError.self) { try TokenSelector.wholeID(text, field: "guids[1]") }
        #expect(error?.message == "guids[1] must be a whole GUID (\(text.count) characters given)")
        if !text.isEmpty { #expect(error?.message.contains(text) == false) }
    }
}
