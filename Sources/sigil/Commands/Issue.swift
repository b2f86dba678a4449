import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Issue: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a token. It is printed once and never stored.",
        discussion: """
            The token alone goes to stdout, so TOKEN=$(sigil issue …) works; the summary goes to \
            stderr. Scope and validity window are sealed into the token and cannot be changed later.

            Scopes: --all (everything, including resources added later), --read-only (every read \
            action, including later ones), or --scope resource.action (repeatable or comma-separated; \
            resource.* expands to the resource's actions in the catalog today).

            Times: RFC 3339 (2026-01-31T12:00:00Z) or YYYY-MM-DD (UTC). Durations: 90d, 12h, 2w, 1y.
            Default expiry: one year after --valid-from (default now).

            Examples:
              TOKEN=$(sigil issue --name "CI deploy" --audience billing --scope devices.* --expires-in 90d)
              sigil issue --name reporting --audience billing --read-only --never-expires --json
            """)

    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption

    @Option(help: "A name to find the token by (required).")
    var name: String

    @Option(help: "What the token is for.")
    var description: String = ""

    @Option(
        help: ArgumentHelp(
            "The one application or tenant the token is for (\(Audience.pattern)).", valueName: "audience"))
    var audience: String

    @Flag(help: "Grant everything, including resources added later.")
    var all = false

    @Flag(name: .customLong("read-only"), help: "Grant every read action, including ones added later.")
    var readOnly = false

    @Option(
        name: .customLong("scope"),
        help: ArgumentHelp(
            "Grant resource.action (repeatable; resource.* = today's actions).", valueName: "resource.action"))
    var scopes: [String] = []

    @Option(name: .customLong("valid-from"), help: ArgumentHelp("Start of validity (default now).", valueName: "time"))
    var validFrom: String?

    @Option(help: ArgumentHelp("End of validity (exclusive).", valueName: "time"))
    var expires: String?

    @Option(
        name: .customLong("expires-in"),
        help: ArgumentHelp("Validity length from --valid-from, e.g. 90d.", valueName: "duration"))
    var expiresIn: String?

    @Flag(name: .customLong("never-expires"), help: "The token never expires (revoke it when no longer needed).")
    var neverExpires = false

    @Option(name: .customLong("created-by"), help: "Who issued it (default: the OS user).")
    var createdBy: String?

    func validate() throws {
        let kinds = [all, readOnly, !scopes.isEmpty].filter { $0 }.count
        guard kinds == 1 else {
            throw ValidationError("choose exactly one scope: --all, --read-only or --scope resource.action")
        }
        guard [expires != nil, expiresIn != nil, neverExpires].filter({ $0 }).count <= 1 else {
            throw ValidationError("choose at most one of --expires, --expires-in and --never-expires")
        }
    }

    /// The request, parsed from the flags: times and durations are the CLI's syntax.
    func request() throws -> IssueRequest {
        let from = try validFrom.map { text -> Int64 in
            guard let t = TimeText.parseTime(text) else {
                throw CLIFailure.usage("--valid-from '\(Terminal.safe(text))' is not a time: \(TimeText.accepted)")
            }
            return t
        }
        let expiry: Expiry
        if neverExpires {
            expiry = .never
        } else if let expires {
            guard let t = TimeText.parseTime(expires) else {
                throw CLIFailure.usage("--expires '\(Terminal.safe(expires))' is not a time: \(TimeText.accepted)")
            }
            expiry = .at(t)
        } else if let expiresIn {
            guard let d = TimeText.parseDuration(expiresIn) else {
                throw CLIFailure.usage(
                    "--expires-in '\(Terminal.safe(expiresIn))' is not a duration like 90d, 12h, 2w or 1y")
            }
            expiry = .after(d)
        } else {
            expiry = .default
        }
        let scope: ScopeRequest = all ? .all : readOnly ? .readOnly : .custom(scopes)
        return IssueRequest(
            name: name, description: description, audience: audience, scope: scope, validFrom: from, expiry: expiry,
            createdBy: createdBy ?? actorOption.actor ?? currentUser())
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let client = try issuerClient(global, actor: actorOption)
            try client.refuseLocalOnly(
                "--created-by", given: createdBy != nil, because: "the server records token:GUID of the calling token")
            let issued = try await client.issue(try request())
            let record = issued.record
            if global.json {
                Console.json(WireToken(record, token: issued.token))
            } else {
                Console.out(issued.token)
            }
            Console.note(
                """
                Issued "\(Terminal.safe(record.name))" for audience \(Terminal.safe(record.audience))
                  guid      \(record.id)
                  scope     \(record.scope.summary)
                  valid     \(TimeText.formatDate(record.validFrom)) → \(TimeText.formatDate(record.validTo))
                  key       \(Terminal.safe(record.keyID))
                This token is shown once and never stored: store it now.
                """)
        }
    }
}
