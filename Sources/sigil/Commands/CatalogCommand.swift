import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Show or extend the catalog of resources and actions tokens can be scoped to.",
        discussion: """
            Examples:
              sigil catalog
              sigil catalog add reports export --access read
            """,
        subcommands: [CatalogShow.self, CatalogAdd.self], defaultSubcommand: CatalogShow.self)
}

struct CatalogShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the catalog.",
        discussion: """
            Example:
              sigil catalog show --json
            """)
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            _ = try home.keyringCreatingUnderLock("catalog")
            let catalog = try home.catalog()
            if global.json {
                Console.json(catalog.resources.mapValues { $0.mapValues(\.rawValue) })
                return
            }
            let rows = catalog.allPairs.map { [$0, catalog.access(of: $0)?.rawValue ?? ""] }
            Console.out(
                rows.isEmpty
                    ? "The catalog is empty. Add: sigil catalog add RESOURCE ACTION --access read|write"
                    : table(header: ["PERMISSION", "ACCESS"], rows: rows))
        }
    }
}

struct CatalogAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add an action to a resource (creating the resource).",
        discussion: """
            Tokens with --all get it at once; --read-only tokens get it if it reads; custom \
            scopes issued earlier do not (resource.* expanded at issue time).

            Example:
              sigil catalog add devices reboot --access write
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The resource, e.g. devices.") var resource: String
    @Argument(help: "The action, e.g. reboot.") var action: String
    @Option(help: "read or write.") var access: String

    func run() throws {
        try guarded(json: global.json) {
            guard let mode = Access(rawValue: access) else { throw CLIFailure.usage("--access must be read or write") }
            let home = Home(global)
            let lock = try home.lock("catalog add")
            defer { lock.unlock() }
            _ = try home.keyring()
            var catalog = try home.catalog()
            try catalog.add(resource: resource, action: action, access: mode)
            try catalog.save(home: home.path)
            if global.json {
                Console.json(["permission": "\(resource).\(action)", "access": mode.rawValue])
            } else {
                Console.note("Added \(resource).\(action) (\(mode.rawValue)).")
            }
        }
    }
}

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Maintain the ledger journal.",
        discussion: """
            Example:
              sigil ledger compact
            """,
        subcommands: [LedgerCompact.self])
}

struct LedgerCompact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the journal as one record per token (atomic: temp file, fsync, rename).",
        discussion: """
            Drops history and the tombstones of deleted tokens that have expired.

            Example:
              sigil ledger compact
            """)
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let lock = try home.lock("ledger compact")
            defer { lock.unlock() }
            let state = try home.loadLedger()
            try home.ledger.compact(state, now: Home.now)
            let after = try home.ledger.load()
            if global.json {
                Console.json(["records_before": state.recordCount, "records_after": after.recordCount])
            } else {
                Console.note("Compacted the ledger: \(state.recordCount) → \(after.recordCount) records.")
            }
        }
    }
}
