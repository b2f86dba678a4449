import Foundation
import SigilTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Remote mode (`--server`) without a server: flag checks, the token file's checks, the
/// refusals of commands that need the issuer's home, and an unreachable server (69). The
/// end-to-end tests against a real sigil-server are in Server/tests/test_cli_remote.py.
@Suite("Remote mode without a server")
struct RemoteModeTests {
    /// A token-shaped text; nothing verifies it here, so it only has to look like one.
    static let fakeToken = "sgl_test-only-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

    /// A sandbox with a private token file; returns it and the file's path.
    static func sandbox(mode: mode_t = 0o600, content: String = fakeToken + "\n") throws -> (Sandbox, String) {
        let box = try Sandbox()
        let file = box.path("caller.token")
        try content.write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, mode)
        return (box, file)
    }

    /// A loopback port nothing listens on: bound by the kernel, then closed.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Every output of `result` is free of the caller's token.
    static func expectNoToken(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.stdout.contains("sgl_"), "\(result)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("sgl_"), "\(result)", sourceLocation: sourceLocation)
    }

    @Test(
        "Every remote command exits 69 with the server's address when nothing listens there",
        arguments: [
            ["list"], ["show", "3f2a9c1e"], ["issue", "--name", "n", "--audience", "billing", "--all"],
            ["edit", "00000000-0000-0000-0000-000000000001", "--name", "x"],
            ["deactivate", "00000000-0000-0000-0000-000000000001"],
            ["activate", "00000000-0000-0000-0000-000000000001"],
            ["revoke", "--yes", "00000000-0000-0000-0000-000000000001"],
            ["delete", "--yes", "00000000-0000-0000-0000-000000000001"], ["log"], ["catalog"],
        ])
    func unreachable(command: [String]) async throws {
        let (box, file) = try Self.sandbox()
        let url = "http://127.0.0.1:\(try Self.closedPort())"
        let result = try await box.run(["--server", url, "--token-file", file] + command)
        #expect(result.exitCode == 69, "\(result)")
        #expect(result.stderr.contains("cannot reach sigil-server at \(url)"), "\(result)")
        Self.expectNoToken(result)
        #expect(!FileManager.default.fileExists(atPath: box.home), "remote mode never creates a home")
    }

    @Test("SIGIL_SERVER and SIGIL_TOKEN_FILE stand in for the flags, and --json errors are JSON")
    func environmentAndJSON() async throws {
        let (box, file) = try Self.sandbox()
        let url = "http://127.0.0.1:\(try Self.closedPort())"
        let result = try await box.run(
            ["--json", "list"], env: ["SIGIL_SERVER": url, "SIGIL_TOKEN_FILE": file])
        #expect(result.exitCode == 69, "\(result)")
        let o = try result.jsonObject()
        #expect(o["exit_code"] as? Int == 69)
        #expect(o["error"] as? String == "unavailable")
        Self.expectNoToken(result)
    }

    @Test("A token file others can read is refused with 77 and the chmod fix", arguments: [0o644, 0o640, 0o606])
    func tokenFileTooOpen(mode: Int) async throws {
        let (box, file) = try Self.sandbox(mode: mode_t(mode))
        let result = try await box.run("--server", "http://127.0.0.1:1", "--token-file", file, "list")
        #expect(result.exitCode == 77, "\(result)")
        #expect(result.stderr.contains("chmod 600 \(file)"), "\(result)")
        Self.expectNoToken(result)
    }

    @Test("A symlinked token file is refused with 77")
    func tokenFileSymlink() async throws {
        let (box, file) = try Self.sandbox()
        let link = box.path("link.token")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        let result = try await box.run("--server", "http://127.0.0.1:1", "--token-file", link, "list")
        #expect(result.exitCode == 77, "\(result)")
        #expect(result.stderr.contains("symbolic link"), "\(result)")
    }

    @Test("A missing token file is 66, and none given is 64, both saying what to do")
    func tokenFileMissing() async throws {
        let box = try Sandbox()
        let missing = try await box.run(
            "--server", "http://127.0.0.1:1", "--token-file", box.path("nope.token"), "list")
        #expect(missing.exitCode == 66, "\(missing)")
        #expect(missing.stderr.contains("no token file at \(box.path("nope.token"))"), "\(missing)")
        let none = try await box.run("--server", "http://127.0.0.1:1", "list")
        #expect(none.exitCode == 64, "\(none)")
        #expect(none.stderr.contains("--token-file"), "\(none)")
    }

    @Test(
        "A token file that holds no token is 65 and its content is never echoed",
        arguments: ["", "not-a-token-secret-words\n", "sgl_abc def\n", "sgl_line1\nsgl_line2\n"])
    func tokenFileGarbage(content: String) async throws {
        let (box, file) = try Self.sandbox(content: content)
        let result = try await box.run("--server", "http://127.0.0.1:1", "--token-file", file, "list")
        #expect(result.exitCode == 65, "\(result)")
        #expect(result.stderr.contains("does not hold a token"), "\(result)")
        #expect(!result.stderr.contains("secret-words") && !result.stderr.contains("line2"), "\(result)")
    }

    @Test(
        "A bad --server is 64, and a user or password in it is never echoed",
        arguments: [
            ("ftp://127.0.0.1/", "not an http(s) URL"), ("127.0.0.1:8080", "not an http(s) URL"),
            ("http://alice:hunter2@127.0.0.1:8080", "user or password"),
            ("http://127.0.0.1:8080/?x=1", "without ? or #"),
        ])
    func badServerURL(url: String, expected: String) async throws {
        let (box, file) = try Self.sandbox()
        let result = try await box.run("--server", url, "--token-file", file, "list")
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains(expected), "\(result)")
        #expect(!result.stderr.contains("hunter2"), "\(result)")
    }

    @Test("Flags that make no sense against a server are refused with 64")
    func refusedFlags() async throws {
        let (box, file) = try Self.sandbox()
        let remote = ["--server", "http://127.0.0.1:1", "--token-file", file]
        let cases: [([String], String)] = [
            (remote + ["--home", box.home, "list"], "--home and --server exclude each other"),
            (["--token-file", file, "list"], "--token-file goes with --server"),
            (remote + ["revoke", "--yes", "--actor", "alice", "00000000"], "--actor does not apply with --server"),
            (
                remote + ["issue", "--name", "n", "--audience", "billing", "--all", "--created-by", "bob"],
                "--created-by does not apply"
            ),
            (remote + ["revoke", "-"], "pass --yes"),
        ]
        for (arguments, expected) in cases {
            let result = try await box.run(arguments, stdin: "00000000-0000-0000-0000-000000000001\n")
            #expect(result.exitCode == 64, "\(result)")
            #expect(result.stderr.contains(expected), "\(result)")
        }
        let timeout = try await box.run(remote + ["list"], env: ["SIGIL_SERVER_TIMEOUT": "0"])
        #expect(timeout.exitCode == 64 && timeout.stderr.contains("SIGIL_SERVER_TIMEOUT"), "\(timeout)")
    }

    @Test(
        "Commands that need the issuer's secrets refuse --server (64) and touch no home",
        arguments: [
            ["init"], ["keys"], ["keys", "list"], ["keys", "add"], ["keys", "rotate"], ["keys", "promote", "k1"],
            ["keys", "retire", "k1", "--yes"], ["keys", "export", "--audience", "billing"],
            ["revocations", "export"], ["ledger", "compact"],
            ["catalog", "add", "reports", "export", "--access", "read"],
        ])
    func secretsCommandsRefuse(command: [String]) async throws {
        let (box, file) = try Self.sandbox()
        let flag = try await box.run(["--server", "http://127.0.0.1:1", "--token-file", file, "--json"] + command)
        #expect(flag.exitCode == 64, "\(flag)")
        #expect(flag.stderr.contains("runs on the issuer host"), "\(flag)")
        #expect(try flag.jsonObject()["exit_code"] as? Int == 64)
        let env = try await box.run(command, env: ["SIGIL_SERVER": "http://127.0.0.1:1"])
        #expect(env.exitCode == 64, "\(env)")
        #expect(env.stderr.contains("SIGIL_SERVER is set"), "\(env)")
        #expect(!FileManager.default.fileExists(atPath: box.home), "a refused command creates no home")
    }

    @Test("Offline commands refuse an explicit --server but ignore SIGIL_SERVER")
    func offlineCommands() async throws {
        let box = try Sandbox()
        let token = try await box.issue().token
        let flagged = try await box.run(
            ["--server", "http://127.0.0.1:1", "verify", "-", "--audience", "billing"], stdin: token + "\n")
        #expect(flagged.exitCode == 64, "\(flagged)")
        #expect(flagged.stderr.contains("works offline"), "\(flagged)")
        let fromEnv = try await box.run(
            ["verify", "-", "--audience", "billing"], stdin: token + "\n", env: ["SIGIL_SERVER": "http://127.0.0.1:1"])
        #expect(fromEnv.exitCode == 0, "\(fromEnv)")
    }

    @Test("A remote change of more than 1,000 tokens is refused before anything is sent")
    func bulkLimit() async throws {
        let (box, file) = try Self.sandbox()
        let guids = (0..<1_001).map { String(format: "00000000-0000-0000-0000-%012d", $0) }
        let result = try await box.run(
            ["--server", "http://127.0.0.1:\(try Self.closedPort())", "--token-file", file, "revoke", "--yes", "-"],
            stdin: guids.joined(separator: "\n") + "\n")
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("at most 1000"), "\(result)")
    }
}
