import Foundation
import SigilTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `sigil ledger backup` and `sigil ledger restore` end to end, and what long commands print
/// when stderr is not a terminal (issue #24, items 4 and 6).
@Suite("sigil ledger backup and restore")
struct LedgerBackupCLITests {
    /// A home with two tokens (one revoked) and one exported list, and a backup of it.
    static func backedUp() async throws -> (box: Sandbox, backup: String, guids: [String]) {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let a = try await box.issue(name: "kept")
        let b = try await box.issue(name: "revoked")
        try #require(try await box.run("revoke", "--yes", b.guid).exitCode == 0)
        try await box.exportRevocations()
        let backup = box.path("backup.db")
        let result = try await box.run("ledger", "backup", "--to", backup)
        try #require(result.exitCode == 0, "\(result)")
        return (box, backup, [a.guid, b.guid])
    }

    /// A new home with the sandbox's keyring copied in, as an operator restores one.
    static func freshHome(_ box: Sandbox, _ name: String = "restored") throws -> String {
        let home = box.path(name)
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try writeFile(try #require(readFile(box.home + "/keyring.json")), to: home + "/keyring.json")
        return home
    }

    @Test("A backup restores into a new home with every token and status; lists continue above the old ones")
    func roundTrip() async throws {
        let (box, backup, guids) = try await Self.backedUp()
        #expect(fileMode(backup) == 0o600)
        let home = try Self.freshHome(box)
        let restore = try await box.run(["--home", home, "--json", "ledger", "restore", "--from", backup])
        #expect(restore.exitCode == 0, "\(restore)")
        let o = try restore.jsonObject()
        #expect(o["tokens"] as? Int == 2 && o["sequence"] as? Int == 1 && o["keyring"] as? Bool == true)
        #expect(restore.stderr.isEmpty, "--json prints nothing on stderr: \(restore.stderr)")

        let list = try await box.run(["--home", home, "--json", "list"])
        let rows = try list.jsonArray()
        #expect(rows.compactMap { $0["guid"] as? String } == guids)
        #expect(rows.compactMap { $0["status"] as? String } == ["active", "revoked"])
        let export = try await box.run(["--home", home, "--json", "revocations", "export"])
        #expect(try export.jsonObject()["sequence"] as? Int == 2, "\(export)")
        box.checkHygiene()
    }

    @Test("Without a terminal, backup and restore print their result and nothing else on stderr")
    func noProgressWithoutTerminal() async throws {
        let (box, backup, _) = try await Self.backedUp()
        let again = try await box.run("ledger", "backup", "--to", box.path("second.db"))
        #expect(again.exitCode == 0)
        let lines = again.stderr.split(separator: "\n")
        #expect(lines.count == 2, "\(again.stderr)")
        #expect(lines.first?.hasPrefix("Backed up 2 tokens and ") == true)
        #expect(lines.last?.hasPrefix("The keyring is not in it") == true)
        let home = try Self.freshHome(box)
        let restore = try await box.run(["--home", home, "ledger", "restore", "--from", backup])
        #expect(restore.exitCode == 0)
        #expect(restore.stderr.split(separator: "\n").count == 1, "\(restore.stderr)")
        for result in [again, restore] {
            #expect(!result.stderr.contains("\r") && !result.stderr.contains("\u{1B}"), "\(result.stderr)")
        }
        let json = try await box.run("--json", "ledger", "backup", "--to", box.path("third.db"))
        #expect(json.stderr.isEmpty, "\(json)")
        #expect(try json.jsonObject()["checked"] as? Bool == true)
    }

    @Test("Opening a v0.1 home imports it without any progress text when stderr is not a terminal")
    func importWithoutTerminal() async throws {
        let legacy = try await LegacyHome.make()
        let first = try await legacy.box.run("list")
        #expect(first.exitCode == 0, "\(first)")
        #expect(first.stderr.contains("imported the v0.1 ledger"))
        #expect(!first.stderr.contains("\r") && !first.stderr.contains("\u{1B}"), "\(first.stderr)")
    }

    @Test("Each refusal exits with its code from the one table and changes nothing")
    func refusals() async throws {
        let (box, backup, _) = try await Self.backedUp()
        // 73: a backup never replaces a file.
        let exists = try await box.run("--json", "ledger", "backup", "--to", backup)
        #expect(exists.exitCode == 73, "\(exists)")
        #expect(try exists.jsonObject()["code"] as? String == "cannot_write")
        // 65: a home that has a ledger.
        let occupied = try await box.run("--json", "ledger", "restore", "--from", backup)
        #expect(occupied.exitCode == 65, "\(occupied)")
        #expect(try occupied.jsonObject()["code"] as? String == "conflict")
        #expect(occupied.stderr.contains("restore into a new home"), "\(occupied.stderr)")
        // 65: a damaged backup, and nothing left in the home.
        let damaged = box.path("damaged.db")
        try writeFile(Array((readFile(backup) ?? []).prefix(8_192)), to: damaged)
        let home = try Self.freshHome(box)
        let refused = try await box.run(["--home", home, "ledger", "restore", "--from", damaged])
        #expect(refused.exitCode == 65, "\(refused)")
        #expect(refused.stderr.contains("is not a usable Sigil ledger backup"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home) == ["keyring.json"])
        // 66: no such backup, or no such list file.
        let missing = try await box.run(["--home", home, "ledger", "restore", "--from", box.path("none.db")])
        #expect(missing.exitCode == 66, "\(missing)")
        let noList = try await box.run([
            "--home", home, "ledger", "restore", "--from", backup, "--list", box.path("none.sgl"),
        ])
        #expect(noList.exitCode == 66, "\(noList)")
        // 64: a PostgreSQL ledger is restored with pg_restore; nothing is contacted.
        let postgres = try await box.run([
            "--home", home, "--database", "postgres://sigil@127.0.0.1:9/sigil", "ledger", "restore", "--from", backup,
        ])
        #expect(postgres.exitCode == 64, "\(postgres)")
        #expect(postgres.stderr.contains("pg_restore"), "\(postgres.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home) == ["keyring.json"])
    }

    @Test("A restore keeps what the lists services hold stopped, and warns of tokens the backup never saw")
    func listsSeenStayStopped() async throws {
        let (box, backup, guids) = try await Self.backedUp()
        try #require(try await box.run("revoke", "--yes", guids[0]).exitCode == 0)
        let later = try await box.issue(name: "after the backup")
        try #require(try await box.run("revoke", "--yes", later.guid).exitCode == 0)
        let held = box.path("held.sgl")
        try await box.exportRevocations(to: held)

        let home = try Self.freshHome(box)
        let restore = try await box.run([
            "--home", home, "--json", "ledger", "restore", "--from", backup, "--list", held,
        ])
        #expect(restore.exitCode == 0, "\(restore)")
        let listed = try #require(try restore.jsonObject()["listed"] as? [String: Any])
        #expect(listed["revoked"] as? Int == 1 && listed["deactivated"] as? Int == 0 && listed["unknown"] as? Int == 1)
        #expect((listed["unverified"] as? [Any])?.isEmpty == true)
        let rows = try await box.run(["--home", home, "--json", "list"]).jsonArray()
        #expect(rows.compactMap { $0["status"] as? String } == ["revoked", "revoked"])

        let text = try await box.run([
            "--home", try Self.freshHome(box, "second"), "ledger", "restore", "--from", backup, "--list", held,
        ])
        #expect(text.exitCode == 0, "\(text)")
        #expect(text.stderr.contains("revoked 1 and deactivated 0 tokens again"), "\(text.stderr)")
        #expect(text.stderr.contains("warning: 1 GUIDs on the lists are not in the backup"), "\(text.stderr)")
        let bare = try await box.run([
            "--home", box.path("bare"), "ledger", "restore", "--from", backup, "--list", held,
        ])
        #expect(bare.exitCode == 0, "\(bare)")
        #expect(bare.stderr.contains("\(held) does not verify with this home's keyring"), "\(bare.stderr)")
        #expect(!bare.stderr.contains("not in the backup"), "nothing is read from a list that did not verify")
        box.checkHygiene()
    }

    @Test("A restore into a home without a keyring warns that the keyring must be copied back")
    func keyringWarning() async throws {
        let (box, backup, _) = try await Self.backedUp()
        let home = box.path("bare")
        let result = try await box.run(["--home", home, "ledger", "restore", "--from", backup])
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stderr.contains("warning: \(home) has no keyring.json"), "\(result.stderr)")
        #expect(fileMode(home) == 0o700)
    }
}
