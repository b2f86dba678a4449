import Foundation
import SigilTestSupport
import SigilVerifier
import Testing

@Suite("list, show and edit")
struct ListShowEditTests {
    /// Five tokens issued a minute apart, in a mix of audiences, scopes, expiries and statuses.
    struct Fixture {
        let box: Sandbox
        /// name → GUID
        let ids: [String: String]

        static func make() async throws -> Fixture {
            let box = try Sandbox()
            var ids: [String: String] = [:]
            let specs: [(String, String, [String])] = [
                ("Deploy CI", "billing", ["--scope", "devices.*", "--expires-in", "30d"]),
                ("reporting", "billing", ["--read-only", "--never-expires"]),
                ("old deploy ci", "billing", ["--all", "--expires-in", "1d"]),
                ("shop admin", "shop", ["--all", "--expires-in", "90d"]),
                ("Analytics", "shop", ["--scope", "invoices.list,users.get", "--expires-in", "10d"]),
            ]
            for (index, (name, audience, options)) in specs.enumerated() {
                let now = String(Sandbox.defaultNow + Int64(index) * 60)
                ids[name] = try await box.issue(name: name, audience: audience, options, env: ["SIGIL_NOW": now]).guid
            }
            try #require(try await box.run("deactivate", ids["old deploy ci", default: "?"]).exitCode == 0)
            try #require(try await box.run("revoke", "--yes", ids["shop admin", default: "?"]).exitCode == 0)
            return Fixture(box: box, ids: ids)
        }
    }

    static func names(_ tokens: [[String: Any]]) -> [String] { tokens.compactMap { $0["name"] as? String } }

    struct Filter: Sendable, CustomTestStringConvertible {
        let options: [String]
        let names: [String]
        var testDescription: String { options.joined(separator: " ") }
    }

    @Test(
        "list filters: --name words, --scope R.A|all|read-only, --audience, --status",
        arguments: [
            Filter(options: [], names: ["Deploy CI", "reporting", "old deploy ci", "shop admin", "Analytics"]),
            Filter(options: ["--name", "deploy"], names: ["Deploy CI", "old deploy ci"]),
            Filter(options: ["--name", "CI DEPLOY"], names: ["Deploy CI", "old deploy ci"]),
            Filter(options: ["--name", "old ci"], names: ["old deploy ci"]),
            Filter(options: ["--name", "nothing"], names: []),
            Filter(options: ["--audience", "shop"], names: ["shop admin", "Analytics"]),
            Filter(options: ["--audience", "shop2"], names: []),
            Filter(options: ["--status", "active"], names: ["Deploy CI", "reporting", "Analytics"]),
            Filter(options: ["--status", "inactive"], names: ["old deploy ci"]),
            Filter(options: ["--status", "revoked"], names: ["shop admin"]),
            Filter(options: ["--scope", "all"], names: ["old deploy ci", "shop admin"]),
            Filter(options: ["--scope", "read-only"], names: ["reporting"]),
        ])
    func filters(filter: Filter) async throws {
        let fixture = try await Fixture.make()
        let tokens = try await fixture.box.list(filter.options)
        #expect(Self.names(tokens) == filter.names)
    }

    @Test(
        "list --scope resource.action: the tokens that grant it",
        arguments: [
            Filter(options: ["--scope", "devices.delete"], names: ["Deploy CI", "old deploy ci", "shop admin"]),
            Filter(
                options: ["--scope", "devices.list"], names: ["Deploy CI", "reporting", "old deploy ci", "shop admin"]),
            Filter(
                options: ["--scope", "users.get"], names: ["reporting", "old deploy ci", "shop admin", "Analytics"]),
            Filter(
                options: ["--scope", "users.get", "--audience", "shop", "--status", "active"], names: ["Analytics"]),
        ])
    func scopeFilters(filter: Filter) async throws {
        let fixture = try await Fixture.make()
        let result = try await fixture.box.run(["--json", "list"] + filter.options)
        #expect(result.exitCode == 0, "\(result)")
        #expect(Self.names(try result.jsonArray()) == filter.names)
        // The bulk commands share the filter (revoke: some of these tokens are revoked already,
        // which deactivate would refuse as a conflict).
        let revoke = try await fixture.box.run(["--json", "revoke", "--yes", "--all-matching"] + filter.options)
        #expect(revoke.exitCode == 0, "\(revoke)")
        #expect((try revoke.jsonObject()["count"] as? Int) == filter.names.count)
    }

    @Test("list --guid takes a hex prefix, with or without dashes, any case")
    func guidPrefix() async throws {
        let fixture = try await Fixture.make()
        for (name, guid) in fixture.ids {
            for prefix in [
                String(guid.prefix(4)), String(guid.prefix(13)), String(guid.prefix(13)).uppercased(),
                guid.replacingOccurrences(of: "-", with: ""),
            ] {
                let names = Self.names(try await fixture.box.list(["--guid", prefix]))
                #expect(names.contains(name), "--guid \(prefix)")
                #expect(
                    names.allSatisfy {
                        fixture.ids[$0]!.replacingOccurrences(of: "-", with: "").hasPrefix(
                            prefix.replacingOccurrences(of: "-", with: "").lowercased())
                    })
            }
        }
    }

    @Test("list --sort name|status|created|expires")
    func sorting() async throws {
        let fixture = try await Fixture.make()
        func sorted(_ key: String) async throws -> [String] { Self.names(try await fixture.box.list(["--sort", key])) }
        #expect(try await sorted("created") == ["Deploy CI", "reporting", "old deploy ci", "shop admin", "Analytics"])
        #expect(try await sorted("name") == ["Analytics", "Deploy CI", "old deploy ci", "reporting", "shop admin"])
        #expect(try await sorted("status") == ["Deploy CI", "reporting", "Analytics", "old deploy ci", "shop admin"])
        #expect(try await sorted("expires") == ["old deploy ci", "Analytics", "Deploy CI", "shop admin", "reporting"])
    }

    @Test(
        "list: bad filters and sort keys are usage errors (64)",
        arguments: [
            ["--status", "deleted"], ["--guid", "xyz"], ["--guid", ""], ["--scope", "devices"],
            ["--scope", "Devices.List"],
            ["--sort", "random"], ["--guid", String(repeating: "a", count: 33)],
        ])
    func badFilters(options: [String]) async throws {
        let box = try Sandbox()
        _ = try await box.issue()
        let result = try await box.run(["list"] + options)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test("list table: header columns and one row per token")
    func table() async throws {
        let fixture = try await Fixture.make()
        let result = try await fixture.box.run("list")
        #expect(result.exitCode == 0, "\(result)")
        let lines = result.stdoutLines
        #expect(lines.count == 6)
        let header = try #require(lines.first)
        let columns = header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        #expect(columns == "NAME GUID AUDIENCE SCOPE VALID FROM EXPIRES STATUS CREATED BY")
        let row = try #require(lines.first { $0.hasPrefix("Deploy CI ") })
        for cell in [
            fixture.ids["Deploy CI"]!, "billing", "5 permissions", "2027-01-15 08:00:00Z", "2027-02-14 08:00:00Z",
            "active",
            "tester",
        ] {
            #expect(row.contains(cell), "row lacks \(cell): \(row)")
        }
        let analytics = try #require(lines.first { $0.hasPrefix("Analytics ") })
        #expect(analytics.contains("invoices.list,users.get"))
        let reporting = try #require(lines.first { $0.hasPrefix("reporting ") })
        #expect(reporting.contains("read-only") && reporting.contains("never"))
        // Columns line up: every GUID starts where the header's GUID column does.
        let guidColumn = try #require(header.range(of: "GUID")).lowerBound.utf16Offset(in: header)
        for line in lines.dropFirst() {
            let guid = line.dropFirst(guidColumn).prefix(36)
            #expect(TokenID(uuidString: guid) != nil, "misaligned: \(line)")
        }
        let none = try await fixture.box.run("list", "--name", "nothing")
        #expect(none.stdout.isEmpty)
        #expect(none.stderr.contains("No tokens match"))
    }

    @Test("list --json: the token objects' shape")
    func listJSON() async throws {
        let fixture = try await Fixture.make()
        let tokens = try await fixture.box.list()
        let keys: Set<String> = [
            "guid", "name", "description", "audience", "scope", "valid_from", "valid_to", "expires", "kid", "status",
            "created_at", "updated_at", "created_by", "revoked_at", "deleted",
        ]
        for token in tokens { #expect(Set(token.keys) == keys) }
        let revoked = try #require(tokens.first { $0["name"] as? String == "shop admin" })
        #expect(revoked["status"] as? String == "revoked")
        #expect(revoked["revoked_at"] as? Int64 == Sandbox.defaultNow)
        let reporting = try #require(tokens.first { $0["name"] as? String == "reporting" })
        #expect(reporting["valid_to"] is NSNull)
        #expect(reporting["expires"] as? String == "never")
        #expect(reporting["scope"] as? String == "read-only")
        #expect(reporting["created_at"] as? Int64 == Sandbox.defaultNow + 60)
    }

    @Test("Deleted tokens are not listed, shown or matched")
    func deletedNotListed() async throws {
        let fixture = try await Fixture.make()
        let guid = fixture.ids["reporting"]!
        #expect(try await fixture.box.run("delete", "--yes", guid).exitCode == 0)
        let names = Self.names(try await fixture.box.list())
        #expect(!names.contains("reporting") && names.count == 4)
        #expect(Self.names(try await fixture.box.list(["--status", "revoked"])) == ["shop admin"])
        #expect(try await fixture.box.run("list").stdout.contains(guid) == false)
        #expect(try await fixture.box.run("show", guid).exitCode == 66)
        #expect(try await fixture.box.run("edit", guid, "--name", "back").exitCode == 66)
        #expect(try await fixture.box.run("activate", guid).exitCode == 66)
    }

    @Test("show: by full GUID or a unique prefix of ≥ 8 hex digits; text and --json")
    func show() async throws {
        let fixture = try await Fixture.make()
        let guid = fixture.ids["Deploy CI"]!
        for form in [
            guid, String(guid.prefix(8)), String(guid.prefix(8)).uppercased(), String(guid.prefix(13)),
            guid.replacingOccurrences(of: "-", with: ""),
            String(guid.replacingOccurrences(of: "-", with: "").prefix(31)),
        ] {
            let o = try await fixture.box.show(form)
            #expect(o["guid"] as? String == guid, "show \(form)")
        }
        let text = try await fixture.box.run("show", String(guid.prefix(8)))
        #expect(text.exitCode == 0)
        for line in [
            "name         Deploy CI", "guid         \(guid)", "audience     billing",
            "scope        devices.create,devices.delete,devices.get,devices.list,devices.update",
            "valid from   2027-01-15T08:00:00Z", "expires      2027-02-14T08:00:00Z", "status       active",
            "created      2027-01-15T08:00:00Z by tester",
        ] {
            #expect(text.stdout.contains(line + "\n"), "missing \(line)")
        }
        let revoked = try await fixture.box.run("show", fixture.ids["shop admin"]!)
        #expect(revoked.stdout.contains("status       revoked"))
        #expect(revoked.stdout.contains("revoked      2027-01-15T08:00:00Z"))
    }

    @Test(
        "show: a short or non-hex prefix is 64, an unknown GUID or prefix is 66",
        arguments: [
            ("7chars", 64), ("g0000000", 64), ("-", 64), ("00000000", 66), ("00000000-0000-4000-8000-000000000000", 66),
            ("0000000000000000000000000000000000", 64),
        ])
    func showErrors(argument: String, code: Int32) async throws {
        let fixture = try await Fixture.make()
        let text = argument == "7chars" ? String(fixture.ids["Deploy CI"]!.prefix(7)) : argument
        let result = try await fixture.box.run("show", text)
        #expect(result.exitCode == code, "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test("An ambiguous prefix is a usage error (64) that names the matches")
    func ambiguousPrefix() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let ids = ["abcdef01-2345-4678-8000-000000000001", "abcdef01-2345-4678-8000-000000000002"].compactMap {
            TokenID(uuidString: $0)
        }
        _ = try LedgerFixture.addTokens(home: box.home, ids: ids, namePrefix: "twin", now: Sandbox.defaultNow)
        for prefix in ["abcdef01", "abcdef01-2345", "abcdef0123454678800000000000000"] {
            let result = try await box.run("show", prefix)
            #expect(result.exitCode == 64, "\(result)")
            #expect(result.stderr.contains("matches 2 tokens"), "\(result.stderr)")
            #expect(result.stderr.contains(ids[0].description) && result.stderr.contains(ids[1].description))
            let revoke = try await box.run("revoke", "--yes", prefix)
            #expect(revoke.exitCode == 64)
        }
        // The full GUID still picks one, and nothing was revoked by the refused commands.
        let first = try await box.show(ids[0].description)
        #expect(first["name"] as? String == "twin-0")
        #expect(first["status"] as? String == "active")
        #expect(
            try await box.show(ids[1].description.replacingOccurrences(of: "-", with: ""))["name"] as? String
                == "twin-1")
    }

    @Test("edit changes name and description; the rest is sealed (64, 'issue a new token')")
    func edit() async throws {
        let fixture = try await Fixture.make()
        let guid = fixture.ids["Deploy CI"]!
        let result = try await fixture.box.run(
            [
                "--json", "edit", String(guid.prefix(8)), "--name", "CI deploy (prod)", "--description",
                "GitHub Actions",
            ],
            env: ["SIGIL_NOW": String(Sandbox.defaultNow + 3600)])
        #expect(result.exitCode == 0, "\(result)")
        #expect(try result.jsonObject()["name"] as? String == "CI deploy (prod)")
        let o = try await fixture.box.show(guid)
        #expect(o["name"] as? String == "CI deploy (prod)")
        #expect(o["description"] as? String == "GitHub Actions")
        #expect(o["updated_at"] as? Int64 == Sandbox.defaultNow + 3600)
        #expect(o["created_at"] as? Int64 == Sandbox.defaultNow)
        #expect(Self.names(try await fixture.box.list(["--name", "prod"])) == ["CI deploy (prod)"])

        let plain = try await fixture.box.run("edit", guid, "--description", "")
        #expect(plain.exitCode == 0)
        #expect(plain.stderr.contains("Updated \(guid)"))
        #expect(try await fixture.box.show(guid)["description"] as? String == "")
    }

    @Test(
        "edit refuses to change what is sealed into the token (64)",
        arguments: [
            ["--scope", "devices.list"], ["--all"], ["--read-only"], ["--audience", "shop"],
            ["--expires", "2030-01-01"],
            ["--expires-in", "90d"], ["--never-expires"], ["--valid-from", "2027-02-01"],
        ])
    func editSealed(options: [String]) async throws {
        let fixture = try await Fixture.make()
        let guid = fixture.ids["Deploy CI"]!
        let before = try LedgerFixture.snapshot(home: fixture.box.home)
        let result = try await fixture.box.run(["edit", guid] + options)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.lowercased().contains("issue a new token"), "\(result.stderr)")
        #expect(try LedgerFixture.snapshot(home: fixture.box.home) == before, "nothing changed")
    }

    @Test(
        "edit needs a change and valid labels (64)",
        arguments: [
            [String](), ["--name", ""], ["--name", "a\tb"], ["--description", "x\ny"],
        ])
    func editUsage(options: [String]) async throws {
        let fixture = try await Fixture.make()
        let result = try await fixture.box.run(["edit", fixture.ids["reporting"]!] + options)
        #expect(result.exitCode == 64, "\(result)")
    }
}
