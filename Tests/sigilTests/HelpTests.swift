import Foundation
import Testing

@Suite("Help and version")
struct HelpTests {
    /// Every command and subcommand a user can reach.
    static let commands: [[String]] = [
        [], ["init"], ["issue"], ["inspect"], ["verify"], ["list"], ["show"], ["edit"], ["deactivate"], ["activate"],
        ["revoke"], ["delete"], ["keys"], ["keys", "list"], ["keys", "add"], ["keys", "promote"], ["keys", "retire"],
        ["keys", "rotate"], ["keys", "export"], ["catalog"], ["catalog", "show"], ["catalog", "add"], ["revocations"],
        ["revocations", "export"], ["revocations", "pull"], ["revocations", "show"], ["ledger"], ["ledger", "compact"],
    ]

    /// Commands whose --help has no example yet (see the `.bug` test below).
    static let withoutExample: Set<[String]> = [
        [], ["keys", "list"], ["keys", "add"], ["keys", "promote"], ["keys", "retire"], ["keys", "rotate"],
        ["catalog", "show"], ["ledger"],
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

    @Test("--help of every command shows an Example", arguments: commands.filter { !withoutExample.contains($0) })
    func helpHasExample(command: [String]) async throws {
        let result = try await Sandbox().run(command + ["--help"])
        #expect(result.stdout.contains("Example"), "\(result)")
    }

    @Test(
        "--help of keys list|add|promote|retire|rotate, catalog show and ledger shows an Example",
        .bug(id: "help-example", "help without Example: keys list/add/promote/retire/rotate, catalog show, ledger"),
        arguments: withoutExample.filter { !$0.isEmpty }.sorted {
            $0.joined(separator: " ") < $1.joined(separator: " ")
        })
    func helpMissingExample(command: [String]) async throws {
        let result = try await Sandbox().run(command + ["--help"])
        #expect(result.exitCode == 0)
        withKnownIssue("no Example in the help of `sigil \(command.joined(separator: " "))`") {
            #expect(result.stdout.contains("Example"), "\(result)")
        }
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
