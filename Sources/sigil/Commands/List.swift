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
                Console.json(tokens.map(tokenJSON))
                return
            }
            guard !tokens.isEmpty else {
                Console.note(state.liveTokens.isEmpty ? "No tokens yet. Issue one with: sigil issue --name N --audience A --all" : "No tokens match.")
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

func table(header: [String], rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], min(cell.count, 40)) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, cell in
            let c = cell.count > 40 ? String(cell.prefix(39)) + "…" : cell
            return i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    var out = [line(header)]
    out.reserveCapacity(rows.count + 1)
    for row in rows { out.append(line(row)) }
    return out.joined(separator: "\n")
}
