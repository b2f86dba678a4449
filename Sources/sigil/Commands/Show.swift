import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one token's metadata.",
        discussion: """
            Example:
              sigil show 3f2a9c1e
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A GUID or a unique prefix of at least 8 hex digits.", valueName: "guid"))
    var guid: String

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let state = try home.loadLedger()
            var selection = try TokenSelection.parse([])
            selection.guids = [guid]
            guard guid != "-" else { throw CLIFailure.usage("show takes one GUID") }
            let t = try selection.resolve(in: state, catalog: Catalog())[0]
            if global.json {
                Console.json(tokenJSON(t))
                return
            }
            Console.out(
                [
                    "name         \(t.name)",
                    "description  \(t.description)",
                    "guid         \(t.id)",
                    "audience     \(t.audience)",
                    "scope        \(t.scope.summary)",
                    "valid from   \(TimeText.format(t.validFrom))",
                    "expires      \(t.validTo.map(TimeText.format) ?? "never")",
                    "key          \(t.keyID)",
                    "status       \(t.status.rawValue)",
                    "created      \(TimeText.format(t.createdAt)) by \(t.createdBy)",
                    "updated      \(TimeText.format(t.updatedAt))",
                ].joined(separator: "\n") + (t.revokedAt.map { "\nrevoked      \(TimeText.format($0))" } ?? ""))
        }
    }
}

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change a token's name or description (scope and window are sealed).",
        discussion: """
            Scope, audience and validity window are sealed into the token when it is issued: to \
            change them, issue a new token and revoke this one.

            Example:
              sigil edit 3f2a9c1e --name "CI deploy (prod)" --description "GitHub Actions"
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A GUID or a unique prefix of at least 8 hex digits.", valueName: "guid"))
    var guid: String

    @Option(help: "The new name.")
    var name: String?

    @Option(help: "The new description.")
    var description: String?

    // Accepted only to explain why they cannot be changed.
    @Option(name: .customLong("scope"), help: .hidden) var scope: [String] = []
    @Flag(name: .customLong("all"), help: .hidden) var all = false
    @Flag(name: .customLong("read-only"), help: .hidden) var readOnly = false
    @Option(name: .customLong("audience"), help: .hidden) var audience: String?
    @Option(name: .customLong("expires"), help: .hidden) var expires: String?
    @Option(name: .customLong("expires-in"), help: .hidden) var expiresIn: String?
    @Flag(name: .customLong("never-expires"), help: .hidden) var neverExpires = false
    @Option(name: .customLong("valid-from"), help: .hidden) var validFrom: String?

    /// Argument checks, run inside `guarded` so `--json` reports them like every other error.
    func checkArguments() throws {
        if !scope.isEmpty || all || readOnly || audience != nil {
            throw ValidationError(
                "scope and audience are sealed into the token at issue. Issue a new token with the scope you need, then revoke this one."
            )
        }
        if expires != nil || expiresIn != nil || neverExpires || validFrom != nil {
            throw ValidationError(
                "the validity window is sealed into the token at issue. Issue a new token with the window you need, then revoke this one."
            )
        }
        guard name != nil || description != nil else { throw ValidationError("give --name and/or --description") }
        if let name { try checkLabel(name, field: "--name", required: true) }
        if let description { try checkLabel(description, field: "--description", required: false) }
    }

    func run() throws {
        try guarded(json: global.json) {
            try checkArguments()
            let home = Home(global)
            let lock = try home.lock("edit")
            defer { lock.unlock() }
            let state = try home.loadLedger()
            var selection = try TokenSelection.parse([])
            selection.guids = [guid]
            guard guid != "-" else { throw CLIFailure.usage("edit takes one GUID") }
            var t = try selection.resolve(in: state, catalog: Catalog())[0]
            let now = Home.now
            try home.ledger.append([
                JournalRecord(op: .edit, at: now, guids: [t.id.description], name: name, description: description)
            ])
            if let name { t.name = name }
            if let description { t.description = description }
            t.updatedAt = now
            if global.json { Console.json(tokenJSON(t)) } else { Console.note("Updated \(t.id) (\(t.name)).") }
        }
    }
}
