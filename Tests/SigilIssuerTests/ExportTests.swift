import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

@Suite("Exporting revocation lists and compacting the ledger", .bothStores)
struct ExportTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    /// The list in `bytes`, verified with the keyring's revocation public key.
    func verified(_ bytes: [UInt8], issuer: Issuer? = nil) throws -> RevocationList {
        let signer = try (issuer ?? self.issuer).keyring().signingKey
        let key = try RevocationKey(keyID: signer.keyID, publicKey: signer.publicKey)
        return try RevocationList(verifying: bytes, keys: [key])
    }

    func verifiedFile(_ path: String) throws -> RevocationList {
        try verified(try #require(readFile(path)))
    }

    func entries(_ list: RevocationList) -> [TokenID: RevocationStatus] {
        Dictionary(uniqueKeysWithValues: list.entries.map { ($0.id, $0.status) })
    }

    @Test("The list names deactivated, revoked and deleted tokens until valid_to + 1 day, never active ones")
    func entriesListed() throws {
        let active = makeRecord(name: "active", validTo: t0 + 1_000, status: .active)
        let inactive = makeRecord(name: "inactive", validTo: t0 + 1_000, status: .inactive)
        let revoked = makeRecord(name: "revoked", validTo: t0 + 1_000, status: .revoked)
        let deleted = makeRecord(name: "deleted", validTo: t0 + 1_000, status: .revoked, deletedAt: t0 - 5)
        let forever = makeRecord(name: "forever", validTo: nil, status: .revoked)
        let foreverDeleted = makeRecord(name: "forever deleted", validTo: nil, status: .revoked, deletedAt: t0 - 5)
        let justIn = makeRecord(name: "just in", validTo: t0 - day + 1, status: .revoked)
        let justOut = makeRecord(name: "just out", validTo: t0 - day, status: .revoked)
        let oldInactive = makeRecord(name: "old inactive", validTo: t0 - day - 1, status: .inactive)
        let oldDeleted = makeRecord(
            name: "old deleted", validTo: t0 - 10 * day, status: .revoked, deletedAt: t0 - 9 * day)
        let expiredActive = makeRecord(name: "expired active", validTo: t0 - 5, status: .active)
        try issuer.insertForTesting([
            active, inactive, revoked, deleted, forever, foreverDeleted, justIn, justOut, oldInactive, oldDeleted,
            expiredActive,
        ])
        let exported = try issuer.exportRevocationList(by: alice, now: t0)
        let expected: [TokenID: RevocationStatus] = [
            inactive.id: .deactivated, revoked.id: .revoked, deleted.id: .revoked, forever.id: .revoked,
            foreverDeleted.id: .revoked, justIn.id: .revoked,
        ]
        #expect(entries(exported.list) == expected)
        let list = try verifiedFile(exported.path)
        #expect(list.isVerified)
        #expect(entries(list) == expected)
        #expect(list.status(of: active.id) == nil)
        #expect(list.status(of: inactive.id) == .deactivated)
        #expect(list.status(of: deleted.id) == .revoked)
        #expect(list.entries.map(\.id) == list.entries.map(\.id).sorted())
    }

    @Test(
        "A revoked token stays listed until valid_to + 86,400 s and is dropped from then on",
        arguments: [(-86_400 - 500, true), (-1, true), (0, false), (1, false), (86_400, false)] as [(Int64, Bool)])
    func leewayBoundary(offset: Int64, listed: Bool) throws {
        let validTo = t0 + 1_000
        let token = makeRecord(validTo: validTo, status: .revoked)
        let inactive = makeRecord(validTo: validTo, status: .inactive)
        try issuer.insertForTesting([token, inactive])
        let now = validTo + Issuer.maxLeeway + offset
        let list = try issuer.exportRevocationList(by: alice, now: now).list
        #expect((list.status(of: token.id) == .revoked) == listed)
        #expect((list.status(of: inactive.id) == .deactivated) == listed)
        #expect(list.count == (listed ? 2 : 0))
        #expect(Issuer.maxLeeway == 86_400)
    }

    @Test("Each export signs the next sequence, with next_update a day later by default")
    func sequence() throws {
        let first = try issuer.exportRevocationList(by: alice, now: t0)
        #expect(first.path == temp.path("revocations.sgl"))
        #expect(first.list.sequence == 1)
        #expect(first.list.issuedAt == t0)
        #expect(first.list.nextUpdate == t0 + 86_400)
        #expect(first.list.keyID == (try issuer.keyring().signingKey.keyID))
        #expect(first.bytes == readFile(first.path)?.count)
        #expect(try permissions(first.path) == 0o644)
        #expect(readFile(temp.path("revocations.seq")) == Array("1\n".utf8))

        let second = try issuer.exportRevocationList(nextUpdate: 3_600, by: alice, now: t0 + 10)
        #expect(second.list.sequence == 2)
        #expect(second.list.nextUpdate == t0 + 10 + 3_600)
        let third = try issuer.exportRevocationList(nextUpdate: nil, by: alice, now: t0 + 20)
        #expect(third.list.sequence == 3)
        #expect(third.list.nextUpdate == nil)
        #expect(try verifiedFile(third.path).nextUpdate == nil)
        #expect(try verifiedFile(third.path).sequence == 3)
        #expect(try issuer.lastExportSequence() == 3)
        #expect(readFile(temp.path("revocations.seq")) == Array("3\n".utf8))
    }

    @Test("An export to another path also counts, and records an export event")
    func exportEvent() throws {
        try issuer.insertForTesting([makeRecord(status: .revoked)])
        let out = temp.root + "/service-revocations.sgl"
        let exported = try issuer.exportRevocationList(to: out, by: try Actor(name: "ops@example.com"), now: t0)
        #expect(exported.path == out)
        #expect(try verifiedFile(out).sequence == 1)
        #expect(!temp.exists("revocations.sgl"))
        let event = try #require(try issuer.events(.export).first)
        #expect(event.actor == "ops@example.com")
        #expect(event.at == t0)
        #expect(event.guids.isEmpty)
        #expect(event.detailsJSON.contains("\"sequence\":\"1\""))
        #expect(event.detailsJSON.contains("\"entries\":\"1\""))
        #expect(try issuer.events(.export).count == 1)
    }

    /// Copies `sigil.db` and any `-wal`/`-shm` beside it to `folder`, or back.
    func copyDatabase(from source: String, to target: String) throws {
        for suffix in ["", "-wal", "-shm"] {
            let to = target + "/sigil.db" + suffix
            if FileManager.default.fileExists(atPath: to) { try FileManager.default.removeItem(atPath: to) }
            let from = source + "/sigil.db" + suffix
            if FileManager.default.fileExists(atPath: from) {
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
    }

    @Test("The sequence never goes backwards when an older copy of the database is restored", .tags(.sqliteOnly))
    func restoredBackup() throws {
        let backup = temp.root + "/backup"
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: false)
        #expect(try issuer.exportRevocationList(by: alice, now: t0).list.sequence == 1)
        issuer.close()
        try copyDatabase(from: temp.home, to: backup)

        let later = try temp.issuer(.existing)
        #expect(try later.exportRevocationList(by: alice, now: t0 + 1).list.sequence == 2)
        #expect(try later.exportRevocationList(by: alice, now: t0 + 2).list.sequence == 3)
        later.close()
        try copyDatabase(from: backup, to: temp.home)

        // The restored ledger remembers 1; revocations.seq remembers 3.
        let restored = try temp.issuer(.existing)
        #expect(try restored.store.state("export_sequence") == 1)
        let next = try restored.exportRevocationList(by: alice, now: t0 + 3)
        #expect(next.list.sequence == 4)
        #expect(try verified(try #require(readFile(next.path)), issuer: restored).sequence == 4)
        restored.close()

        // Restore again and lose revocations.seq too: the list already written still says 4.
        try copyDatabase(from: backup, to: temp.home)
        try FileManager.default.removeItem(atPath: temp.path("revocations.seq"))
        let again = try temp.issuer(.existing)
        #expect(try again.store.state("export_sequence") == 1)
        #expect(try again.exportRevocationList(by: alice, now: t0 + 4).list.sequence == 5)
        #expect(readFile(temp.path("revocations.seq")) == Array("5\n".utf8))
    }

    @Test("With revocations.seq gone, the sequence in the output file is the floor")
    func outputFileFloor() throws {
        for i in 0..<3 { _ = try issuer.exportRevocationList(by: alice, now: t0 + Int64(i)) }
        try issuer.store.setState("export_sequence", 0)
        try FileManager.default.removeItem(atPath: temp.path("revocations.seq"))
        #expect(try issuer.exportRevocationList(by: alice, now: t0 + 10).list.sequence == 4)
    }

    @Test("A next_update past the end of time is refused, not a crash")
    func nextUpdateOverflow() throws {
        expectIssuerError(.invalidInput) { try issuer.exportRevocationList(nextUpdate: .max, by: alice, now: t0) }
    }

    // MARK: Compaction

    @Test("Compaction drops only tombstones past valid_to + 1 day that no token names as parent")
    func compact() throws {
        let oldTomb = makeRecord(name: "old tomb", validTo: t0 - day - 1, status: .revoked, deletedAt: t0 - 2 * day)
        let edgeTomb = makeRecord(name: "edge tomb", validTo: t0 - day, status: .revoked, deletedAt: t0 - 2 * day)
        let freshTomb = makeRecord(name: "fresh tomb", validTo: t0 - day + 1, status: .revoked, deletedAt: t0 - 2 * day)
        let foreverTomb = makeRecord(name: "forever tomb", validTo: nil, status: .revoked, deletedAt: t0 - 2 * day)
        let oldRevoked = makeRecord(name: "old revoked", validTo: t0 - 100 * day, status: .revoked)
        let oldActive = makeRecord(name: "old active", validTo: t0 - 100 * day, status: .active)
        let parentTomb = makeRecord(
            name: "parent tomb", validTo: t0 - 100 * day, status: .revoked, deletedAt: t0 - 99 * day)
        let child = makeRecord(name: "child", parent: parentTomb.id)
        let all = [oldTomb, edgeTomb, freshTomb, foreverTomb, oldRevoked, oldActive, parentTomb, child]
        try issuer.insertForTesting(all)

        let (before, after) = try issuer.compactLedger(by: alice, now: t0)
        #expect(before == 8)
        #expect(after == 6)
        #expect(try issuer.stored(oldTomb.id) == nil)
        #expect(try issuer.stored(edgeTomb.id) == nil)
        for kept in [freshTomb, foreverTomb, oldRevoked, oldActive, parentTomb, child] {
            #expect(try issuer.stored(kept.id) == kept, "\(kept.name)")
        }
        #expect(try issuer.tokens().map(\.id) == [oldRevoked.id, oldActive.id, child.id])
        let event = try #require(try issuer.events(AuditQuery(actor: "alice")).first)
        #expect(event.at == t0)
        #expect(event.detailsJSON.contains("\"purged_tombstones\":\"2\""))
        // Still a working database afterwards.
        if temp.store == .sqlite { #expect(try issuer.durabilitySettings().journalMode == "wal") }
        _ = try issuer.issue(request(), by: alice, now: t0)
        #expect(try issuer.compactLedger(by: alice, now: t0) == (7, 7))
        #expect(try issuer.compactLedger(by: alice, now: t0 + 1) == (7, 6))  // fresh tomb reaches its cutoff
    }
}
