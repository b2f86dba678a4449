import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What one run of a command printed and how it exited.
struct CommandResult: Sendable, CustomStringConvertible {
    let arguments: [String]
    let stdin: String
    let exitCode: Int32
    let stdout: String
    let stderr: String
    /// Wall time from spawning the process to reaping it (not counting a wait for a process slot).
    var elapsed: Duration = .zero

    /// stdout split into lines, without the empty string after a trailing newline.
    var stdoutLines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast(stdout.hasSuffix("\n") ? 1 : 0).map(
            String.init)
    }

    /// stdout parsed as one JSON object.
    func jsonObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])
        return try #require(
            value as? [String: Any], "stdout is not a JSON object: \(stdout)", sourceLocation: sourceLocation)
    }

    /// stdout parsed as a JSON array of objects.
    func jsonArray(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])
        return try #require(
            value as? [[String: Any]], "stdout is not a JSON array: \(stdout)", sourceLocation: sourceLocation)
    }

    var description: String {
        "sigil \(arguments.joined(separator: " ")) → exit \(exitCode)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

/// Finds the `sigil` executable built next to this test bundle.
///
/// The test bundle lives in `<scratch>/<triple>/debug/`, and `swift build`/`swift test` put
/// `sigil` in the same folder, so tests always run the binary of the build they belong to.
/// `SIGIL_BINARY` overrides the search.
enum SigilBinary {
    static let path: String = locate()

    private static func locate() -> String {
        let fm = FileManager.default
        if let override = ProcessInfo.processInfo.environment["SIGIL_BINARY"], !override.isEmpty { return override }
        var folders: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append((exe as NSString).deletingLastPathComponent)
        }
        folders.append((CommandLine.arguments[0] as NSString).deletingLastPathComponent)
        folders.append(Bundle.main.bundleURL.deletingLastPathComponent().path)
        folders.append(Bundle.main.bundleURL.path)
        // Last resort: the package's default scratch folders, from this file's location.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        folders.append(root.appendingPathComponent(".build-cli/debug").path)
        folders.append(root.appendingPathComponent(".build/debug").path)
        for folder in folders {
            let candidate = folder + "/sigil"
            if fm.isExecutableFile(atPath: candidate) { return candidate }
        }
        return folders[0] + "/sigil"  // the failure message names where it was expected
    }
}

/// Runs an executable with pipes on all three standard streams, without blocking Swift's
/// cooperative threads: the blocking work happens on a thread of its own.
func runProcess(
    _ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String]
) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(
                    returning: try runProcessBlocking(executable, arguments, stdin: stdin, environment: environment))
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}

private let ignoreSIGPIPE: Void = {
    // A child that exits before reading its stdin must not kill the test process.
    signal(SIGPIPE, SIG_IGN)
}()

struct SpawnError: Error, CustomStringConvertible {
    let what: String
    let code: Int32
    var description: String { "\(what): \(String(cString: strerror(code)))" }
}

/// Held while pipes are made close-on-exec and while a child is spawned, so no child spawned
/// on another thread inherits a pipe end in the moment between pipe(2) and fcntl(2).
let spawnLock = Mutex(())

/// A pipe whose both ends are close-on-exec, so no other child inherits them. Call under ``spawnLock``.
func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw SpawnError(what: "pipe", code: errno) }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return (fds[0], fds[1])
}

/// Starts `executable` with `posix_spawn`, the given descriptors as 0, 1 and 2, an empty signal
/// mask and default signal handlers.
///
/// Foundation's `Process` is not used: a child spawned from a Swift concurrency thread inherits
/// that thread's blocked signals (so SIGTERM never reaches it), its `waitUntilExit` spins, and
/// its pipes are not close-on-exec, so concurrent children inherit each other's pipe ends.
func spawn(
    _ executable: String, _ arguments: [String], environment: [String: String], stdin: Int32, stdout: Int32,
    stderr: Int32
) throws -> pid_t {
    _ = ignoreSIGPIPE
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, stdin, 0)
    posix_spawn_file_actions_adddup2(&actions, stdout, 1)
    posix_spawn_file_actions_adddup2(&actions, stderr, 2)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigmask(&attributes, &mask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid = pid_t()
    let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard rc == 0 else { throw SpawnError(what: "posix_spawn \(executable)", code: rc) }
    return pid
}

/// Waits for `pid` and returns its exit status (128 + signal number if a signal ended it).
func waitForExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { return -1 }
    }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

/// Reads `fd` to end of file, retrying interrupted reads.
func readAll(_ fd: Int32) -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            out.append(contentsOf: buffer[0..<n])
        } else if n == 0 || errno != EINTR {
            return out
        }
    }
}

/// Writes all of `bytes` to `fd`, retrying interrupted writes; stops quietly if the reader is gone.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var written = 0
    while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n >= 0 {
            written += n
        } else if errno != EINTR {
            return
        }
    }
}

private func runProcessBlocking(
    _ executable: String, _ arguments: [String], stdin: String, environment: [String: String]
) throws -> CommandResult {
    let started = ContinuousClock.now
    let (input, output, errors, pid) = try spawnLock.withLock { _ in
        let input = try makePipe()
        let output = try makePipe()
        let errors = try makePipe()
        do {
            let pid = try spawn(
                executable, arguments, environment: environment, stdin: input.read, stdout: output.write,
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

    let errorData = Mutex([UInt8]())
    let done = DispatchGroup()
    let inputBytes = Array(stdin.utf8)
    DispatchQueue.global().async(group: done) {
        writeAll(input.write, inputBytes)
        close(input.write)
    }
    DispatchQueue.global().async(group: done) {
        let data = readAll(errors.read)
        close(errors.read)
        errorData.withLock { $0 = data }
    }
    let outputData = readAll(output.read)
    close(output.read)
    done.wait()
    let status = waitForExit(pid)
    return CommandResult(
        arguments: arguments, stdin: stdin, exitCode: status,
        stdout: String(decoding: outputData, as: UTF8.self),
        stderr: String(decoding: errorData.withLock { $0 }, as: UTF8.self), elapsed: ContinuousClock.now - started)
}

/// Bounds how many child processes the suite runs at once. Swift Testing starts every test
/// together; on a 2-core host a few hundred simultaneous processes only thrash.
final class ProcessSlots: Sendable {
    static let shared = ProcessSlots(8)

    private struct State {
        var free: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: count)) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }

    func run<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
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

    let root: String
    let home: String
    let now: Int64?
    private let results = Mutex<[CommandResult]>([])
    /// Master secrets seen so far (keyrings are re-read at each hygiene check).
    private let secrets = Mutex<Set<String>>([])

    init(now: Int64? = Sandbox.defaultNow) throws {
        var template = Array((NSTemporaryDirectory() + "/sigil-cli-test-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { $0.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw CocoaError(.fileWriteUnknown) }
        root =
            URL(
                fileURLWithPath: String(
                    decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            )
            .standardizedFileURL.path
        home = root + "/home"
        self.now = now
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

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
        let result = try await ProcessSlots.shared.run {
            try await runProcess(SigilBinary.path, arguments, stdin: stdin, environment: environment)
        }
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
        let result = try await ProcessSlots.shared.run {
            try await runProcess(executable, arguments, stdin: stdin, environment: environment)
        }
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

func readFile(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map { Array($0) } ?? [] }

func writeFile(_ bytes: [UInt8], _ path: String, mode: Int = 0o600) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
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
