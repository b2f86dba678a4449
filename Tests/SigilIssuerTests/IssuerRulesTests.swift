import Foundation
import SigilIssuer
import SigilVerifier
import Testing

@Suite("Issuer rules of round 3: audit reach, names, echoes, no-op edits, delegated windows", .bothStores)
struct IssuerRulesTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func caller(_ token: IssuedToken) throws -> Caller { Caller(claims: try TokenClaims.decodeUnverified(token.token)) }

    // MARK: Audit reach (#20 item 8)

    @Test(
        "An event about several audiences shows a caller only the GUIDs it reaches; a filter on another's GUID yields nothing",
        .bug(id: "20-8", "a billing token's audit log listed a devices token's GUID"))
    func auditReach() throws {
        let billing = try issuer.issue(request("billing admin", audience: "billing"), by: alice, now: t0)
        let invoices = try issuer.issue(request("invoices", audience: "billing"), by: alice, now: t0)
        let devices = try issuer.issue(request("devices", audience: "devices"), by: alice, now: t0)
        _ = try issuer.change(.revoke, [invoices.record.id, devices.record.id], by: alice, now: t0 + 1)
        let billingCaller = try caller(billing)

        let events = try issuer.events(AuditQuery(), as: billingCaller)
        let revoke = try #require(events.first { $0.action == .revoke })
        #expect(revoke.guids == [invoices.record.id])
        #expect(!events.contains { $0.guids.contains(devices.record.id) }, "the devices token is never named")
        #expect(!events.contains { $0.detailsJSON.contains("devices") }, "not even its issue event's details")

        #expect(try issuer.events(AuditQuery(guid: devices.record.id), as: billingCaller).isEmpty)
        #expect(try issuer.events(AuditQuery(guid: TokenMinter.newTokenID()), as: billingCaller).isEmpty)
        let own = try issuer.events(AuditQuery(guid: invoices.record.id), as: billingCaller)
        #expect(own.map(\.action) == [.revoke, .issue])
        #expect(own.allSatisfy { $0.guids == [invoices.record.id] })

        // The organization still sees the whole event.
        let org = try issuer.issue(request("org", audience: Caller.organization), by: alice, now: t0)
        let whole = try issuer.events(AuditQuery(guid: devices.record.id), as: try caller(org))
        #expect(whole.first { $0.action == .revoke }?.guids.count == 2)
    }

    // MARK: Names (#20 item 13a)

    @Test(
        "Names refuse blank-looking letters, format characters and stacked combining marks",
        .bug(id: "20-13a", "names accepted U+3164 HANGUL FILLER, U+2800 BRAILLE BLANK and Zalgo text"),
        arguments: [
            "\u{3164}", "deploy\u{3164}key", "\u{2800}\u{2800}", "a\u{115F}", "a\u{1160}", "\u{FFA0}", "a\u{200B}b",
            "a\u{2028}b", "a\u{0007}", "e\u{0301}\u{0302}\u{0303}\u{0304}",
            "Z" + String(repeating: "\u{0336}", count: 30),
        ])
    func refusedNames(name: String) throws {
        let error = expectIssuerError(.invalidInput, hiding: [name]) { try TokenName(name) }
        #expect(isInvalidLabel(error, field: "name"))
        expectIssuerError(.invalidInput) { try issuer.issue(request(name), by: alice, now: t0) }
        let ok = try issuer.issue(request("fine"), by: alice, now: t0)
        expectIssuerError(.invalidInput) {
            try issuer.edit(ok.record.id.description, name: name, description: nil, by: alice, now: t0)
        }
    }

    @Test(
        "Names in any script, with up to three combining marks on a letter, are accepted",
        arguments: [
            "CI deploy", "déploiement", "Bäckerei-Zugang", "東京 deploy", "שָּׁלוֹם", "e\u{0301}\u{0302}\u{0303}", "🔑 key",
        ])
    func acceptedNames(name: String) throws {
        #expect(try TokenName(name).text == name)
        #expect(try issuer.issue(request(name), by: alice, now: t0).record.name == name)
    }

    @Test("Descriptions still refuse control and format characters")
    func descriptions() throws {
        for text in ["line\nbreak", "bidi\u{202E}", "zero\u{200B}width"] {
            expectIssuerError(.invalidInput) { try issuer.issue(request(description: text), by: alice, now: t0) }
        }
    }

    // MARK: Echoes (#20 item 13b)

    @Test(
        "A token pasted into a scope is never repeated by the error, nor its detail",
        .bug(id: "20-13b", "a 422 echoed a token pasted into scope"))
    func tokenInScope() throws {
        let pasted = try issuer.issue(request("pasted"), by: alice, now: t0).token
        let lower = "sgl_" + String(repeating: "a", count: 40)
        for scope in [[pasted], [pasted + ".*"], [lower + ".list"], ["devices.list", pasted]] {
            let error = expectIssuerError(.invalidInput, hiding: [pasted, lower]) {
                try issuer.issue(request(scope: .custom(scope)), by: alice, now: t0)
            }
            let detail = String(describing: error?.detail)
            #expect(!detail.contains("sgl_"), "\(scope)")
            #expect(error?.message.contains("looks like a token") == true)
        }
        let row = try issuer.issue(request("x"), by: alice, now: t0)
        let sealed = expectIssuerError(.invalidInput, hiding: [pasted]) {
            try issuer.edit(row.record.id.description, name: nil, description: nil, sealed: [pasted], by: alice)
        }
        #expect(sealed?.detail != .sealedField(pasted))
        #expect(Labels.echo("devices.lst") == "devices.lst")
    }

    // MARK: No-op edits (#20 item 13c)

    @Test(
        "An edit that changes nothing writes no event and answers the token unchanged",
        .bug(id: "20-13c", "PATCH {} wrote an edit event"),
        arguments: [(String?.none, String?.none), ("same", nil), (nil, "words"), ("same", "words")])
    func noOpEdit(name: String?, description: String?) throws {
        let issued = try issuer.issue(request("same", description: "words"), by: alice, now: t0)
        let id = issued.record.id
        let events = try issuer.events(AuditQuery(guid: id)).count
        let answered = try issuer.edit(id.description, name: name, description: description, by: alice, now: t0 + 60)
        #expect(answered == issued.record)
        #expect(try issuer.stored(id) == issued.record)
        #expect(try issuer.events(AuditQuery(guid: id)).count == events)
        // A real change still records exactly what changed.
        _ = try issuer.edit(id.description, name: "same", description: "new", by: alice, now: t0 + 120)
        let edit = try #require(try issuer.events(AuditQuery(guid: id, action: .edit)).first)
        #expect(edit.detailsJSON == #"{"description":"new"}"#)
    }

    // MARK: Delegated windows (#20 item 13d)

    @Test(
        "A child's valid_from may not precede its parent's; the error names the earliest allowed",
        .bug(id: "20-13d", "a child's valid_from preceded its parent's"))
    func childStartsNoEarlier() throws {
        let parent = try issuer.issue(request("parent", validFrom: t0 + day), by: alice, now: t0)
        let as_ = try caller(parent)
        let error = expectIssuerError(.forbidden) {
            try issuer.issue(request("early", validFrom: t0), as: as_, now: t0 + 2 * day)
        }
        #expect(error?.detail == .insufficientScope("valid_from"))
        #expect(error?.message.contains(TimeText.format(t0 + day)) == true, "\(error?.message ?? "")")
        let same = try issuer.issue(request("same start", validFrom: t0 + day), as: as_, now: t0 + 2 * day)
        #expect(same.record.validFrom == t0 + day)
        let later = try issuer.issue(request("later"), as: as_, now: t0 + 2 * day)
        #expect(later.record.validFrom == t0 + 2 * day)
    }
}

@Suite("--database values: one parser, passwords never shown")
struct DatabaseLocationTests {
    @Test(
        "Keyword strings, other schemes and NUL are refused without repeating the value",
        .bug(id: "20-9", "a libpq keyword string became a file named after the password"),
        arguments: [
            "host=127.0.0.1 password=PW", "dbname=sigil", "password=PW", "  host = db  password=PW",
            "/srv/ledger.db password=PW", "mysql://u:PW@db/x", "postgre://u:PW@db/x", "file:///tmp/x?password=PW",
            "a\u{0}PW",
        ])
    func refused(value: String) throws {
        let error = expectIssuerError(.invalidInput, hiding: ["PW"]) { try DatabaseLocation(value) }
        #expect(isInvalidLabel(error, field: "database"))
    }

    @Test(
        "SQLite paths stay paths; postgres URLs in any case are URLs",
        arguments: [
            ("keys/sigil.db", false), ("/srv/a=b/sigil.db", false), ("./odd name.db", false),
            ("postgres://sigil@db/x", true), ("POSTGRESQL://sigil@db/x", true),
        ])
    func accepted(value: String, isPostgres: Bool) throws {
        let location = try DatabaseLocation(value)
        #expect(location == (isPostgres ? .postgres(url: value) : .sqlite(path: value)))
    }

    @Test(
        "Every form of password is redacted",
        .bug(id: "20-9", "postgres://u:PW@…?password= printed PW"),
        arguments: [
            ("postgres://u:PW@127.0.0.1:1/db?password=", "postgres://u:***@127.0.0.1:1/db?password="),
            ("postgres://u@h/db?password=PW", "postgres://u@h/db?password=***"),
            ("postgres://u@h/db?Password=PW&sslmode=require", "postgres://u@h/db?Password=***&sslmode=require"),
            ("postgres://u@h/db?%70assword=PW", "postgres://u@h/db?%70assword=***"),
            ("postgres://u@h/db?sslpassword=PW", "postgres://u@h/db?sslpassword=***"),
            ("postgresql://u:P%57x@h/db", "postgresql://u:***@h/db"),
            ("postgres://u:P/W?x@h/db", "postgres://u:***@h/db"),
            ("postgres://u:PW@h/db?password=PW2", "postgres://u:***@h/db?password=***"),
            ("postgres://sigil@db.internal:5432/sigil", "postgres://sigil@db.internal:5432/sigil"),
        ])
    func redacted(url: String, expected: String) throws {
        #expect(DatabaseLocation.redact(url) == expected)
        #expect("\(try DatabaseLocation(url))" == expected)
    }

    @Test("Opening an issuer with a keyword string creates nothing")
    func createsNothing() throws {
        let temp = try TempHome()
        let folder = FileManager.default.currentDirectoryPath
        let before = try FileManager.default.contentsOfDirectory(atPath: folder)
        expectIssuerError(.invalidInput, hiding: ["PW"]) {
            try Issuer(home: temp.home, database: "host=127.0.0.1 password=PW", mode: .createIfMissing)
        }
        #expect(!temp.exists(""), "no home was made")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == before)
    }
}
