import ArgumentParser
import Foundation
import SigilFetch
import SigilIssuer
import SigilVerifier

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct Revocations: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export, pull and show signed revocation lists.",
        discussion: """
            A revocation list names every deactivated (status 1) and revoked or deleted (status 2) \
            token, signed with Ed25519 so services hold only a public key. Services hot-reload it.

            Examples:
              sigil revocations export -o /srv/www/revocations.sgl --next-update 1h
              sigil revocations pull https://issuer.example/revocations.sgl -o /etc/billing/revocations.sgl --keys keyset.json
              sigil revocations show /etc/billing/revocations.sgl --keys keyset.json
            """,
        subcommands: [RevocationsExport.self, RevocationsPull.self, RevocationsShow.self])
}

/// Revocation public keys from a keyset export, or from the home keyring.
func revocationKeys(keyset path: String?, home: Home) throws -> [RevocationKey] {
    if let path { return try readKeyset(path).revocationKeys }
    guard let ring = try existingKeyring(home) else {
        throw CLIFailure(
            Exit.noInput, "no keyring in \(home.path) to check signatures with: pass --keys KEYSET", reason: "not_found"
        )
    }
    return try ring.revocationPublicKeys()
}

/// The home keyring for commands that only read it (`inspect`, `revocations pull` and
/// `show`): the home gets the checks of ``SecureFile/ensureHome(_:)`` (owner, mode) but is
/// never created or changed. Nil when there is no home or no keyring in it.
func existingKeyring(_ home: Home) throws -> Keyring? {
    guard try SecureFile.checkHome(home.path), Keyring.exists(home: home.path) else { return nil }
    return try Keyring.load(home: home.path)
}

/// How many entries of `list` are deactivated and how many revoked.
func statusCounts(_ list: RevocationList) -> (deactivated: Int, revoked: Int) {
    let entries = list.entries
    return (entries.filter { $0.status == .deactivated }.count, entries.filter { $0.status == .revoked }.count)
}

func listJSON(_ list: RevocationList) -> JSONObject {
    let counts = statusCounts(list)
    return [
        "kid": list.keyID, "sequence": list.sequence, "issued_at": list.issuedAt, "next_update": list.nextUpdate,
        "count": list.count, "deactivated": counts.deactivated, "revoked": counts.revoked,
    ]
}

struct RevocationsExport: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Sign and write the current revocation list (its sequence never goes backwards).",
        discussion: """
            Includes every inactive token (status 1) and every revoked or deleted one (status 2) \
            until a day after its valid_to (services accept a token up to their leeway, at most a \
            day, after it expires). Written atomically. The sequence is above the last one this \
            home signed and above the one already in the output file. The list promises its \
            successor within --next-update (default 24h; "none" promises nothing).

            Example:
              sigil revocations export -o revocations.sgl --next-update 1h
            """)
    static let serverUse = ServerUse.issuerHost(
        needs: "the issuer's revocation-list signing key (in its home); sigil-server publishes lists itself")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var actorOption: ActorOption
    @Option(
        name: .shortAndLong, help: ArgumentHelp("Where to write (default <home>/revocations.sgl).", valueName: "file"))
    var output: String?
    @Option(
        name: .customLong("next-update"),
        help: ArgumentHelp(
            "Promise the next list within this duration, e.g. 1h (default 24h; none to omit).", valueName: "duration"))
    var nextUpdate: String?

    func run() throws {
        try guarded(json: global.json) {
            let next: Int64?
            switch nextUpdate {
            case nil: next = Issuer.defaultNextUpdate
            case "none": next = nil
            case let text?:
                guard let d = TimeText.parseDuration(text) else {
                    throw CLIFailure.usage(
                        "--next-update '\(Terminal.safe(text))' is not a duration like 1h, 30m or 1d (or none)")
                }
                next = d
            }
            let home = Home(global, actor: actorOption)
            let actor = try home.actor()
            let exported = try home.issuer().exportRevocationList(
                to: output, nextUpdate: next, by: actor, now: Home.now)
            let list = exported.list
            if global.json {
                var o = listJSON(list)
                o["path"] = exported.path
                o["bytes"] = exported.bytes
                Console.json(o)
            } else {
                Console.note(
                    "Wrote revocation list #\(list.sequence) to \(exported.path): \(list.count) entries, \(exported.bytes) bytes, signed by \(list.keyID)."
                )
            }
        }
    }
}

struct RevocationsPull: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Fetch a revocation list, verify it, and replace FILE if it is newer.",
        discussion: """
            SOURCE is a path or an http(s) URL (sent with If-None-Match / If-Modified-Since). The \
            list must be signed by a revocation key of the keyset; a lower sequence than FILE's \
            (rollback) or the same sequence with other bytes (equivocation) is refused and FILE is \
            kept. Meant for cron, or with --follow as a sidecar: it long-polls sigil-server's \
            GET /v1/revocations?wait=S and installs each newer list within about a second, \
            retrying with backoff when the server is away.

            When FILE verifies, an HTTP pull asks with ?since=<its sequence>, and sigil-server \
            answers a delta (docs/FORMAT.md §4.3: the changes, a few bytes per revoke) when it still \
            holds that list; the delta is applied to FILE, the resulting list checked as a full \
            list, and FILE replaced with it. A delta for another list is fetched again whole.

            If FILE does not verify (damaged, or signed by another key), its sequence is still read \
            from its header and a lower incoming sequence is refused (22); if FILE cannot be read \
            or its header does not parse, any list is refused (22). --force replaces such a FILE \
            anyway; it never overrides the checks against a FILE that verifies.

            Over HTTP, a declared Content-Length over --max-bytes is refused at once, the body is \
            read no further than --max-bytes, and the whole fetch must finish within --timeout \
            seconds.

            Exit codes: 0 replaced or unchanged; 65 malformed/too large; 66 source missing; \
            69 fetch failed or timed out; 20 unknown_key; 21 bad_signature; 22 rollback; 23 equivocation; \
            24 a delta (from a file SOURCE) for another list than FILE.

            Example:
              sigil revocations pull https://issuer.example/revocations.sgl -o revocations.sgl --keys keyset.json
            """)
    static let serverUse = ServerUse.offline
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A file path or an http(s) URL.") var source: String
    @Option(name: .shortAndLong, help: ArgumentHelp("The list file to replace.", valueName: "file")) var output: String
    @Option(
        help: ArgumentHelp(
            "Keyset export with the revocation public keys (default: the home keyring).", valueName: "keyset.json"))
    var keys: String?
    @Option(name: .customLong("max-bytes"), help: "Refuse lists larger than this.") var maxBytes: Int = RevocationList
        .defaultMaxBytes
    @Option(
        help: ArgumentHelp(
            "Give up an HTTP fetch that has not finished after this many seconds (exit 69).", valueName: "seconds"))
    var timeout: Int = 60
    @Flag(help: "Keep running: long-poll the source and install each newer list (a sidecar for services).")
    var follow = false
    @Option(help: "With --follow over HTTP: seconds the server may hold each request (1-60, default 30).")
    var wait: Int = 30
    @Flag(help: "Replace FILE even when it does not verify and its sequence is higher or unknown.")
    var force = false

    struct HTTPState: Codable {
        var etag: String?
        var lastModified: String?
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let home = Home(global)
            guard maxBytes > 0 else { throw CLIFailure.usage("--max-bytes must be a positive number of bytes") }
            guard (1...86_400).contains(timeout) else {
                throw CLIFailure.usage("--timeout must be 1...86400 seconds (got \(timeout))")
            }
            guard (1...60).contains(wait) else { throw CLIFailure.usage("--wait must be 1...60 seconds (got \(wait))") }
            let keys = try revocationKeys(keyset: self.keys, home: home)
            guard follow else { return try await pullOnce(keys: keys) }
            try await followForever(keys: keys)
        }
    }

    /// `--follow`: a sidecar. Long-polls the source (sigil-server's `GET /v1/revocations?wait=`
    /// with the current ETag) and installs each newer list with every check of a single pull;
    /// a failed or refused round is reported and retried with backoff (1 s doubling to 30 s),
    /// and the list in force stays. Ends only when the process is stopped.
    private func followForever(keys: [RevocationKey]) async throws {
        var backoff: UInt64 = 1
        while !Task.isCancelled {
            do {
                try await pullOnce(keys: keys)
                backoff = 1
                if !isHTTP { try await Task.sleep(nanoseconds: 1_000_000_000) }  // a file: poll each second
            } catch {
                Console.warning("\(followMessage(error)); retrying in \(backoff) s")
                try await Task.sleep(nanoseconds: backoff * 1_000_000_000)
                backoff = min(backoff * 2, 30)
            }
        }
    }

    private func followMessage(_ error: any Error) -> String {
        switch error {
        case let failure as CLIFailure: failure.message
        case let error as RevocationListError: error.description
        default: "\(error)"
        }
    }

    private var isHTTP: Bool { source.hasPrefix("http://") || source.hasPrefix("https://") }

    /// SOURCE as a file: over-size is the list's too-large error, anything else not found.
    private func readSource() throws -> [UInt8] {
        do {
            return try FileBytes.read(path: source, maxBytes: maxBytes)
        } catch {
            throw error.errno == EFBIG
                ? RevocationListError(.tooLarge, error.description)
                : CLIFailure(Exit.noInput, "cannot read \(error.description)", reason: "not_found")
        }
    }

    /// One pull: fetch, verify, check against FILE, replace atomically.
    private func pullOnce(keys: [RevocationKey]) async throws {
        let current = currentList(keys: keys)
        let metaPath = output + ".http.json"
        var newState = HTTPState()
        var incoming: RevocationList? = nil
        // How the list came: whole, or as a delta applied to FILE (reported, for scripts).
        var via = "list"
        if isHTTP {
            // A conditional GET, and a delta, only for a FILE that verifies: a 304 must not keep
            // a damaged one, and a delta needs the list it applies to.
            var held: RevocationList? = nil
            if case .verified(let list) = current { held = list }
            let result = try await fetch(metaPath: metaPath, since: held?.sequence)
            newState = result.1
            if let bytes = result.0 {
                let checked = Result { () throws(RevocationListError) in
                    try RevocationListUpdate.verify(bytes, over: current, keys: keys, maxBytes: maxBytes)
                }
                switch checked {
                case .success(let list):
                    incoming = list
                    if RevocationDelta.isDelta(bytes) { via = "delta" }
                case .failure(let error) where error.reason == .deltaBaseMismatch:
                    // The server's delta does not fit FILE (changed meanwhile): ask for the whole list.
                    let whole = try await fetch(metaPath: metaPath, since: nil)
                    newState = whole.1
                    incoming = try whole.0.map { try RevocationList(verifying: $0, keys: keys, maxBytes: maxBytes) }
                case .failure(let error):
                    throw error
                }
            }
        } else {
            let bytes = try readSource()
            incoming = try RevocationListUpdate.verify(bytes, over: current, keys: keys, maxBytes: maxBytes)
            if RevocationDelta.isDelta(bytes) { via = "delta" }
        }
        guard let incoming else {
            finish("unchanged", detail: "the server says the list has not changed (304)", list: nil)
            return
        }
        // The checks live in SigilVerifier, shared with SigilHummingbird's RevocationFollower;
        // the messages (naming FILE) stay here.
        switch RevocationListUpdate.decide(incoming, over: current, force: force) {
        case .install:
            break
        case .refuseRollback(let held):
            throw RevocationListError(
                .rollback, "incoming sequence \(incoming.sequence) < \(held) in \(output); kept \(output)")
        case .refuseEquivocation:
            throw RevocationListError(
                .equivocation,
                "sequence \(incoming.sequence) differs from \(output) with the same sequence; kept \(output). Investigate the distribution host."
            )
        case .unchanged:
            finish("unchanged", detail: "sequence \(incoming.sequence) is already in \(output)", list: incoming)
            return
        case .refuseUnverifiedRollback(let sequence, let why):
            throw CLIFailure(
                RevocationsPull.rollbackExit,
                "\(output) did not verify with these keys (\(why)), but its header says sequence \(sequence), higher than the incoming \(incoming.sequence): refused as a possible rollback; kept \(output). If \(output) is damaged or from another issuer, re-run with --force to replace it.",
                reason: "rollback")
        case .replaceUnverified(let why):
            Console.warning(
                "\(output) did not verify with these keys (\(why)); replacing it with the verified list #\(incoming.sequence)"
            )
        case .refuseUnknown(let why):
            throw CLIFailure(
                RevocationsPull.rollbackExit,
                "cannot tell which sequence \(output) holds (\(why)), so a rollback cannot be ruled out; kept \(output). If \(output) is damaged, re-run with --force to replace it.",
                reason: "rollback")
        case .replaceForced(let why):
            Console.warning("\(output) could not be checked (\(why)); replacing it because of --force")
        }
        // The whole list, also when a delta brought it: FILE is always a list services can load.
        try SecureFile.writeAtomically(Array(incoming.bytes), to: output, mode: 0o644)
        if newState.etag != nil || newState.lastModified != nil,
            let data = try? JSONEncoder().encode(newState)
        {
            try? SecureFile.writeAtomically(Array(data), to: metaPath, mode: 0o644)
        }
        finish(
            "replaced",
            detail:
                "installed sequence \(incoming.sequence) (\(incoming.count) entries\(via == "delta" ? ", from a delta" : "")) in \(output)",
            list: incoming, via: via)
    }

    private func finish(_ outcome: String, detail: String, list: RevocationList?, via: String? = nil) {
        // A sidecar reports what it installed, not every round that found nothing new.
        if follow, outcome == "unchanged" { return }
        if global.json {
            var o: JSONObject = ["outcome": outcome, "message": detail]
            if let list { o["list"] = listJSON(list) }
            if let via { o["via"] = via }
            Console.json(o)
        } else {
            Console.note("\(outcome): \(detail)")
        }
    }

    /// Exit code for a refused rollback (docs/CLI.md).
    static let rollbackExit = Exit.code(for: RevocationListError.Reason.rollback)

    /// What FILE holds now, as far as the rollback check is concerned.
    private func currentList(keys: [RevocationKey]) -> RevocationListUpdate.Held {
        // A list in force may be larger than this run's --max-bytes: read it with the default too.
        let limit = max(maxBytes, RevocationList.defaultMaxBytes)
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path: output, maxBytes: limit)
        } catch {
            return error.errno == ENOENT ? .none : .unknown(why: "cannot read it: \(error.message)")
        }
        return RevocationListUpdate.Held(bytes: bytes, keys: keys, maxBytes: limit)
    }

    /// Fetches SOURCE; `since` (the sequence FILE holds, when it verifies) makes the GET
    /// conditional and asks sigil-server for a delta.
    private func fetch(metaPath: String, since: UInt64?) async throws -> ([UInt8]?, HTTPState) {
        // Following sigil-server: ask it to hold the request until a newer list exists.
        var parameters: [String] = []
        if let since { parameters.append("since=\(since)") }
        if follow { parameters.append("wait=\(wait)") }
        var address = source
        if !parameters.isEmpty {
            address += (source.contains("?") ? "&" : "?") + parameters.joined(separator: "&")
        }
        let conditional = since != nil
        guard let url = URL(string: address) else { throw CLIFailure.usage("'\(source)' is not a valid URL") }
        // The idle timeout; the whole fetch is bounded by --timeout below.
        var request = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData,
            timeoutInterval: TimeInterval(follow ? wait + 15 : min(timeout, 30)))
        if conditional, let data = try? FileBytes.read(path: metaPath, maxBytes: 64 << 10),
            let state = try? JSONDecoder().decode(HTTPState.self, from: Data(data))
        {
            if let etag = state.etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
            if let lm = state.lastModified { request.setValue(lm, forHTTPHeaderField: "If-Modified-Since") }
        }
        // A long poll may take `wait` seconds before the first byte: the deadline covers it.
        let deadline = follow ? max(timeout, wait + 15) : timeout
        // Only a 200 has a body worth reading; any other status ends at its headers.
        // Redirects are followed (a CDN in front): the list is signed and no credential is sent.
        let http = BoundedHTTP(
            maxBytes: maxBytes, timeout: deadline, followsRedirects: true, readsBody: { $0 == 200 })
        func unavailable(_ message: String) -> CLIFailure {
            CLIFailure(Exit.unavailable, "\(message); the old list stays in place.", reason: "unavailable")
        }
        switch await http.run(request) {
        case .response(let response, _) where response.statusCode == 304:
            return (nil, HTTPState())
        case .response(let response, let bytes) where response.statusCode == 200:
            return (
                bytes,
                HTTPState(
                    etag: response.value(forHTTPHeaderField: "ETag"),
                    lastModified: response.value(forHTTPHeaderField: "Last-Modified"))
            )
        case .response(let response, _):
            throw unavailable("\(source) answered HTTP \(response.statusCode)")
        case .tooLarge(let declared?):
            throw RevocationListError(
                .tooLarge, "\(source): the server declares \(declared) bytes, over --max-bytes \(maxBytes)")
        case .tooLarge(nil):
            throw RevocationListError(
                .tooLarge, "\(source): the body goes past --max-bytes \(maxBytes); stopped reading there")
        case .timedOut:
            throw CLIFailure(
                Exit.unavailable,
                "\(source) did not finish within --timeout \(deadline) seconds; the old list stays in place. Raise --timeout if the link is slow.",
                reason: "unavailable")
        case .failed(let description):
            throw unavailable("cannot fetch \(source): \(description)")
        case .notHTTP:
            throw unavailable("\(source) did not answer with HTTP")
        }
    }
}

struct RevocationsShow: ParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a revocation list or delta: sequence, times, counts, signer, and whether it verifies.",
        discussion: """
            A delta (docs/FORMAT.md §4.3, what sigil-server answers to ?since=) carries the \
            signature of the list it makes, so it is checked by applying it to the list it starts \
            from: give that list with --base. Without --base, a delta's fields and changes are \
            shown unchecked.

            Exit codes: 0 shown (and verified, for a list or a delta with --base); 65 malformed; \
            66 file missing; 20 unknown_key; 21 bad_signature; 24 --base is not the delta's base list.

            Examples:
              sigil revocations show revocations.sgl --keys keyset.json --json
              sigil revocations show changes.sgld --base revocations.sgl --entries
            """)
    static let serverUse = ServerUse.offline
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The list file.") var file: String
    @Option(
        help: ArgumentHelp(
            "Keyset export with the revocation public keys (default: the home keyring).", valueName: "keyset.json"))
    var keys: String?
    @Flag(help: "Also list every entry (for a delta: every change).") var entries = false
    @Option(
        help: ArgumentHelp(
            "For a delta: the list it applies to, so the list it makes can be verified.", valueName: "file"))
    var base: String?

    static func read(_ path: String) throws -> [UInt8] {
        do {
            return try FileBytes.read(path: path, maxBytes: RevocationList.defaultMaxBytes)
        } catch {
            throw CLIFailure(error.errno == ENOENT ? Exit.noInput : Exit.dataError, error.description, reason: "io")
        }
    }

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let bytes = try Self.read(file)
            if RevocationDelta.isDelta(bytes) { return try showDelta(bytes, home: home) }
            if base != nil { throw CLIFailure.usage("--base is for a delta; \(file) is a full list") }
            let list = try RevocationList.parseUnverified(bytes)
            var verification = "verified"
            var failure: RevocationListError? = nil
            do {
                let keys = try revocationKeys(keyset: self.keys, home: home)
                _ = try RevocationList(verifying: bytes, keys: keys)
            } catch let error as RevocationListError {
                failure = error
                verification = "NOT VERIFIED: \(error.description)"
            }
            if global.json {
                var o = listJSON(list)
                o["verified"] = failure == nil
                o["reason"] = failure?.reason.rawValue
                o["bytes"] = bytes.count
                if entries {
                    o["entries"] = list.entries.map { entry -> JSONObject in
                        ["guid": entry.id.description, "status": entry.status == .revoked ? "revoked" : "deactivated"]
                    }
                }
                Console.json(o)
            } else {
                let counts = statusCounts(list)
                var lines = [
                    "signature    \(verification)",
                    "signer       \(list.keyID)",
                    "sequence     \(list.sequence)",
                    "issued       \(TimeText.format(list.issuedAt))",
                    "next update  \(list.nextUpdate.map(TimeText.format) ?? "none")",
                    "entries      \(list.count) (\(counts.deactivated) deactivated, \(counts.revoked) revoked)",
                ]
                if entries {
                    lines += list.entries.map { "  \($0.id)  \($0.status == .revoked ? "revoked" : "deactivated")" }
                }
                Console.out(lines.joined(separator: "\n"))
            }
            if let failure { throw ExitCode(Exit.code(for: failure.reason)) }
        }
    }

    private func showDelta(_ bytes: [UInt8], home: Home) throws {
        let delta = try RevocationDelta(parsing: bytes)
        var made: RevocationList? = nil
        var failure: RevocationListError? = nil
        if let base {
            let keys = try revocationKeys(keyset: self.keys, home: home)
            do {
                let held = try RevocationList(verifying: try Self.read(base), keys: keys)
                made = try delta.applied(to: held, keys: keys)
            } catch let error as RevocationListError {
                failure = error
            }
        }
        func name(_ status: RevocationStatus?) -> String {
            switch status {
            case nil: "leaves"
            case .deactivated: "deactivated"
            case .revoked: "revoked"
            }
        }
        if global.json {
            var o: JSONObject = [
                "kind": "delta", "kid": delta.keyID, "base_sequence": delta.baseSequence, "sequence": delta.sequence,
                "issued_at": delta.issuedAt, "next_update": delta.nextUpdate, "count": delta.count,
                "changes": delta.changes.count, "bytes": bytes.count,
                "verified": base == nil ? nil : failure == nil, "reason": failure?.reason.rawValue,
            ]
            if let made { o["list"] = listJSON(made) }
            if entries {
                o["entries"] = delta.changes.map {
                    ["guid": $0.id.description, "status": name($0.status)] as JSONObject
                }
            }
            Console.json(o)
        } else {
            let verification =
                if base == nil {
                    "not checked: give the list it applies to with --base"
                } else if let failure {
                    "NOT VERIFIED: \(failure.description)"
                } else {
                    "verified (the list it makes, applied to \(base ?? ""))"
                }
            var lines = [
                "delta        from list \(delta.baseSequence) to list \(delta.sequence)",
                "signature    \(verification)",
                "signer       \(delta.keyID)",
                "issued       \(TimeText.format(delta.issuedAt))",
                "next update  \(delta.nextUpdate.map(TimeText.format) ?? "none")",
                "changes      \(delta.changes.count) (\(delta.changes.filter { $0.status == nil }.count) leave); the list then has \(delta.count) entries",
            ]
            if entries { lines += delta.changes.map { "  \($0.id)  \(name($0.status))" } }
            Console.out(lines.joined(separator: "\n"))
        }
        if let failure { throw ExitCode(Exit.code(for: failure.reason)) }
    }
}
