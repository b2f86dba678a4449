import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// What every ``LedgerStore`` promises the use-case layer, stated once and run on both stores:
/// the layer reads these through the protocol and knows no concrete store.
@Suite("Every ledger store keeps the same contract", .bothStores)
struct StoreContractTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    @Test(
        "A database error inside a transaction comes out as the store's IssuerError",
        .bug(id: 21, "Issuer.transaction mapped a stray SQLiteError itself, with a busy wait of 0 s"))
    func translatesInsideTransaction() throws {
        let record = makeRecord()
        try issuer.insertForTesting([record])
        // The second row repeats the GUID: the UNIQUE constraint fails inside the store's transaction.
        let error = expectIssuerError(.conflict) { try issuer.insertForTesting([makeRecord(id: record.id)]) }
        #expect(error?.message.hasPrefix(issuer.databasePath) == true, "\(String(describing: error))")
        #expect(try issuer.count(TokenQuery()) == 1, "the failed transaction was rolled back")
    }

    @Test("Durability settings and the engine's name come from the store itself")
    func durabilityThroughTheProtocol() throws {
        let settings = try issuer.durabilitySettings()
        switch temp.store {
        case .sqlite:
            #expect(settings.synchronous == 2 && settings.journalMode == "wal")
            #expect(issuer.store.engine == "sqlite")
        case .postgres:
            #expect(settings.synchronous == -1 && settings.journalMode == "postgres")
            #expect(issuer.store.engine == "postgres")
        }
    }

    @Test("A restore goes only into an empty database; nothing is copied into one that holds a ledger")
    func restoreRefusesALedger() throws {
        _ = try issuer.issue(request(), by: alice, now: t0)
        let snapshot = try issuer.store.transaction(write: false) { try issuer.store.snapshot() }
        let error = expectIssuerError(.conflict) {
            try issuer.store.transaction(write: true) { try issuer.store.restore(snapshot) }
        }
        #expect(error?.message.contains("already holds a ledger") == true)
        #expect(try issuer.store.transaction(write: false) { try issuer.store.tokenRowCount() } == 1)
    }

    @Test("Catalog entries, state and policies are replaced in place, not added twice")
    func upsertsReplace() throws {
        let store = issuer.store
        try store.transaction(write: true) {
            try store.putCatalogEntry(resource: "devices", action: "reboot", access: .read)
            try store.putCatalogEntry(resource: "devices", action: "reboot", access: .write)
            try store.setState("probe", 1)
            try store.setState("probe", 7)
            try store.incrementState("probe")
            try store.putPolicy(
                LifetimePolicy(audience: "billing", maxLifetime: 10, allowNeverExpires: false, setAt: t0, setBy: "a"))
            try store.putPolicy(
                LifetimePolicy(audience: "billing", maxLifetime: 20, allowNeverExpires: true, setAt: t0 + 1, setBy: "b")
            )
        }
        let (catalog, probe, policies) = try store.transaction(write: false) {
            (try store.catalog(), try store.state("probe"), try store.policies())
        }
        #expect(catalog.access(of: "devices.reboot") == .write)
        #expect(probe == 8)
        #expect(policies.count == 1)
        #expect(policies.first?.maxLifetime == 20 && policies.first?.allowNeverExpires == true)
        #expect(policies.first?.setAt == t0 + 1 && policies.first?.setBy == "b")
    }

    @Test("Selectors naming one token twice resolve to it once, in the order given")
    func resolvesOnce() throws {
        let a = try issuer.issue(request("a"), by: alice, now: t0).record
        let b = try issuer.issue(request("b"), by: alice, now: t0).record
        let hexB = b.id.hexString
        let resolved = try issuer.resolve([hexB, a.id.description, String(hexB.prefix(8)), hexB])
        #expect(resolved.map(\.id) == [b.id, a.id])
        let changed = try issuer.change(.revoke, selectors: [a.id.description, a.id.hexString], by: alice, now: t0)
        #expect(changed.tokens.map(\.id) == [a.id] && changed.changed == [a.id])
    }
}

@Suite("Error codes")
struct ReasonCodeTests {
    @Test(
        "An error no detail refines has its reason's raw value as its code",
        .bug(id: 21, "the reason-to-code switch restated every reason"),
        arguments: IssuerError.Reason.allCases)
    func reasonIsACode(reason: IssuerError.Reason) throws {
        let code = try #require(IssuerError.Code(rawValue: reason.rawValue))
        #expect(IssuerError(reason, "x").code == code)
    }
}

@Suite("Keyring file")
struct KeyringFileTests {
    static func home() throws -> String {
        let home = NSTemporaryDirectory() + "sigil-keyring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        return home
    }

    @Test("A keyring reads back with the same key bytes, written as base64url")
    func roundTrip() throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let ring = Keyring.generate(now: t0)
        try ring.save(home: home)
        let text = try String(contentsOfFile: Keyring.path(home: home), encoding: .utf8)
        #expect(text.contains(Base64URL.encode(ring.activeKey.secret)))
        #expect(text.contains(Base64URL.encode(ring.signingKey.seed)))
        let read = try Keyring.load(home: home)
        #expect(read.activeKey.secret == ring.activeKey.secret && read.signingKey.seed == ring.signingKey.seed)
        #expect(read.activeKey.keyID == ring.activeKey.keyID && read.signingKey.createdAt == t0)
    }

    @Test(
        "A token secret or a signing seed that is not 32 bytes is refused",
        .bug(id: 21, "the 32-byte check was written twice, once per key kind"), arguments: [true, false])
    func shortKeyRefused(seed: Bool) throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let ring = Keyring.generate(now: t0)
        try ring.save(home: home)
        let bytes = seed ? ring.signingKey.seed : ring.activeKey.secret
        let text = try String(contentsOfFile: Keyring.path(home: home), encoding: .utf8)
            .replacingOccurrences(of: Base64URL.encode(bytes), with: Base64URL.encode(Array(bytes.dropLast())))
        try Data(text.utf8).write(to: URL(fileURLWithPath: Keyring.path(home: home)))
        let error = #expect(throws: IssuerError.self) { try Keyring.load(home: home) }
        #expect(error?.reason == .badData)
    }

    @Test("Retiring destroys a key's bytes; the active key of either kind is refused")
    func retire() throws {
        var ring = Keyring.generate(now: t0)
        let pendingSigner = ring.addRevocationKey(now: t0)
        let oldSeed = pendingSigner.seed
        try ring.retire(pendingSigner.keyID)
        let retired = try #require(ring.revocationKeys.first { $0.keyID == pendingSigner.keyID })
        #expect(retired.state == .retired && retired.seed != oldSeed && retired.seed.count == 32)
        for (keyID, role) in [
            (ring.activeKey.keyID, "is the issuing key"), (ring.signingKey.keyID, "signs revocation"),
        ] {
            let error = #expect(throws: IssuerError.self) { try ring.retire(keyID) }
            #expect(error?.reason == .conflict && error?.message.contains(role) == true)
        }
    }
}
