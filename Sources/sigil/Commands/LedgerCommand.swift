import ArgumentParser
import Foundation
import SigilIssuer

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Maintain the ledger database.",
        discussion: """
            Example:
              sigil ledger compact
              sigil ledger backup --to /backup/sigil.db
              sigil ledger restore --from /backup/sigil.db
              sigil ledger migrate --to postgres://sigil@db.internal/sigil
            """,
        subcommands: [
            LedgerCompact.self, LedgerBackup.self, LedgerRestore.self, LedgerReconcile.self, LedgerMigrate.self,
        ])
}

struct LedgerCompact: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Drop tombstones no list needs any more and rewrite the database compactly.",
        discussion: """
            Removes deleted tokens whose valid_to passed more than a day ago (revocation lists no \
            longer name them), then checkpoints the write-ahead log and VACUUMs sigil.db.

            Example:
              sigil ledger compact
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's database file (in its home)")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            let (before, after) = try home.issuer().compactLedger(by: actor, now: Home.now)
            if global.json {
                Console.json(["records_before": before, "records_after": after] as JSONObject)
            } else {
                Console.note("Compacted the ledger: \(before) → \(after) token records.")
            }
        }
    }
}

struct LedgerMigrate: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy this home's ledger into an empty PostgreSQL database, in one transaction.",
        discussion: """
            Copies every token, audit event, catalog entry, stored revocation list and the list \
            sequence; the source is only read. A target that already holds a ledger is refused (65) \
            and left as it was; an unreachable one is 69. The keyring stays a file: copy it to each \
            host yourself. Afterwards pass --database URL (or SIGIL_DATABASE) to sigil and sigil-server.

            Example:
              sigil ledger migrate --to "postgres://sigil@db.internal/sigil?sslmode=verify-full"
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's home: it copies the home's ledger")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption

    @Option(name: .long, help: ArgumentHelp("The empty PostgreSQL database (postgres://…).", valueName: "url"))
    var to: String

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            let issuer = try home.issuer()
            let progress = ProgressLine.forCommand("migrate", json: global.json)
            defer { progress.finish() }
            let copied = try issuer.copyLedger(to: to, by: actor, now: Home.now, progress: progress.handler)
            progress.finish()
            if global.json {
                Console.json(
                    [
                        "database": copied.location, "tokens": copied.tokens, "events": copied.events,
                        "sequence": Int(clamping: copied.sequence),
                    ] as JSONObject)
            } else {
                Console.note(
                    "Copied \(copied.tokens) tokens, \(copied.events) events and list sequence \(copied.sequence) to \(copied.location)."
                )
            }
        }
    }
}
