import ArgumentParser
import Foundation
import Glibc

/// `sigil-conformance run` answers conformance cases with SigilVerifier; `generate` writes them.
/// scripts/conformance.sh compares every language's runner with `run`, the reference.
@main
struct SigilConformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigil-conformance",
        abstract: "The Swift conformance runner and the generator of its cases (issue 23).",
        subcommands: [Run.self, Generate.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer JSON Lines cases on stdin with one JSON line each on stdout, in order.")

        func run() throws {
            var runner = ConformanceRunner()
            var output = OutputBuffer()
            runner.run(readLine: { Swift.readLine(strippingNewline: true) }, write: { output.write($0) })
            output.flush()
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write deterministic conformance cases (JSON Lines) to stdout.")

        @Option(help: "How many cases (default: every systematic case, at least 6,000).")
        var count: Int?

        @Option(help: "The seed of every test-only key, GUID and random case.")
        var seed: UInt64 = 23

        @Option(help: "Also write one label per case, line by line, to this file.")
        var labels: String?

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        }

        func run() throws {
            var generator = try CaseGenerator(seed: seed)
            let cases = try generator.cases(count: count)
            var output = OutputBuffer()
            for c in cases { output.write(c.line + "\n") }
            output.flush()
            if let labels {
                let text = cases.map { $0.label.replacingOccurrences(of: "\n", with: "\\n") + "\n" }.joined()
                try Data(text.utf8).write(to: URL(fileURLWithPath: labels))
            }
        }
    }
}

/// Collects output and writes it in large blocks: thousands of small writes to a pipe cost
/// more than answering the cases.
struct OutputBuffer {
    private var bytes: [UInt8] = []

    mutating func write(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
        bytes.removeAll(keepingCapacity: true)
    }
}
