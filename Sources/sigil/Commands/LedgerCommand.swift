import ArgumentParser
import Foundation
import SigilIssuer

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Maintain the ledger database.",
        discussion: """
            Example:
              sigil ledger compact
            """,
        subcommands: [LedgerCompact.self])
}

struct LedgerCompact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Drop tombstones no list needs any more and rewrite the database compactly.",
        discussion: """
            Removes deleted tokens whose valid_to passed more than a day ago (revocation lists no \
            longer name them), then checkpoints the write-ahead log and VACUUMs sigil.db.

            Example:
              sigil ledger compact
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            let (before, after) = try home.issuer().compactLedger(by: actor, now: Home.now)
            if global.json {
                Console.json(["records_before": before, "records_after": after])
            } else {
                Console.note("Compacted the ledger: \(before) → \(after) token records.")
            }
        }
    }
}
