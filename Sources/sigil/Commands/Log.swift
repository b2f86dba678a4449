import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Log: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the audit log: who issued, changed, exported or rotated what, newest first.",
        discussion: """
            Every change records its time, its actor (the OS user, --actor, or token:GUID for the \
            API), its action and the GUIDs it touched. Never a token or a key.

            Examples:
              sigil log 3f2a9c1e
              sigil log --action revoke --since 2026-11-01 --json
              sigil log --actor alice --limit 20
              sigil --server http://127.0.0.1:8080 --token-file admin.token log --actor token:3f2a9c1e-…
            """)

    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Only events about this token (GUID or unique prefix).", valueName: "guid"))
    var guid: String?

    @Option(name: .customLong("actor"), help: ArgumentHelp("Only events by this actor.", valueName: "name"))
    var byActor: String?

    @Option(help: ArgumentHelp("Only this action.", valueName: "action"))
    var action: AuditAction?

    @Option(help: ArgumentHelp("Only events at or after this time (RFC 3339 or YYYY-MM-DD).", valueName: "time"))
    var since: String?

    @Option(help: "At most this many events (1-100000, default 100).")
    var limit: Int = 100

    func validate() throws {
        guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be 1-100000") }
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let sinceTime = try since.map { text -> Int64 in
                guard let t = TimeText.parseTime(text) else {
                    throw CLIFailure.usage("--since '\(Terminal.safe(text))' is not a time: \(TimeText.accepted)")
                }
                return t
            }
            // ActorName's one rule and message, before the filter goes to the ledger or the server.
            let byActor = try byActor.map { try ActorName($0).text }
            let events = try await issuerClient(global).events(
                guid: guid, actor: byActor, action: action, since: sinceTime, limit: limit)
            if global.json {
                Console.json(events.map(WireEvent.init))
                return
            }
            guard !events.isEmpty else {
                Console.note("No events match.")
                return
            }
            let rows = events.map { e -> [String] in
                let guids =
                    e.guids.count <= 1 ? (e.guids.first?.description ?? "-") : "\(e.guids.count) tokens"
                return [
                    TimeText.format(e.at), Terminal.safe(e.actor), e.action.rawValue, guids,
                    Terminal.safe(e.detailsJSON),
                ]
            }
            Console.out(table(header: ["AT", "ACTOR", "ACTION", "TOKENS", "DETAILS"], rows: rows))
        }
    }
}
