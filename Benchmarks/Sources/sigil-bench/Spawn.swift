import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program with `posix_spawn`, stdin and stdout/stderr in files (no pipes to deadlock on),
/// and times it from spawn to reaped exit with `ContinuousClock`.
enum Spawn {
    struct Outcome {
        var status: Int32
        var elapsed: Duration
        var stdoutPath: String
        var stderrPath: String

        var succeeded: Bool { status == 0 }
        func stdout() -> String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    }

    /// Runs `program` with `arguments` and waits for it.
    ///
    /// - Parameters:
    ///   - program: An absolute path, or a name looked up in `PATH` when `searchPath` is true.
    ///   - arguments: The arguments after the program name.
    ///   - stdinPath: A file to read standard input from; `/dev/null` if nil.
    ///   - scratch: The folder for the output files.
    ///   - searchPath: Whether to look `program` up in `PATH` (`posix_spawnp`).
    /// - Returns: The exit status, the time from spawn to exit, and where the output went.
    /// - Throws: ``BenchError`` if the process cannot be started or waited for.
    static func run(
        _ program: String, _ arguments: [String], stdinPath: String? = nil, scratch: String, searchPath: Bool = false
    ) throws -> Outcome {
        let out = scratch + "/spawn.stdout"
        let err = scratch + "/spawn.stderr"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let start = Measure.clock.now
        let spawned =
            searchPath
            ? posix_spawnp(&pid, program, &actions, nil, argv, envp)
            : posix_spawn(&pid, program, &actions, nil, argv, envp)
        guard spawned == 0 else { throw BenchError("cannot start \(program): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw BenchError("waitpid failed for \(program)") }
        }
        let elapsed = Measure.clock.now - start
        // WIFEXITED / WEXITSTATUS: the macros are not imported.
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(status: exitCode, elapsed: elapsed, stdoutPath: out, stderrPath: err)
    }
}
