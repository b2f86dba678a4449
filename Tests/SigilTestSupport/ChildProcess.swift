import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a child process reads on its standard input.
package enum StandardInput: Sendable {
    /// These bytes, written through a pipe that is closed after the last one.
    case bytes([UInt8])
    /// The file at this path, opened for reading.
    case file(String)

    package static let nullDevice = StandardInput.file("/dev/null")
}

/// What one run of a child process printed and how it ended.
package struct ProcessResult: Sendable {
    package let executable: String
    package let arguments: [String]
    /// The exit status, or 128 + the signal number when a signal ended the process (a shell's `$?`).
    package let exitCode: Int32
    /// The signal that ended the process (a trap, or a SIGKILL); nil when it exited.
    package let signal: Int32?
    package let stdout: [UInt8]
    package let stderr: [UInt8]
    /// Wall time from spawning the process to reaping it.
    package let elapsed: Duration
    /// True when the process outlived its timeout and the runner sent it SIGKILL.
    package let timedOut: Bool
}

/// One command the tests run, with pipes on all three standard streams: the `sigil` binary
/// (``SigilBinary/path``), a wrapper around it (`/usr/bin/time -v`, `script`, `strace`) or a tool.
///
/// It is started with `posix_spawn`, an empty signal mask and default signal handlers, and its
/// pipes are close-on-exec and made under one lock. Foundation's `Process` is not used: a child
/// spawned from a Swift concurrency thread inherits that thread's blocked signals (so SIGTERM
/// never reaches it), its `waitUntilExit` spins, and its pipes are not close-on-exec, so
/// concurrent children inherit each other's pipe ends (and a reader never sees end of file).
package struct ChildProcess: Sendable {
    package var executable: String
    package var arguments: [String]
    /// The whole environment of the child: nothing is inherited from the test process.
    package var environment: [String: String]
    package var stdin: StandardInput
    /// The child's working directory; nil keeps the test process's.
    package var directory: String?
    /// After this long the child gets SIGKILL, so a command that blocks (on a FIFO, a slow
    /// server) fails its test instead of hanging the suite.
    package var timeout: Duration?
    /// Called with the child's process id once it runs.
    package var onSpawn: (@Sendable (Int32) -> Void)?
    /// Called with the child's process id once it has ended, before it is reaped: until this
    /// returns the id cannot be reused, so a signal sent before it never hits another process.
    package var onExit: (@Sendable (Int32) -> Void)?

    package init(
        _ executable: String, _ arguments: [String], environment: [String: String], stdin: StandardInput = .bytes([]),
        directory: String? = nil, timeout: Duration? = nil, onSpawn: (@Sendable (Int32) -> Void)? = nil,
        onExit: (@Sendable (Int32) -> Void)? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.stdin = stdin
        self.directory = directory
        self.timeout = timeout
        self.onSpawn = onSpawn
        self.onExit = onExit
    }

    /// Runs the command to its end on a thread of its own, so Swift's cooperative threads are
    /// never blocked while it runs.
    package func run() async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try runBlocking() }) }.start()
        }
    }

    /// Runs the command to its end, blocking the calling thread.
    package func runBlocking() throws -> ProcessResult {
        let started = ContinuousClock.now
        let (input, output, errors, pid) = try spawnLock.withLock { _ in
            var opened: [Int32] = []
            do {
                let input: (read: Int32, write: Int32?)
                switch stdin {
                case .bytes:
                    let pipe = try makePipe()
                    opened += [pipe.read, pipe.write]
                    input = (pipe.read, pipe.write)
                case .file(let path):
                    let fd = open(path, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw SpawnError(what: "open \(path)", code: errno) }
                    opened.append(fd)
                    input = (fd, nil)
                }
                let output = try makePipe()
                opened += [output.read, output.write]
                let errors = try makePipe()
                opened += [errors.read, errors.write]
                let pid = try spawn(
                    executable, arguments, environment: environment, directory: directory, stdin: input.read,
                    stdout: output.write, stderr: errors.write)
                return (input, output, errors, pid)
            } catch {
                for fd in opened { close(fd) }
                throw error
            }
        }
        close(input.read)
        close(output.write)
        close(errors.write)
        onSpawn?(pid)

        // `exited` is set before the child is reaped, so the watchdog never signals a reused pid.
        let state = Mutex((exited: false, killed: false))
        if let timeout {
            let nanoseconds = Int((timeout / .nanoseconds(1)).rounded())
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                state.withLock { state in
                    guard !state.exited else { return }
                    kill(pid, SIGKILL)
                    state.killed = true
                }
            }
        }
        let errorData = Mutex([UInt8]())
        let done = DispatchGroup()
        if let writer = input.write, case .bytes(let bytes) = stdin {
            DispatchQueue.global().async(group: done) {
                writeAll(writer, bytes)
                close(writer)
            }
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
        onExit?(pid)
        let (exitCode, signal) = waitForExit(pid)
        let elapsed = ContinuousClock.now - started
        done.wait()
        return ProcessResult(
            executable: executable, arguments: arguments, exitCode: exitCode, signal: signal, stdout: outputData,
            stderr: errorData.withLock { $0 }, elapsed: elapsed, timedOut: state.withLock { $0.killed })
    }
}

/// A helper program that serves while a test runs (a local HTTP server). Its stdin and stderr
/// are /dev/null; its stdout is read up to the first line, then it runs until ``stop()``.
package final class BackgroundProcess: Sendable {
    /// The first line the program printed, with its newline (empty if it printed none).
    package let firstLine: String
    private let pid: Int32
    private let stopped = Mutex(false)

    package init(_ executable: String, _ arguments: [String], environment: [String: String]) async throws {
        let (output, pid) = try spawnLock.withLock { _ in
            let output = try makePipe()
            let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(devNull) }
            do {
                let pid = try spawn(
                    executable, arguments, environment: environment, directory: nil, stdin: devNull,
                    stdout: output.write, stderr: devNull)
                return (output, pid)
            } catch {
                close(output.read)
                close(output.write)
                throw error
            }
        }
        close(output.write)
        self.pid = pid
        firstLine = await withCheckedContinuation { continuation in
            Thread {
                // Only the first line: the program keeps its stdout open.
                var data: [UInt8] = []
                var byte: UInt8 = 0
                while data.last != UInt8(ascii: "\n") {
                    let n = read(output.read, &byte, 1)
                    if n == 1 { data.append(byte) } else if n == 0 || errno != EINTR { break }
                }
                close(output.read)
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }.start()
        }
    }

    /// Starts a program whose stdout and stderr both go to the file `log` (appended to, made
    /// if missing), for a program that says where it listens on stderr and keeps logging
    /// there (sigil-server): a file, unlike a pipe nobody reads, never blocks or breaks it.
    /// ``firstLine`` is empty; read `log` for what it printed.
    package init(_ executable: String, _ arguments: [String], environment: [String: String], log: String) throws {
        pid = try spawnLock.withLock { _ in
            let file = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard file >= 0 else { throw SpawnError(what: "open \(log)", code: errno) }
            defer { close(file) }
            let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer { close(devNull) }
            return try spawn(
                executable, arguments, environment: environment, directory: nil, stdin: devNull, stdout: file,
                stderr: file)
        }
        firstLine = ""
    }

    /// Stops the program (SIGTERM to this one process id) and reaps it; later calls do nothing.
    package func stop() {
        let already = stopped.withLock { done in
            defer { done = true }
            return done
        }
        guard !already else { return }
        kill(pid, SIGTERM)
        _ = waitForExit(pid)
    }

    deinit { stop() }
}

package struct SpawnError: Error, CustomStringConvertible {
    package let what: String
    package let code: Int32
    package init(what: String, code: Int32) {
        self.what = what
        self.code = code
    }
    package var description: String { "\(what): \(String(cString: strerror(code)))" }
}

private let ignoreSIGPIPE: Void = {
    // A child that exits before reading its stdin must not kill the test process.
    signal(SIGPIPE, SIG_IGN)
}()

/// Held while pipes are made close-on-exec and while a child is spawned, so no child spawned
/// on another thread inherits a pipe end in the moment between pipe(2) and fcntl(2).
private let spawnLock = Mutex(())

/// A pipe whose both ends are close-on-exec, so no other child inherits them. Call under ``spawnLock``.
private func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw SpawnError(what: "pipe", code: errno) }
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return (fds[0], fds[1])
}

/// glibc's `posix_spawn_file_actions_addchdir_np` (2.29 and later), which the Glibc module does
/// not import: the child changes its working directory, the test process keeps its own.
private typealias FileActions = UnsafeMutablePointer<posix_spawn_file_actions_t>
private typealias AddChdir = @convention(c) (FileActions, UnsafePointer<CChar>) -> Int32
private let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map {
    unsafeBitCast($0, to: AddChdir.self)
}

/// Starts `executable` with `posix_spawn`, the given descriptors as 0, 1 and 2, an empty signal
/// mask and default signal handlers (see ``ChildProcess`` for why not Foundation's `Process`).
private func spawn(
    _ executable: String, _ arguments: [String], environment: [String: String], directory: String?, stdin: Int32,
    stdout: Int32, stderr: Int32
) throws -> pid_t {
    _ = ignoreSIGPIPE
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, stdin, 0)
    posix_spawn_file_actions_adddup2(&actions, stdout, 1)
    posix_spawn_file_actions_adddup2(&actions, stderr, 2)
    if let directory {
        guard let addChdir else { throw SpawnError(what: "posix_spawn_file_actions_addchdir_np", code: ENOSYS) }
        let rc = addChdir(&actions, directory)
        guard rc == 0 else { throw SpawnError(what: "chdir \(directory)", code: rc) }
    }

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

/// Reaps `pid`: its exit code (128 + the signal number if a signal ended it, -1 if it cannot be
/// waited for) and the signal, if any.
private func waitForExit(_ pid: pid_t) -> (exitCode: Int32, signal: Int32?) {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { return (-1, nil) }
    }
    let signal = status & 0x7f
    return signal == 0 ? ((status >> 8) & 0xff, nil) : (128 + signal, signal)
}

/// Reads `fd` to end of file, retrying interrupted reads.
private func readAll(_ fd: Int32) -> [UInt8] {
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
private func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
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
