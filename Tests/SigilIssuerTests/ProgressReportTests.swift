import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

/// What long operations tell their progress handler (issue #24, item 6): the library counts,
/// the CLI draws (sigilTests/ProgressLineTests).
@Suite("Progress of long operations", .bothStores)
struct ProgressReportTests: IssuerSuite {
    let fixture: IssuerFixture
    init() throws { fixture = try IssuerFixture() }

    /// The last report of each step, in the order the steps began.
    func lastOfEachStep(_ reports: [WorkProgress]) -> [WorkProgress] {
        var out: [WorkProgress] = []
        for report in reports {
            if out.last?.step == report.step { out[out.count - 1] = report } else { out.append(report) }
        }
        return out
    }

    @Test("A bulk change reports the tokens read, then the tokens written slice by slice, to the end")
    func bulkChange() throws {
        let records = (0..<12_000).map { makeRecord(name: "bulk-\($0)") }
        try issuer.insertForTesting(records)
        var reports: [WorkProgress] = []
        let result = try issuer.change(.deactivate, records.map(\.id), by: alice, now: t0) { reports.append($0) }
        #expect(result.changed.count == 12_000)
        let steps = lastOfEachStep(reports)
        #expect(steps.map(\.step) == ["reading", "writing"])
        #expect(steps.allSatisfy { $0.done == 12_000 && $0.total == 12_000 && $0.unit == .tokens })
        // 5,000 tokens a statement: 5,000, 10,000 and 12,000 written.
        #expect(reports.filter { $0.step == "writing" }.map(\.done) == [5_000, 10_000, 12_000])
        #expect(try issuer.tokens().allSatisfy { $0.status == .inactive })
    }

    @Test("A change by selectors reports its writes too")
    func selectorChange() throws {
        let records = (0..<3).map { makeRecord(name: "s-\($0)") }
        try issuer.insertForTesting(records)
        var reports: [WorkProgress] = []
        _ = try issuer.change(.revoke, selectors: records.map(\.id.description), by: alice, now: t0) {
            reports.append($0)
        }
        #expect(lastOfEachStep(reports).map(\.step) == ["reading", "writing"])
        #expect(reports.last?.done == 3 && reports.last?.total == 3)
    }

    @Test("Opening a v0.1 home reports the journal's lines read, then the tokens imported", .tags(.sqliteOnly))
    func legacyImport() throws {
        let setup = try temp.issuer()
        let keyID = try setup.keyring().activeKey.keyID
        setup.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: temp.database + suffix) }
        var lines: [String] = []
        for i in 0..<1_200 {
            let guid = TokenMinter.newTokenID().description
            lines.append(
                #"{"at":1795000000,"op":"issue","token":{"audience":"billing","created_at":1795000000,"created_by":"a","description":"","guid":"\#(guid)","kid":"\#(keyID)","name":"t\#(i)","scope":"all","status":"active","updated_at":1795000000,"valid_from":1795000000,"valid_to":1900000000}}"#
            )
        }
        try writeFile(Array((lines.joined(separator: "\n") + "\n").utf8), to: temp.path("ledger.jsonl"))
        var reports: [WorkProgress] = []
        let opened = try Issuer(home: temp.home, progress: { reports.append($0) })
        #expect(try opened.tokens().count == 1_200)
        let steps = lastOfEachStep(reports)
        #expect(steps.map(\.step) == ["reading the v0.1 ledger", "importing"])
        #expect(steps.last?.done == 1_200 && steps.last?.total == 1_200)
        #expect(steps.first?.done == steps.first?.total)
        #expect(reports.count > 4, "reported as it went, not only at the end")
    }

    @Test(
        "ledger migrate reports the rows it copies into PostgreSQL", .tags(.sqliteOnly),
        .enabled(if: StoreUnderTest.postgresURL != nil, "needs scripts/postgres-test.sh's cluster"))
    func migrate() throws {
        try issuer.insertForTesting((0..<1_500).map { makeRecord(name: "m-\($0)") })
        let schema = try PostgresSchema(url: try #require(StoreUnderTest.postgresURL))
        var reports: [WorkProgress] = []
        let copied = try issuer.copyLedger(to: schema.url, by: alice, now: t0) { reports.append($0) }
        let steps = lastOfEachStep(reports)
        #expect(steps.map(\.step) == ["reading", "copying"])
        let rows = Int64(copied.tokens + copied.events)
        #expect(steps.last?.done == rows && steps.last?.total == rows)
        #expect(reports.filter { $0.step == "copying" }.count > 2)
    }
}
