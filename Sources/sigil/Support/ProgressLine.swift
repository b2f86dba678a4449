import Foundation
package import SigilIssuer
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The line a long command keeps redrawing on stderr while it works: the step, done and
/// total, the rate and the time left.
///
/// It draws only on a terminal and never under `--json` (``forCommand(_:json:)``), waits
/// ``firstDrawAfter`` before drawing at all (a command that is quick anyway shows nothing),
/// then redraws at most once per ``redrawEvery``. ``finish()`` erases it, so what the command
/// prints next starts on a clean line. The library counts the work (``WorkProgress``); this
/// type only renders it.
///
/// ```swift
/// let progress = ProgressLine.forCommand("backing up", json: global.json)
/// defer { progress.finish() }
/// let backup = try issuer.backupLedger(to: path, progress: progress.handler)
/// ```
///
/// Thread-safe: its state is behind one lock, and writes happen outside it.
package final class ProgressLine: Sendable {
    /// Nothing is drawn before this much time has passed since the line was made.
    package static let firstDrawAfter: Duration = .milliseconds(200)
    /// At most one redraw per this interval: ten a second.
    package static let redrawEvery: Duration = .milliseconds(100)

    private struct State {
        var lastDraw: Duration?
        var step = ""
        var stepStarted: Duration = .zero
        var drawn = false
    }

    private let label: String
    /// False when nothing is ever drawn (not a terminal, or `--json`): skip work done only for the line.
    package let isEnabled: Bool
    private let width: Int
    private let started: Duration
    private let clock: @Sendable () -> Duration
    private let write: @Sendable (String) -> Void
    private let state = Mutex(State())

    /// A line that draws through `write`, timing with `clock` (any monotonic count of time).
    ///
    /// - Parameters:
    ///   - label: What the command does, first on the line ("backing up").
    ///   - isEnabled: False makes every call a no-op.
    ///   - width: The terminal's columns: the line is cut to fit, so it never wraps.
    ///   - clock: Monotonic time; tests pass a fake one.
    ///   - write: Where the text goes (stderr).
    package init(
        label: String, isEnabled: Bool, width: Int = 80, clock: @escaping @Sendable () -> Duration,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.isEnabled = isEnabled
        self.width = max(width, 20)
        self.clock = clock
        self.write = write
        started = clock()
    }

    /// The line for a command: enabled when stderr is a terminal (not `TERM=dumb`) and the
    /// command was not asked for `--json`.
    static func forCommand(_ label: String, json: Bool) -> ProgressLine {
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        let enabled = !json && isatty(STDERR_FILENO) == 1 && term != "dumb"
        var size = winsize()
        let columns = enabled && ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 ? Int(size.ws_col) : 80
        let epoch = ContinuousClock.now
        return ProgressLine(
            label: label, isEnabled: enabled, width: columns == 0 ? 80 : columns,
            clock: { ContinuousClock.now - epoch },
            write: { FileHandle.standardError.write(Data($0.utf8)) })
    }

    /// What to pass to a long operation's `progress` parameter.
    package var handler: @Sendable (WorkProgress) -> Void { { [self] in update($0) } }

    /// Takes one report; draws it if the line is due.
    package func update(_ progress: WorkProgress) {
        guard isEnabled else { return }
        let now = clock()
        let text: String? = state.withLock { state in
            if progress.step != state.step {
                state.step = progress.step
                state.stepStarted = now
            }
            guard now - started >= Self.firstDrawAfter else { return nil }
            if let last = state.lastDraw, now - last < Self.redrawEvery { return nil }
            state.lastDraw = now
            state.drawn = true
            return render(progress, elapsed: now - state.stepStarted)
        }
        if let text { write("\r\u{1B}[K" + text) }
    }

    /// Erases the line if anything was drawn; later reports are drawn again as usual.
    package func finish() {
        guard isEnabled else { return }
        let drawn = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        if drawn { write("\r\u{1B}[K") }
    }

    /// The text of one line: `label: step done/total unit (percent), rate, time left`.
    package func render(_ p: WorkProgress, elapsed: Duration) -> String {
        var parts = ["\(label): \(p.step)"]
        let seconds = elapsed / .seconds(1)
        if let total = p.total, total > 0 {
            let percent = min(100, Int(Double(p.done) * 100 / Double(total)))
            parts[0] += " \(Self.amount(p.done, p.unit, withUnit: false))/\(Self.amount(total, p.unit)) (\(percent)%)"
        } else {
            parts[0] += p.done > 0 ? " \(Self.amount(p.done, p.unit))" : "…"
        }
        if seconds >= 1, p.done > 0 {
            let rate = Double(p.done) / seconds
            parts.append("\(Self.amount(Int64(rate), p.unit))/s")
            if let total = p.total, total > p.done, rate > 0 {
                parts.append("\(Self.duration(Double(total - p.done) / rate)) left")
            }
        } else if seconds >= 1 {
            parts.append(Self.duration(seconds))
        }
        let line = parts.joined(separator: ", ")
        // Wider than the terminal would wrap, and `\r` would then redraw only the last row.
        return line.count < width ? line : String(line.prefix(width - 2)) + "…"
    }

    /// `1,234,567 tokens`, or `12.3 MB` for bytes (`withUnit: false` drops the word, never `MB`).
    static func amount(_ n: Int64, _ unit: WorkProgress.Unit, withUnit: Bool = true) -> String {
        if unit == .bytes { return String(format: "%.1f MB", Double(n) / 1e6) }
        let digits = String(n.magnitude)
        var grouped = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        return (n < 0 ? "-" : "") + grouped + (withUnit ? " \(unit.rawValue)" : "")
    }

    /// `45 s`, `3 min 05 s`, `2 h 10 min`.
    package static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(max(s, 1)) s" }
        if s < 3_600 { return "\(s / 60) min \(String(format: "%02d", s % 60)) s" }
        return "\(s / 3_600) h \(String(format: "%02d", s % 3_600 / 60)) min"
    }
}
