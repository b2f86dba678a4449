import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

extension LifecycleAction {
    var pastTense: String {
        switch self {
        case .deactivate: "Deactivated"
        case .activate: "Activated"
        case .revoke: "Revoked"
        case .delete: "Deleted"
        }
    }
}

/// The shared body of deactivate, activate, revoke and delete: resolve, confirm, call, render.
func runLifecycle(
    _ action: LifecycleAction, global: GlobalOptions, actorOption: ActorOption, selection: TokenSelection, yes: Bool,
    cascade: Bool = false
) async throws {
    try await guardedAsync(json: global.json) {
        // A permanent change, or a change of many tokens picked by a filter, is confirmed.
        let asks = action.isPermanent || selection.allMatching
        let stdinNeedsYes = CLIFailure.usage(
            "reading GUIDs from stdin leaves no way to confirm: pass --yes to \(action.rawValue) them")
        let client = try issuerClient(global, actor: actorOption)
        if asks, selection.readsStdin, !yes { throw stdinNeedsYes }
        guard let done = try await client.change(action, selection, asks: asks, yes: yes, cascade: cascade) else {
            return reportNoMatch(action, json: global.json)
        }
        if global.json {
            Console.json(WireBulkResult(action: action, guids: done.map(\.id)))
        } else {
            if done.count <= 20 {
                for t in done {
                    Console.note("\(action.pastTense) \(t.id)" + (t.name.map { " (\(Terminal.safe($0)))" } ?? ""))
                }
            } else {
                Console.note("\(action.pastTense) \(done.count) tokens.")
            }
            Console.note(client.publicationNote)
        }
    }
}

private func reportNoMatch(_ action: LifecycleAction, json: Bool) {
    if json { Console.json(WireBulkResult(action: action, guids: [])) }
    Console.note("No tokens match; nothing changed.")
}

/// Asks before changing `tokens` (named where known).
func confirm(_ action: LifecycleAction, _ tokens: [(id: TokenID, name: String?)], yes: Bool) throws {
    let what =
        tokens.count == 1
        ? (tokens[0].name.map { "\(Terminal.safe($0)) (\(tokens[0].id))" } ?? "\(tokens[0].id)")
        : "\(tokens.count) tokens"
    try confirm("\(action.rawValue.capitalized) \(what)?", yes: yes, permanent: action.isPermanent)
}

struct Deactivate: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deactivate tokens (reversible with activate).",
        discussion: """
            Examples:
              sigil deactivate 3f2a9c1e
              sigil deactivate --yes --all-matching --audience billing --name "old ci"
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask before deactivating several tokens by filter.")
    var yes = false
    func run() async throws {
        try await runLifecycle(.deactivate, global: global, actorOption: actorOption, selection: selection, yes: yes)
    }
}

struct Activate: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-activate deactivated tokens (a revoked token cannot be activated).",
        discussion: """
            Example:
              sigil activate 3f2a9c1e
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    func run() async throws {
        try await runLifecycle(.activate, global: global, actorOption: actorOption, selection: selection, yes: true)
    }
}

struct Revoke: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke tokens permanently (asks unless --yes).",
        discussion: """
            Examples:
              sigil revoke 3f2a9c1e
              sigil list --status inactive --json | jq -r '.[].guid' | sigil revoke --yes -
              sigil revoke --yes --all-matching --audience billing --status inactive
              sigil revoke --token - < leaked-token.txt

            With --token -, the token itself is read from stdin (never an argument: ps would \
            show it) and revoked once its tag verifies with the keyring: a leaked token is \
            revoked without looking up its GUID, and nobody revokes others' tokens by guessing \
            GUIDs. A forged token exits 13, another issuer's 12, a malformed one 10.
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Also revoke every token these tokens created (through the API), and theirs.") var cascade = false
    @Option(
        help: ArgumentHelp(
            "- to read a token (not a GUID) from stdin and revoke it after its tag verifies.", valueName: "-"))
    var token: String?

    func validate() throws {
        guard let token else { return }
        guard token == "-" else {
            throw ValidationError("--token takes - and reads the token from stdin; a token in an argument shows in ps")
        }
        guard selection.guids.isEmpty, !selection.allMatching, !cascade else {
            throw ValidationError(
                "--token - revokes the one token on stdin: give no GUIDs, --all-matching or --cascade")
        }
    }

    func run() async throws {
        guard token != nil else {
            return try await runLifecycle(
                .revoke, global: global, actorOption: actorOption, selection: selection, yes: yes, cascade: cascade)
        }
        try await guardedAsync(json: global.json) {
            let text = try readToken("-")
            // Revoking a token whose tag has just verified needs no confirmation: it has leaked.
            let client = try issuerClient(global, actor: actorOption)
            guard let revoked = try await client.revoke(token: text) else { return }
            if global.json {
                Console.json(WireBulkResult(action: .revoke, guids: [revoked.id]))
                return
            }
            Console.note("Revoked \(revoked.id) (\(Terminal.safe(revoked.name)))")
            Console.note(client.publicationNote)
        }
    }
}

struct Delete: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete tokens: remove them from listings; they stay revoked until they expire.",
        discussion: """
            The ledger keeps a tombstone so revocation lists still name a deleted token until its \
            valid_to has passed.

            Example:
              sigil delete --yes 3f2a9c1e
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
    func run() async throws {
        try await runLifecycle(.delete, global: global, actorOption: actorOption, selection: selection, yes: yes)
    }
}
