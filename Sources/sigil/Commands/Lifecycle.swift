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
        let done: [(id: TokenID, name: String?)]
        let remote = try RemoteIssuer.open(global)
        if let remote {
            try refuseActor(actorOption)
            if asks, selection.readsStdin, !yes { throw stdinNeedsYes }
            guard
                let changed = try await remoteChange(
                    action, remote: remote, selection: selection, asks: asks, yes: yes, cascade: cascade)
            else { return reportNoMatch(action, json: global.json) }
            done = changed
        } else {
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            if asks, selection.readsStdin, !yes { throw stdinNeedsYes }
            let issuer = try home.issuer()
            let result: ChangeResult
            if !selection.allMatching, !cascade, !asks || yes {
                // Nothing to confirm: resolve and change in one transaction (10k GUIDs on stdin).
                result = try issuer.change(action, selectors: try selection.selectors(), by: actor, now: Home.now)
            } else {
                let tokens = try selection.resolve(in: issuer)
                guard !tokens.isEmpty else { return reportNoMatch(action, json: global.json) }
                if asks, action.isPermanent || tokens.count > 1 {
                    try confirm(action, tokens.map { ($0.id, $0.name) }, yes: yes)
                }
                result = try issuer.change(action, tokens.map(\.id), cascade: cascade, by: actor, now: Home.now)
            }
            done = result.tokens.map { ($0.id, $0.name) }
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
            Console.note(
                remote == nil
                    ? "Services see this after the next revocation-list export: sigil revocations export"
                    : "sigil-server publishes the new revocation list within about a second.")
        }
    }
}

private func reportNoMatch(_ action: LifecycleAction, json: Bool) {
    if json { Console.json(WireBulkResult(action: action, guids: [])) }
    Console.note("No tokens match; nothing changed.")
}

private func confirm(_ action: LifecycleAction, _ tokens: [(id: TokenID, name: String?)], yes: Bool) throws {
    let what =
        tokens.count == 1
        ? (tokens[0].name.map { "\(Terminal.safe($0)) (\(tokens[0].id))" } ?? "\(tokens[0].id)")
        : "\(tokens.count) tokens"
    try confirm("\(action.rawValue.capitalized) \(what)?", yes: yes, permanent: action.isPermanent)
}

/// The most GUIDs one remote change sends: the bulk route is all or nothing, and its body
/// must stay under the server's 64 KiB limit (a GUID takes 39 bytes there).
let remoteBulkLimit = 1_000

/// A lifecycle change through sigil-server's `POST /v1/tokens/bulk`, all or nothing as
/// locally. Returns what the local change reports (the selected tokens, then any descendant
/// `--cascade` changed), with names when there are at most 20 to print; nil when
/// `--all-matching` matched nothing.
private func remoteChange(
    _ action: LifecycleAction, remote: RemoteIssuer, selection: TokenSelection, asks: Bool, yes: Bool,
    cascade: Bool
) async throws -> [(id: TokenID, name: String?)]? {
    var ids: [TokenID] = []
    var names: [TokenID: String] = [:]
    var seen = Set<TokenID>()
    if selection.allMatching {
        for t in try await remote.tokens(selection.filters) where seen.insert(t.id).inserted {
            ids.append(t.id)
            names[t.id] = t.name
        }
        if ids.isEmpty { return nil }
    } else {
        for selector in try selection.selectors() {
            let id: TokenID
            switch try RemoteIssuer.parse(selector) {
            case .id(let whole): id = whole
            case .prefix:
                let t = try await remote.token(selector)
                id = t.id
                names[t.id] = t.name
            }
            if seen.insert(id).inserted { ids.append(id) }
        }
    }
    guard ids.count <= remoteBulkLimit else {
        throw CLIFailure.usage(
            "\(ids.count) tokens selected, but one change through --server takes at most \(remoteBulkLimit) (all or nothing, within the server's 64 KiB body limit); split the GUIDs into parts (split -l \(remoteBulkLimit)) and run once per part"
        )
    }
    // Names for the prompt and the report; a token the caller may change but not read stays nameless.
    func name(_ missing: [TokenID]) async throws {
        for id in missing where names[id] == nil {
            if let t = try await remote.rowIfReadable(id) { names[id] = t.name }
        }
    }
    if ids.count <= 20 { try await name(ids) }
    if asks, action.isPermanent || ids.count > 1 { try confirm(action, ids.map { ($0, names[$0]) }, yes: yes) }
    let changed = try await remote.change(action, ids, cascade: cascade)
    // Locally the report lists descendants a cascade revoked after the selected tokens.
    let all = ids + changed.filter { seen.insert($0).inserted }
    if all.count <= 20 { try await name(all) }
    return all.map { ($0, names[$0]) }
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
            let revoked: TokenRecord
            let remote = try RemoteIssuer.open(global)
            if let remote {
                try refuseActor(actorOption)
                revoked = try await remote.revoke(token: text)
            } else {
                let home = Home(global, actor: actorOption)
                let result = try home.issuer().revoke(
                    token: text, by: try home.actor(), details: [("source", "revoke_by_token")], now: Home.now)
                guard let row = result.tokens.first else { return }
                revoked = row
            }
            if global.json {
                Console.json(WireBulkResult(action: .revoke, guids: [revoked.id]))
                return
            }
            Console.note("Revoked \(revoked.id) (\(Terminal.safe(revoked.name)))")
            Console.note(
                remote == nil
                    ? "Services see this after the next revocation-list export: sigil revocations export"
                    : "sigil-server publishes the new revocation list within about a second.")
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
