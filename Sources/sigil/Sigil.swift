import ArgumentParser
import Foundation
import SigilIssuer

@main
struct Sigil: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sigil",
        abstract: "Issue, inspect, verify and revoke Sigil API tokens.",
        discussion: """
            Tokens are HMAC-SHA256-signed and verified offline by services. The issuer keeps only \
            metadata (the ledger), never a token: a token is shown once, at issue.

            The home folder (--home, else $SIGIL_HOME, else ./keys) holds the keyring, the ledger \
            and the catalog. The first command that needs a keyring creates a development one.

            With --server URL (or $SIGIL_SERVER) and --token-file FILE (or $SIGIL_TOKEN_FILE), \
            list, show, issue, edit, deactivate, activate, revoke, delete, log, catalog and members \
            go through sigil-server's API with that token's rights instead of a home.

            Quick start:
              TOKEN=$(sigil issue --name ci --audience billing --all)
              echo "$TOKEN" | sigil verify - --audience billing

            Exit codes: 0 ok; verify: 10 malformed, 11 wrong_audience, 12 unknown_key, \
            13 bad_signature, 14 revoked, 15 deactivated, 16 not_yet_valid, 17 expired, \
            18 scope_not_granted, 19 revocations_stale; 64 usage, 65 bad data, 66 not found, \
            69 unavailable (server), 73 cannot write, 75 lock busy, 77 permissions. See docs/CLI.md.
            """,
        version: version,
        subcommands: [
            Init.self, Issue.self, Inspect.self, Verify.self, List.self, Show.self, Edit.self,
            Deactivate.self, Activate.self, Revoke.self, Delete.self,
            Keys.self, CatalogCommand.self, Revocations.self, LedgerCommand.self, Log.self, Scan.self, Expiring.self,
            PolicyCommand.self, MembersCommand.self,
        ]
    )

    // Declared here too so `sigil --home DIR issue …` works: ArgumentParser decodes an option
    // group of the same type in the parent and the subcommand from the same arguments.
    @OptionGroup var global: GlobalOptions

    /// Runs like ArgumentParser's own `main()`, except that an argument error (unknown
    /// option, missing or bad value) under `--json` also prints
    /// `{"error": "usage", "message": …, "exit_code": 64}` on stdout, as docs/CLI.md promises
    /// for every failure. `--help` and `--version` are unchanged.
    ///
    /// ```
    /// $ sigil issue --json --bogus
    /// {"error":"usage","exit_code":64,"message":"Unknown option '--bogus'"}
    /// ```
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            let code = exitCode(for: error)
            // Only flags before a `--` terminator are options; after it, `--json` is a value.
            if code != .success, arguments.prefix(while: { $0 != "--" }).contains("--json") {
                Console.json(WireError(error: "usage", message: message(for: error), exitCode: code.rawValue))
            }
            exit(withError: error)
        }
        // A command that cannot run through the server refuses --server before it touches a home.
        if let refusal = remoteRefusal(for: command) {
            report(refusal, json: (command as? any SigilCommand)?.global.json ?? false)
            exit(withError: ExitCode(refusal.code))
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var command = command
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
