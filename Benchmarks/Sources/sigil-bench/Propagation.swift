import Foundation
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// Revocation propagation: from a revoke API call returning to a `RevocationStore` in another
/// process refusing the token.
///
/// The chain measured is the one a service runs: sigil-server publishes a new signed list,
/// `sigil revocations pull URL -o FILE --follow` (its own process, long-polling) installs it,
/// and a service process (`sigil-bench --propagation-watcher`, below) notices FILE change with
/// `RevocationWatcher` and refuses the token in `Verifier.verify`.
enum Propagation {
    /// How often the watcher process polls FILE (one `stat` per poll). A service would use a
    /// second or more; a short interval keeps the watcher's own delay small next to the chain's.
    static let watchInterval: Duration = .milliseconds(20)

    static let usage = "usage: sigil-bench --propagation-watcher LIST --keys KEYSET --tokens FILE"

    // MARK: The watcher (child process)

    /// `sigil-bench --propagation-watcher LIST --keys KEYSET --tokens FILE`: loads LIST into a
    /// `RevocationStore` through a `RevocationWatcher`, checks that every token in FILE (one per
    /// line) verifies, prints `ready N`, then after each poll that installs a new list verifies
    /// the tokens not yet refused and prints `INDEX CLOCK_MONOTONIC_NS` for each one now refused
    /// as revoked. Exits when all are refused, or when its parent is gone.
    static func watcherMain(_ arguments: [String]) -> Never {
        var list: String?
        var keys: String?
        var tokensPath: String?
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--propagation-watcher": list = rest.popFirst()
            case "--keys": keys = rest.popFirst()
            case "--tokens": tokensPath = rest.popFirst()
            default: SigilBench.fail("unknown watcher argument \(argument)\n\(usage)")
            }
        }
        guard let list, let keys, let tokensPath else { SigilBench.fail(usage) }
        let parent = getppid()
        let keyset: Keyset
        let tokens: [String]
        let store: RevocationStore
        let verifier: Verifier
        do {
            keyset = try Keyset(contentsOf: keys)
            tokens = try String(contentsOfFile: tokensPath, encoding: .utf8).split(separator: "\n").map(String.init)
            store = RevocationStore(keys: keyset.revocationKeys)
            verifier = try Verifier(keyset: keyset, revocations: store)
        } catch {
            SigilBench.fail("watcher: \(error)")
        }
        let watcher = RevocationWatcher(path: list, store: store, interval: watchInterval)
        guard watcher.poll() else { SigilBench.fail("watcher: \(list) did not load") }
        for (index, token) in tokens.enumerated() {
            do throws(VerificationError) {
                _ = try verifier.verify(token, for: nil, at: nil)
            } catch {
                // The reason code only: never the token.
                SigilBench.fail("watcher: token \(index) does not verify before its revocation (\(error.reason))")
            }
        }
        emit("ready \(tokens.count)")
        var pending = Set(tokens.indices)
        let sleep = UInt32(watchInterval.nanoseconds / 1_000)
        while !pending.isEmpty {
            usleep(sleep)
            if getppid() != parent { exit(2) }  // the benchmark died: do not linger
            guard watcher.poll() else { continue }
            let now = monotonicNanoseconds()
            for index in pending.sorted() {
                do throws(VerificationError) {
                    _ = try verifier.verify(tokens[index], for: nil, at: nil)
                } catch {
                    guard error.reason == .revoked else { continue }
                    pending.remove(index)
                    emit("\(index) \(now)")
                }
            }
        }
        exit(0)
    }

    /// Writes one line to stdout unbuffered, so the parent sees it at once.
    private static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { exit(3) }
            offset += n
        }
    }

    // MARK: The measurement (parent)

    struct Result {
        /// Milliseconds from the revoke call returning to the watcher's refusal, per revocation.
        var samples: [Double] = []
        /// Refusals seen before the revoke call had returned (counted as 0 ms).
        var early = 0
        var notes: [String] = []
    }

    /// Revokes each token in turn through the API and waits for the watcher to report it.
    ///
    /// - Parameters:
    ///   - tokens: `(token, guid)` pairs, all valid for audience `billing` now.
    ///   - revokePort: The port on 127.0.0.1 of the server the revocations are sent to.
    ///   - pullPort: The port of the server `pull --follow` long-polls: the same one, or another
    ///     replica on the same database, so the list crosses the database to reach the watcher.
    ///   - orgToken: The token that revokes (audience `sigil`, scope all).
    ///   - sigil: The `sigil` CLI that runs `revocations pull --follow`.
    ///   - keyset: The `billing` keyset export, with the revocation keys.
    ///   - scratch: A private folder for the list, the tokens file and the children's output.
    /// - Returns: One sample per token, in milliseconds.
    /// - Throws: ``BenchError`` if a child cannot start, a revoke fails, or a refusal takes over 10 s.
    static func measure(
        tokens: [(token: String, guid: String)], revokePort: UInt16, pullPort: UInt16, orgToken: String, sigil: String,
        keyset: String, scratch: String
    ) throws -> Result {
        var result = Result()
        let listPath = scratch + "/propagation.sgl"
        let tokensPath = scratch + "/propagation-tokens.txt"
        unlink(listPath)  // an earlier phase's list, under other keys
        try writePrivate(tokens.map(\.token).joined(separator: "\n") + "\n", to: tokensPath)
        defer { unlink(tokensPath) }

        let pull = try ChildProcess(
            "sigil revocations pull --follow", program: sigil,
            arguments: [
                "revocations", "pull", "http://127.0.0.1:\(pullPort)/v1/revocations", "-o", listPath, "--follow",
                "--keys", keyset,
            ], stdoutPath: scratch + "/pull.stdout", stderrPath: scratch + "/pull.stderr",
            environment: ["SIGIL_HOME": scratch + "/no-home"])
        defer { pull.stop() }
        guard ChildProcess.wait(timeout: .seconds(20), { access(listPath, R_OK) == 0 || pull.hasExited }),
            !pull.hasExited
        else {
            throw BenchError("`sigil revocations pull --follow` wrote no list: \(pull.stderrTail())")
        }

        let watcher = try ChildProcess(
            "propagation watcher", program: selfPath(),
            arguments: ["--propagation-watcher", listPath, "--keys", keyset, "--tokens", tokensPath],
            stdoutPath: scratch + "/watcher.stdout", stderrPath: scratch + "/watcher.stderr")
        defer { watcher.stop() }
        guard ChildProcess.wait(timeout: .seconds(20), { watcher.stdout().hasPrefix("ready") || watcher.hasExited }),
            !watcher.hasExited
        else {
            throw BenchError("the propagation watcher did not start: \(watcher.stderrTail())")
        }

        let connection = HTTPConnection(port: revokePort)
        defer { connection.close() }
        var reported: [Int: UInt64] = [:]
        var seen = 0  // bytes of the watcher's stdout already parsed
        for (index, pair) in tokens.enumerated() {
            let response = try connection.send(
                HTTPConnection.request(
                    "POST", "/v1/tokens/\(pair.guid)/revoke",
                    headers: [("Authorization", "Bearer \(orgToken)"), ("Content-Type", "application/json")],
                    body: Array("{}".utf8)))
            let returned = monotonicNanoseconds()
            guard response.status == 200 else {
                throw BenchError("revoke answered HTTP \(response.status), expected 200")
            }
            let arrived = ChildProcess.wait(timeout: .seconds(10), interval: .milliseconds(1)) {
                let text = watcher.stdout()
                let bytes = Array(text.utf8)
                guard bytes.count > seen, let lastNewline = bytes.lastIndex(of: 10), lastNewline >= seen else {
                    return reported[index] != nil
                }
                for line in String(decoding: bytes[seen...lastNewline], as: UTF8.self).split(separator: "\n") {
                    let fields = line.split(separator: " ")
                    if fields.count == 2, let i = Int(fields[0]), let at = UInt64(fields[1]) { reported[i] = at }
                }
                seen = lastNewline + 1
                return reported[index] != nil
            }
            guard arrived, let refused = reported[index] else {
                throw BenchError(
                    "revocation \(index + 1) was not refused by the watcher within 10 s "
                        + "(pull: \(pull.stderrTail(1)); watcher: \(watcher.stderrTail(1)))")
            }
            // The list can reach the watcher before the revoke's response is read: counted as 0.
            let delta = Int64(bitPattern: refused &- returned)
            if delta < 0 { result.early += 1 }
            result.samples.append(Double(max(0, delta)) / 1e6)
            if reported.count > index + 1 {
                result.notes.append("propagation: the watcher refused a token before its revoke was sent")
            }
        }
        return result
    }

    /// This executable's path, for starting the watcher child.
    static func selfPath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Writes `text` to a new file readable by its owner only (the tokens file holds secrets).
    static func writePrivate(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BenchError("cannot create \(path)") }
        defer { Glibc.close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            guard n > 0 else { throw BenchError("cannot write \(path)") }
            offset += n
        }
    }
}
