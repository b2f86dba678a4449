import Foundation
import SigilTestSupport
import Testing

/// An incident must never block revocation while issuing goes on (hardening round 2, item 10).
@Suite("A damaged ledger stops issuing as well as revoking")
struct CorruptLedgerTests {
    @Test(
        "With sigil.db damaged, issue is refused exactly like revoke (65), and nothing is printed as a token",
        .bug(id: "issue-on-corrupt-ledger", "v0.1 issued on a journal that revoke called corrupt"))
    func issueRefusedWhenRevokeIs() async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue(name: "victim")
        let database = box.home + "/sigil.db"
        // Garbage over every page after the header page: the schema still reads, the rows do not.
        _ = try await box.run("ledger", "compact")
        var bytes = [UInt8](FileManager.default.contents(atPath: database) ?? Data())
        try #require(bytes.count > 4096)
        for i in 4096..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 151) }
        try Data(bytes).write(to: URL(fileURLWithPath: database))

        let revoke = try await box.run("revoke", "--yes", guid)
        #expect(revoke.exitCode == 65, "\(revoke)")
        let issue = try await box.run("issue", "--name", "during the incident", "--audience", "billing", "--all")
        #expect(issue.exitCode == 65, "\(issue)")
        #expect(!issue.stdout.contains("sgl_"), "no token is shown when it cannot be recorded")
        #expect(issue.stderr.contains("sigil.db"), "\(issue.stderr)")
    }
}
