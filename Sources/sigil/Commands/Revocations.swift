import ArgumentParser
import Foundation
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
    return try ring.revocationKeys.map { try RevocationKey(keyID: $0.keyID, publicKey: $0.publicKey) }
}

/// The home keyring for commands that only read it (`inspect`, `revocations pull` and
/// `show`): the home gets the checks of ``SecureFile/ensureHome(_:)`` (owner, mode) but is
/// never created or changed. Nil when there is no home or no keyring in it.
func existingKeyring(_ home: Home) throws -> Keyring? {
    guard try SecureFile.checkHome(home.path), Keyring.exists(home: home.path) else { return nil }
    return try Keyring.load(home: home.path)
}

func listJSON(_ list: RevocationList) -> [String: Any] {
    let entries = list.entries
    return [
        "kid": list.keyID, "sequence": list.sequence, "issued_at": list.issuedAt,
        "next_update": list.nextUpdate.map { $0 as Any } ?? NSNull(), "count": list.count,
        "deactivated": entries.filter { $0.status == .deactivated }.count,
        "revoked": entries.filter { $0.status == .revoked }.count,
    ]
}

struct RevocationsExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Sign and write the current revocation list (sequence = previous + 1).",
        discussion: """
            Includes every inactive token (status 1) and every revoked or deleted one (status 2), \
            leaving out revoked tokens whose valid_to has passed. Written atomically.

            Example:
              sigil revocations export -o revocations.sgl --next-update 1h
            """)
    @OptionGroup var global: GlobalOptions
    @Option(
        name: .shortAndLong, help: ArgumentHelp("Where to write (default <home>/revocations.sgl).", valueName: "file"))
    var output: String?
    @Option(
        name: .customLong("next-update"),
        help: ArgumentHelp("Promise the next list within this duration, e.g. 1h.", valueName: "duration"))
    var nextUpdate: String?

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let next = try nextUpdate.map { text -> Int64 in
                guard let d = TimeText.parseDuration(text) else {
                    throw CLIFailure.usage("--next-update '\(text)' is not a duration like 1h, 30m or 1d")
                }
                return d
            }
            let lock = try home.lock("revocations export")
            defer { lock.unlock() }
            let ring = try home.keyring()
            let state = try home.loadLedger()
            let now = Home.now
            var entries: [(TokenID, RevocationStatus)] = []
            for t in state.tokens.values {
                switch t.status {
                case .active: continue
                case .inactive: entries.append((t.id, .deactivated))
                case .revoked: if !t.hasExpired(at: now) { entries.append((t.id, .revoked)) }
                }
            }
            let sequence = state.exportSequence + 1
            let signer = ring.signingKey
            let bytes = try RevocationListBuilder.build(
                entries: entries, sequence: sequence, issuedAt: now, nextUpdate: next.map { now + $0 },
                keyID: signer.keyID, seed: signer.seed)
            // The sequence is recorded before the file appears, so a crash can skip a number
            // but never sign two different lists with the same one.
            try home.ledger.append([JournalRecord(op: .export, at: now, sequence: sequence)])
            let path = output ?? home.path + "/revocations.sgl"
            try SecureFile.writeAtomically(bytes, to: path, mode: 0o644)
            let list = try RevocationList.parseUnverified(bytes)
            if global.json {
                var o = listJSON(list)
                o["path"] = path
                o["bytes"] = bytes.count
                Console.json(o)
            } else {
                Console.note(
                    "Wrote revocation list #\(sequence) to \(path): \(entries.count) entries, \(bytes.count) bytes, signed by \(signer.keyID)."
                )
            }
        }
    }
}

struct RevocationsPull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Fetch a revocation list, verify it, and replace FILE if it is newer.",
        discussion: """
            SOURCE is a path or an http(s) URL (sent with If-None-Match / If-Modified-Since). The \
            list must be signed by a revocation key of the keyset; a lower sequence than FILE's \
            (rollback) or the same sequence with other bytes (equivocation) is refused and FILE is \
            kept. Meant for cron or a sidecar.

            Exit codes: 0 replaced or unchanged; 65 malformed/too large; 66 source missing; \
            69 fetch failed; 20 unknown_key; 21 bad_signature; 22 rollback; 23 equivocation.

            Example:
              sigil revocations pull https://issuer.example/revocations.sgl -o revocations.sgl --keys keyset.json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A file path or an http(s) URL.") var source: String
    @Option(name: .shortAndLong, help: ArgumentHelp("The list file to replace.", valueName: "file")) var output: String
    @Option(
        help: ArgumentHelp(
            "Keyset export with the revocation public keys (default: the home keyring).", valueName: "keyset.json"))
    var keys: String?
    @Option(name: .customLong("max-bytes"), help: "Refuse lists larger than this.") var maxBytes: Int = RevocationList
        .defaultMaxBytes

    struct HTTPState: Codable {
        var etag: String?
        var lastModified: String?
    }

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let home = Home(global)
            let keys = try revocationKeys(keyset: self.keys, home: home)
            let metaPath = output + ".http.json"
            let fetched: [UInt8]?
            var newState = HTTPState()
            if source.hasPrefix("http://") || source.hasPrefix("https://") {
                (fetched, newState) = try await fetch(metaPath: metaPath)
            } else {
                do {
                    fetched = try FileBytes.read(path: source, maxBytes: maxBytes)
                } catch let error as FileBytes.IOError {
                    throw error.errno == EFBIG
                        ? RevocationListError(.tooLarge, error.description)
                        : CLIFailure(Exit.noInput, "cannot read \(error.description)", reason: "not_found")
                }
            }
            guard let bytes = fetched else {
                finish("unchanged", detail: "the server says the list has not changed (304)", list: nil)
                return
            }
            let incoming = try RevocationList(verifying: bytes, keys: keys, maxBytes: maxBytes)
            if let current = try? FileBytes.read(path: output, maxBytes: maxBytes) {
                if let existing = try? RevocationList(verifying: current, keys: keys, maxBytes: maxBytes) {
                    if incoming.sequence < existing.sequence {
                        throw RevocationListError(
                            .rollback,
                            "incoming sequence \(incoming.sequence) < \(existing.sequence) in \(output); kept \(output)"
                        )
                    }
                    if incoming.sequence == existing.sequence {
                        guard incoming.hasSameBytes(as: existing) else {
                            throw RevocationListError(
                                .equivocation,
                                "sequence \(incoming.sequence) differs from \(output) with the same sequence; kept \(output). Investigate the distribution host."
                            )
                        }
                        finish(
                            "unchanged", detail: "sequence \(incoming.sequence) is already in \(output)", list: incoming
                        )
                        return
                    }
                } else {
                    Console.warning("\(output) does not verify with these keys; replacing it with the verified list")
                }
            }
            try SecureFile.writeAtomically(bytes, to: output, mode: 0o644)
            if newState.etag != nil || newState.lastModified != nil,
                let data = try? JSONEncoder().encode(newState)
            {
                try? SecureFile.writeAtomically(Array(data), to: metaPath, mode: 0o644)
            }
            finish(
                "replaced", detail: "installed sequence \(incoming.sequence) (\(incoming.count) entries) in \(output)",
                list: incoming)
        }
    }

    private func finish(_ outcome: String, detail: String, list: RevocationList?) {
        if global.json {
            var o: [String: Any] = ["outcome": outcome, "message": detail]
            if let list { o["list"] = listJSON(list) }
            Console.json(o)
        } else {
            Console.note("\(outcome): \(detail)")
        }
    }

    private func fetch(metaPath: String) async throws -> ([UInt8]?, HTTPState) {
        guard let url = URL(string: source) else { throw CLIFailure.usage("'\(source)' is not a valid URL") }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 30)
        if FileManager.default.fileExists(atPath: output),
            let data = FileManager.default.contents(atPath: metaPath),
            let state = try? JSONDecoder().decode(HTTPState.self, from: data)
        {
            if let etag = state.etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
            if let lm = state.lastModified { request.setValue(lm, forHTTPHeaderField: "If-Modified-Since") }
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw CLIFailure(
                Exit.unavailable, "cannot fetch \(source): \(error.localizedDescription). The old list stays in place.",
                reason: "unavailable")
        }
        guard let http = response as? HTTPURLResponse else {
            throw CLIFailure(Exit.unavailable, "\(source) did not answer with HTTP", reason: "unavailable")
        }
        if http.statusCode == 304 { return (nil, HTTPState()) }
        guard http.statusCode == 200 else {
            throw CLIFailure(
                Exit.unavailable, "\(source) answered HTTP \(http.statusCode); the old list stays in place.",
                reason: "unavailable")
        }
        guard data.count <= maxBytes else {
            throw RevocationListError(.tooLarge, "\(data.count) bytes, limit \(maxBytes)")
        }
        return (
            Array(data),
            HTTPState(
                etag: http.value(forHTTPHeaderField: "ETag"),
                lastModified: http.value(forHTTPHeaderField: "Last-Modified"))
        )
    }
}

struct RevocationsShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a revocation list: sequence, times, counts, signer, and whether it verifies.",
        discussion: """
            Example:
              sigil revocations show revocations.sgl --keys keyset.json --json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The list file.") var file: String
    @Option(
        help: ArgumentHelp(
            "Keyset export with the revocation public keys (default: the home keyring).", valueName: "keyset.json"))
    var keys: String?
    @Flag(help: "Also list every entry.") var entries = false

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let bytes: [UInt8]
            do {
                bytes = try FileBytes.read(path: file, maxBytes: RevocationList.defaultMaxBytes)
            } catch let error as FileBytes.IOError {
                throw CLIFailure(error.errno == ENOENT ? Exit.noInput : Exit.dataError, error.description, reason: "io")
            }
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
                o["reason"] = failure.map { $0.reason.rawValue as Any } ?? NSNull()
                o["bytes"] = bytes.count
                if entries {
                    o["entries"] = list.entries.map {
                        ["guid": $0.id.description, "status": $0.status == .revoked ? "revoked" : "deactivated"]
                    }
                }
                Console.json(o)
            } else {
                let counts = listJSON(list)
                var lines = [
                    "signature    \(verification)",
                    "signer       \(list.keyID)",
                    "sequence     \(list.sequence)",
                    "issued       \(TimeText.format(list.issuedAt))",
                    "next update  \(list.nextUpdate.map(TimeText.format) ?? "none")",
                    "entries      \(list.count) (\(counts["deactivated"] ?? 0) deactivated, \(counts["revoked"] ?? 0) revoked)",
                ]
                if entries {
                    lines += list.entries.map { "  \($0.id)  \($0.status == .revoked ? "revoked" : "deactivated")" }
                }
                Console.out(lines.joined(separator: "\n"))
            }
            if let failure { throw ExitCode(Exit.code(for: failure.reason)) }
        }
    }
}
