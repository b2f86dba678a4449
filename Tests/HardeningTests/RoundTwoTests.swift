import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A home made unsafe in one way, the phrase of the fix its refusal must give, and the
/// commands that must refuse it.
struct UnsafeHomeCase: Sendable, CustomTestStringConvertible {
    let name: String
    let hint: String
    let setup: @Sendable (Home) throws -> Void
    var testDescription: String { name }
}

/// `nobody` on Debian and most distributions; the tests run as root, so they can chown to it.
private let nobody: uid_t = 65534

/// The second review's findings about secret files and homes (items 2 and 3).
@Suite("Round two: secret files are checked through the descriptor, homes by owner")
struct SecretFileTests {
    static let cases: [UnsafeHomeCase] = [
        UnsafeHomeCase(name: "symlinked keyring", hint: "Replace it with the real file") { home in
            try FileManager.default.moveItem(atPath: home.path + "/keyring.json", toPath: home.path + "/real.json")
            _ = symlink(home.path + "/real.json", home.path + "/keyring.json")
        },
        UnsafeHomeCase(name: "hard-linked keyring (link count 2)", hint: "Replace the link with the real file") {
            home in
            guard link(home.path + "/keyring.json", home.path + "/../keyring-elsewhere.json") == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        },
        UnsafeHomeCase(name: "keyring owned by another user", hint: "chown \(geteuid()) ") { home in
            guard chown(home.path + "/keyring.json", nobody, gid_t(nobody)) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
            }
        },
        UnsafeHomeCase(name: "home owned by another user", hint: "chown -R \(geteuid()) ") { home in
            guard chown(home.path, nobody, gid_t(nobody)) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
            }
        },
    ]

    @Test(
        "An unsafe keyring or home is refused with 77 and the fix; nothing is read or changed",
        .enabled(if: geteuid() == 0, "chown to another user needs root"),
        .bug(
            id: "secret-file-checks",
            "SecureFile checked the path with lstat, then opened it; no link-count or owner check"),
        arguments: cases)
    func unsafeHome(_ c: UnsafeHomeCase) async throws {
        let scratch = try TempFolder("round2")
        let home = try Home(in: scratch)
        try c.setup(home)
        let before = home.snapshot()
        for arguments in [
            ["issue", "--name", "n", "--audience", "billing", "--all"],
            ["verify", home.token, "--audience", "billing"],
            ["keys", "list"],
        ] {
            let run = try await home.run(arguments)
            #expect(!run.signaled && run.status == 77, "\(run)")
            #expect(run.stderr.contains(c.hint), "the message gives the fix: \(run)")
            #expect(!run.stdout.contains(home.token) && !run.stderr.contains(home.token))
        }
        #expect(home.snapshot() == before, "keyring, ledger and catalog are byte-for-byte unchanged")
    }

    @Test("The library refuses the same files: openPrivate checks the open descriptor")
    func openPrivateRefuses() throws {
        let scratch = try TempFolder("round2")
        let file = scratch.path("secret.json")
        try writeFile([1, 2, 3], to: file)
        #expect(try SecureFile.read(file) == [1, 2, 3])
        #expect(link(file, scratch.path("second-name")) == 0)
        let linked = #expect(throws: IssuerError.self) { try SecureFile.read(file) }
        #expect(linked?.reason == .permissions && linked?.message.contains("2 hard links") == true)
        unlink(scratch.path("second-name"))
        _ = chmod(file, 0o640)
        let open = #expect(throws: IssuerError.self) { try SecureFile.checkPrivate(file) }
        #expect(open?.reason == .permissions && open?.message.contains("chmod 600 \(file)") == true)
    }
}

/// Commands that only read the home keyring (item 3 of the second review).
@Suite("Round two: reading commands check the home too")
struct ReadingCommandHomeTests {
    @Test(
        "pull, show and inspect refuse a home others can write (77) and install nothing",
        .bug(
            id: "reader-home-check",
            "inspect and revocations pull/show loaded the home keyring without ensureHome's checks"))
    func worldWritableHome() async throws {
        let scratch = try TempFolder("round2")
        let home = try Home(in: scratch)
        try writeFile(try Lists.valid(), to: scratch.path("incoming.sgl"), mode: 0o644)
        _ = chmod(home.path, 0o777)
        let before = home.snapshot()
        for arguments in [
            ["revocations", "pull", scratch.path("incoming.sgl"), "-o", scratch.path("current.sgl")],
            ["revocations", "show", scratch.path("incoming.sgl")], ["inspect", home.token], ["inspect", "-"],
        ] {
            let run = try await home.run(arguments, stdin: Array((home.token + "\n").utf8))
            #expect(!run.signaled && run.status == 77, "\(run)")
            #expect(run.stderr.contains("chmod 700 \(home.path)"), "\(run)")
            #expect(!run.stdout.contains(home.token) && !run.stderr.contains(home.token))
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("current.sgl")), "nothing was installed")
        #expect(home.snapshot() == before)
        #expect(fileMode(home.path) == 0o777, "a reading command changes no mode")
    }

    @Test("Without a home, pull and show ask for --keys (66) and create nothing; inspect says unverified")
    func noHome() async throws {
        let scratch = try TempFolder("round2")
        let missing = scratch.path("no-home")
        try writeFile(try Lists.valid(), to: scratch.path("incoming.sgl"), mode: 0o644)
        for arguments in [
            ["revocations", "pull", scratch.path("incoming.sgl"), "-o", scratch.path("current.sgl")],
            ["revocations", "show", scratch.path("incoming.sgl")],
        ] {
            let run = try await Sigil.run(arguments, home: missing)
            #expect(run.status == 66 && run.stderr.contains("pass --keys"), "\(run)")
        }
        let token = try Known.token(Known.claims())
        let inspect = try await Sigil.run(["inspect", token], home: missing)
        #expect(inspect.status == 0 && inspect.stdout.contains("unverified (no keyring"), "\(inspect)")
        #expect(!FileManager.default.fileExists(atPath: missing), "no home was created")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("current.sgl")))
    }
}

/// POSIX mode bits of `path`, following nothing.
private func fileMode(_ path: String) -> mode_t? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return st.st_mode & 0o777
}

/// `revocations pull` when FILE does not verify (item 6 of the second review).
@Suite("Round two: pull keeps the rollback check when FILE does not verify")
struct PullUnverifiedFileTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let current: @Sendable () throws -> [UInt8]
        let hint: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "FILE #9 with a flipped signature byte",
            current: {
                var bytes = try Lists.valid(sequence: 9)
                bytes[bytes.count - 3] ^= 1
                return bytes
            }, hint: "header says sequence 9, higher than the incoming 8"),
        Case(
            name: "FILE #9 signed by an unknown key", current: { try Lists.valid(sequence: 9, keyID: "r-other") },
            hint: "header says sequence 9, higher than the incoming 8"),
        Case(
            name: "FILE #9 cut short after its header", current: { Array(try Lists.valid(sequence: 9).prefix(60)) },
            hint: "header says sequence 9, higher than the incoming 8"),
        Case(
            name: "FILE that is not a list at all", current: { Array("<html>503 Service Unavailable</html>".utf8) },
            hint: "cannot tell which sequence"),
    ]

    @Test(
        "An older list does not replace a FILE that fails to verify, unless --force",
        .bug(
            id: "pull-unverified-rollback",
            "pull skipped the rollback check when FILE did not verify and installed any older list"),
        arguments: cases)
    func refusedUnlessForced(_ c: Case) async throws {
        let scratch = try TempFolder("round2")
        let home = try Home(in: scratch)
        let current = scratch.path("current.sgl")
        let incoming = scratch.path("incoming.sgl")
        let damaged = try c.current()
        try writeFile(damaged, to: current, mode: 0o644)
        try writeFile(try Lists.valid(sequence: 8), to: incoming, mode: 0o644)
        let pull = ["--json", "revocations", "pull", incoming, "-o", current]
        let refused = try await home.run(pull)
        #expect(!refused.signaled && refused.status == 22, "\(refused)")
        #expect(refused.stderr.contains(c.hint) && refused.stderr.contains("--force"), "\(refused)")
        #expect(refused.stdout.contains("\"error\":\"rollback\""), "\(refused)")
        #expect(FileManager.default.contents(atPath: current).map(Array.init) == damaged, "FILE was kept")

        let forced = try await home.run(pull + ["--force"])
        #expect(forced.status == 0 && forced.stdout.contains("\"outcome\":\"replaced\""), "\(forced)")
        #expect(FileManager.default.contents(atPath: current).map(Array.init) == (try Lists.valid(sequence: 8)))
    }

    @Test("A newer list still replaces a FILE that fails to verify, with a warning")
    func newerReplaces() async throws {
        let scratch = try TempFolder("round2")
        let home = try Home(in: scratch)
        var damaged = try Lists.valid(sequence: 9)
        damaged[damaged.count - 3] ^= 1
        try writeFile(damaged, to: scratch.path("current.sgl"), mode: 0o644)
        try writeFile(try Lists.valid(sequence: 10), to: scratch.path("incoming.sgl"), mode: 0o644)
        let run = try await home.run([
            "revocations", "pull", scratch.path("incoming.sgl"), "-o", scratch.path("current.sgl"),
        ])
        #expect(run.status == 0 && run.stderr.contains("did not verify with these keys"), "\(run)")
        #expect(
            FileManager.default.contents(atPath: scratch.path("current.sgl")).map(Array.init)
                == (try Lists.valid(sequence: 10)))
        // --force does not override the checks against a FILE that verifies.
        try writeFile(try Lists.valid(sequence: 8), to: scratch.path("older.sgl"), mode: 0o644)
        let older = try await home.run([
            "revocations", "pull", scratch.path("older.sgl"), "-o", scratch.path("current.sgl"), "--force",
        ])
        #expect(older.status == 22, "\(older)")
    }
}

/// Argument errors under `--json` (item 10 of the second review).
@Suite("Round two: argument errors under --json print the JSON error")
struct UsageJSONTests {
    @Test(
        "ArgumentParser's own errors print {error, message, exit_code} on stdout with --json",
        .bug(id: "usage-json", "argument errors exited 64 with no JSON on stdout, though CLI.md promises it"),
        arguments: [
            (["issue", "--json", "--bogus"], "Missing expected argument '--name"),
            (
                ["--json", "issue", "--name", "n", "--audience", "billing", "--all", "--bogus"],
                "Unknown option '--bogus'"
            ),
            (["verify", "--json", "--audience", "billing", "--leeway", "soon", "-"], "The value 'soon' is invalid"),
        ])
    func usageJSON(arguments: [String], message: String) async throws {
        let scratch = try TempFolder("round2")
        let home = try Home(in: scratch)
        let before = home.snapshot()
        let run = try await home.run(arguments)
        #expect(!run.signaled && run.status == 64, "\(run)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [String: Any],
            "stdout is one JSON object: \(run)")
        #expect(object["error"] as? String == "usage")
        #expect(object["exit_code"] as? Int == 64)
        #expect((object["message"] as? String)?.contains(message) == true, "\(run)")
        #expect(
            run.stderr.contains("Error: ") && run.stderr.contains("Usage: "),
            "the usual message stays on stderr: \(run)")
        #expect(home.snapshot() == before)
    }

    @Test("Without --json, and for --help and --version, stdout is unchanged")
    func noJSONOtherwise() async throws {
        let scratch = try TempFolder("round2")
        let home = try Home(in: scratch)
        let plain = try await home.run(["issue", "--bogus"])
        #expect(plain.status == 64 && plain.stdoutBytes.isEmpty, "\(plain)")
        let help = try await home.run(["issue", "--help", "--json"])
        #expect(help.status == 0 && help.stdout.hasPrefix("OVERVIEW: Issue a token"), "\(help)")
        let version = try await home.run(["--version", "--json"])
        #expect(version.status == 0 && version.stdout == "0.1.0\n", "\(version)")
        // After `--`, `--json` is a value, not the flag.
        let token = try await home.run(["inspect", "--bogus", "--", "--json"])
        #expect(token.status == 64 && token.stdoutBytes.isEmpty, "\(token)")
    }
}
