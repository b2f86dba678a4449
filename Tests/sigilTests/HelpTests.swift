import Foundation
import SigilTestSupport
import Testing

@Suite("Help and version")
struct HelpTests {
    /// Every command and subcommand a user can reach.
    static let commands: [[String]] = [
        [], ["init"], ["issue"], ["inspect"], ["verify"], ["list"], ["show"], ["edit"], ["deactivate"], ["activate"],
        ["revoke"], ["delete"], ["keys"], ["keys", "list"], ["keys", "add"], ["keys", "promote"], ["keys", "retire"],
        ["keys", "rotate"], ["keys", "export"], ["catalog"], ["catalog", "show"], ["catalog", "add"], ["revocations"],
        ["revocations", "export"], ["revocations", "pull"], ["revocations", "show"], ["ledger"], ["ledger", "compact"],
        ["ledger", "backup"], ["ledger", "restore"],
        ["policy"], ["policy", "set"], ["policy", "show"], ["policy", "clear"],
    ]

    @Test("--help exits 0, prints usage on stdout and touches no home", arguments: commands)
    func helpExitsZero(command: [String]) async throws {
        let box = try Sandbox()
        let result = try await box.run(command + ["--help"])
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stdout.contains("USAGE: sigil"), "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: box.home), "help must not create the home")
    }

    @Test(
        "--help of every subcommand shows an Example",
        .bug(id: "help-example", "keys list/add/promote/retire/rotate, catalog show and ledger had no Example"),
        arguments: commands.filter { !$0.isEmpty })
    func helpHasExample(command: [String]) async throws {
        let result = try await Sandbox().run(command + ["--help"])
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("Example"), "\(result)")
    }

    @Test(
        "With --json, a usage error prints a JSON error object whichever check caught it",
        .bug(
            id: "json-usage-errors",
            "--json prints {\"error\":\"usage\",…} for run-time usage errors but nothing for validate() ones"),
        arguments: [
            (["--json", "issue", "--name", "x", "--audience", "billing", "--all", "--expires", "tomorrow"], false),
            (["--json", "issue", "--name", "x", "--audience", "bad audience", "--all"], true),
        ])
    func jsonUsageErrors(arguments: [String], known: Bool) async throws {
        let box = try Sandbox()
        // A home exists, so edit's sealed-field check is what fails, not a missing home (66).
        try #require(try await box.run("init").exitCode == 0)
        let result = try await box.run(arguments)
        #expect(result.exitCode == 64, "\(result)")
        // `known` marked the cases ArgumentParser's validate() used to catch before `guarded`.
        _ = known
        let o = try result.jsonObject()
        #expect(o["error"] as? String == "usage")
        #expect(o["exit_code"] as? Int == 64)
    }

    @Test(
        "With --json, a refused change to a sealed field is a usage error like the others",
        arguments: [
            ["--json", "edit", "00000000", "--scope", "devices.list"],
            ["--json", "edit", "00000000", "--audience", "shop"],
        ])
    func jsonSealedField(arguments: [String]) async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let result = try await box.run(arguments)
        #expect(result.exitCode == 64, "\(result)")
        let o = try result.jsonObject()
        #expect(o["error"] as? String == "usage")
        #expect(o["exit_code"] as? Int == 64)
    }

    @Test(
        "With --json, errors caught while parsing (a bad enum value, validate()) print a JSON error object too",
        .bug(
            id: "json-usage-errors",
            "--json prints {\"error\":\"usage\",…} for run-time usage errors but nothing for validate() ones"),
        arguments: [
            ["--json", "list", "--sort", "bogus"],
            ["--json", "issue", "--name", "x", "--audience", "billing"],
            ["--json", "log", "--action", "nope"],
            ["--json", "deactivate", "--all-matching"],
        ])
    func jsonParseErrors(arguments: [String]) async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let result = try await box.run(arguments)
        #expect(result.exitCode == 64, "\(result)")
        let o = try result.jsonObject()
        #expect(o["error"] as? String == "usage")
        #expect(o["exit_code"] as? Int == 64)
    }

    @Test("The top-level help shows the quick start and the exit codes")
    func topLevelHelp() async throws {
        let result = try await Sandbox().run("--help")
        #expect(result.exitCode == 0)
        for text in ["Quick start", "sigil issue", "10 malformed", "18", "64 usage", "75 lock busy", "77 permissions"] {
            #expect(result.stdout.contains(text), "missing \(text)")
        }
        for subcommand in [
            "init", "issue", "inspect", "verify", "list", "show", "edit", "deactivate", "activate",
            "revoke", "delete", "keys", "catalog", "revocations", "ledger",
        ] {
            #expect(result.stdout.contains("  \(subcommand) "), "subcommand \(subcommand) not listed")
        }
    }

    @Test("--version prints the version")
    func version() async throws {
        let result = try await Sandbox().run("--version")
        #expect(result.exitCode == 0)
        #expect(result.stdout == "0.1.0\n")
    }

    @Test(
        "An unknown subcommand or option is a usage error (64)",
        arguments: [
            ["frobnicate"], ["list", "--frobnicate"], ["issue", "--name"], ["keys", "bogus"],
        ])
    func usageErrors(arguments: [String]) async throws {
        let result = try await Sandbox().run(arguments)
        #expect(result.exitCode == 64, "\(result)")
        #expect(!result.stderr.isEmpty)
    }
}
