import Foundation
import SigilTestSupport
import Testing

@Suite("sigil issue")
struct IssueTests {
    static let now = Sandbox.defaultNow  // 2027-01-15T08:00:00Z
    static let year: Int64 = 365 * 86_400

    @Test("The token alone goes to stdout; the summary and 'shown once' go to stderr")
    func tokenAloneOnStdout() async throws {
        let box = try Sandbox()
        let result = try await box.run("issue", "--name", "CI deploy", "--audience", "billing", "--scope", "devices.*")
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stdoutLines.count == 1, "exactly one line: \(result.stdout)")
        let token = try #require(result.stdoutLines.first)
        #expect(token.hasPrefix("sgl_"))
        #expect(result.stdout == token + "\n")
        #expect(!token.contains(" ") && !token.contains("="), "unpadded base64url, no spaces")
        #expect(result.stderr.contains("Issued \"CI deploy\" for audience billing"), "\(result.stderr)")
        #expect(result.stderr.contains("shown once"))
        #expect(!result.stderr.contains(token), "the summary does not repeat the token")
        let listed = try await box.list()
        let guid = try #require(listed.first?["guid"] as? String)
        #expect(result.stderr.contains(guid), "the summary names the GUID")
        #expect(result.stderr.contains("devices.create,devices.delete,devices.get,devices.list,devices.update"))
        let verify = try await box.verify(token)
        #expect(verify.exitCode == 0, "\(verify)")
        box.checkHygiene()
    }

    @Test("--json prints the ledger record plus the token; defaults: now, one year, --created-by = $USER")
    func jsonAndDefaults() async throws {
        let box = try Sandbox()
        let result = try await box.run("--json", "issue", "--name", "reporting", "--audience", "billing", "--read-only")
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(
            Set(o.keys) == [
                "token", "guid", "name", "description", "audience", "scope", "valid_from", "valid_to", "expires", "kid",
                "status", "created_at", "updated_at", "created_by", "revoked_at", "deleted",
            ])
        #expect((o["token"] as? String)?.hasPrefix("sgl_") == true)
        #expect(o["name"] as? String == "reporting")
        #expect(o["description"] as? String == "")
        #expect(o["audience"] as? String == "billing")
        #expect(o["scope"] as? String == "read-only")
        #expect(o["valid_from"] as? Int64 == Self.now)
        #expect(o["valid_to"] as? Int64 == Self.now + Self.year)
        #expect(o["expires"] as? String == "2028-01-15T08:00:00Z")
        #expect(o["status"] as? String == "active")
        #expect(o["created_at"] as? Int64 == Self.now)
        #expect(o["updated_at"] as? Int64 == Self.now)
        #expect(o["created_by"] as? String == "tester")
        #expect(o["revoked_at"] is NSNull)
        #expect(o["deleted"] as? Bool == false)
        #expect(o["kid"] as? String == (try await box.activeKeyID()))
        #expect(result.stderr.contains("shown once"), "the summary still goes to stderr")

        let custom = try await box.run(
            "--json", "issue", "--name", "n", "--audience", "shop:eu-1", "--all", "--description", "for the EU shop",
            "--created-by", "alice")
        let c = try custom.jsonObject()
        #expect(c["description"] as? String == "for the EU shop")
        #expect(c["created_by"] as? String == "alice")
        #expect(c["audience"] as? String == "shop:eu-1")
        box.checkHygiene()
    }

    struct Window: Sendable, CustomTestStringConvertible {
        let options: [String]
        let from: Int64
        let to: Int64?
        var testDescription: String { options.joined(separator: " ") }
    }

    @Test(
        "Validity windows: YYYY-MM-DD, RFC 3339, durations, --never-expires",
        arguments: [
            Window(options: ["--expires", "2027-06-30"], from: now, to: 1_814_313_600),
            Window(options: ["--expires", "2027-06-30T12:00:00+02:00"], from: now, to: 1_814_349_600),
            Window(options: ["--expires", "2027-06-30T10:00:00Z"], from: now, to: 1_814_349_600),
            Window(options: ["--expires", "2027-06-30t10:00:00.999z"], from: now, to: 1_814_349_600),
            Window(options: ["--expires", "2027-06-30T03:30:00-06:30"], from: now, to: 1_814_349_600),
            Window(options: ["--expires-in", "90d"], from: now, to: now + 90 * 86_400),
            Window(options: ["--expires-in", "12h"], from: now, to: now + 12 * 3600),
            Window(options: ["--expires-in", "30m"], from: now, to: now + 30 * 60),
            Window(options: ["--expires-in", "45s"], from: now, to: now + 45),
            Window(options: ["--expires-in", "2w"], from: now, to: now + 14 * 86_400),
            Window(options: ["--expires-in", "1y"], from: now, to: now + year),
            Window(options: ["--never-expires"], from: now, to: nil),
            Window(options: ["--valid-from", "2027-02-01"], from: 1_801_440_000, to: 1_801_440_000 + year),
            Window(
                options: ["--valid-from", "2027-02-01", "--expires-in", "90d"], from: 1_801_440_000,
                to: 1_801_440_000 + 90 * 86_400),
            Window(
                options: ["--valid-from", "2027-02-01T00:00:00Z", "--expires", "2027-03-01"], from: 1_801_440_000,
                to: 1_803_859_200),
            Window(
                options: ["--valid-from", "2020-01-01", "--expires", "2027-03-01"], from: 1_577_836_800,
                to: 1_803_859_200),
            Window(options: ["--valid-from", "2027-02-01", "--never-expires"], from: 1_801_440_000, to: nil),
        ])
    func windows(window: Window) async throws {
        let box = try Sandbox()
        let result = try await box.run(
            ["--json", "issue", "--name", "w", "--audience", "billing", "--all"] + window.options)
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(o["valid_from"] as? Int64 == window.from)
        if let to = window.to {
            #expect(o["valid_to"] as? Int64 == to)
        } else {
            #expect(o["valid_to"] is NSNull)
            #expect(o["expires"] as? String == "never")
        }
        // The window is sealed into the token too.
        let token = try #require(o["token"] as? String)
        let inspect = try await box.run("--json", "inspect", "-", stdin: token + "\n").jsonObject()
        #expect(inspect["valid_from"] as? Int64 == window.from)
        #expect((inspect["valid_to"] as? Int64) == window.to)
        #expect(inspect["verified"] as? Bool == true)
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let options: [String]
        let message: String
        var testDescription: String { options.joined(separator: " ") }
    }

    @Test(
        "A reversed, past or unreadable window is a usage error (64) and records nothing",
        arguments: [
            BadInput(options: ["--all", "--valid-from", "2027-03-02", "--expires", "2027-03-01"], message: "reversed"),
            BadInput(options: ["--all", "--valid-from", "2027-03-01", "--expires", "2027-03-01"], message: "reversed"),
            BadInput(
                options: ["--all", "--valid-from", "2020-01-01", "--expires", "2021-01-01"], message: "in the past"),
            BadInput(
                options: ["--all", "--valid-from", "2020-01-01", "--expires", "2027-01-15T08:00:00Z"],
                message: "in the past"),
            BadInput(options: ["--all", "--expires", "2020-01-01"], message: "2020-01-01"),
            BadInput(options: ["--all", "--expires", "tomorrow"], message: "RFC 3339"),
            BadInput(options: ["--all", "--expires", "2027-02-30"], message: "RFC 3339"),
            BadInput(options: ["--all", "--expires", "2027-06-30 10:00:00"], message: "RFC 3339"),
            BadInput(options: ["--all", "--expires", "2027-06-30T10:00:00"], message: "RFC 3339"),
            BadInput(options: ["--all", "--valid-from", "soon"], message: "RFC 3339"),
            BadInput(options: ["--all", "--expires-in", "90"], message: "duration"),
            BadInput(options: ["--all", "--expires-in", "0d"], message: "duration"),
            BadInput(options: ["--all", "--expires-in", "-5d"], message: "duration"),
            BadInput(options: ["--all", "--expires-in", "101y"], message: "duration"),
            BadInput(options: ["--all", "--expires", "2027-06-30", "--never-expires"], message: "at most one"),
            BadInput(options: ["--all", "--expires", "2027-06-30", "--expires-in", "1d"], message: "at most one"),
        ])
    func badWindows(input: BadInput) async throws {
        let box = try Sandbox()
        let result = try await box.run(["issue", "--name", "w", "--audience", "billing"] + input.options)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains(input.message), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "no token on a usage error")
        #expect(!FileManager.default.fileExists(atPath: box.home), "nothing was recorded, no home was made")
        #expect(try await box.run("list").exitCode == 66)
    }

    @Test(
        "A missing scope, two scope kinds, or an invalid label is a usage error (64)",
        arguments: [
            BadInput(options: [], message: "choose exactly one scope"),
            BadInput(options: ["--all", "--read-only"], message: "choose exactly one scope"),
            BadInput(options: ["--all", "--scope", "devices.list"], message: "choose exactly one scope"),
            BadInput(options: ["--read-only", "--scope", "devices.list"], message: "choose exactly one scope"),
            BadInput(options: ["--scope", "Devices.List"], message: "is not resource.action"),
            BadInput(options: ["--scope", "devices"], message: "is not resource.action"),
            BadInput(options: ["--scope", ","], message: "at least one"),
            BadInput(
                options: ["--scope", "robots.*"],
                message: "Known resources: audit, devices, invoices, members, tokens, users"),
            BadInput(options: ["--all", "--name", ""], message: "--name must not be empty"),
            BadInput(options: ["--all", "--name", "tab\there"], message: "control characters"),
            BadInput(options: ["--all", "--description", "two\nlines"], message: "control characters"),
            BadInput(options: ["--all", "--name", String(repeating: "n", count: 201)], message: "longer than 200"),
            BadInput(options: ["--all", "--audience", "bad audience"], message: "--audience must be"),
            BadInput(
                options: ["--all", "--audience", String(repeating: "a", count: 65)], message: "--audience must be"),
        ])
    func badScopesAndLabels(input: BadInput) async throws {
        let box = try Sandbox()
        // A later --name/--audience overrides the default one.
        let result = try await box.run(["issue", "--name", "n", "--audience", "billing"] + input.options)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains(input.message), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("An unknown --scope pair is refused (64) with every known pair listed")
    func unknownPairListsKnown() async throws {
        let box = try Sandbox()
        let result = try await box.run("issue", "--name", "n", "--audience", "billing", "--scope", "devices.fly")
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("unknown permission devices.fly"), "\(result.stderr)")
        // The example catalog plus the issuer's own resources, which every catalog has.
        let known = [
            "audit.list", "devices.create", "devices.delete", "devices.get", "devices.list", "devices.update",
            "invoices.get", "invoices.list", "invoices.pay", "members.create", "members.delete", "members.list",
            "members.read", "members.update", "tokens.activate", "tokens.create", "tokens.deactivate",
            "tokens.delete", "tokens.get", "tokens.list", "tokens.revoke", "tokens.update", "users.get",
            "users.invite", "users.list", "users.remove",
        ]
        #expect(result.stderr.contains("Known: " + known.joined(separator: ", ")), "\(result.stderr)")
        #expect(result.stderr.contains("sigil catalog add devices fly --access read|write"))
        #expect(try await box.list().isEmpty)
    }

    @Test("resource.* expands to the catalog's actions today; pairs may be repeated or comma-separated")
    func wildcardExpands() async throws {
        let box = try Sandbox()
        let result = try await box.run(
            "--json", "issue", "--name", "n", "--audience", "billing", "--scope", "devices.*")
        #expect(
            try result.jsonObject()["scope"] as? [String] == [
                "devices.create", "devices.delete", "devices.get", "devices.list", "devices.update",
            ])
        let mixed = try await box.run(
            "--json", "issue", "--name", "n", "--audience", "billing", "--scope", "users.get, invoices.pay",
            "--scope", "users.*", "--scope", "users.get")
        #expect(
            try mixed.jsonObject()["scope"] as? [String] == [
                "invoices.pay", "users.get", "users.invite", "users.list", "users.remove",
            ])
    }

    @Test("A catalog action added later does not reach earlier custom tokens; --all and --read-only tokens get it")
    func catalogGrowth() async throws {
        let box = try Sandbox()
        let (custom, _) = try await box.issue(name: "custom", ["--scope", "devices.*"])
        let (all, _) = try await box.issue(name: "all", ["--all"])
        let (readOnly, _) = try await box.issue(name: "ro", ["--read-only"])
        #expect(try await box.run("catalog", "add", "devices", "reboot", "--access", "write").exitCode == 0)
        #expect(try await box.run("catalog", "add", "devices", "status", "--access", "read").exitCode == 0)

        func code(_ token: String, _ permission: String) async throws -> Int32 {
            try await box.verify(token, ["--permission", permission]).exitCode
        }
        #expect(try await code(custom, "devices.list") == 0)
        #expect(try await code(custom, "devices.reboot") == 18)
        #expect(try await code(custom, "devices.status") == 18)
        #expect(try await code(all, "devices.reboot") == 0)
        #expect(try await code(all, "devices.status") == 0)
        #expect(try await code(readOnly, "devices.status") == 0)
        #expect(try await code(readOnly, "devices.reboot") == 18)
        #expect(try await code(readOnly, "devices.delete") == 18)

        // A token issued after the change gets the new actions.
        let later = try await box.run(
            "--json", "issue", "--name", "later", "--audience", "billing", "--scope", "devices.*")
        let scope = try #require(try later.jsonObject()["scope"] as? [String])
        #expect(scope.contains("devices.reboot") && scope.contains("devices.status") && scope.count == 7)
        box.checkHygiene()
    }
}
