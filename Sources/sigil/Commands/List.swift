import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List issued tokens (metadata only), with filters.",
        discussion: """
            Examples:
              sigil list --status active --sort expires
              sigil list --name deploy --audience billing --json
              sigil list --scope devices.delete
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: TokenFilters

    @Option(help: "Sort by name, status, created or expires (default created).")
    var sort: String = "created"

    func run() throws {
        try guarded(json: global.json) {
            let home = Home(global)
            let f = try filters.validated()
            guard ["name", "status", "created", "expires"].contains(sort) else {
                throw CLIFailure.usage("--sort must be name, status, created or expires")
            }
            let state = try home.loadLedger()
            let catalog = f.scope == nil ? Catalog() : try home.catalog()
            var tokens = state.liveTokens.filter { f.matches($0, catalog: catalog) }
            switch sort {
            case "name": tokens.sort { ($0.name.lowercased(), $0.createdAt) < ($1.name.lowercased(), $1.createdAt) }
            case "status": tokens.sort { ($0.status.rawValue, $0.createdAt) < ($1.status.rawValue, $1.createdAt) }
            case "expires": tokens.sort { ($0.validTo ?? .max, $0.createdAt) < ($1.validTo ?? .max, $1.createdAt) }
            default: break  // issue order is creation order
            }
            if global.json {
                // Hand-written: JSONSerialization takes seconds for 100k tokens on Linux.
                var w = JSONWriter(capacity: tokens.count * 400 + 2)
                w.byte(0x5b)
                for (i, t) in tokens.enumerated() {
                    if i > 0 { w.byte(0x2c) }
                    writeTokenJSON(t, into: &w)
                }
                w.byte(0x5d)
                w.byte(0x0a)
                writeStandardOutput(w.bytes)
                return
            }
            guard !tokens.isEmpty else {
                Console.note(
                    state.liveTokens.isEmpty
                        ? "No tokens yet. Issue one with: sigil issue --name N --audience A --all" : "No tokens match.")
                return
            }
            let header = ["NAME", "GUID", "AUDIENCE", "SCOPE", "VALID FROM", "EXPIRES", "STATUS", "CREATED BY"]
            let rows = tokens.map { t in
                [
                    t.name, t.id.description, t.audience, scopeSummary(t.scope), TimeText.formatDate(t.validFrom),
                    TimeText.formatDate(t.validTo), t.status.rawValue, t.createdBy,
                ]
            }
            Console.out(table(header: header, rows: rows))
        }
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
