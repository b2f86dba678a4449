import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One run that a watchdog ends with SIGKILL if it outlives its time limit, so a command that
/// blocks (on a FIFO, a slow server) fails the test instead of hanging the suite.
struct BoundedRun: CustomStringConvertible {
    let result: CommandResult
    let seconds: Double
    let killed: Bool

    var description: String { "\(result)\n--- \(seconds) s\(killed ? ", killed by the watchdog" : "")" }
}

/// Runs `sigil ARGS…` in `box` (or `prefix + [sigil] + ARGS` when `prefix` names a wrapper such
/// as `/usr/bin/time -v`), killing it after `limit` seconds.
func runBounded(
    _ box: Sandbox, _ arguments: [String], stdin: [UInt8] = [], limit: Double, prefix: [String] = []
) async throws -> BoundedRun {
    let environment = box.environment()
    return try await ProcessSlots.shared.run {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do {
                    continuation.resume(
                        returning: try runBoundedBlocking(
                            arguments, stdin: stdin, limit: limit, prefix: prefix, environment: environment))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }
}

private func runBoundedBlocking(
    _ arguments: [String], stdin: [UInt8], limit: Double, prefix: [String], environment: [String: String]
) throws -> BoundedRun {
    let executable = prefix.first ?? SigilBinary.path
    let argv = prefix.isEmpty ? arguments : Array(prefix.dropFirst()) + [SigilBinary.path] + arguments
    let (input, output, errors, pid) = try spawnLock.withLock { _ in
        let input = try makePipe()
        let output = try makePipe()
        let errors = try makePipe()
        do {
            let pid = try spawn(
                executable, argv, environment: environment, stdin: input.read, stdout: output.write,
                stderr: errors.write)
            return (input, output, errors, pid)
        } catch {
            for fd in [input.read, input.write, output.read, output.write, errors.read, errors.write] { close(fd) }
            throw error
        }
    }
    close(input.read)
    close(output.write)
    close(errors.write)
    let start = ContinuousClock.now
    // `exited` is set before the child is reaped, so the watchdog never signals a reused pid.
    let state = Mutex((exited: false, killed: false))
    DispatchQueue.global().asyncAfter(deadline: .now() + limit) {
        state.withLock { state in
            guard !state.exited else { return }
            kill(pid, SIGKILL)
            state.killed = true
        }
    }
    let errorData = Mutex([UInt8]())
    let done = DispatchGroup()
    DispatchQueue.global().async(group: done) {
        writeAll(input.write, stdin)
        close(input.write)
    }
    DispatchQueue.global().async(group: done) {
        let data = readAll(errors.read)
        close(errors.read)
        errorData.withLock { $0 = data }
    }
    let outputData = readAll(output.read)
    close(output.read)
    var info = siginfo_t()
    while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
    state.withLock { $0.exited = true }
    let status = waitForExit(pid)
    let seconds = (ContinuousClock.now - start) / .seconds(1)
    done.wait()
    return BoundedRun(
        result: CommandResult(
            arguments: arguments, stdin: "", exitCode: status, stdout: String(decoding: outputData, as: UTF8.self),
            stderr: String(decoding: errorData.withLock { $0 }, as: UTF8.self)),
        seconds: seconds, killed: state.withLock { $0.killed })
}

/// `Maximum resident set size (kbytes): N` from `/usr/bin/time -v`'s report on stderr.
func peakRSSKilobytes(_ stderr: String) -> Int? {
    for line in stderr.split(separator: "\n") where line.contains("Maximum resident set size") {
        return line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }
    return nil
}

/// FIFOs and endless stdin (item 9 of the second review).
@Suite("Round two: FIFOs and huge stdin do not block or balloon")
struct BlockingInputTests {
    /// A sandbox with one token, list #1, a keyset and a FIFO no one writes to.
    struct Fixture {
        let box: Sandbox
        let token: String
        let list: String
        let keyset: String
        let fifo: String

        static func make() async throws -> Fixture {
            let box = try Sandbox()
            let (token, _) = try await box.issue(name: "fifo")
            let list = box.path("list.sgl")
            try await box.exportRevocations(to: list)
            let keyset = box.path("billing.keyset.json")
            #expect(try await box.run("keys", "export", "--audience", "billing", "-o", keyset).exitCode == 0)
            let fifo = box.path("fifo")
            try #require(mkfifo(fifo, 0o600) == 0, "mkfifo")
            return Fixture(box: box, token: token, list: list, keyset: keyset, fifo: fifo)
        }
    }

    @Test(
        "A FIFO as --revocations, --keys, a pull source or a list to show is refused at once",
        .bug(id: "fifo-blocks", "FileBytes.read opened without O_NONBLOCK: open(2) of a FIFO waits for a writer forever"))
    func fifos() async throws {
        let f = try await Fixture.make()
        let output = f.box.path("pulled.sgl")
        let cases: [(arguments: [String], exit: Int32)] = [
            (["verify", f.token, "--audience", "billing", "--revocations", f.fifo], 66),
            (["verify", f.token, "--audience", "billing", "--keys", f.fifo], 65),
            (["revocations", "pull", f.list, "-o", output, "--keys", f.fifo], 65),
            (["revocations", "pull", f.fifo, "-o", output, "--keys", f.keyset], 66),
            (["revocations", "show", f.list, "--keys", f.fifo], 65),
            (["revocations", "show", f.fifo, "--keys", f.keyset], 65),
        ]
        for c in cases {
            let run = try await runBounded(f.box, c.arguments, limit: 20)
            #expect(!run.killed && run.result.exitCode == c.exit, "\(run)")
            #expect(run.result.stderr.contains("not a regular file (a FIFO)"), "\(run)")
            #expect(!run.result.stderr.contains(f.token))
        }
        #expect(!FileManager.default.fileExists(atPath: output), "nothing was installed")
    }

    @Test(
        "10 MB on stdin for verify - and inspect - is malformed (10) after reading one token's worth",
        .bug(id: "stdin-unbounded", "readToken used readLine, which buffers a whole line before the 4,096 check"))
    func hugeStdin() async throws {
        let f = try await Fixture.make()
        let flood = [UInt8](repeating: UInt8(ascii: "A"), count: 10 << 20)
        for arguments in [["verify", "-", "--audience", "billing"], ["inspect", "-"]] {
            let run = try await runBounded(f.box, arguments, stdin: flood, limit: 30)
            #expect(!run.killed && run.result.exitCode == 10, "\(run)")
            #expect(run.result.stderr.contains("longer than a token can be"), "\(run)")
            #expect(run.seconds < 10, "\(run)")
        }
        let json = try await runBounded(f.box, ["--json", "verify", "-", "--audience", "billing"], stdin: flood, limit: 30)
        #expect(json.result.exitCode == 10, "\(json)")
        let object = try json.result.jsonObject()
        #expect(object["valid"] as? Bool == false && object["reason"] as? String == "malformed", "\(json)")
        // Just under the limit, with the CRLF and spaces copy and paste adds, still verifies.
        let padded = Array(("   " + f.token + "   \r\n").utf8)
        let ok = try await runBounded(f.box, ["verify", "-", "--audience", "billing"], stdin: padded, limit: 30)
        #expect(ok.result.exitCode == 0, "\(ok)")
    }

    @Test(
        "verify - keeps its peak memory when stdin holds 10 MB",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs GNU time for -v"),
        .bug(id: "stdin-unbounded", "readToken used readLine, which buffers a whole line before the 4,096 check"))
    func hugeStdinMemory() async throws {
        let f = try await Fixture.make()
        let verify = ["verify", "-", "--audience", "billing"]
        let small = try await runBounded(
            f.box, verify, stdin: Array("sgl_AAAA\n".utf8), limit: 30, prefix: ["/usr/bin/time", "-v"])
        let flood = try await runBounded(
            f.box, verify, stdin: [UInt8](repeating: UInt8(ascii: "A"), count: 10 << 20), limit: 30,
            prefix: ["/usr/bin/time", "-v"])
        #expect(small.result.exitCode == 10 && flood.result.exitCode == 10, "\(small)\n\(flood)")
        let baseline = try #require(peakRSSKilobytes(small.result.stderr), "\(small)")
        let peak = try #require(peakRSSKilobytes(flood.result.stderr), "\(flood)")
        // Buffering the line would add at least its 10,240 KiB; reading 4,161 bytes adds nothing.
        #expect(peak < baseline + 6 * 1024, "peak \(peak) KiB vs \(baseline) KiB for a short token")
    }
}
