/// What one run of a command printed and how it ended, for every suite that runs `sigil` (or a
/// tool around it) through ``ChildProcess``.
///
/// ```swift
/// let result = CommandResult(try await child.run())
/// #expect(result.status == 0, "\(result)")
/// ```
package struct CommandResult: Sendable, CustomStringConvertible {
    /// The command's arguments (without the executable).
    package let arguments: [String]
    /// What the command read on its standard input, as text.
    package let stdin: String
    /// The exit status, or 128 + the signal number when a signal ended it (a shell's `$?`).
    package let exitCode: Int32
    /// The signal that ended the process, nil when it exited.
    package let signal: Int32?
    package let stdoutBytes: [UInt8]
    package let stderrBytes: [UInt8]
    /// Wall time from spawning the process to reaping it (not counting a wait for a process slot).
    package let elapsed: Duration

    /// What ``ChildProcess`` reported; `arguments` names the command when a wrapper ran it.
    package init(_ result: ProcessResult, arguments: [String]? = nil, stdin: String = "") {
        self.arguments = arguments ?? result.arguments
        self.stdin = stdin
        exitCode = result.exitCode
        signal = result.signal
        stdoutBytes = result.stdout
        stderrBytes = result.stderr
        elapsed = result.elapsed
    }

    package var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    package var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }

    /// The exit status, or the signal's number when one ended the process.
    package var status: Int32 { signal ?? exitCode }
    /// True when a signal (a trap, or a SIGKILL) ended the process, not an exit.
    package var signaled: Bool { signal != nil }

    /// stdout split into lines, without the empty string after a trailing newline.
    package var stdoutLines: [String] {
        let text = stdout
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0)
            .map(String.init)
    }

    package var description: String {
        "sigil \(arguments.joined(separator: " ")) → \(signaled ? "signal" : "exit") \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}
