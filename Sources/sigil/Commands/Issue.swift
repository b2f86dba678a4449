import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct Issue: ParsableCommand {
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

    @OptionGroup var global: GlobalOptions

    @Option(help: "A name to find the token by (required).")
    var name: String

    @Option(help: "What the token is for.")
    var description: String = ""

    @Option(
        help: ArgumentHelp(
            "The one application or tenant the token is for ([A-Za-z0-9._:-], 1-64).", valueName: "audience"))
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

    /// Argument checks, run inside `guarded` so `--json` reports them like every other error.
    func checkArguments() throws {
        let kinds = [all, readOnly, !scopes.isEmpty].filter { $0 }.count
        guard kinds == 1 else {
            throw ValidationError("choose exactly one scope: --all, --read-only or --scope resource.action")
        }
        guard [expires != nil, expiresIn != nil, neverExpires].filter({ $0 }).count <= 1 else {
            throw ValidationError("choose at most one of --expires, --expires-in and --never-expires")
        }
        try checkLabel(name, field: "--name", required: true)
        try checkLabel(description, field: "--description", required: false)
        guard TokenClaims.isValidAudience(audience) else {
            throw ValidationError(
                "--audience must be 1-64 ASCII characters of A-Z a-z 0-9 . _ : - (got \(audience.count) characters)")
        }
    }

    func run() throws {
        try guarded(json: global.json) {
            try checkArguments()
            let home = Home(global)
            let now = Home.now
            let from =
                try validFrom.map { text -> Int64 in
                    guard let t = TimeText.parseTime(text) else {
                        throw CLIFailure.usage("--valid-from '\(text)' is not a time: \(TimeText.accepted)")
                    }
                    return t
                } ?? now
            let to: Int64?
            if neverExpires {
                to = nil
            } else if let expires {
                guard let t = TimeText.parseTime(expires) else {
                    throw CLIFailure.usage("--expires '\(expires)' is not a time: \(TimeText.accepted)")
                }
                to = t
            } else if let expiresIn {
                guard let d = TimeText.parseDuration(expiresIn) else {
                    throw CLIFailure.usage("--expires-in '\(expiresIn)' is not a duration like 90d, 12h, 2w or 1y")
                }
                to = from + d
            } else {
                to = from + 365 * 86_400
            }
            if let to {
                guard to > now else {
                    throw CLIFailure.usage(
                        "the window is in the past: expiry \(TimeText.format(to)) has already passed; give a later --expires"
                    )
                }
                guard to > from else {
                    throw CLIFailure.usage(
                        "the window is reversed: expiry \(TimeText.format(to)) is not after valid-from \(TimeText.format(from))"
                    )
                }
            }

            let lock = try home.lock("issue")
            defer { lock.unlock() }
            let ring = try home.keyring()
            let scope: Scope
            if all {
                scope = .all
            } else if readOnly {
                scope = .readOnly
            } else {
                scope = .custom(try home.catalog().expand(scopes))
            }
            let key = ring.activeKey
            let claims: TokenClaims
            do {
                claims = try TokenClaims(
                    keyID: key.keyID, audience: audience, id: TokenMinter.newTokenID(), validFrom: from, validTo: to,
                    scope: scope)
            } catch let error as VerificationError {
                throw CLIFailure.usage(error.detail)
            }
            let token = try TokenMinter.mint(claims, masterSecret: key.secret)
            let record = TokenRecord(
                claims: claims, name: name, description: description, createdBy: createdBy ?? currentUser(), now: now)
            // The ledger entry is durable before the token is shown, so a shown token is never unrecorded.
            if let warning = try home.ledger.append([JournalRecord(op: .issue, at: now, token: record)]) {
                Console.warning(warning)
            }
            if global.json {
                var o = tokenJSON(record)
                o["token"] = token
                Console.json(o)
            } else {
                Console.out(token)
            }
            Console.note(
                """
                Issued "\(name)" for audience \(audience)
                  guid      \(claims.id)
                  scope     \(scope.summary)
                  valid     \(TimeText.formatDate(from)) → \(TimeText.formatDate(to))
                  key       \(key.keyID)
                This token is shown once and never stored: store it now.
                """)
        }
    }
}

/// Names and descriptions are free text, but not control characters (they would garble
/// tables and logs) and not unbounded.
func checkLabel(_ text: String, field: String, required: Bool) throws {
    if required, text.trimmingCharacters(in: .whitespaces).isEmpty {
        throw ValidationError("\(field) must not be empty")
    }
    guard text.count <= 200 else { throw ValidationError("\(field) is longer than 200 characters") }
    guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
        throw ValidationError("\(field) must not contain control characters (newlines, tabs, NUL)")
    }
}
