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
) throws {
    try guarded(json: global.json) {
        let home = Home(global, actor: actorOption)
        let actor = try home.actor()
        // A permanent change, or a change of many tokens picked by a filter, is confirmed.
        let asks = action.isPermanent || selection.allMatching
        if asks, selection.readsStdin, !yes {
            throw CLIFailure.usage(
                "reading GUIDs from stdin leaves no way to confirm: pass --yes to \(action.rawValue) them")
        }
        let issuer = try home.issuer()
        let result: ChangeResult
        if !selection.allMatching, !cascade, !asks || yes {
            // Nothing to confirm: resolve and change in one transaction (10k GUIDs on stdin).
            result = try issuer.change(action, selectors: try selection.selectors(), by: actor, now: Home.now)
        } else {
            let tokens = try selection.resolve(in: issuer)
            guard !tokens.isEmpty else {
                if global.json { Console.json(["action": action.rawValue, "count": 0, "guids": [String]()]) }
                Console.note("No tokens match; nothing changed.")
                return
            }
            if asks, action.isPermanent || tokens.count > 1 {
                let what =
                    tokens.count == 1 ? "\(Terminal.safe(tokens[0].name)) (\(tokens[0].id))" : "\(tokens.count) tokens"
                try confirm("\(action.rawValue.capitalized) \(what)?", yes: yes, permanent: action.isPermanent)
            }
            result = try issuer.change(action, tokens.map(\.id), cascade: cascade, by: actor, now: Home.now)
        }
        if global.json {
            Console.json([
                "action": action.rawValue, "count": result.tokens.count,
                "guids": result.tokens.map { $0.id.description },
            ])
        } else {
            if result.tokens.count <= 20 {
                for t in result.tokens { Console.note("\(action.pastTense) \(t.id) (\(Terminal.safe(t.name)))") }
            } else {
                Console.note("\(action.pastTense) \(result.tokens.count) tokens.")
            }
            Console.note("Services see this after the next revocation-list export: sigil revocations export")
        }
    }
}

struct Deactivate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deactivate tokens (reversible with activate).",
        discussion: """
            Examples:
              sigil deactivate 3f2a9c1e
              sigil deactivate --yes --all-matching --audience billing --name "old ci"
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask before deactivating several tokens by filter.")
    var yes = false
    func run() throws {
        try runLifecycle(.deactivate, global: global, actorOption: actorOption, selection: selection, yes: yes)
    }
}

struct Activate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-activate deactivated tokens (a revoked token cannot be activated).",
        discussion: """
            Example:
              sigil activate 3f2a9c1e
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    func run() throws {
        try runLifecycle(.activate, global: global, actorOption: actorOption, selection: selection, yes: true)
    }
}

struct Revoke: ParsableCommand {
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

    func run() throws {
        guard token != nil else {
            return try runLifecycle(
                .revoke, global: global, actorOption: actorOption, selection: selection, yes: yes, cascade: cascade)
        }
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            let text = try readToken("-")
            // Revoking a token the keyring has just verified needs no confirmation: it has leaked.
            let result = try home.issuer().revoke(
                token: text, by: actor, details: [("source", "revoke_by_token")], now: Home.now)
            if global.json {
                Console.json([
                    "action": "revoke", "count": result.tokens.count, "guids": result.tokens.map { $0.id.description },
                ])
                return
            }
            for t in result.tokens { Console.note("Revoked \(t.id) (\(Terminal.safe(t.name)))") }
            Console.note("Services see this after the next revocation-list export: sigil revocations export")
        }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete tokens: remove them from listings; they stay revoked until they expire.",
        discussion: """
            The ledger keeps a tombstone so revocation lists still name a deleted token until its \
            valid_to has passed.

            Example:
              sigil delete --yes 3f2a9c1e
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
    func run() throws {
        try runLifecycle(.delete, global: global, actorOption: actorOption, selection: selection, yes: yes)
    }
}
