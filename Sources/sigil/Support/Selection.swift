import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

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
    var status: String?

    var isEmpty: Bool { name == nil && guid == nil && scope == nil && audience == nil && status == nil }

    func validated() throws -> TokenFilters {
        if let status, TokenStatus(rawValue: status) == nil {
            throw CLIFailure.usage("--status must be active, inactive or revoked, not '\(status)'")
        }
        if let guid {
            let hex = guid.replacingOccurrences(of: "-", with: "")
            guard !hex.isEmpty, hex.count <= 32, hex.utf8.allSatisfy(isASCIIHexDigit) else {
                throw CLIFailure.usage("--guid takes a hex prefix of a GUID, e.g. 3f2a9c1e")
            }
        }
        if let scope, scope != "all", scope != "read-only", !Scope.isValidPair(scope) {
            throw CLIFailure.usage("--scope takes resource.action, all or read-only")
        }
        return self
    }

    func matches(_ token: TokenRecord, catalog: Catalog) -> Bool {
        if let name {
            let haystack = token.name.lowercased()
            for word in name.lowercased().split(separator: " ") where !haystack.contains(word) { return false }
        }
        if let guid {
            let prefix = guid.replacingOccurrences(of: "-", with: "").lowercased()
            if !token.id.hexString.hasPrefix(prefix) { return false }
        }
        if let audience, token.audience != audience { return false }
        if let status, token.status.rawValue != status { return false }
        if let scope {
            switch scope {
            case "all": if token.scope != .all { return false }
            case "read-only": if token.scope != .readOnly { return false }
            default:
                let access = catalog.access(of: scope) ?? .write
                guard let permission = Permission(scope, access: access), token.scope.grants(permission) else {
                    return false
                }
            }
        }
        return true
    }
}

/// `Character.isHexDigit` also accepts fullwidth digits; GUID prefixes are ASCII only.
func isASCIIHexDigit(_ c: UInt8) -> Bool {
    (0x30...0x39).contains(c) || (0x61...0x66).contains(c) || (0x41...0x46).contains(c)
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

    /// Resolves the selection against live (not deleted) tokens.
    func resolve(in state: LedgerState, catalog: Catalog) throws -> [TokenRecord] {
        if allMatching {
            guard guids.isEmpty else { throw CLIFailure.usage("give GUIDs or --all-matching with filters, not both") }
            guard !filters.isEmpty else {
                throw CLIFailure.usage(
                    "--all-matching needs at least one filter (--name, --guid, --scope, --audience, --status)")
            }
            let f = try filters.validated()
            return state.liveTokens.filter { f.matches($0, catalog: catalog) }
        }
        guard filters.isEmpty else { throw CLIFailure.usage("filters need --all-matching") }
        var texts: [String] = []
        for item in guids {
            if item == "-" {
                while let line = readLine() {
                    let t = line.trimmingCharacters(in: .whitespacesAndNewlines)
                    if !t.isEmpty, !t.hasPrefix("#") { texts.append(t) }
                }
            } else {
                texts.append(item)
            }
        }
        guard !texts.isEmpty else {
            throw CLIFailure.usage("name at least one GUID, use - for stdin, or --all-matching")
        }
        var seen = Set<TokenID>()
        var out: [TokenRecord] = []
        lazy var prefixIndex: [(String, TokenRecord)] = state.liveTokens.map { ($0.id.hexString, $0) }
        for text in texts {
            let record: TokenRecord
            if let id = TokenID(uuidString: text) {
                guard let found = state.tokens[id], !found.isDeleted else {
                    throw CLIFailure(Exit.noInput, "no token with GUID \(id); see: sigil list", reason: "not_found")
                }
                record = found
            } else {
                let hex = text.replacingOccurrences(of: "-", with: "").lowercased()
                guard hex.count >= 8, hex.count < 32, hex.utf8.allSatisfy(isASCIIHexDigit) else {
                    // Not echoed: people paste tokens here by mistake.
                    throw CLIFailure.usage(
                        "an argument of \(text.count) characters is not a GUID or a prefix of at least 8 hex digits (see: sigil list)"
                    )
                }
                let matches = prefixIndex.filter { $0.0.hasPrefix(hex) }
                guard let first = matches.first else {
                    throw CLIFailure(
                        Exit.noInput, "no token GUID starts with \(hex); see: sigil list", reason: "not_found")
                }
                guard matches.count == 1 else {
                    throw CLIFailure.usage(
                        "prefix \(hex) matches \(matches.count) tokens (\(matches.prefix(5).map { $0.1.id.description }.joined(separator: ", "))); give more digits"
                    )
                }
                record = first.1
            }
            if seen.insert(record.id).inserted { out.append(record) }
        }
        return out
    }
}

/// Asks on the terminal; refuses to guess when stdin is not a terminal.
func confirm(_ question: String, yes: Bool) throws {
    if yes { return }
    guard isatty(STDIN_FILENO) == 1 else {
        throw CLIFailure.usage("\(question) This cannot be undone: pass --yes to confirm when not on a terminal.")
    }
    FileHandle.standardError.write(Data("\(question) This cannot be undone. [y/N] ".utf8))
    let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
    guard answer == "y" || answer == "yes" else {
        throw CLIFailure(1, "cancelled; nothing changed", reason: "cancelled")
    }
}

/// One token as a JSON object for `--json`: ``writeTokenJSON(_:into:)``'s output, parsed back,
/// so single-token outputs and listings can never disagree on a key.
func tokenJSON(_ t: TokenRecord) -> [String: Any] {
    var w = JSONWriter()
    writeTokenJSON(t, into: &w)
    return (try? JSONSerialization.jsonObject(with: Data(w.bytes))) as? [String: Any] ?? [:]
}

/// A token as the JSON object every `--json` output uses, written straight into `w` (fast enough for 100k).
func writeTokenJSON(_ t: TokenRecord, into w: inout JSONWriter) {
    w.byte(0x7b)
    w.key("audience", first: true)
    w.string(t.audience)
    w.key("created_at")
    w.int(t.createdAt)
    w.key("created_by")
    w.string(t.createdBy)
    w.key("deleted")
    w.bool(t.isDeleted)
    w.key("description")
    w.string(t.description)
    w.key("expires")
    w.string(t.validTo.map { TimeText.format($0) } ?? "never")
    w.key("guid")
    w.guid(t.id)
    w.key("kid")
    w.string(t.keyID)
    w.key("name")
    w.string(t.name)
    w.key("revoked_at")
    w.optionalInt(t.revokedAt)
    w.key("scope")
    switch t.scope {
    case .all: w.string("all")
    case .readOnly: w.string("read-only")
    case .custom(let pairs): w.stringArray(pairs)
    }
    w.key("status")
    w.string(t.status.rawValue)
    w.key("updated_at")
    w.int(t.updatedAt)
    w.key("valid_from")
    w.int(t.validFrom)
    w.key("valid_to")
    w.optionalInt(t.validTo)
    w.byte(0x7d)
}

func scopeJSON(_ scope: Scope) -> Any {
    switch scope {
    case .all: "all"
    case .readOnly: "read-only"
    case .custom(let pairs): pairs
    }
}

func scopeSummary(_ scope: Scope, width: Int = 28) -> String {
    switch scope {
    case .all: return "all"
    case .readOnly: return "read-only"
    case .custom(let pairs):
        let text = pairs.joined(separator: ",")
        return text.count <= width ? text : "\(pairs.count) permissions"
    }
}
