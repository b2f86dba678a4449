import Foundation
import SigilIssuer
import SigilVerifier

/// Issuer fields every command that takes them takes as a positional argument, not an option.
private let positionalFields: Set<String> = ["member"]

/// The CLI's words for an issuer error: the library's facts plus the command that fixes it.
func render(_ error: IssuerError) -> CLIFailure {
    let code = Exit.code(for: error)
    let reason = error.reason.rawValue
    func failure(_ message: String, code: Int32 = code, reason: String = reason) -> CLIFailure {
        CLIFailure(code, message, reason: reason)
    }
    switch error.detail {
    case .unknownPermission(let pair, let known):
        return failure(
            "unknown permission \(pair). Known: \(known.joined(separator: ", ")). Add it with: sigil catalog add \(pair.replacingOccurrences(of: ".", with: " ")) --access read|write"
        )
    case .unknownResource(let resource, let known):
        return failure(
            "unknown resource '\(resource)' in --scope \(resource).*. Known resources: \(known.joined(separator: ", ")). Add one with: sigil catalog add RESOURCE ACTION --access read|write"
        )
    case .invalidPair(let pair):
        return failure("--scope \(Terminal.safe(pair)) is not resource.action (each part [a-z][a-z0-9_-]{0,31})")
    case .scopeSize(let n):
        return failure(
            n == 0
                ? "--scope needs at least one resource.action"
                : "a custom scope holds at most 256 pairs, got \(n); use --all or --read-only")
    case .sealedField(let field):
        let what = field == "scope" || field == "audience" ? "scope and audience are" : "the validity window is"
        return failure(
            "\(what) sealed into the token at issue. Issue a new token with what you need, then revoke this one (sigil revoke GUID).",
            reason: "usage")
    case .forbiddenChange(let id, let name, _, let action):
        let text =
            action == .activate
            ? "token \(id) (\(Terminal.safe(name))) is revoked; revocation is permanent. Issue a new token instead."
            : "token \(id) (\(Terminal.safe(name))) is already revoked, which is permanent; nothing changed."
        return failure(text, reason: "conflict")
    case .tokenNotFound(let what):
        return failure(
            what.count == 36
                ? "no token with GUID \(what); see: sigil list" : "no token GUID starts with \(what); see: sigil list",
            reason: "not_found")
    case .ambiguousPrefix(let prefix, let matches):
        return failure(
            "prefix \(prefix) matches \(matches.count == 5 ? "5 or more" : String(matches.count)) tokens (\(matches.map(\.description).joined(separator: ", "))); give more digits",
            reason: "usage")
    case .notASelector(let length):
        return failure(
            "an argument of \(length) characters is not a GUID or a prefix of at least 8 hex digits (see: sigil list)",
            reason: "usage")
    case .emptyFilter(let field):
        return failure(
            "--\(field) is empty: an empty filter would match every token. Give a value, or leave the filter out.",
            reason: "usage")
    case .invalidLabel(let field, let problem):
        // Named as the usage line names it: a positional argument as <member>, else --option.
        let flag = field.replacingOccurrences(of: "_", with: "-")
        let name = positionalFields.contains(field) ? "<\(flag)>" : "--\(flag)"
        return failure("\(name) \(problem)", reason: "usage")
    case .invalidAudience:
        // Audience's one message, as the API gives it, named as the option.
        return failure("--\(error.message)", reason: "usage")
    case .windowInPast(let to):
        return failure(
            "the window is in the past: expiry \(TimeText.format(to)) has already passed; give a later --expires",
            reason: "usage")
    case .windowReversed(let from, let to):
        return failure(
            "the window is reversed: expiry \(TimeText.format(to)) is not after valid-from \(TimeText.format(from))",
            reason: "usage")
    case .outsidePolicy(let policy, _, _):
        return failure(
            error.message.replacingOccurrences(
                of: "(sigil policy set)", with: "(see: sigil policy show --audience \(policy.audience))"),
            reason: "usage")
    case .noHome(let home):
        // With the ledger in PostgreSQL the home holds only the keyring: a second host needs a
        // copy of the first one's, not a new one (init would make a keyring nobody else has).
        let database =
            CommandLine.arguments.drop { $0 != "--database" }.dropFirst().first
            ?? ProcessInfo.processInfo.environment["SIGIL_DATABASE"] ?? ""
        if DatabaseLocation.isPostgresURL(database) {
            return failure(
                "no Sigil home at \(home): with a PostgreSQL ledger the home holds the keyring. On a new host, copy keyring.json from the first host into \(home) (mode 0600); on the first host, run: sigil --home \(home) --database URL init",
                reason: "not_found")
        }
        return failure(
            "no Sigil home at \(home) (no keyring or ledger). Create one with: sigil --home \(home) init (or check --home / SIGIL_HOME)",
            reason: "not_found")
    case .keyringMissing(let home):
        return failure(
            "\(error.message). No new keyring was made; to start over with a new keyring instead, run: sigil --home \(home) init (every token issued so far then fails as an unknown key).",
            reason: "not_found")
    case .keyringExists(let path, let kid):
        return failure(
            "a keyring already exists at \(path) (issuing key \(kid)); nothing changed. Use sigil keys rotate to change keys.",
            reason: "exists")
    case .databaseBusy(let path, let seconds):
        return failure(
            "another sigil process holds the database \(path) (waited \(seconds) s). Retry when it finishes, or raise SIGIL_LOCK_TIMEOUT."
        )
    case .databaseCorrupt(let path):
        return failure(
            "\(error.message). Restore \(path) from a backup (with the server stopped), or move it aside to start an empty ledger; the keyring is separate and untouched. Check it with: sqlite3 \(path) 'PRAGMA integrity_check'"
        )
    case .databaseTooNew(let path, let found, let supported):
        return failure(
            "\(path) has schema version \(found), made by a newer Sigil; this sigil (\(Sigil.version)) understands up to version \(supported). Upgrade sigil; nothing was changed."
        )
    case .homeNotAFolder(let path):
        return failure("home \(path) exists but is not a folder; pass --home to pick another")
    case .readOnly:
        return failure(
            "\(error.message.hasSuffix(".") ? String(error.message.dropLast()) : error.message). Use --home (or SIGIL_HOME) on a writable folder, or remount the file system read-write."
        )
    case .keyNotFound(let kid):
        return failure("no token key \(Terminal.safe(kid)); see: sigil keys list")
    case .tokenNotVerified(let why):
        // The verify exit code says why: 10 malformed, 12 another issuer's key, 13 forged.
        return failure(error.message, code: Exit.code(for: why), reason: why.rawValue)
    case .databaseUnavailable:
        return failure("\(error.message). The URL comes from --database or SIGIL_DATABASE.")
    case .sequenceExhausted(let last):
        return failure(
            "the revocation-list sequence is exhausted at \(last): nothing was signed, and no later revoke can be published. Start a new series: sigil keys rotate --revocation, then follow docs/DATABASE.md \"Sequence exhaustion\" to reset the sequence and give every service the new keyset.",
            reason: "sequence_exhausted")
    case .keyRetired, .keyIsActive, .insufficientScope, .queryTimedOut, .memberNotFound, .memberExists, .signInRefused,
        .none:
        return failure(error.message)
    }
}
