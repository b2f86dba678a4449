import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A command each damaged home is read with; `export` runs last, as it writes.
enum Probe: String, Sendable, CaseIterable {
    case list, listJSON, show, showJSON, log, logJSON, export

    var isJSON: Bool { self == .listJSON || self == .showJSON || self == .logJSON }

    func arguments(_ scratch: TempFolder) -> [String] {
        switch self {
        case .list: ["list"]
        case .listJSON: ["--json", "list"]
        case .show: ["show", Victim.prefix]
        case .showJSON: ["--json", "show", Victim.prefix]
        case .log: ["log"]
        case .logJSON: ["--json", "log"]
        case .export: ["revocations", "export", "-o", scratch.path("list.sgl")]
        }
    }
}

/// The revoked token whose row each case damages, next to the home's healthy active one.
enum Victim {
    static let id = Lists.ids[1]
    static let prefix = "d1498a2b"
    static let row = "guid = x'd1498a2bb9ac4f14a81e17a512ca432d'"
    static let healthyRow = "guid = x'0ba28b748a0441aea9a8b51c2231ba58'"

    /// The test home plus the victim, revoked through the use case (so an event names it).
    static func home(_ scratch: TempFolder) throws -> Home {
        let home = try Home(in: scratch)
        try Home.withIssuer(home.path) { issuer in
            let claims = try Known.claims(id: id, validFrom: Sigil.now - 3600, validTo: Sigil.now + 30 * 86_400)
            try issuer.insertForTesting([
                TokenRecord(claims: claims, name: "victim", description: "", createdBy: "tester", now: Sigil.now - 3600)
            ])
            _ = try issuer.change(.revoke, [id], by: Actor(name: "tester"), now: Sigil.now)
        }
        return home
    }
}

/// Bytes a terminal would act on: C0 controls but newline, DEL, and (for text output) the
/// format and separator characters Labels refuses (U+202E, U+200B, U+2028, U+2029).
func rawControls(_ bytes: [UInt8], json: Bool) -> [String] {
    var found: [String] = []
    for b in bytes where (b < 0x20 && b != 0x0a) || (!json && b == 0x7f) { found.append("0x\(String(b, radix: 16))") }
    if !json {
        for (label, seq): (String, [UInt8]) in [
            ("U+202E", [0xe2, 0x80, 0xae]), ("U+200B", [0xe2, 0x80, 0x8b]), ("U+2028", [0xe2, 0x80, 0xa8]),
        ]
        where bytes.contains(subsequence: seq) {
            found.append(label)
        }
    }
    return found
}

/// One way a stored row can be damaged (rows the schema's CHECKs allow, or allow once they
/// are switched off) and what the commands may do with it.
struct RowDamage: Sendable, CustomTestStringConvertible {
    let name: String
    /// Run first in a connection of its own (a schema edit through writable_schema).
    var schema: String? = nil
    /// Run with CHECK constraints and foreign keys off.
    let sql: String
    /// Probes that must refuse (exit 65): exit 0 would present damaged data as sound.
    var refuse: Set<Probe> = []
    /// Whether a list that `export` writes must still name the victim.
    var victimListed = true
    /// Write commands run after the probes: exit 0 or 65, never a trap or a hang.
    var extra: [[String]] = []
    /// A case-specific check of an exit-0 output; returns what is wrong.
    var check: (@Sendable (Probe, CommandResult) -> String?)? = nil
    var testDescription: String { name }
}

/// Damage to the database's files themselves.
struct FileDamage: Sendable, CustomTestStringConvertible {
    let name: String
    let damage: @Sendable (String) throws -> Void
    var testDescription: String { name }
}

private let esc = "char(27)"
private let allProbesOnTheVictim: Set<Probe> = [.list, .listJSON, .show, .showJSON]

/// Removes `NOT NULL` from one column of `tokens` (the stored schema text is edited in place).
private func dropNotNull(_ column: String) -> String {
    """
    PRAGMA writable_schema=ON;
    UPDATE sqlite_master SET sql = replace(sql, '\(column)', '\(column.replacingOccurrences(of: " NOT NULL", with: ""))')
        WHERE type = 'table' AND name = 'tokens';
    PRAGMA writable_schema=OFF;
    """
}

@Suite("Hostile databases")
struct HostileDatabaseTests {
    static let rows: [RowDamage] = [
        RowDamage(
            name: "unknown status", sql: "UPDATE tokens SET status = 'suspended' WHERE \(Victim.row)",
            refuse: allProbesOnTheVictim),
        RowDamage(
            name: "custom scope 'NOT A PAIR'",
            sql: "UPDATE tokens SET scope_kind = 'custom', scope_pairs = 'NOT A PAIR' WHERE \(Victim.row)",
            check: { probe, run in
                // Shown as stored, or refused: never turned into a sound-looking scope.
                guard [.show, .showJSON, .list].contains(probe) else { return nil }
                return run.stdout.contains("NOT A PAIR") ? nil : "the garbage scope is not shown as stored"
            }),
        RowDamage(
            name: "name with control characters and escape sequences",
            sql: """
                UPDATE tokens SET name = \(esc) || ']0;pwned' || char(7) || \(esc) || '[31mred' || char(13) || char(10) || char(8238) || 'txt',
                    name_folded = 'red' WHERE \(Victim.row)
                """,
            check: { probe, run in
                guard probe == .show || probe == .list else { return nil }
                return run.stdout.contains("\\u{1b}") ? nil : "the escape is not shown escaped"
            }),
        RowDamage(
            name: "description with an escape sequence",
            sql: "UPDATE tokens SET description = \(esc) || '[2J' || char(0) || 'x' WHERE \(Victim.row)"),
        RowDamage(
            name: "creator with a right-to-left override",
            sql: "UPDATE tokens SET created_by = 'eve' || char(8238) || 'txt' WHERE \(Victim.row)"),
        RowDamage(
            name: "valid_to before valid_from",
            sql:
                "UPDATE tokens SET valid_from = \(Sigil.now + 20 * 86_400), valid_to = \(Sigil.now + 5 * 86_400) WHERE \(Victim.row)"
        ),
        RowDamage(
            name: "window reversed across all of Int64",
            sql:
                "UPDATE tokens SET valid_from = 9223372036854775807, valid_to = -9223372036854775808 WHERE \(Victim.row)",
            victimListed: false),
        RowDamage(
            name: "parent that does not exist",
            sql: "UPDATE tokens SET parent = x'11111111111141118111111111111111' WHERE \(Victim.row)",
            extra: [["revoke", "--yes", "--cascade", Victim.prefix], ["ledger", "compact"]]),
        RowDamage(
            name: "parent cycle",
            sql: """
                UPDATE tokens SET parent = x'0ba28b748a0441aea9a8b51c2231ba58' WHERE \(Victim.row);
                UPDATE tokens SET parent = x'd1498a2bb9ac4f14a81e17a512ca432d' WHERE \(Victim.healthyRow);
                """,
            extra: [
                ["revoke", "--yes", "--cascade", "0ba28b74"], ["delete", "--yes", Victim.prefix],
                ["ledger", "compact"],
            ]),
    ]

    @Test(
        "Each damaged row is refused with 65 naming sigil.db or survived, never trapped or shown raw", arguments: rows)
    func damagedRow(_ c: RowDamage) async throws {
        let scratch = try TempFolder("rows")
        let home = try Victim.home(scratch)
        if let schema = c.schema { try Home.withIssuer(home.path) { try $0.store.db.execute(schema) } }
        try Home.withIssuer(home.path) { issuer in
            try issuer.store.db.execute("PRAGMA ignore_check_constraints=ON; PRAGMA foreign_keys=OFF; " + c.sql)
            #expect(issuer.store.db.changes > 0, "the damage was not applied")
        }
        try await Self.probe(home, scratch: scratch, refuse: c.refuse, victimListed: c.victimListed, check: c.check)
        for arguments in c.extra {
            let run = try await home.run(arguments)
            #expect(!run.signaled && (run.status == 0 || run.status == 65), "\(run)")
            #expect(rawControls(run.stdoutBytes + run.stderrBytes, json: false).isEmpty, "\(run)")
        }
    }

    static let exportBugs: [RowDamage] = [
        RowDamage(
            name: "GUID blob of 15 bytes",
            sql: "UPDATE tokens SET guid = x'd1498a2bb9ac4f14a81e17a512ca43' WHERE \(Victim.row)",
            refuse: [.list, .listJSON, .export]),
        RowDamage(
            name: "NULL status", schema: dropNotNull("status       TEXT NOT NULL"),
            sql: "UPDATE tokens SET status = NULL WHERE \(Victim.row)", refuse: allProbesOnTheVictim.union([.export])),
    ]

    @Test(
        "A damaged row of a revoked token stops the export instead of leaving the token off the list",
        arguments: exportBugs)
    func exportBug(_ c: RowDamage) async throws { try await damagedRow(c) }

    static let recordBugs: [RowDamage] = [
        RowDamage(
            name: "unknown scope kind", sql: "UPDATE tokens SET scope_kind = 'superuser' WHERE \(Victim.row)",
            refuse: allProbesOnTheVictim),
        RowDamage(
            name: "custom scope ',,'",
            sql: "UPDATE tokens SET scope_kind = 'custom', scope_pairs = ',,' WHERE \(Victim.row)",
            refuse: allProbesOnTheVictim),
        RowDamage(
            name: "NULL name", schema: dropNotNull("name         TEXT NOT NULL"),
            sql: "UPDATE tokens SET name = NULL WHERE \(Victim.row)", refuse: allProbesOnTheVictim),
        RowDamage(
            name: "NULL valid_from", schema: dropNotNull("valid_from   INTEGER NOT NULL"),
            sql: "UPDATE tokens SET valid_from = NULL WHERE \(Victim.row)", refuse: allProbesOnTheVictim),
    ]

    @Test("A damaged scope kind, scope or NULL column is refused instead of read as a default", arguments: recordBugs)
    func recordBug(_ c: RowDamage) async throws { try await damagedRow(c) }

    static let rawBugs: [RowDamage] = [
        RowDamage(
            name: "scope pair with an escape sequence",
            sql:
                "UPDATE tokens SET scope_kind = 'custom', scope_pairs = 'devices.list' || \(esc) || '[2J' WHERE \(Victim.row)"
        ),
        RowDamage(
            name: "audience with an escape sequence",
            sql: "UPDATE tokens SET audience = 'billing' || \(esc) || '[2J' WHERE \(Victim.row)"),
        RowDamage(
            name: "key id with an escape sequence", sql: "UPDATE tokens SET kid = \(esc) || '[2J' WHERE \(Victim.row)"),
    ]

    @Test("Stored audience, key id and scope pairs are escaped in show and list", arguments: rawBugs)
    func rawBug(_ c: RowDamage) async throws { try await damagedRow(c) }

    static let logBugs: [RowDamage] = [
        RowDamage(
            name: "event details that are not JSON",
            sql: "UPDATE events SET details = '{\"broken\": ' || \(esc) WHERE id = (SELECT max(id) FROM events)"),
        RowDamage(
            name: "event with an unknown action",
            sql: "UPDATE events SET action = 'frobnicate' WHERE id = (SELECT max(id) FROM events)",
            check: { probe, run in
                // No edit ever happened: the damaged event must not be reported as one.
                guard probe == .log || probe == .logJSON else { return nil }
                return run.stdout.contains("edit") ? "an unknown action is reported as edit" : nil
            }),
    ]

    @Test(
        "Damaged event rows are refused or shown as stored, never as other valid JSON or another action",
        arguments: logBugs)
    func logBug(_ c: RowDamage) async throws { try await damagedRow(c) }

    static let files: [FileDamage] = [
        FileDamage(name: "truncated to half") { db in
            #expect(truncate(db, off_t((readFile(db)?.count ?? 0) / 2)) == 0)
        },
        FileDamage(name: "truncated to 100 bytes") { db in #expect(truncate(db, 100) == 0) },
        FileDamage(name: "header page zeroed") { db in
            var bytes = readFile(db) ?? []
            for i in 0..<min(4096, bytes.count) { bytes[i] = 0 }
            try writeFile(bytes, to: db)
        },
        FileDamage(name: "a page in the middle overwritten") { db in
            var bytes = readFile(db) ?? []
            for i in 4096..<min(3 * 4096, bytes.count) { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
            try writeFile(bytes, to: db)
        },
        FileDamage(name: "garbage appended") { db in
            try writeFile((readFile(db) ?? []) + (0..<8191).map { UInt8(truncatingIfNeeded: $0 &* 97) }, to: db)
        },
        FileDamage(name: "a -wal file of garbage") { db in
            try writeFile((0..<32_768).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }, to: db + "-wal")
        },
        FileDamage(name: "a -wal file with a valid magic and garbage frames") { db in
            try writeFile(
                [0x37, 0x7f, 0x06, 0x82, 0, 0x2d, 0xe2, 0x18]
                    + (0..<32_760).map { UInt8(truncatingIfNeeded: $0 &* 13) }, to: db + "-wal")
        },
        FileDamage(name: "a -shm file of garbage") { db in
            try writeFile((0..<32_768).map { UInt8(truncatingIfNeeded: $0 &* 29) }, to: db + "-shm")
        },
    ]

    @Test(
        "Each damaged database file is refused with 65 naming sigil.db or read correctly, and never rewritten by a read",
        arguments: files)
    func damagedFile(_ c: FileDamage) async throws {
        let scratch = try TempFolder("dbfile")
        let home = try Victim.home(scratch)
        try c.damage(home.path + "/sigil.db")
        try await Self.probe(home, scratch: scratch, refuse: [], victimListed: true, check: nil)
    }

    /// Runs every probe and checks the rules every damaged home must keep.
    static func probe(
        _ home: Home, scratch: TempFolder, refuse: Set<Probe>, victimListed: Bool,
        check: (@Sendable (Probe, CommandResult) -> String?)?
    ) async throws {
        let db = home.path + "/sigil.db"
        let before = readFile(db)
        for probe in Probe.allCases {
            let run = try await home.run(probe.arguments(scratch))
            #expect(!run.signaled && run.status < 128, "a trap: \(run)")
            #expect(run.status == 0 || run.status == 65, "\(run)")
            if run.status == 65 { #expect(run.stderr.contains("sigil.db"), "the message names the database: \(run)") }
            if refuse.contains(probe) { #expect(run.status == 65, "damaged data shown as sound: \(run)") }
            let raw = rawControls(run.stdoutBytes, json: probe.isJSON) + rawControls(run.stderrBytes, json: false)
            #expect(raw.isEmpty, "\(raw) written raw to the terminal: \(run)")
            if probe != .export {
                #expect(readFile(db) == before, "a read command rewrote sigil.db: \(run.arguments)")
            }
            guard run.status == 0 else { continue }
            switch probe {
            case .listJSON:
                let list = try? JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [[String: Any]]
                #expect(list?.count == 2, "a token went missing: \(run)")
            case .showJSON, .logJSON:
                #expect((try? JSONSerialization.jsonObject(with: Data(run.stdoutBytes))) != nil, "not JSON: \(run)")
            case .export:
                let list = try? RevocationList(
                    verifying: readFile(scratch.path("list.sgl")) ?? [], keys: [Known.revocationKey])
                #expect(list != nil, "the exported list does not verify: \(run)")
                if victimListed {
                    #expect(list?.status(of: Victim.id) != nil, "the revoked token is missing from the list: \(run)")
                }
            default: break
            }
            if let problem = check?(probe, run) { Issue.record("\(problem): \(run)") }
        }
    }
}
