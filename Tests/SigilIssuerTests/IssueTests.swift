import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

@Suite("Issuing tokens", .bothStores)
struct IssueTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func verifier(_ audience: String = "billing") throws -> Verifier {
        try Verifier(keyset: try issuer.keyset(audience: audience))
    }

    @Test(
        "Each scope kind is sealed into a token that verifies and carries the record's GUID",
        arguments: [
            (ScopeRequest.all, Scope.all),
            (.readOnly, .readOnly),
            (.custom(["invoices.pay", "devices.list"]), .custom(["devices.list", "invoices.pay"])),
            (.custom(["users.get, devices.list", "devices.list"]), .custom(["devices.list", "users.get"])),
            (.custom(["invoices.*"]), .custom(["invoices.get", "invoices.list", "invoices.pay"])),
        ])
    func scopes(requested: ScopeRequest, sealed: Scope) throws {
        let issued = try issuer.issue(request(scope: requested), by: alice, now: t0)
        #expect(issued.record.scope == sealed)
        #expect(issued.token.hasPrefix("sgl_"))
        let verified = try verifier().verify(issued.token, at: t0)
        #expect(verified.id == issued.record.id)
        #expect(verified.validFrom == t0)
        #expect(verified.validTo == t0 + Issuer.defaultLifetime)
        let claims = try verifier().verifyClaims(issued.token, at: t0)
        #expect(claims.scope == sealed)
        #expect(claims.keyID == issued.record.keyID)
        #expect(claims.keyID == (try issuer.keyring().activeKey.keyID))
        #expect(try issuer.token(issued.record.id.description) == issued.record)
        // Another audience's service cannot use it.
        #expect(throws: VerificationError.self) { try verifier("metrics").verify(issued.token, at: t0) }
    }

    @Test("resource.* grants the resource's actions of today only; later actions reach later tokens")
    func wildcardIsToday() throws {
        let before = try issuer.issue(request(scope: .custom(["devices.*"])), by: alice, now: t0)
        let today = ["devices.create", "devices.delete", "devices.get", "devices.list", "devices.update"]
        #expect(before.record.scope == .custom(today))
        try issuer.addToCatalog(resource: "devices", action: "reboot", access: .write, by: alice, now: t0 + 1)
        #expect(try issuer.token(before.record.id.description).scope == .custom(today))
        let claims = try verifier().verifyClaims(before.token, at: t0)
        #expect(claims.scope == .custom(today))
        let reboot = try #require(Permission("devices.reboot", access: .write))
        #expect(throws: VerificationError.self) { try verifier().verify(before.token, for: reboot, at: t0) }

        let after = try issuer.issue(request(scope: .custom(["devices.*"])), by: alice, now: t0 + 2)
        #expect(
            after.record.scope
                == .custom([
                    "devices.create", "devices.delete", "devices.get", "devices.list", "devices.reboot",
                    "devices.update",
                ]))
        _ = try verifier().verify(after.token, for: reboot, at: t0 + 2)
    }

    @Test("An unknown pair is refused with the pairs the catalog knows")
    func unknownPermission() throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(scope: .custom(["devices.list", "devices.fly"])), by: alice, now: t0)
        }
        #expect(
            error?.detail == .unknownPermission("devices.fly", known: Catalog.example.withIssuerResources().allPairs))
        #expect(try issuer.isEmpty())
    }

    @Test("An unknown resource in resource.* is refused with the known resources")
    func unknownResource() throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(scope: .custom(["printers.*"])), by: alice, now: t0)
        }
        #expect(
            error?.detail
                == .unknownResource("printers", known: ["audit", "devices", "invoices", "members", "tokens", "users"]))
        #expect(try issuer.isEmpty())
    }

    @Test(
        "A pair that is not resource.action is refused",
        arguments: [
            "devices", "Devices.list", "devices.List", "1devices.list", "devices.", ".list", "devices.list.x",
            "devices.li st", "devices.list!", "dévices.list",
        ])
    func invalidPair(pair: String) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(scope: .custom([pair])), by: alice, now: t0)
        }
        #expect(error?.detail == .invalidPair(pair))
        #expect(try issuer.isEmpty())
    }

    @Test("A custom scope with no pair is refused", arguments: [[], [""], [" , "], [",", " "]])
    func emptyScope(pairs: [String]) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(scope: .custom(pairs)), by: alice, now: t0)
        }
        #expect(error?.detail == .scopeSize(0))
    }

    @Test("A custom scope holds at most 256 pairs", arguments: [(256, true), (257, false)])
    func scopeSize(pairs: Int, allowed: Bool) throws {
        try issuer.store.transaction(write: true) {
            for i in 0..<pairs {
                try issuer.store.putCatalogEntry(resource: "bulk", action: "a\(i)", access: .read)
            }
        }
        let body = { try issuer.issue(request(scope: .custom(["bulk.*"])), by: alice, now: t0) }
        if allowed {
            let issued = try body()
            guard case .custom(let sealed) = issued.record.scope else {
                Issue.record("not a custom scope")
                return
            }
            #expect(sealed.count == 256)
            _ = try verifier().verify(issued.token, at: t0)
        } else {
            let error = expectIssuerError(.invalidInput, body)
            #expect(error?.detail == .scopeSize(pairs))
            #expect(try issuer.isEmpty())
        }
    }

    @Test(
        "The window: valid-from defaults to now, expiry to a year; never; after; at",
        arguments: [
            (nil, Expiry.default, t0, t0 + 365 * day),
            (nil, .never, t0, nil),
            (nil, .after(3_600), t0, t0 + 3_600),
            (nil, .at(t0 + 10), t0, t0 + 10),
            (t0 + 100, .default, t0 + 100, t0 + 100 + 365 * day),
            (t0 + 100, .never, t0 + 100, nil),
            (t0 - 1_000, .after(2_000), t0 - 1_000, t0 + 1_000),
        ] as [(Int64?, Expiry, Int64, Int64?)])
    func windows(validFrom: Int64?, expiry: Expiry, from: Int64, to: Int64?) throws {
        let req = request(validFrom: validFrom, expiry: expiry)
        let checked = try Issuer.checkRequest(req, now: t0)
        #expect(checked.0 == from)
        #expect(checked.1 == to)
        let issued = try issuer.issue(req, by: alice, now: t0)
        #expect(issued.record.validFrom == from)
        #expect(issued.record.validTo == to)
        #expect(issued.record.createdAt == t0)
        #expect(issued.record.updatedAt == t0)
        #expect(issued.record.status == .active)
        let verified = try verifier().verify(issued.token, at: from)
        #expect(verified.validTo == to)
    }

    @Test(
        "An expiry that has passed is refused",
        arguments: [
            (nil, Expiry.at(t0), t0),
            (nil, .at(t0 - 1), t0 - 1),
            (nil, .after(0), t0),
            (t0 - 100, .after(50), t0 - 50),
            (t0 - 2 * 365 * day, .default, t0 - 365 * day),
        ] as [(Int64?, Expiry, Int64)])
    func windowInPast(validFrom: Int64?, expiry: Expiry, validTo: Int64) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(validFrom: validFrom, expiry: expiry), by: alice, now: t0)
        }
        #expect(error?.detail == .windowInPast(validTo: validTo))
        #expect(try issuer.isEmpty())
    }

    @Test(
        "An expiry not after valid-from is refused",
        arguments: [
            (t0 + 1_000, Expiry.at(t0 + 500), t0 + 500),
            (t0 + 1_000, .at(t0 + 1_000), t0 + 1_000),
            (t0 + 1_000, .after(-10), t0 + 990),
        ])
    func windowReversed(validFrom: Int64, expiry: Expiry, validTo: Int64) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(validFrom: validFrom, expiry: expiry), by: alice, now: t0)
        }
        #expect(error?.detail == .windowReversed(validFrom: validFrom, validTo: validTo))
        #expect(try issuer.isEmpty())
    }

    static let badLabels = [
        "", "   ", "\t", "bad\u{1b}[31mred", "line\nbreak", "tab\there", "nul\u{0}", "del\u{7f}",
        "evil\u{202E}txt.exe", "zero\u{200B}width", "iso\u{2066}late", "soft\u{00AD}hyphen", "bom\u{FEFF}",
        "line\u{2028}separator",
    ]

    @Test(
        "Names are refused when blank, over 200 bytes, or with control or format characters",
        arguments: badLabels + [
            String(repeating: "a", count: 201), String(repeating: "é", count: 101),
        ])
    func badName(name: String) throws {
        let error = expectIssuerError(.invalidInput) { try issuer.issue(request(name), by: alice, now: t0) }
        #expect(isInvalidLabel(error, field: "name"))
        #expect(try issuer.isEmpty())
    }

    @Test(
        "Descriptions are refused over 1000 bytes or with control or format characters",
        arguments: badLabels.dropFirst(3) + [
            String(repeating: "d", count: 1_001), String(repeating: "€", count: 334),
        ])
    func badDescription(text: String) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(description: text), by: alice, now: t0)
        }
        #expect(isInvalidLabel(error, field: "description"))
        #expect(try issuer.isEmpty())
    }

    @Test("Labels at the byte limits, and an empty description, are accepted")
    func labelLimits() throws {
        let name = String(repeating: "é", count: 100)
        let description = String(repeating: "d", count: 1_000)
        let issued = try issuer.issue(request(name, description: description), by: alice, now: t0)
        #expect(issued.record.name == name)
        #expect(issued.record.description == description)
        let plain = try issuer.issue(request("Grafana — reader ✓", description: ""), by: alice, now: t0)
        #expect(plain.record.name == "Grafana — reader ✓")
    }

    static let goodIdentifiers = [
        "a", "alice", "alice@example.com", "svc:deploy-1", "A.b_c", "token:3f2a9c1e", "member:ada+ops@example.com",
        String(repeating: "x", count: 261),
    ]
    static let badIdentifiers = [
        "", String(repeating: "x", count: 262), "al ice", "esc\u{1b}[0m", "alice\n", "ünï",
        "a/b", "a;b", "a\u{202E}b", "\u{0}",
    ]

    @Test("Actor names are 1-261 characters of [A-Za-z0-9._@:+-]", arguments: goodIdentifiers)
    func goodActor(name: String) throws {
        #expect(try Actor(name: name).name == name)
        #expect(Actor.isValid(name))
        let issued = try issuer.issue(request(createdBy: name), by: Actor(name: name), now: t0)
        #expect(issued.record.createdBy == name)
    }

    @Test("Other actor names are refused", arguments: badIdentifiers)
    func badActor(name: String) throws {
        let error = expectIssuerError(.invalidInput, hiding: name.count > 1 ? [name] : []) { try Actor(name: name) }
        #expect(isInvalidLabel(error, field: "actor"))
        #expect(!Actor.isValid(name))
    }

    @Test("Other creators are refused", arguments: badIdentifiers)
    func badCreatedBy(name: String) throws {
        let error = expectIssuerError(.invalidInput, hiding: name.count > 1 ? [name] : []) {
            try issuer.issue(request(createdBy: name), by: alice, now: t0)
        }
        #expect(isInvalidLabel(error, field: "created_by"))
        #expect(try issuer.isEmpty())
    }

    @Test("The creator defaults to the actor")
    func creatorDefault() throws {
        let issued = try issuer.issue(request(), by: alice, now: t0)
        #expect(issued.record.createdBy == "alice")
        let apiActor = Actor(token: issued.record.id)
        #expect(apiActor.name == "token:\(issued.record.id)")
        let child = try issuer.issue(request(), by: apiActor, now: t0)
        #expect(child.record.createdBy == apiActor.name)
    }

    @Test(
        "An audience outside [A-Za-z0-9._:-]{1,64} is refused",
        arguments: ["", "bill ing", String(repeating: "a", count: 65), "bill/ing", "billïng", "bill\u{1b}", "a@b"])
    func badAudience(audience: String) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.issue(request(audience: audience), by: alice, now: t0)
        }
        #expect(error?.detail == .invalidAudience(length: audience.utf8.count))
        #expect(try issuer.isEmpty())
    }

    @Test("Issuing records an issue event naming the actor and the GUID, never the token")
    func issueEvent() throws {
        let issued = try issuer.issue(request("reporting", scope: .readOnly), by: alice, now: t0)
        let events = try issuer.events(.issue)
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.actor == "alice")
        #expect(event.at == t0)
        #expect(event.guids == [issued.record.id])
        #expect(event.detailsJSON.contains("\"name\":\"reporting\""))
        #expect(event.detailsJSON.contains("\"scope\":\"read-only\""))
        #expect(!event.detailsJSON.contains(issued.token))
    }

    @Test("The ledger row is committed when issue returns, and the token text is stored nowhere")
    func committed() throws {
        let issued = try issuer.issue(request(createdBy: "ci-bot"), by: alice, now: t0)
        let other = try temp.issuer(.existing)
        let seen = try other.token(issued.record.id.description)
        #expect(seen == issued.record)
        #expect(seen.createdBy == "ci-bot")
        let body = String(issued.token.dropFirst(4).prefix(40))
        for file in ["sigil.db", "sigil.db-wal", "keyring.json"] {
            guard let bytes = readFile(temp.path(file)) else { continue }
            #expect(!String(decoding: bytes, as: UTF8.self).contains(body), "\(file) holds the token")
        }
    }

    @Test("Issuing from a home without a keyring is not_found and records nothing")
    func noKeyring() throws {
        try FileManager.default.removeItem(atPath: temp.path("keyring.json"))
        let error = expectIssuerError(.notFound) { try issuer.issue(request(), by: alice, now: t0) }
        #expect(error?.detail == .noHome(temp.home))
        #expect(try issuer.isEmpty())
    }
}
