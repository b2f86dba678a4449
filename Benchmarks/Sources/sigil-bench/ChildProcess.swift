import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running process the server figures need (sigil-server, `pull --follow`, the watcher),
/// started with `posix_spawn`, its stdout and stderr in files, stopped by ``stop(timeout:)``.
///
/// Callers stop every child in a `defer`, so a failed run leaves no server behind.
final class ChildProcess {
    let name: String
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private(set) var exitStatus: Int32?

    /// Starts `program` with `arguments`; stdin is /dev/null.
    ///
    /// - Throws: ``BenchError`` if the process cannot be started.
    init(
        _ name: String, program: String, arguments: [String], stdoutPath: String, stderrPath: String,
        environment: [String: String] = [:]
    ) throws {
        self.name = name
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw BenchError("cannot start \(name) (\(program)): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
    }

    /// Whether the process has exited (reaps it if so).
    var hasExited: Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            exitStatus = Self.exitCode(status)
            return true
        }
        return false
    }

    func stdout() -> String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The last lines of stderr, for an error message (children never print a token).
    func stderrTail(_ lines: Int = 3) -> String {
        stderr().split(separator: "\n").suffix(lines).joined(separator: " | ")
    }

    /// Sends SIGTERM, waits up to `timeout`, then SIGKILL. Returns the exit code (128 + signal if killed).
    @discardableResult
    func stop(timeout: Duration = .seconds(10)) -> Int32 {
        if let exitStatus { return exitStatus }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if hasExited { return exitStatus ?? -1 }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        exitStatus = Self.exitCode(status)
        return exitStatus ?? -1
    }

    /// WIFEXITED / WEXITSTATUS by hand: the macros are not imported.
    private static func exitCode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Waits until `condition` holds, polling every `interval`, for at most `timeout`.
    ///
    /// - Returns: Whether the condition held in time.
    static func wait(
        timeout: Duration, interval: Duration = .milliseconds(5), _ condition: () -> Bool
    ) -> Bool {
        let deadline = ContinuousClock.now + timeout
        repeat {
            if condition() { return true }
            usleep(UInt32(interval.nanoseconds / 1_000))
        } while ContinuousClock.now < deadline
        return condition()
    }
}

/// CLOCK_MONOTONIC in nanoseconds: system-wide on Linux, so two processes' readings compare.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
