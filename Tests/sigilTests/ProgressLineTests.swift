import SigilIssuer
import Synchronization
import Testing
import sigil

/// The progress line's rendering and pacing, on a fake clock (issue #24, item 6).
@Suite("Progress line")
struct ProgressLineTests {
    /// A clock the test moves, and everything the line wrote.
    final class Screen: Sendable {
        let now = Mutex(Duration.zero)
        let written = Mutex<[String]>([])

        func line(_ label: String = "backup", enabled: Bool = true, width: Int = 100) -> ProgressLine {
            ProgressLine(
                label: label, isEnabled: enabled, width: width, clock: { [self] in now.withLock { $0 } },
                write: { [self] text in written.withLock { $0.append(text) } })
        }

        func advance(_ by: Duration) { now.withLock { $0 += by } }
        var writes: [String] { written.withLock { $0 } }
    }

    static func pages(_ done: Int64, of total: Int64?, step: String = "copying") -> WorkProgress {
        WorkProgress(step: step, done: done, total: total, unit: .pages)
    }

    @Test("Nothing is drawn in the first 200 ms, then at most once per 100 ms")
    func pacing() {
        let screen = Screen()
        let line = screen.line()
        line.update(Self.pages(1, of: 100))
        screen.advance(.milliseconds(199))
        line.update(Self.pages(2, of: 100))
        #expect(screen.writes.isEmpty, "a command that ends within 200 ms shows nothing")
        screen.advance(.milliseconds(1))
        line.update(Self.pages(3, of: 100))
        #expect(screen.writes.count == 1)
        for _ in 0..<9 {
            screen.advance(.milliseconds(10))
            line.update(Self.pages(4, of: 100))
        }
        #expect(screen.writes.count == 1, "ten reports within 100 ms draw nothing more")
        screen.advance(.milliseconds(10))
        line.update(Self.pages(5, of: 100))
        #expect(screen.writes.count == 2)
        // Each draw starts at the line's start and clears what the last one left.
        #expect(screen.writes.allSatisfy { $0.hasPrefix("\r\u{1B}[K") })
    }

    @Test("A line says done and total, percent, rate and time left")
    func rendering() {
        let screen = Screen()
        let line = screen.line()
        line.update(Self.pages(0, of: 2_048))
        screen.advance(.seconds(2))
        line.update(Self.pages(512, of: 2_048))
        #expect(screen.writes.last == "\r\u{1B}[Kbackup: copying 512/2,048 pages (25%), 256 pages/s, 6 s left")
        screen.advance(.seconds(100))
        line.update(Self.pages(1_500, of: 2_048))
        #expect(screen.writes.last?.hasSuffix("(73%), 14 pages/s, 38 s left") == true, "\(screen.writes)")
    }

    @Test("The rate starts again with each step, and a step without a total shows its time")
    func steps() {
        let screen = Screen()
        let line = screen.line("restore")
        line.update(Self.pages(1_000, of: 1_000))
        screen.advance(.seconds(5))
        line.update(WorkProgress(step: "checking rows", done: 0, total: nil, unit: .tokens))
        #expect(screen.writes.last == "\r\u{1B}[Krestore: checking rows…")
        screen.advance(.seconds(1))
        line.update(WorkProgress(step: "checking rows", done: 2_000, total: 10_000, unit: .tokens))
        #expect(
            screen.writes.last == "\r\u{1B}[Krestore: checking rows 2,000/10,000 tokens (20%), 2,000 tokens/s, 4 s left"
        )
        screen.advance(.seconds(90))
        line.update(WorkProgress(step: "counting", done: 0, total: nil, unit: .files))
        screen.advance(.seconds(75))
        line.update(WorkProgress(step: "counting", done: 0, total: nil, unit: .files))
        #expect(screen.writes.last == "\r\u{1B}[Krestore: counting…, 1 min 15 s")
        screen.advance(.seconds(1))
        line.update(WorkProgress(step: "reading", done: 25_000_000, total: 100_000_000, unit: .bytes))
        #expect(screen.writes.last?.contains("reading 25.0 MB/100.0 MB (25%)") == true, "\(screen.writes)")
    }

    @Test("A line wider than the terminal is cut, so it never wraps")
    func width() {
        let screen = Screen()
        let line = screen.line("a label long enough to fill most of a narrow terminal", width: 40)
        screen.advance(.seconds(1))
        line.update(Self.pages(1, of: 3))
        let text = String(screen.writes.last?.dropFirst(4) ?? "")
        #expect(text.count < 40 && text.hasSuffix("…"), "\(text)")
    }

    @Test("finish erases a drawn line once; a line never drawn, or disabled, writes nothing")
    func finishing() {
        let screen = Screen()
        let quick = screen.line()
        quick.update(Self.pages(1, of: 2))
        quick.finish()
        #expect(screen.writes.isEmpty)

        let slow = screen.line()
        screen.advance(.seconds(1))
        slow.update(Self.pages(1, of: 2))
        slow.finish()
        slow.finish()
        #expect(screen.writes.count == 2 && screen.writes.last == "\r\u{1B}[K")

        let off = Screen()
        let disabled = off.line(enabled: false)
        off.advance(.seconds(5))
        disabled.update(Self.pages(1, of: 2))
        disabled.finish()
        #expect(off.writes.isEmpty)
    }

    @Test(
        "Durations and amounts read as people write them",
        arguments: [
            (0.2, "1 s"), (45, "45 s"), (59.5, "1 min 00 s"), (185, "3 min 05 s"), (7_800, "2 h 10 min"),
        ])
    func durations(seconds: Double, text: String) {
        #expect(ProgressLine.duration(seconds) == text)
    }
}
