public import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

extension TokenStatus: ExpressibleByArgument {}
extension TokenSort: ExpressibleByArgument {}
extension AuditAction: ExpressibleByArgument {}
extension Access: ExpressibleByArgument {}
extension MemberStatus: ExpressibleByArgument {}

/// The filters `list` takes, shared with the bulk commands' `--all-matching`.
struct TokenFilters: ParsableArguments {
    @Option(help: ArgumentHelp("Tokens whose name contains all these words (case-insensitive).", valueName: "words"))
    var name: String?

    @Option(help: ArgumentHelp("Tokens whose GUID starts with this hex prefix.", valueName: "prefix"))
    var guid: String?

    @Option(help: ArgumentHelp("Tokens granting resource.action, or scope 'all' / 'read-only'.", valueName: "scope"))
    var scope: String?

    @Option(help: ArgumentHelp("Tokens for this audience.", valueName: "audience"))
    var audience: String?

    @Option(help: ArgumentHelp("active, inactive or revoked.", valueName: "status"))
    var status: TokenStatus?

    var isEmpty: Bool { name == nil && guid == nil && scope == nil && audience == nil && status == nil }

    /// The library's filter; a blank value is refused there (64), never read as "everything".
    func filter() throws -> TokenFilter {
        try TokenFilter(name: name, guidPrefix: guid, scope: scope, audience: audience, status: status)
    }
}

/// GUIDs named on the command line: full GUIDs, unique prefixes of at least 8 hex digits,
/// `-` for one per line on stdin, or `--all-matching` with the list filters.
struct TokenSelection: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "GUIDs or unique prefixes (≥ 8 hex digits); - reads them from stdin, one per line.", valueName: "guid"))
    var guids: [String] = []

    @Flag(name: .customLong("all-matching"), help: "Act on every token the filters below match.")
    var allMatching = false

    @OptionGroup(title: "Filters (with --all-matching)")
    var filters: TokenFilters

    var readsStdin: Bool { guids.contains("-") }

    func validate() throws {
        if allMatching {
            guard guids.isEmpty else { throw ValidationError("give GUIDs or --all-matching with filters, not both") }
            guard !filters.isEmpty else {
                throw ValidationError(
                    "--all-matching needs at least one filter (--name, --guid, --scope, --audience, --status)")
            }
        } else if !filters.isEmpty {
            throw ValidationError("filters need --all-matching")
        }
    }

    /// The GUIDs and prefixes named, with `-` replaced by stdin's lines (blank lines and
    /// `#` comments skipped).
    func selectors() throws -> [String] {
        var texts: [String] = []
        for item in guids {
            if item == "-" {
                while let line = readLine() {
                    // ASCII whitespace only: GUIDs are ASCII, and Foundation's trimming is slow for 10k lines.
                    let t = line.utf8.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }
                    let trimmed = Substring(t).reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }
                    let text = String(trimmed.reversed())
                    if !text.isEmpty, !text.hasPrefix("#") { texts.append(text) }
                }
            } else {
                texts.append(item)
            }
        }
        guard !texts.isEmpty else {
            throw CLIFailure.usage("name at least one GUID, use - for stdin, or --all-matching")
        }
        return texts
    }

    /// Resolves the selection against live (not deleted) tokens.
    func resolve(in issuer: Issuer) throws -> [TokenRecord] {
        try validate()
        if allMatching { return try issuer.tokens(TokenQuery(filter: try filters.filter())) }
        return try issuer.resolve(try selectors())
    }
}

/// Asks on the terminal; refuses to guess when stdin is not a terminal.
func confirm(_ question: String, yes: Bool, permanent: Bool = true) throws {
    if yes { return }
    let warning = permanent ? " This cannot be undone." : ""
    guard isatty(STDIN_FILENO) == 1 else {
        throw CLIFailure.usage("\(question)\(warning) Pass --yes to confirm when not on a terminal.")
    }
    FileHandle.standardError.write(Data("\(question)\(warning) [y/N] ".utf8))
    let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
    guard answer == "y" || answer == "yes" else {
        throw CLIFailure(1, "cancelled; nothing changed", reason: "cancelled")
    }
}
