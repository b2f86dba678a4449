import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Cap the lifetime of the tokens an audience gets from now on.",
        discussion: """
            A policy is checked whenever a token is issued, from the CLI, the API or the web \
            console: a longer window, or one that never expires unless allowed, is refused \
            (exit 64, HTTP 422 outside_policy) naming the policy. Tokens issued before are \
            untouched; sigil list --violating-policy shows the ones it would refuse today.

            Examples:
              sigil policy set --audience billing --max-lifetime 90d
              sigil policy set --audience ci --max-lifetime 30d --allow-never-expires
              sigil policy show
              sigil policy clear --audience billing
            """,
        subcommands: [PolicyShow.self, PolicySet.self, PolicyClear.self], defaultSubcommand: PolicyShow.self)
}

/// `--json` shape of one policy (also what `policy set --json` prints).
func policyJSON(_ p: LifetimePolicy) -> JSONObject {
    [
        "audience": p.audience, "max_lifetime": TimeText.formatDuration(p.maxLifetime),
        "max_lifetime_seconds": p.maxLifetime, "allow_never_expires": p.allowNeverExpires,
        "set_at": TimeText.format(p.setAt), "set_by": p.setBy,
    ]
}

struct PolicyShow: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show the lifetime policies, or one audience's.",
        discussion: """
            Exit codes: 0 shown, 66 --audience has no policy (or no home).

            Example:
              sigil policy show --audience billing --json
            """)
    static let serverUse = ServerUse.issuerHost(
        needs: "the issuer's home: the API has no policy route yet (a refused issue names the policy)")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this audience's policy.") var audience: String?

    func run() throws {
        try guarded(json: global.json) {
            var policies = try Home(global).issuer().policies()
            if let audience {
                policies = policies.filter { $0.audience == audience }
                guard !policies.isEmpty else {
                    throw CLIFailure(
                        Exit.noInput,
                        "audience \(audience) has no lifetime policy; set one with: sigil policy set --audience \(audience) --max-lifetime 90d",
                        reason: "not_found")
                }
            }
            if global.json {
                Console.json(policies.map(policyJSON))
                return
            }
            guard !policies.isEmpty else {
                Console.note("No lifetime policy. Set one with: sigil policy set --audience A --max-lifetime 90d")
                return
            }
            let rows = policies.map { p in
                [
                    Terminal.safe(p.audience), TimeText.formatDuration(p.maxLifetime),
                    p.allowNeverExpires ? "allowed" : "refused", TimeText.format(p.setAt), Terminal.safe(p.setBy),
                ]
            }
            Console.out(table(header: ["AUDIENCE", "MAX LIFETIME", "NEVER EXPIRES", "SET", "SET BY"], rows: rows))
        }
    }
}

struct PolicySet: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Set (or replace) an audience's lifetime policy.",
        discussion: """
            From now on a token for the audience may be valid for at most --max-lifetime \
            (valid-to minus valid-from); one that never expires only with --allow-never-expires. \
            The change is in the audit log (action policy).

            Example:
              sigil policy set --audience billing --max-lifetime 90d
              sigil list --violating-policy --audience billing
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's home: the API has no route that changes policies")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Option(help: "The audience the policy is for.") var audience: String
    @Option(
        help: ArgumentHelp(
            "The longest window a new token may have: 90d, 12h, 2w or 1y.", valueName: "duration"))
    var maxLifetime: String
    @Flag(help: "Still allow tokens that never expire (the cap applies to the others).")
    var allowNeverExpires = false

    func validate() throws {
        guard TimeText.parseDuration(maxLifetime) != nil else {
            throw ValidationError(
                "--max-lifetime takes a positive duration such as 90d, 12h, 2w or 1y (got \(Terminal.safe(maxLifetime)))"
            )
        }
    }

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            let policy = try home.issuer().setPolicy(
                audience: audience, maxLifetime: TimeText.parseDuration(maxLifetime) ?? 0,
                allowNeverExpires: allowNeverExpires, by: try home.actor(), now: Home.now)
            if global.json {
                Console.json(policyJSON(policy))
                return
            }
            Console.out(
                "Tokens for \(Terminal.safe(audience)) may now be valid for at most "
                    + "\(TimeText.formatDuration(policy.maxLifetime))"
                    + (allowNeverExpires ? ", or never expire." : "; never-expiring ones are refused.")
                    + " Existing tokens are untouched: sigil list --violating-policy --audience \(Terminal.safe(audience))"
            )
        }
    }
}

struct PolicyClear: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear", abstract: "Remove an audience's lifetime policy.",
        discussion: """
            Exit codes: 0 removed, 66 the audience had no policy.

            Example:
              sigil policy clear --audience billing
            """)
    static let serverUse = ServerUse.issuerHost(needs: "the issuer's home: the API has no route that changes policies")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Option(help: "The audience whose policy goes.") var audience: String

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global, actor: actorOption)
            guard try home.issuer().clearPolicy(audience: audience, by: try home.actor(), now: Home.now) else {
                throw CLIFailure(
                    Exit.noInput, "audience \(Terminal.safe(audience)) has no lifetime policy; nothing changed",
                    reason: "not_found")
            }
            if global.json {
                Console.json(["audience": audience, "cleared": true] as JSONObject)
                return
            }
            Console.out("Removed the lifetime policy of \(Terminal.safe(audience)).")
        }
    }
}
