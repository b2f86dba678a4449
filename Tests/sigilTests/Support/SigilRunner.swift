import Foundation
import SigilTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension CommandResult {
    /// stdout parsed as one JSON object.
    func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdoutBytes), options: [.fragmentsAllowed])
        return try #require(
            value as? [String: Any], "stdout is not a JSON object: \(stdout)", sourceLocation: sourceLocation)
    }

    /// stdout parsed as a JSON array of objects.
    func jsonArray(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let value = try JSONSerialization.jsonObject(with: Data(stdoutBytes), options: [.fragmentsAllowed])
        return try #require(
            value as? [[String: Any]], "stdout is not a JSON array: \(stdout)", sourceLocation: sourceLocation)
    }
}

/// A fresh temporary home for one test, and a record of every command run in it.
///
/// Each command runs the real `sigil` binary with `SIGIL_HOME` set to ``home``, a fixed
/// `SIGIL_NOW` (unless the test passes `now: nil`) and `USER=tester`. The folder is removed
/// when the sandbox goes away.
final class Sandbox: Sendable {
    /// 2027-01-15T08:00:00Z.
    static let defaultNow: Int64 = 1_800_000_000

    /// The temporary folder (removed with the sandbox); the home is `home` inside it.
    let folder: TempFolder
    let root: String
    let home: String
    let now: Int64?
    private let results = Mutex<[CommandResult]>([])
    /// Master secrets seen so far (keyrings are re-read at each hygiene check).
    private let secrets = Mutex<Set<String>>([])

    init(now: Int64? = Sandbox.defaultNow) throws {
        folder = try TempFolder("cli-test")
        root = folder.root
        home = root + "/home"
        self.now = now
    }

    /// The environment every command gets: nothing from the test's own SIGIL_* variables.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": root,
            "USER": "tester",
            "SIGIL_HOME": home,
            "SWIFT_BACKTRACE": "enable=no",
        ]
        if let now { env["SIGIL_NOW"] = String(now) }
        for (key, value) in extra { env[key] = value }
        return env.filter { !$0.value.isEmpty }
    }

    /// Runs `sigil ARGS…` in this sandbox.
    @discardableResult
    func run(_ arguments: [String], stdin: String = "", env: [String: String] = [:]) async throws -> CommandResult {
        let environment = environment(env)
        let child = ChildProcess(
            SigilBinary.path, arguments, environment: environment, stdin: .bytes(Array(stdin.utf8)))
        let result = CommandResult(try await ProcessSlots.shared.run { try await child.run() }, stdin: stdin)
        results.withLock { $0.append(result) }
        return result
    }

    @discardableResult
    func run(_ arguments: String..., stdin: String = "", env: [String: String] = [:]) async throws -> CommandResult {
        try await run(arguments, stdin: stdin, env: env)
    }

    /// Runs another program (e.g. script(1) around sigil) with this sandbox's environment.
    func runOther(_ executable: String, _ arguments: [String], stdin: String = "") async throws -> CommandResult {
        let environment = environment()
        let child = ChildProcess(executable, arguments, environment: environment, stdin: .bytes(Array(stdin.utf8)))
        let result = CommandResult(try await ProcessSlots.shared.run { try await child.run() }, stdin: stdin)
        results.withLock { $0.append(result) }
        return result
    }

    /// Issues a token with `--json` and returns the token and its GUID.
    func issue(
        name: String = "test token", audience: String = "billing", _ options: [String] = ["--all"],
        env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (token: String, guid: String) {
        let result = try await run(
            ["--json", "issue", "--name", name, "--audience", audience] + options, env: env)
        try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        let object = try result.jsonObject(sourceLocation: sourceLocation)
        let token = try #require(object["token"] as? String, sourceLocation: sourceLocation)
        let guid = try #require(object["guid"] as? String, sourceLocation: sourceLocation)
        return (token, guid)
    }

    /// `list --json` as an array of token objects.
    func list(_ filters: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [[String:
        Any]]
    {
        let result = try await run(["--json", "list"] + filters)
        try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        return try result.jsonArray(sourceLocation: sourceLocation)
    }

    /// `show --json GUID`.
    func show(_ guid: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let result = try await run("--json", "show", guid)
        try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        return try result.jsonObject(sourceLocation: sourceLocation)
    }

    /// Exports the revocation list to `file` (default `<home>/revocations.sgl`) and returns its JSON summary.
    @discardableResult
    func exportRevocations(
        to file: String? = nil, env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: Any] {
        let result = try await run(["--json", "revocations", "export"] + (file.map { ["-o", $0] } ?? []), env: env)
        try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        return try result.jsonObject(sourceLocation: sourceLocation)
    }

    /// Verifies `token` through stdin and returns the exit code.
    func verify(_ token: String, _ options: [String] = [], audience: String = "billing") async throws -> CommandResult {
        try await run(["verify", "-", "--audience", audience] + options, stdin: token + "\n")
    }

    /// The id of the keyring's active token key.
    func activeKeyID(sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let keys = try await run("--json", "keys", "list").jsonObject(sourceLocation: sourceLocation)
        let tokenKeys = try #require(keys["token_keys"] as? [[String: Any]], sourceLocation: sourceLocation)
        let active = try #require(
            tokenKeys.first { $0["state"] as? String == "active" }, sourceLocation: sourceLocation)
        return try #require(active["kid"] as? String, sourceLocation: sourceLocation)
    }

    var allResults: [CommandResult] { results.withLock { $0 } }

    /// The path of `name` inside the sandbox (outside the home).
    func path(_ name: String) -> String { root + "/" + name }

    /// Reads the master secrets and signing seeds of the keyring(s) at `homes` (default: this home).
    func recordSecrets(of homes: [String]? = nil) {
        for home in homes ?? [self.home] {
            guard let data = FileManager.default.contents(atPath: home + "/keyring.json"),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { continue }
            var found: [String] = []
            for key in object["token_keys"] as? [[String: Any]] ?? [] {
                if let secret = key["secret"] as? String { found.append(secret) }
            }
            for key in object["revocation_keys"] as? [[String: Any]] ?? [] {
                if let seed = key["seed"] as? String { found.append(seed) }
            }
            secrets.withLock { $0.formUnion(found) }
        }
    }

    /// Secret hygiene over every command this sandbox ran: no master secret or signing seed
    /// appears on any stdout or stderr, and no failed command echoes a token it was given
    /// or that was issued here.
    func checkHygiene(sourceLocation: SourceLocation = #_sourceLocation) {
        recordSecrets()
        let secrets = self.secrets.withLock { $0 }
        let results = allResults
        var tokens = Set<String>()
        for result in results {
            let texts = [result.stdout, result.stdin] + result.arguments
            for text in texts {
                for word in text.split(whereSeparator: { " \n\t\",:".contains($0) })
                where word.hasPrefix("sgl_") && word.count >= 40 {
                    tokens.insert(String(word))
                }
            }
        }
        for result in results {
            for secret in secrets {
                #expect(
                    !result.stdout.contains(secret), "a master secret appears on stdout of: \(result.arguments)",
                    sourceLocation: sourceLocation)
                #expect(
                    !result.stderr.contains(secret), "a master secret appears on stderr of: \(result.arguments)",
                    sourceLocation: sourceLocation)
            }
            guard result.exitCode != 0 else { continue }
            for token in tokens {
                #expect(
                    !result.stderr.contains(token), "an error message contains a token: \(result.arguments)",
                    sourceLocation: sourceLocation)
            }
        }
    }
}

/// POSIX file mode bits of `path` (without following a final symlink).
func fileMode(_ path: String) -> mode_t? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return st.st_mode & 0o777
}

func appendToFile(_ text: String, _ path: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(text.utf8))
}

/// `value` as JSON text with sorted keys, for comparing parsed JSON values.
func canonicalJSON(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
}
