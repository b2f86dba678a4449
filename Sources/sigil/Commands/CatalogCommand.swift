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

struct CatalogShow: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the catalog.",
        discussion: """
            Example:
              sigil catalog show --json
            """)
    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    func run() async throws {
        try await guardedAsync(json: global.json) {
            let catalog = try await issuerClient(global).catalog()
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

struct CatalogAdd: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add an action to a resource (creating the resource).",
        discussion: """
            Tokens with --all get it at once; --read-only tokens get it if it reads; custom \
            scopes issued earlier do not (resource.* expanded at issue time).

            Example:
              sigil catalog add devices reboot --access write
            """)
    static let serverUse = ServerUse.issuerHost(
        needs: "the issuer's home: the API has no route that changes the catalog")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Argument(help: "The resource, e.g. devices.") var resource: String
    @Argument(help: "The action, e.g. reboot.") var action: String
    @Option(help: "read or write.") var access: Access

    func run() throws {
        try guarded(json: global.json) {
            let mode = access
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            try home.issuer().addToCatalog(resource: resource, action: action, access: mode, by: actor, now: Home.now)
            if global.json {
                Console.json(["permission": "\(resource).\(action)", "access": mode.rawValue] as JSONObject)
            } else {
                Console.note("Added \(resource).\(action) (\(mode.rawValue)).")
            }
        }
    }
}
