import Foundation
import SigilIssuer
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// Times the release `sigil` binary as a user's shell would run it: one process per command.
enum CLIBench {
    static let ledgerSize = 100_000
    static let revokeBatch = 10_000
    /// The large ledger's size (a smaller one under --quick, with a note).
    static let largeLedgerSize = 1_000_000
    static let quickLargeLedgerSize = 20_000
    /// One token in this many of the large ledger is named "needle-…": about 100 of 1M.
    static let needleEvery = 10_000

    struct Results {
        var startupFloor: [Double]?
        var issue: [Double]?
        var list: [Double]?
        var revoke: [Double]?
        var issueLarge: [Double]?
        var listFilteredLarge: [Double]?
        var exportLarge: [Double]?
        var importLarge: [Double]?
        var largeSize = 0
        var binary: String?
        var notes: [String] = []
        /// Whether `<scratch>/large` holds an imported home of `largeSize` revoked tokens.
        var largeHomeImported: Bool { importLarge != nil }
    }

    /// The `sigil` to time: `explicit` if given, else the main package's release build
    /// (`swift build -c release --package-path <repo> --product sigil`, then `--show-bin-path`).
    ///
    /// If the main package does not build (its manifest also checks test targets), the same CLI
    /// sources are built through this package's path dependency instead, with a note.
    static func locateBinary(explicit: String?, repoRoot: String, scratch: String, notes: inout [String]) -> String? {
        if let explicit {
            guard access(explicit, X_OK) == 0 else {
                notes.append("cli: \(explicit) is not an executable file")
                return nil
            }
            return explicit
        }
        do {
            if let binary = try build(packagePath: repoRoot, scratch: scratch, notes: &notes) { return binary }
            let benchmarks = repoRoot + "/Benchmarks"
            if let binary = try build(packagePath: benchmarks, scratch: scratch, notes: &notes) {
                notes.append("cli: built sigil through Benchmarks' dependency on the main package instead")
                return binary
            }
            return nil
        } catch {
            notes.append("cli: \(error)")
            return nil
        }
    }

    /// Builds the `sigil` product of the package at `packagePath` in release and returns its path.
    private static func build(packagePath: String, scratch: String, notes: inout [String]) throws -> String? {
        let build = try Spawn.run(
            "swift", ["build", "-c", "release", "--package-path", packagePath, "--product", "sigil"],
            scratch: scratch, searchPath: true)
        guard build.succeeded else {
            let tail = (build.stdout() + build.stderr()).split(separator: "\n").filter { $0.contains("error") }
                .prefix(3).joined(separator: " | ")
            notes.append("cli: sigil does not build in \(packagePath) (swift build exit \(build.status)): \(tail)")
            return nil
        }
        let bin = try Spawn.run(
            "swift", ["build", "-c", "release", "--package-path", packagePath, "--show-bin-path"], scratch: scratch,
            searchPath: true)
        let path = bin.stdout().trimmingCharacters(in: .whitespacesAndNewlines) + "/sigil"
        guard bin.succeeded, access(path, X_OK) == 0 else {
            notes.append("cli: no sigil binary at \(path)")
            return nil
        }
        return path
    }

    static func run(binary: String, scratch: String, quick: Bool, repetitions: Int) -> Results {
        var results = Results(binary: binary)
        let home = scratch + "/home"

        // Each figure is independent: a command that is missing or fails gives null and a note.
        func time(
            _ label: String, reps: Int, warmUp: Int = 1, stdin: (Int) throws -> String? = { _ in nil },
            check: (Spawn.Outcome) -> String? = { _ in nil }, _ arguments: [String]
        ) -> [Double]? {
            var samples: [Double] = []
            for rep in 0..<(warmUp + reps) {
                do {
                    let outcome = try Spawn.run(binary, arguments, stdinPath: try stdin(rep), scratch: scratch)
                    guard outcome.succeeded else {
                        let message = outcome.stderr().split(separator: "\n").first.map(String.init) ?? ""
                        results.notes.append(
                            "cli: `sigil \(arguments.joined(separator: " "))` exited \(outcome.status): \(message)")
                        return nil
                    }
                    if let problem = check(outcome) {
                        results.notes.append("cli: \(label): \(problem)")
                        return nil
                    }
                    if rep >= warmUp { samples.append(outcome.elapsed.milliseconds) }
                } catch {
                    results.notes.append("cli: \(label): \(error)")
                    return nil
                }
            }
            return samples
        }

        results.startupFloor = time("startup", reps: quick ? 10 : 20, warmUp: 2, ["--version"])
        guard time("init", reps: 1, warmUp: 0, ["--home", home, "init"]) != nil else { return results }

        // The ledgers are seeded through the one-time v0.1 import: the public way to put many
        // rows with chosen GUIDs into the database. Its first command (timed once) imports.
        let guids: [String]
        do {
            guids = try writeLedger(home: home, count: ledgerSize, status: "active", needleEvery: nil)
        } catch {
            results.notes.append("cli: cannot write the 100k ledger: \(error)")
            return results
        }
        _ = time("import 100k", reps: 1, warmUp: 0, ["--home", home, "list", "--status", "inactive"])

        results.issue = time(
            "issue", reps: quick ? 5 : 10,
            check: { $0.stdout().hasPrefix(TokenClaims.prefix) ? nil : "issue did not print a token on stdout" },
            ["--home", home, "issue", "--name", "bench-issue", "--audience", Fixture.audience, "--all"])

        let lastGUID = guids[guids.count - 1]
        results.list = time(
            "list", reps: repetitions,
            check: { outcome in
                // The imported ledger must be what the CLI reads: its last token has to be listed.
                guard let data = FileManager.default.contents(atPath: outcome.stdoutPath),
                    data.range(of: Data(lastGUID.utf8)) != nil
                else { return "list --json does not show the ledger's tokens (was the journal imported?)" }
                return nil
            }, ["--home", home, "list", "--json"])

        // Each run revokes 10k GUIDs nobody revoked before.
        let batches = 1 + repetitions
        if guids.count >= batches * revokeBatch {
            results.revoke = time(
                "revoke", reps: repetitions,
                stdin: { rep in
                    let path = scratch + "/revoke-\(rep).txt"
                    let slice = guids[(rep * revokeBatch)..<((rep + 1) * revokeBatch)]
                    try Data((slice.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
                    return path
                }, ["--home", home, "revoke", "--yes", "-"])
        }

        // The large ledger: every token revoked (so the list names all of them), a few named "needle".
        let large = scratch + "/large"
        let size = quick ? quickLargeLedgerSize : largeLedgerSize
        results.largeSize = size
        guard time("init large", reps: 1, warmUp: 0, ["--home", large, "init"]) != nil else { return results }
        do {
            _ = try writeLedger(home: large, count: size, status: "revoked", needleEvery: needleEvery)
        } catch {
            results.notes.append("cli: cannot write the large ledger: \(error)")
            return results
        }
        results.importLarge = time("import large", reps: 1, warmUp: 0, ["--home", large, "list", "--status", "active"])
        results.issueLarge = time(
            "issue 1m", reps: quick ? 5 : 10,
            check: { $0.stdout().hasPrefix(TokenClaims.prefix) ? nil : "issue did not print a token on stdout" },
            ["--home", large, "issue", "--name", "bench-issue", "--audience", Fixture.audience, "--all"])
        let needles = max(1, size / needleEvery)
        results.listFilteredLarge = time(
            "list filtered", reps: repetitions,
            check: { outcome in
                let rows = outcome.stdout().split(separator: "\n").count - 1
                return rows == needles ? nil : "list --name needle showed \(rows) rows, expected \(needles)"
            }, ["--home", large, "list", "--name", "needle"])
        results.exportLarge = time(
            "export 1m", reps: quick ? 2 : 5,
            check: { outcome in
                outcome.stdout().contains("\"count\":\(size)") ? nil : "the export does not name every revoked token"
            }, ["--home", large, "--json", "revocations", "export", "-o", scratch + "/large.sgl"])
        return results
    }

    /// Writes a v0.1 `ledger.jsonl` of `count` all-scope tokens with the given status (mode 0600),
    /// formatted by hand for speed. Returns the GUIDs in ledger order.
    static func writeLedger(home: String, count: Int, status: String, needleEvery: Int?) throws -> [String] {
        let keyID = try Keyring.load(home: home).activeKey.keyID
        let now = Verifier.unixNow()
        var random = SplitMix64(seed: 0x1ed6_e5)
        var guids: [String] = []
        guids.reserveCapacity(count)
        var text = ""
        text.reserveCapacity(count * 330)
        for i in 0..<count {
            let guid = Fixture.randomTokenID(&random).description
            guids.append(guid)
            let at = now - Int64(count - i)
            let name = needleEvery.map { i % $0 == 0 } == true ? "needle-\(i)" : "bench-\(i)"
            text +=
                #"{"at":\#(at),"op":"issue","token":{"audience":"\#(Fixture.audience)","created_at":\#(at),"#
                + #""created_by":"bench","description":"","guid":"\#(guid)","kid":"\#(keyID)","name":"\#(name)","#
                + #""scope":"all","status":"\#(status)","updated_at":\#(at),"valid_from":\#(at),"#
                + #""valid_to":\#(at + 365 * 86_400)}}"#
            text += "\n"
        }
        let path = home + "/ledger.jsonl"
        // The home already has a database from `init`: move it away so the journal is imported.
        for suffix in ["", "-wal", "-shm"] { unlink(home + "/sigil.db" + suffix) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BenchError("cannot open \(path)") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw BenchError("cannot chmod \(path)") }
        let utf8 = Array(text.utf8)
        var offset = 0
        while offset < utf8.count {
            let n = utf8.withUnsafeBytes { all in
                let rest = UnsafeRawBufferPointer(rebasing: all[offset...])
                return write(fd, rest.baseAddress, rest.count)
            }
            guard n > 0 else { throw BenchError("cannot write \(path)") }
            offset += n
        }
        return guids
    }
}
