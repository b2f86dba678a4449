import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Expiring: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "List active tokens that expire soon, soonest first (for cron and reminders).",
        discussion: """
            Exit codes: 0 none expires within the window, 1 some do (so cron can mail the \
            output), 64 usage, 66 no home.

            Example:
              sigil expiring --within 30d
              sigil expiring --within 7d --json
            """)

    static let serverUse = ServerUse.issuerHost(
        needs: "the home's ledger (through the API: sigil list --status active --sort expires)")
    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The window: a duration such as 30d, 12h or 2w (default 30d).", valueName: "duration"))
    var within = "30d"

    func validate() throws {
        guard let seconds = TimeText.parseDuration(within), seconds > 0 else {
            throw ValidationError("--within takes a positive duration such as 30d, 12h or 2w (got \(within))")
        }
    }

    func run() throws {
        var count = 0
        try guarded(json: global.json) {
            let seconds = TimeText.parseDuration(within) ?? 0
            let now = Home.now
            let soon = try Home(global).issuer().expiring(within: seconds, now: now)
            count = soon.count
            if global.json {
                Console.json(
                    soon.map { t in
                        var o = JSONObject(fieldsOf: WireToken(t))
                        o["expires_in_seconds"] = (t.validTo ?? now) - now
                        return o
                    })
                return
            }
            guard !soon.isEmpty else {
                Console.note("No active token expires within \(within).")
                return
            }
            let rows = soon.map { t in
                [
                    Terminal.safe(t.name), t.id.description, Terminal.safe(t.audience),
                    TimeText.formatDate(t.validTo), Self.remaining((t.validTo ?? now) - now),
                    Terminal.safe(t.createdBy),
                ]
            }
            Console.out(table(header: ["NAME", "GUID", "AUDIENCE", "EXPIRES", "IN", "CREATED BY"], rows: rows))
        }
        if count > 0 { throw ExitCode(1) }
    }

    /// "3d 4h", "5h 10m", "42m": enough to sort a reminder by urgency.
    static func remaining(_ seconds: Int64) -> String {
        let d = seconds / 86_400
        let h = seconds % 86_400 / 3_600
        let m = seconds % 3_600 / 60
        if d > 0 { return "\(d)d \(h)h" }
        if h > 0 { return "\(h)h \(m)m" }
        return "\(max(m, 1))m"
    }
}
