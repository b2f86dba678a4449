import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

/// What a lifecycle command does to each selected token.
enum LifecycleAction: String {
    case deactivate, activate, revoke, delete

    var pastTense: String {
        switch self {
        case .deactivate: "Deactivated"
        case .activate: "Activated"
        case .revoke: "Revoked"
        case .delete: "Deleted"
        }
    }

    /// Checks every token before anything is written, so a bulk command changes all or nothing.
    func check(_ t: TokenRecord) throws {
        switch self {
        case .activate where t.status == .revoked:
            throw CLIFailure(
                Exit.dataError,
                "token \(t.id) (\(t.name)) is revoked; revocation is permanent. Issue a new token instead.",
                reason: "conflict")
        case .deactivate where t.status == .revoked:
            throw CLIFailure(
                Exit.dataError, "token \(t.id) (\(t.name)) is already revoked, which is permanent; nothing changed.",
                reason: "conflict")
        default: break
        }
    }

    func record(_ ids: [TokenID], at now: Int64) -> JournalRecord {
        let guids = ids.map(\.description)
        switch self {
        case .deactivate: return JournalRecord(op: .status, at: now, guids: guids, status: .inactive)
        case .activate: return JournalRecord(op: .status, at: now, guids: guids, status: .active)
        case .revoke: return JournalRecord(op: .status, at: now, guids: guids, status: .revoked)
        case .delete: return JournalRecord(op: .delete, at: now, guids: guids)
        }
    }
}

/// The shared body of deactivate, activate, revoke and delete.
func runLifecycle(
    _ action: LifecycleAction, global: GlobalOptions, selection: TokenSelection, yes: Bool, permanent: Bool
) throws {
    try guarded(json: global.json) {
        let home = Home(global)
        if permanent, selection.readsStdin, !yes {
            throw CLIFailure.usage(
                "reading GUIDs from stdin leaves no way to confirm: pass --yes to \(action.rawValue) them")
        }
        let lock = try home.lock(action.rawValue)
        defer { lock.unlock() }
        let state = try home.loadLedger()
        let catalog = selection.filters.scope == nil ? Catalog() : try home.catalog()
        let tokens = try selection.resolve(in: state, catalog: catalog)
        guard !tokens.isEmpty else {
            if global.json { Console.json(["action": action.rawValue, "count": 0, "guids": [String]()]) }
            Console.note("No tokens match; nothing changed.")
            return
        }
        for t in tokens { try action.check(t) }
        if permanent {
            let what = tokens.count == 1 ? "\(tokens[0].name) (\(tokens[0].id))" : "\(tokens.count) tokens"
            try confirm("\(action.rawValue.capitalized) \(what)?", yes: yes)
        }
        let now = Home.now
        // Tokens already in the target state need no record; the command still succeeds.
        let changing = tokens.filter { t in
            switch action {
            case .deactivate: t.status != .inactive
            case .activate: t.status != .active
            case .revoke: t.status != .revoked
            case .delete: true
            }
        }
        if !changing.isEmpty {
            if let warning = try home.ledger.append([action.record(changing.map(\.id), at: now)]) {
                Console.warning(warning)
            }
        }
        if global.json {
            Console.json(["action": action.rawValue, "count": tokens.count, "guids": tokens.map { $0.id.description }])
        } else {
            if tokens.count <= 20 {
                for t in tokens { Console.note("\(action.pastTense) \(t.id) (\(t.name))") }
            } else {
                Console.note("\(action.pastTense) \(tokens.count) tokens.")
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
              sigil deactivate --all-matching --audience billing --name "old ci"
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: TokenSelection
    func run() throws {
        try runLifecycle(.deactivate, global: global, selection: selection, yes: true, permanent: false)
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
    @OptionGroup var selection: TokenSelection
    func run() throws { try runLifecycle(.activate, global: global, selection: selection, yes: true, permanent: false) }
}

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke tokens permanently (asks unless --yes).",
        discussion: """
            Examples:
              sigil revoke 3f2a9c1e
              sigil list --status inactive --json | jq -r '.[].guid' | sigil revoke --yes -
              sigil revoke --yes --all-matching --audience billing --status inactive
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
    func run() throws { try runLifecycle(.revoke, global: global, selection: selection, yes: yes, permanent: true) }
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
    @OptionGroup var selection: TokenSelection
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.") var yes = false
    func run() throws { try runLifecycle(.delete, global: global, selection: selection, yes: yes, permanent: true) }
}
