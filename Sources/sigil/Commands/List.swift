import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct List: AsyncParsableCommand, SigilCommand {
    static let configuration = CommandConfiguration(
        abstract: "List issued tokens (metadata only), with filters.",
        discussion: """
            Examples:
              sigil list --status active --sort expires
              sigil list --name deploy --audience billing --json
              sigil list --scope devices.delete
              sigil list --violating-policy --audience billing
              sigil --server http://127.0.0.1:8080 --token-file admin.token list
            """)

    static let serverUse = ServerUse.remote
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: TokenFilters

    @Option(help: "Sort by name, status, created or expires (default created).")
    var sort: TokenSort = .created

    @Flag(
        help: """
            Only tokens whose window their audience's lifetime policy would refuse today (issued \
            before the policy or under a looser one; see: sigil policy show).
            """)
    var violatingPolicy = false

    func run() async throws {
        try await guardedAsync(json: global.json) {
            let client = try issuerClient(global)
            if global.json {
                // Hand-written and streamed as the rows arrive: 100k tokens in well under a second.
                var writer = TokenListWriter()
                try await client.forEachToken(filters, sort: sort, violatingPolicy: violatingPolicy) { writer.add($0) }
                writer.finish()
                return
            }
            let tokens = try await client.tokens(filters, sort: sort, violatingPolicy: violatingPolicy)
            let unfiltered = filters.isEmpty && !violatingPolicy
            render(
                tokens, ledgerIsEmpty: tokens.isEmpty ? try await client.seesNoTokens(unfiltered: unfiltered) : false)
        }
    }

    private func render(_ tokens: [TokenRecord], ledgerIsEmpty: Bool) {
        guard !tokens.isEmpty else {
            Console.note(
                ledgerIsEmpty
                    ? "No tokens yet. Issue one with: sigil issue --name N --audience A --all"
                    : violatingPolicy ? "No token breaks its audience's lifetime policy." : "No tokens match.")
            return
        }
        let header = ["NAME", "GUID", "AUDIENCE", "SCOPE", "VALID FROM", "EXPIRES", "STATUS", "CREATED BY"]
        let rows = tokens.map { t in
            [
                Terminal.safe(t.name), t.id.description, Terminal.safe(t.audience),
                Terminal.safe(scopeSummary(t.scope)),
                TimeText.formatDate(t.validFrom), TimeText.formatDate(t.validTo), t.status.rawValue,
                Terminal.safe(t.createdBy),
            ]
        }
        Console.out(table(header: header, rows: rows))
    }
}

/// The JSON array `list --json` prints, streamed to stdout in 64 KiB pieces.
struct TokenListWriter {
    private var w = JSONWriter(capacity: 1 << 17)
    private var first = true

    init() { w.byte(0x5b) }

    mutating func add(_ t: TokenRecord) {
        if !first { w.byte(0x2c) }
        first = false
        w.token(t)
        if w.bytes.count > 1 << 16 { w.flush(writeStandardOutput) }
    }

    mutating func finish() {
        w.byte(0x5d)
        w.byte(0x0a)
        w.flush(writeStandardOutput)
    }
}

/// Writes bytes to stdout with write(2), without copying them into a `Data` first.
func writeStandardOutput(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let n = write(STDOUT_FILENO, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return  // stdout closed (a pipe to `head`): nothing more to say
            }
            offset += n
        }
    }
}

/// A plain-text table; cells wider than 40 characters are cut with an ellipsis.
func table(header: [String], rows: [[String]]) -> String {
    // Cut and measure each cell once: Character counting dominates for 100k rows.
    let cells = ([header] + rows).map { row in
        row.map { cell -> (String, Int) in
            let n = cell.utf8.count == cell.unicodeScalars.count && cell.utf8.count <= 40 ? cell.utf8.count : cell.count
            return n > 40 ? (String(cell.prefix(39)) + "…", 40) : (cell, n)
        }
    }
    var widths = [Int](repeating: 0, count: header.count)
    for row in cells { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.1) } }
    var out: [UInt8] = []
    out.reserveCapacity(cells.count * (widths.reduce(0, +) + 2 * widths.count + 1))
    for (r, row) in cells.enumerated() {
        if r > 0 { out.append(0x0a) }
        for (i, (text, n)) in row.enumerated() {
            out.append(contentsOf: text.utf8)
            if i < row.count - 1 { out.append(contentsOf: repeatElement(0x20, count: widths[i] - n + 2)) }
        }
    }
    return String(decoding: out, as: UTF8.self)
}
