import Dispatch
import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `sigil ledger backup` and `restore` (issue #24, item 4): a backup taken under writes is one
/// snapshot, a restore goes only into an empty home, a damaged or foreign file is refused, and
/// the next list sequence is above every one seen.
@Suite("Ledger backup and restore", .bothStores)
struct BackupTests: IssuerSuite {
    let fixture: IssuerFixture
    init() throws { fixture = try IssuerFixture() }

    /// A home folder beside the suite's home, with a copy of its keyring.
    func freshHome(_ name: String, keyring: Bool = true) throws -> String {
        let home = temp.root + "/" + name
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        if keyring, let bytes = readFile(temp.path("keyring.json")) {
            try writeFile(bytes, to: home + "/keyring.json")
        }
        return home
    }

    /// The names in `folder`.
    func listing(_ folder: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
    }

    /// A checked backup of the suite's ledger with a few tokens, one revoked.
    func makeBackup(_ name: String = "backup.db") throws -> String {
        let issued = try (0..<3).map { try issuer.issue(request("t\($0)"), by: alice, now: t0) }
        _ = try issuer.change(.revoke, [issued[0].record.id], by: alice, now: t0)
        let path = temp.root + "/" + name
        _ = try issuer.backupLedger(to: path)
        return path
    }

    // MARK: Backup under load

    @Test(
        "A backup taken while another connection writes holds every change committed before it began, and none after",
        .tags(.sqliteOnly))
    func backupUnderWrites() throws {
        // Enough rows that the copy, two pages a step, takes many steps.
        try issuer.insertForTesting((0..<2_000).map { makeRecord(name: "base-\($0)") })
        let home = temp.home
        let actor = alice
        let permits = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let exited = DispatchSemaphore(value: 0)
        let acknowledged = Mutex<[TokenID]>([])
        let stopping = Atomic(false)
        // The writer has a connection of its own and commits one token per permit, in a loop.
        Thread {
            let writer = try? Issuer(anotherConnectionTo: home)
            while true {
                permits.wait()
                if stopping.load(ordering: .acquiring) { break }
                if let issued = try? writer?.issue(request("written"), by: actor, now: t0) {
                    acknowledged.withLock { $0.append(issued.record.id) }
                }
                done.signal()
            }
            writer?.close()
            exited.signal()
        }.start()
        defer {
            stopping.store(true, ordering: .releasing)
            permits.signal()
            exited.wait()
        }
        for _ in 0..<20 {
            permits.signal()
            done.wait()
        }
        let before = acknowledged.withLock { $0 }
        try #require(before.count == 20, "the writer failed before the backup")

        let sqlite = try #require(issuer.store as? SQLiteStore)
        let path = temp.root + "/backup.db"
        var reports: [WorkProgress] = []
        let contents = try sqlite.backup(to: path, pagesPerStep: 2) { progress in
            reports.append(progress)
            // Between two steps of the copy, another write commits and is acknowledged.
            if progress.step == "copying", reports.count <= 5 {
                permits.signal()
                done.wait()
            }
        }
        let during = Set(acknowledged.withLock { $0 }.dropFirst(before.count))
        #expect(during.count == 5, "writes committed while the copy ran")

        let copying = reports.filter { $0.step == "copying" }
        #expect(copying.count > 5)
        #expect(copying.last?.done == copying.last?.total && copying.last?.total == Int64(contents.bytes / 4_096))
        #expect(contents.tokens == 2_000 + 20)
        #expect(try permissions(path) == 0o600)
        #expect(listing(temp.root).filter { $0.hasPrefix("backup.db") } == ["backup.db"], "one file, no journal left")

        let restored = try freshHome("restored")
        _ = try Issuer.restoreLedger(from: path, home: restored, by: alice, now: t0)
        let ids = Set(try Issuer(home: restored).tokens().map(\.id))
        // Counted, not compared as sets: a failure then prints two numbers, not 2,000 GUIDs.
        #expect(before.filter { !ids.contains($0) }.count == 0, "every write acknowledged before the copy is in it")
        #expect(ids.intersection(during).count == 0, "no write committed during the copy is in it")
        #expect(ids.count == 2_020)
    }

    @Test("A backup never replaces a file, never follows a link, and needs its folder", .tags(.sqliteOnly))
    func backupTargets() throws {
        let existing = temp.root + "/existing.db"
        try writeFile(Array("keep me".utf8), to: existing, mode: 0o644)
        expectIssuerError(.cannotWrite) { try issuer.backupLedger(to: existing) }
        #expect(readFile(existing) == Array("keep me".utf8))

        // A dangling link: following it would create the file where it points.
        let pointed = temp.root + "/pointed.db"
        let link = temp.root + "/link.db"
        #expect(symlink(pointed, link) == 0)
        expectIssuerError(.cannotWrite) { try issuer.backupLedger(to: link) }
        #expect(!FileManager.default.fileExists(atPath: pointed))

        expectIssuerError(.cannotWrite) { try issuer.backupLedger(to: temp.root + "/no/such/folder/b.db") }
        #expect(listing(temp.root) == ["home", "existing.db", "link.db"])
    }

    @Test("A PostgreSQL ledger is not copied to a file: the refusal points to pg_dump")
    func postgresRefused() throws {
        guard temp.store == .postgres else { return }
        let error = expectIssuerError(.invalidInput) { try issuer.backupLedger(to: temp.root + "/b.db") }
        #expect(error?.message.contains("pg_dump") == true)
        #expect(!FileManager.default.fileExists(atPath: temp.root + "/b.db"))
        let restore = expectIssuerError(.invalidInput) {
            try Issuer.restoreLedger(from: temp.root + "/b.db", home: temp.home, database: temp.databaseURL, by: alice)
        }
        #expect(restore?.message.contains("pg_restore") == true)
    }

    // MARK: Restore

    @Test("A restore holds every token, status and event of the backup, and says so", .tags(.sqliteOnly))
    func restoreRoundTrip() throws {
        let backup = try makeBackup()
        let original = try issuer.tokens()
        let originalEvents = try issuer.events(AuditQuery(limit: 1_000))
        let home = try freshHome("restored")
        var steps: [String] = []
        let restored = try Issuer.restoreLedger(from: backup, home: home, by: alice, now: t0 + 5) {
            if $0.done == $0.total { steps.append($0.step) }
        }
        #expect(steps.contains("copying") && steps.contains("checking rows"))
        #expect(restored.path == home + "/sigil.db")
        #expect(restored.tokens == 3 && restored.hasKeyring)
        let copy = try Issuer(home: home)
        #expect(try copy.tokens() == original)
        let events = try copy.events(AuditQuery(limit: 1_000))
        #expect(events.count == originalEvents.count + 1)
        #expect(events.first?.action == .migrate && events.first?.actor == "alice")
        #expect(try permissions(home + "/sigil.db") == 0o600)
        #expect(listing(home).allSatisfy { !$0.contains("restore-") }, "no temporary file left")
        #expect(try copy.durabilitySettings().journalMode == "wal")
    }

    @Test(
        "A restore refuses a home that already holds a ledger and leaves it as it was",
        .tags(.sqliteOnly), arguments: ["sigil.db", "sigil.db-wal", "sigil.db-shm", "ledger.jsonl"])
    func restoreRefusesNonEmptyHome(existing: String) throws {
        let backup = try makeBackup()
        let home = try freshHome("occupied")
        try writeFile(Array("already here".utf8), to: home + "/" + existing)
        let before = listing(home)
        let error = expectIssuerError(.conflict) { try Issuer.restoreLedger(from: backup, home: home, by: alice) }
        #expect(error?.message.contains(existing) == true)
        #expect(listing(home) == before)
        #expect(readFile(home + "/" + existing) == Array("already here".utf8))
        // The suite's own home, which holds a ledger, is refused the same way.
        expectIssuerError(.conflict) { try Issuer.restoreLedger(from: backup, home: temp.home, by: alice) }
    }

    @Test("A missing home is created 0700 and restored into", .tags(.sqliteOnly))
    func restoreCreatesHome() throws {
        let backup = try makeBackup()
        let home = temp.root + "/new-home"
        let restored = try Issuer.restoreLedger(from: backup, home: home, by: alice)
        #expect(try permissions(home) == 0o700)
        #expect(!restored.hasKeyring, "the keyring is not in a backup")
    }

    /// Sequences for ``sequenceAboveEverySource``: lists 1–3 are signed before the backup,
    /// 4 (to a file outside the home) and 5 (stored, by the server's publisher) after it.
    struct SequenceCase: Sendable, CustomTestStringConvertible {
        let name: String
        /// Give the list exported to a file elsewhere (sequence 4).
        var elsewhere = false
        /// Copy the newest list (5) into the new home as revocations.sgl.
        var homeList = false
        /// Write this into the new home's revocations.seq.
        var mark: UInt64?
        let floor: UInt64
        var testDescription: String { name }
    }

    @Test(
        "After a restore the next list is above the backup's sequence and every later one it is shown",
        .tags(.sqliteOnly),
        arguments: [
            SequenceCase(name: "the backup alone", floor: 3),
            SequenceCase(name: "a list exported elsewhere", elsewhere: true, floor: 4),
            SequenceCase(name: "the list services hold, in the home", elsewhere: true, homeList: true, floor: 5),
            SequenceCase(name: "the home's high-water mark", mark: 9, floor: 9),
        ])
    func sequenceAboveEverySource(_ c: SequenceCase) throws {
        let early = try issuer.issue(request("before the backup"), by: alice, now: t0).record.id
        for _ in 1...3 { _ = try issuer.exportRevocationList(to: temp.root + "/early.sgl", by: alice, now: t0) }
        let backup = temp.root + "/backup.db"
        #expect(try issuer.backupLedger(to: backup).sequence == 3)
        let elsewhere = temp.root + "/elsewhere.sgl"
        #expect(try issuer.exportRevocationList(to: elsewhere, by: alice, now: t0).list.sequence == 4)
        // A change that alters the list makes the server's publisher sign one.
        _ = try issuer.change(.deactivate, [early], by: alice, now: t0)
        let published = try #require(try issuer.publishRevocationList(by: alice, now: t0))
        #expect(published.sequence == 5)

        let home = try freshHome("restored")
        if c.homeList { try writeFile(published.bytes, to: home + "/revocations.sgl", mode: 0o644) }
        if let mark = c.mark { try writeFile(Array("\(mark)\n".utf8), to: home + "/revocations.seq") }
        let restored = try Issuer.restoreLedger(
            from: backup, home: home, seenLists: c.elsewhere ? [elsewhere] : [], by: alice, now: t0)
        #expect(restored.backupSequence == 3)
        #expect(restored.sequence == c.floor)
        #expect(readFile(home + "/revocations.seq") == Array("\(c.floor)\n".utf8))
        // Both ways of signing start above the floor. The server's publisher signs at once: a
        // restore counts as a change, so the backup's older list is not served for an hour.
        let copy = try Issuer(home: home)
        let republished = try #require(try copy.publishRevocationList(by: alice, now: t0))
        #expect(republished.sequence == c.floor + 1)
        // Deactivated after the backup: deactivated again only when a list seen says so (the
        // home's list 5 does; list 4 was signed before the change).
        #expect(restored.listed.deactivated == (c.homeList ? 1 : 0))
        #expect(
            try RevocationList.parseUnverified(republished.bytes).status(of: early) == (c.homeList ? .deactivated : nil)
        )
        _ = try copy.change(.revoke, [early], by: alice, now: t0)
        let next = try copy.exportRevocationList(to: temp.root + "/next.sgl", by: alice, now: t0)
        #expect(next.list.sequence == c.floor + 2)
        #expect(next.list.status(of: early) == .revoked)
        let stored = try RevocationList.parseUnverified(try #require(try copy.latestRevocationList()).bytes)
        #expect(stored.sequence == c.floor + 2 && stored.status(of: early) == .revoked)
    }

    @Test(
        "Tokens stopped after the backup stay stopped: revoked on any list seen, deactivated on the newest",
        .tags(.sqliteOnly))
    func stoppedAfterBackupStayStopped() throws {
        let ids = try (0..<4).map { try issuer.issue(request("before-\($0)"), by: alice, now: t0).record.id }
        let backup = temp.root + "/backup.db"
        _ = try issuer.backupLedger(to: backup)
        let (revoked, deactivated, reactivated, untouched) = (ids[0], ids[1], ids[2], ids[3])
        _ = try issuer.change(.revoke, [revoked], by: alice, now: t0)
        _ = try issuer.change(.deactivate, [reactivated], by: alice, now: t0)
        let older = temp.root + "/older.sgl"
        _ = try issuer.exportRevocationList(to: older, by: alice, now: t0)
        _ = try issuer.change(.activate, [reactivated], by: alice, now: t0)
        _ = try issuer.change(.deactivate, [deactivated], by: alice, now: t0)
        let later = try issuer.issue(request("after the backup"), by: alice, now: t0).record.id
        _ = try issuer.change(.revoke, [later], by: alice, now: t0)
        let newest = temp.root + "/newest.sgl"
        _ = try issuer.exportRevocationList(to: newest, by: alice, now: t0)

        let home = try freshHome("restored")
        let restored = try Issuer.restoreLedger(
            from: backup, home: home, seenLists: [newest, older], by: alice, now: t0)
        #expect(restored.listed.revoked == 1 && restored.listed.deactivated == 1)
        #expect(restored.listed.unknown == 1, "the token issued after the backup")
        #expect(restored.listed.unverified.isEmpty)
        let copy = try Issuer(home: home)
        let status = { (id: TokenID) in try copy.token(id.description).status }
        #expect(try status(revoked) == .revoked && status(deactivated) == .inactive)
        #expect(try status(reactivated) == .active, "activated again after the older list: the newest decides")
        #expect(try status(untouched) == .active)
        let changes = try copy.events(AuditQuery(limit: 10)).filter { $0.detailsJSON.contains(#""from":"restore""#) }
        #expect(Set(changes.map(\.action)) == [.revoke, .deactivate])
        #expect(restored.events == (try copy.events(AuditQuery(limit: 1_000)).count))
        // The next list names them as the lists services hold did.
        let next = try copy.exportRevocationList(to: temp.root + "/next.sgl", by: alice, now: t0).list
        #expect(next.status(of: revoked) == .revoked && next.status(of: deactivated) == .deactivated)
        #expect(next.status(of: reactivated) == nil)
    }

    @Test(
        "A list that does not verify, or a home without a keyring, raises the floor but changes no token",
        .tags(.sqliteOnly), arguments: [true, false])
    func unverifiedListsChangeNothing(forged: Bool) throws {
        let id = try issuer.issue(request("before"), by: alice, now: t0).record.id
        let backup = temp.root + "/backup.db"
        _ = try issuer.backupLedger(to: backup)
        _ = try issuer.change(.revoke, [id], by: alice, now: t0)
        let list = temp.root + "/list.sgl"
        let sequence = try issuer.exportRevocationList(to: list, by: alice, now: t0).list.sequence
        if forged {
            // The entry's status byte (the last before the 64-byte signature): revoked to deactivated.
            var bytes = try #require(readFile(list))
            bytes[bytes.count - 65] = 1
            try writeFile(bytes, to: list, mode: 0o644)
        }
        let home = try freshHome("restored", keyring: forged)
        let restored = try Issuer.restoreLedger(from: backup, home: home, seenLists: [list], by: alice, now: t0)
        #expect(restored.listed.unverified == [list])
        #expect(restored.listed.revoked == 0 && restored.listed.deactivated == 0)
        #expect(restored.sequence == sequence, "its sequence still counts")
        #expect(try Issuer(home: home).token(id.description).status == .active)
    }

    @Test(
        "reconcile, on a ledger put back by other means: revoked on the list stays revoked; deactivated only from a list newer than the ledger",
        arguments: [false, true])
    func reconcileAfterRestoreByOtherMeans(ledgerIsNewer: Bool) throws {
        let records = (0..<3).map { makeRecord(name: "r\($0)") }
        try issuer.insertForTesting(records)
        // Another ledger with the same rows, as pg_restore of an earlier dump puts them back.
        let other = try TempHome()
        try other.makeFolder()
        try writeFile(try #require(readFile(temp.path("keyring.json"))), to: other.path("keyring.json"))
        let restored = try other.issuer()
        try restored.insertForTesting(records)
        let (a, b, c) = (records[0].id, records[1].id, records[2].id)
        // The live ledger moved on after the dump: a revoked, b deactivated, list 1 signed.
        _ = try issuer.change(.revoke, [a], by: alice, now: t0)
        _ = try issuer.change(.deactivate, [b], by: alice, now: t0)
        let held = temp.root + "/held.sgl"
        #expect(try issuer.exportRevocationList(to: held, by: alice, now: t0).list.sequence == 1)
        if ledgerIsNewer {
            // The put-back ledger already signed lists 1 and 2 itself: list 1 held elsewhere is older.
            for _ in 1...2 { _ = try restored.exportRevocationList(to: other.root + "/own.sgl", by: alice, now: t0) }
        }

        let done = try restored.reconcile(withLists: [held], by: alice, now: t0)
        #expect(done.sequence == (ledgerIsNewer ? 2 : 1))
        #expect(done.listed.revoked == 1 && done.listed.deactivated == (ledgerIsNewer ? 0 : 1))
        let status = { (id: TokenID) in try restored.token(id.description).status }
        #expect(try status(a) == .revoked && status(c) == .active)
        #expect(try status(b) == (ledgerIsNewer ? .active : .inactive))
        // Again: nothing more to do, and the floor stays.
        let again = try restored.reconcile(withLists: [held], by: alice, now: t0)
        #expect(again.listed == ListedStatuses() && again.sequence == done.sequence)
        expectIssuerError(.notFound) { try restored.reconcile(withLists: [other.root + "/missing.sgl"], by: alice) }
    }

    @Test("A list file named for the restore must exist and be a list", .tags(.sqliteOnly))
    func seenListsMustBeLists() throws {
        let backup = try makeBackup()
        let home = try freshHome("restored")
        expectIssuerError(.notFound) {
            try Issuer.restoreLedger(from: backup, home: home, seenLists: [temp.root + "/missing.sgl"], by: alice)
        }
        try writeFile(Array("not a list".utf8), to: temp.root + "/text.sgl")
        expectIssuerError(.badData) {
            try Issuer.restoreLedger(from: backup, home: home, seenLists: [temp.root + "/text.sgl"], by: alice)
        }
        #expect(!FileManager.default.fileExists(atPath: home + "/sigil.db"))
    }

    @Test("A backup made by an older schema is brought up to date as it is restored", .tags(.sqliteOnly))
    func olderSchema() throws {
        _ = try issuer.exportRevocationList(to: temp.root + "/list.sgl", by: alice, now: t0)
        let path = try makeBackup()
        // What version 1 had: the tables of migrations 2 to 6 did not exist yet.
        let db = try SQLiteDatabase(path: path, create: false, busyTimeoutMilliseconds: 0)
        try db.execute(
            """
            DROP TABLE revocation_lists; DROP TABLE policies; DROP TABLE sessions; DROP TABLE members;
            DROP TABLE webhook_lease; DROP TABLE webhook_endpoints; DROP TABLE webhook_deliveries;
            PRAGMA user_version = 1;
            UPDATE issuer_state SET value = 12 WHERE key = 'export_sequence';
            """)
        db.close()
        let home = try freshHome("restored")
        let restored = try Issuer.restoreLedger(from: path, home: home, by: alice)
        #expect(restored.tokens == 3 && restored.backupSequence == 12 && restored.sequence == 12)
        let copy = try Issuer(home: home)
        #expect(try copy.tokens().map(\.name) == ["t0", "t1", "t2"])
        #expect(try copy.policies().isEmpty)
        #expect(try copy.exportRevocationList(to: temp.root + "/next.sgl", by: alice, now: t0).list.sequence == 13)
    }

    /// Ways a backup file can be damaged or not be one.
    enum Damage: String, CaseIterable, Sendable {
        case truncatedHalf = "cut to half its size"
        case firstPageOnly = "cut after its first page"
        case empty = "empty"
        case notSQLite = "not a SQLite file"
        case flippedPage = "a page overwritten with garbage"
        case foreignDatabase = "another program's SQLite database"
        case trigger = "a trigger added"
        case view = "a view added"
        case newerSchema = "a newer schema version"
        case badTokenRow = "a token row the ledger could not have written"
        case unknownAction = "an audit event with an unknown action"
        case forgedList = "a stored list under another sequence than its own"
    }

    @Test(
        "A damaged, truncated or foreign backup is refused and leaves nothing in the home", .tags(.sqliteOnly),
        arguments: Damage.allCases)
    func damagedBackupRefused(_ damage: Damage) throws {
        // A list stored in the ledger, for the forged-list case.
        _ = try issuer.publishRevocationList(by: alice, now: t0)
        let path = try makeBackup()
        let bytes = try #require(readFile(path))
        func sql(_ text: String) throws {
            let db = try SQLiteDatabase(path: path, create: false, busyTimeoutMilliseconds: 0)
            defer { db.close() }
            try db.execute(text)
        }
        switch damage {
        case .truncatedHalf: try writeFile(Array(bytes.prefix(bytes.count / 2)), to: path)
        case .firstPageOnly: try writeFile(Array(bytes.prefix(4_096)), to: path)
        case .empty: try writeFile([], to: path)
        case .notSQLite: try writeFile(Array(repeating: UInt8(ascii: "x"), count: 8_192), to: path)
        case .flippedPage:
            var damaged = bytes
            for i in (4 * 4_096)..<(5 * 4_096) { damaged[i] = UInt8(truncatingIfNeeded: i &* 31) }
            try writeFile(damaged, to: path)
        case .foreignDatabase:
            unlink(path)
            let db = try SQLiteDatabase(path: path, create: true, busyTimeoutMilliseconds: 0)
            try db.execute("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello')")
            db.close()
        case .trigger:
            try sql("CREATE TRIGGER t AFTER INSERT ON events BEGIN DELETE FROM tokens; END")
        case .view: try sql("CREATE VIEW v AS SELECT * FROM tokens")
        case .newerSchema: try sql("PRAGMA user_version = \(SQLiteStore.schemaVersion + 1)")
        case .badTokenRow: try sql("UPDATE tokens SET scope_kind = 'custom', scope_pairs = 'not a pair'")
        case .unknownAction: try sql("UPDATE events SET action = 'launch'")
        case .forgedList: try sql("UPDATE revocation_lists SET sequence = sequence + 1000")
        }
        let home = try freshHome("restored")
        let before = listing(home)
        let error = expectIssuerError(.badData) { try Issuer.restoreLedger(from: path, home: home, by: alice) }
        #expect(error?.message.contains(path) == true || error?.message.contains("restored") == true)
        #expect(listing(home) == before, "nothing left behind")
    }

    @Test("A missing backup is not_found, and a linked one is refused", .tags(.sqliteOnly))
    func backupFileItself() throws {
        let backup = try makeBackup()
        let home = try freshHome("restored")
        expectIssuerError(.notFound) { try Issuer.restoreLedger(from: temp.root + "/none.db", home: home, by: alice) }
        let link = temp.root + "/link.db"
        #expect(symlink(backup, link) == 0)
        expectIssuerError(.invalidInput) { try Issuer.restoreLedger(from: link, home: home, by: alice) }
        #expect(!FileManager.default.fileExists(atPath: home + "/sigil.db"))
    }
}
