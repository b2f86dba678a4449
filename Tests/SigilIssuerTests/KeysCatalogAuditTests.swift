import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

@Suite("Keys, catalog and audit log", .bothStores)
struct KeysCatalogAuditTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func keyEvents() throws -> [AuditEvent] { try issuer.events(AuditQuery(actor: "alice", action: .keys)) }

    func state(_ keyID: String) throws -> Keyring.KeyState? { try issuer.keyring().tokenKey(keyID)?.state }

    // MARK: Keys

    @Test("Added keys are pending: exported to services, issuing nothing until promoted")
    func addKey() throws {
        let original = try issuer.keyring().activeKey.keyID
        let added = try issuer.addKey(by: alice, now: t0)
        #expect(try state(added) == .pending)
        #expect(try issuer.keyring().activeKey.keyID == original)
        #expect(try issuer.keyset(audience: "billing").tokenKeys.map(\.keyID).contains(added))
        #expect(try issuer.issue(request(), by: alice, now: t0).record.keyID == original)
        let event = try #require(try keyEvents().first)
        #expect(event.at == t0)
        #expect(event.detailsJSON.contains(added))
    }

    @Test("Promote makes a key the issuer, returns the previous one, and is a no-op when already active")
    func promote() throws {
        let original = try issuer.keyring().activeKey.keyID
        let before = try issuer.issue(request(), by: alice, now: t0)
        let added = try issuer.addKey(by: alice, now: t0)
        #expect(try issuer.promoteKey(added, by: alice, now: t0 + 1) == original)
        #expect(try issuer.keyring().activeKey.keyID == added)
        #expect(try state(original) == .verifying)
        #expect(try keyEvents().count == 2)

        #expect(try issuer.promoteKey(added, by: alice, now: t0 + 2) == nil)
        #expect(try keyEvents().count == 2)

        let after = try issuer.issue(request(), by: alice, now: t0 + 3)
        #expect(after.record.keyID == added)
        let verifier = try Verifier(keyset: try issuer.keyset(audience: "billing"))
        #expect(try verifier.verify(after.token, at: t0 + 3).id == after.record.id)
        #expect(try verifier.verify(before.token, at: t0 + 3).id == before.record.id)
    }

    @Test("Retire destroys a key's secret; its tokens stop verifying with the next keyset")
    func retire() throws {
        let original = try issuer.keyring().activeKey
        let old = try issuer.issue(request(), by: alice, now: t0)
        let (new, previous) = try issuer.rotateKey(by: alice, now: t0 + 1)
        #expect(previous == original.keyID)
        #expect(try issuer.keyring().activeKey.keyID == new)
        #expect(try state(original.keyID) == .verifying)

        try issuer.retireKey(original.keyID, by: alice, now: t0 + 2)
        let retired = try #require(try issuer.keyring().tokenKey(original.keyID))
        #expect(retired.state == .retired)
        #expect(retired.secret != original.secret)
        let keyset = try issuer.keyset(audience: "billing")
        #expect(keyset.tokenKeys.map(\.keyID) == [new])
        let error = #expect(throws: VerificationError.self) {
            try Verifier(keyset: keyset).verify(old.token, at: t0 + 2)
        }
        #expect(error?.reason == .unknownKey)
        let events = try keyEvents()
        #expect(events.count == 2)
        #expect(events.first?.detailsJSON.contains(original.keyID) == true)
        #expect(events.last?.detailsJSON.contains(new) == true)
    }

    @Test("The issuing key cannot be retired, a retired key cannot be promoted; nothing changes")
    func keyConflicts() throws {
        let active = try issuer.keyring().activeKey.keyID
        let ringBefore = readFile(temp.path("keyring.json"))
        let error = expectIssuerError(.conflict) { try issuer.retireKey(active, by: alice, now: t0) }
        #expect(error?.detail == .keyIsActive(active))
        #expect(readFile(temp.path("keyring.json")) == ringBefore)
        #expect(try keyEvents().isEmpty)

        let pending = try issuer.addKey(by: alice, now: t0)
        try issuer.retireKey(pending, by: alice, now: t0 + 1)
        let ringRetired = readFile(temp.path("keyring.json"))
        let promote = expectIssuerError(.conflict) { try issuer.promoteKey(pending, by: alice, now: t0 + 2) }
        #expect(promote?.detail == .keyRetired(pending))
        #expect(readFile(temp.path("keyring.json")) == ringRetired)
        #expect(try keyEvents().count == 2)
    }

    @Test("An unknown key ID is not found", arguments: ["promote", "retire"])
    func unknownKey(operation: String) throws {
        let error = expectIssuerError(.notFound) {
            if operation == "promote" {
                _ = try issuer.promoteKey("k-nope", by: alice, now: t0)
            } else {
                try issuer.retireKey("k-nope", by: alice, now: t0)
            }
        }
        #expect(error?.detail == .keyNotFound("k-nope"))
        #expect(try keyEvents().isEmpty)
    }

    @Test("A keyset holds derived keys and public keys, never a master secret or the signing seed")
    func keysetHasNoSecret() throws {
        _ = try issuer.addKey(by: alice, now: t0)
        let ring = try issuer.keyring()
        let keyset = try issuer.keyset(audience: "billing")
        #expect(keyset.audience == "billing")
        #expect(Set(keyset.tokenKeys.map(\.keyID)) == Set(ring.tokenKeys.map(\.keyID)))
        let json = String(decoding: keyset.json(), as: UTF8.self)
        for master in ring.tokenKeys {
            #expect(keyset.tokenKeys.allSatisfy { $0.key != master.secret })
            #expect(!json.contains(Base64URL.encode(master.secret)))
        }
        for signer in ring.revocationKeys {
            #expect(!json.contains(Base64URL.encode(signer.seed)))
            #expect(keyset.revocationKeys.contains { $0.publicKey == signer.publicKey })
        }
        let other = try issuer.keyset(audience: "metrics")
        #expect(other.tokenKeys.first?.key != keyset.tokenKeys.first?.key)
    }

    @Test(
        "A keyset for an invalid audience is refused",
        arguments: ["", "bill ing", String(repeating: "a", count: 65), "bill\u{1b}"])
    func keysetBadAudience(audience: String) throws {
        let error = expectIssuerError(.invalidInput) { try issuer.keyset(audience: audience) }
        #expect(error?.detail == .invalidAudience(length: audience.utf8.count))
    }

    // MARK: Catalog

    @Test("Catalog additions are recorded and reach new scopes")
    func catalogAdd() throws {
        try issuer.addToCatalog(resource: "reports", action: "export", access: .read, by: alice, now: t0)
        #expect(try issuer.catalog().access(of: "reports.export") == .read)
        try issuer.addToCatalog(resource: "devices", action: "list", access: .write, by: alice, now: t0 + 1)
        #expect(try issuer.catalog().access(of: "devices.list") == .write)
        let events = try issuer.events(.catalog)
        #expect(events.count == 2)
        #expect(events.last?.detailsJSON.contains("\"permission\":\"reports.export\"") == true)
        #expect(events.last?.detailsJSON.contains("\"access\":\"read\"") == true)
        #expect(events.last?.actor == "alice")
        let issued = try issuer.issue(request(scope: .custom(["reports.*"])), by: alice, now: t0 + 2)
        #expect(issued.record.scope == .custom(["reports.export"]))
        // The catalog is in the database: another Issuer sees it.
        #expect(try temp.issuer(.existing).catalog().access(of: "reports.export") == .read)
    }

    @Test(
        "Catalog names must be [a-z][a-z0-9_-]{0,31}",
        arguments: [
            ("Reports", "export"), ("reports", "Export"), ("", "x"), ("x", ""), ("1x", "y"), ("a.b", "c"),
            (String(repeating: "r", count: 33), "x"), ("re ports", "x"), ("reports", "ex\u{1b}port"), ("*", "x"),
        ])
    func catalogBadNames(resource: String, action: String) throws {
        let error = expectIssuerError(.invalidInput) {
            try issuer.addToCatalog(resource: resource, action: action, access: .read, by: alice, now: t0)
        }
        #expect(error?.detail == .invalidPair("\(resource).\(action)"))
        #expect(try issuer.catalog() == Catalog.example.withIssuerResources())
        #expect(try issuer.events(.catalog).isEmpty)
    }

    // MARK: Audit log

    @Test("The audit log lists events newest first and filters by GUID, actor, action, time and page")
    func auditLog() throws {
        let bob = try Actor(name: "bob")
        let a = try issuer.issue(request("a"), by: alice, now: t0).record.id
        let b = try issuer.issue(request("b"), by: bob, now: t0 + 10).record.id
        _ = try issuer.change(.revoke, [a, b], by: alice, now: t0 + 20)
        _ = try issuer.edit(b.description, name: "b2", description: nil, by: try Actor(name: "carol"), now: t0 + 30)
        _ = try issuer.exportRevocationList(by: bob, now: t0 + 40)

        let since = AuditQuery(since: t0)
        #expect(try issuer.events(since).map(\.action) == [.export, .edit, .revoke, .issue, .issue])
        #expect(try issuer.events(since).map(\.at) == [t0 + 40, t0 + 30, t0 + 20, t0 + 10, t0])
        #expect(try issuer.events().last?.action == .keys)
        #expect(try issuer.events().last?.actor == "sigil")
        #expect(try issuer.events(AuditQuery(guid: a)).map(\.action) == [.revoke, .issue])
        #expect(try issuer.events(AuditQuery(guid: b)).map(\.action) == [.edit, .revoke, .issue])
        #expect(try issuer.events(AuditQuery(guid: TokenMinter.newTokenID())).isEmpty)
        #expect(try issuer.events(AuditQuery(actor: "bob")).map(\.action) == [.export, .issue])
        #expect(try issuer.events(AuditQuery(actor: "nobody")).isEmpty)
        #expect(try issuer.events(AuditQuery(action: .issue)).map(\.guids) == [[b], [a]])
        #expect(try issuer.events(AuditQuery(since: t0 + 20)).map(\.action) == [.export, .edit, .revoke])
        #expect(try issuer.events(AuditQuery(since: t0 + 41)).isEmpty)
        #expect(try issuer.events(AuditQuery(limit: 2)).map(\.action) == [.export, .edit])
        #expect(try issuer.events(AuditQuery(limit: 2, offset: 2)).map(\.action) == [.revoke, .issue])
        #expect(try issuer.events(AuditQuery(actor: "alice", action: .issue)).map(\.guids) == [[a]])
        let revoke = try #require(try issuer.events(AuditQuery(action: .revoke)).first)
        #expect(Set(revoke.guids) == [a, b])
        #expect(revoke.guids.count == 2)
    }
}
