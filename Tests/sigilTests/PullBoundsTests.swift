import Foundation
import SigilTestSupport
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
    let executable = prefix.first ?? SigilBinary.path
    let argv = prefix.isEmpty ? arguments : Array(prefix.dropFirst()) + [SigilBinary.path] + arguments
    let child = ChildProcess(
        executable, argv, environment: box.environment(), stdin: .bytes(stdin), timeout: .seconds(limit))
    let run = try await ProcessSlots.shared.run { try await child.run() }
    return BoundedRun(
        result: CommandResult(run, stdin: ""), seconds: run.elapsed / .seconds(1), killed: run.timedOut)
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
        .bug(
            id: "fifo-blocks", "FileBytes.read opened without O_NONBLOCK: open(2) of a FIFO waits for a writer forever")
    )
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
        let json = try await runBounded(
            f.box, ["--json", "verify", "-", "--audience", "billing"], stdin: flood, limit: 30)
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

/// A `python3` HTTP/1.1 server on 127.0.0.1 with hostile answers, for `revocations pull`:
/// `/huge` declares 512 MiB and then stalls, `/chunked` streams 256 MiB in 64 KiB chunks,
/// `/trickle` declares 100 bytes and sends one a second.
final class HostileHTTPServer: Sendable {
    let port: Int
    private let process: BackgroundProcess

    static let script = """
        import sys, time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass
            def do_GET(self):
                try:
                    if self.path == "/huge":
                        self.send_response(200)
                        self.send_header("Content-Length", str(512 << 20))
                        self.end_headers()
                        self.wfile.write(b"x" * 1000)
                        self.wfile.flush()
                        time.sleep(60)
                    elif self.path == "/chunked":
                        self.send_response(200)
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        chunk = b"y" * 65536
                        for _ in range(4096):
                            self.wfile.write(b"%x\\r\\n" % len(chunk) + chunk + b"\\r\\n")
                        self.wfile.write(b"0\\r\\n\\r\\n")
                    elif self.path == "/trickle":
                        self.send_response(200)
                        self.send_header("Content-Length", "100")
                        self.end_headers()
                        for _ in range(100):
                            self.wfile.write(b"z")
                            self.wfile.flush()
                            time.sleep(1)
                    else:
                        self.send_error(404)
                except (BrokenPipeError, ConnectionResetError):
                    pass
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        print("port", server.server_address[1], flush=True)
        server.serve_forever()
        """

    init() async throws {
        let python = try #require(LocalHTTPServer.python, "python3 is needed for the HTTP pull tests")
        process = try await BackgroundProcess(
            python, ["-u", "-c", Self.script], environment: ["PATH": "/usr/bin:/bin"])
        // The script prints "port N" after listen(2), so the server answers from then on.
        let line = process.firstLine.trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("port "), let port = Int(line.dropFirst(5)) else {
            process.stop()
            throw SpawnError(what: "the hostile server did not say its port (\(line))", code: 0)
        }
        self.port = port
    }

    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)" }

    /// Stops the server and reaps it.
    func stop() { process.stop() }
}

/// `revocations pull` over HTTP (item 4 of the second review).
@Suite(
    "Round two: pull over HTTP is bounded in size and time",
    .enabled(if: LocalHTTPServer.python != nil, "needs python3 for the hostile server"))
struct PullBoundsTests {
    @Test(
        "A response declaring 512 MiB is refused as too large at once; nothing is installed",
        .bug(id: "pull-unbounded", "pull buffered the whole body (URLSession.data) before --max-bytes applied"))
    func declaredTooLarge() async throws {
        let f = try await BlockingInputTests.Fixture.make()
        let server = try await HostileHTTPServer()
        defer { server.stop() }
        let output = f.box.path("pulled.sgl")
        let run = try await runBounded(
            f.box, ["revocations", "pull", server.url("huge"), "-o", output, "--keys", f.keyset], limit: 20)
        #expect(!run.killed && run.result.exitCode == 65, "\(run)")
        #expect(run.result.stderr.contains("declares 536870912 bytes"), "\(run)")
        #expect(run.seconds < 5, "\(run)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test(
        "A chunked body past --max-bytes is refused without reading it all",
        .bug(id: "pull-unbounded", "pull buffered the whole body (URLSession.data) before --max-bytes applied"))
    func chunkedTooLarge() async throws {
        let f = try await BlockingInputTests.Fixture.make()
        let server = try await HostileHTTPServer()
        defer { server.stop() }
        let output = f.box.path("pulled.sgl")
        let time = FileManager.default.isExecutableFile(atPath: "/usr/bin/time") ? ["/usr/bin/time", "-v"] : []
        let run = try await runBounded(
            f.box,
            ["revocations", "pull", server.url("chunked"), "-o", output, "--keys", f.keyset, "--max-bytes", "100000"],
            limit: 30, prefix: time)
        #expect(!run.killed && run.result.exitCode == 65, "\(run)")
        #expect(run.result.stderr.contains("past --max-bytes 100000; stopped reading there"), "\(run)")
        #expect(!FileManager.default.fileExists(atPath: output))
        if let peak = peakRSSKilobytes(run.result.stderr) {
            // The server sends 256 MiB; buffering it would need at least that much.
            #expect(peak < 128 * 1024, "peak RSS \(peak) KiB")
        }
    }

    @Test(
        "A server trickling one byte a second hits --timeout 2: exit 69 after about 2 s",
        .bug(id: "pull-deadline", "pull had only URLSession's 30 s idle timeout, which a trickle never trips"))
    func trickleTimeout() async throws {
        let f = try await BlockingInputTests.Fixture.make()
        let server = try await HostileHTTPServer()
        defer { server.stop() }
        let output = f.box.path("pulled.sgl")
        let run = try await runBounded(
            f.box, ["revocations", "pull", server.url("trickle"), "-o", output, "--keys", f.keyset, "--timeout", "2"],
            limit: 30)
        #expect(!run.killed && run.result.exitCode == 69, "\(run)")
        #expect(run.result.stderr.contains("within --timeout 2 seconds"), "\(run)")
        #expect(run.seconds >= 1.9 && run.seconds < 8, "\(run)")
        #expect(!FileManager.default.fileExists(atPath: output))
        for bad in ["0", "-1", "86401"] {
            let usage = try await f.box.run(
                ["revocations", "pull", server.url("trickle"), "-o", output, "--keys", f.keyset, "--timeout", bad])
            #expect(usage.exitCode == 64, "\(usage)")
        }
    }
}
