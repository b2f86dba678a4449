import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// The revocation-list signing key rotates like token keys (issue: hardening round 2, item 10).
@Suite("Revocation-list key rotation", .bothStores)
struct RevocationKeyRotationTests {
    static let now: Int64 = 1_800_000_000

    /// A fresh home with a development keyring, removed when `body` returns.
    func withHome(_ body: (Issuer, Actor) throws -> Void) throws {
        let temp = try TempHome()
        let issuer = try temp.issuer(.createIfMissing, busyTimeout: 1)
        try withExtendedLifetime(temp) { try body(issuer, try Actor(name: "tester")) }
    }

    @Test("a pending key is in keysets but does not sign; promoted, it signs and the old one still verifies")
    func addPromoteRetire() throws {
        try withHome { issuer, actor in
            let first = try issuer.keyring().signingKey.keyID
            let before = try issuer.keyset(audience: "billing")
            let pending = try issuer.addKey(revocation: true, by: actor, now: Self.now)
            #expect(try issuer.keyring().signingKey.keyID == first, "adding does not change the signer")
            let during = try issuer.keyset(audience: "billing")
            #expect(Set(during.revocationKeys.map(\.keyID)) == [first, pending])

            let old = try issuer.exportRevocationList(to: issuer.home + "/a.sgl", by: actor, now: Self.now)
            #expect(old.list.keyID == first)

            #expect(try issuer.promoteKey(pending, by: actor, now: Self.now) == first)
            #expect(try issuer.promoteKey(pending, by: actor, now: Self.now) == nil, "already signing")
            let new = try issuer.exportRevocationList(to: issuer.home + "/b.sgl", by: actor, now: Self.now + 1)
            #expect(new.list.keyID == pending)
            let bytes = try FileBytes.read(path: issuer.home + "/b.sgl", maxBytes: 1 << 20)
            // Services that loaded the keyset during the change accept the new signer's lists…
            #expect(throws: Never.self) { try RevocationList(verifying: bytes, keys: during.revocationKeys) }
            // …and services still on the old keyset do not: that is why add comes before promote.
            let refused = #expect(throws: RevocationListError.self) {
                try RevocationList(verifying: bytes, keys: before.revocationKeys)
            }
            #expect(refused?.reason == .unknownKey)

            let active = #expect(throws: IssuerError.self) { try issuer.retireKey(pending, by: actor, now: Self.now) }
            #expect(active?.detail == .keyIsActive(pending))
            try issuer.retireKey(first, by: actor, now: Self.now)
            #expect(try issuer.keyset(audience: "billing").revocationKeys.map(\.keyID) == [pending])
            let retired = #expect(throws: IssuerError.self) { try issuer.promoteKey(first, by: actor, now: Self.now) }
            #expect(retired?.detail == .keyRetired(first))
            let events = try issuer.events(AuditQuery(action: .keys))
            #expect(events.count >= 4, "add, promote, retire and the creation are audited")
        }
    }

    @Test("rotate --revocation makes a new signer at once, the token key unchanged")
    func rotate() throws {
        try withHome { issuer, actor in
            let tokenKey = try issuer.keyring().activeKey.keyID
            let (new, previous) = try issuer.rotateKey(revocation: true, by: actor, now: Self.now)
            #expect(new != previous)
            let ring = try issuer.keyring()
            #expect(ring.signingKey.keyID == new)
            #expect(ring.activeKey.keyID == tokenKey)
            #expect(ring.revocationKeys.first { $0.keyID == previous }?.state == .verifying)
        }
    }

    @Test("a v0.1 keyring without key states reads as: the newest revocation key signs")
    func legacyKeyring() throws {
        try withHome { issuer, actor in
            _ = try issuer.addKey(revocation: true, by: actor, now: Self.now)
            let path = Keyring.path(home: issuer.home)
            let text = String(decoding: try FileBytes.read(path: path, maxBytes: 1 << 20), as: UTF8.self)
            // Drop every revocation key's state, whatever the encoder's key order.
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            var stripped = object
            stripped["revocation_keys"] = (object["revocation_keys"] as? [[String: Any]])?.map { key in
                var key = key
                key["state"] = nil
                return key
            }
            let data = try JSONSerialization.data(withJSONObject: stripped, options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: path))
            chmod(path, 0o600)
            let ring = try Keyring.load(home: issuer.home)
            #expect(ring.signingKey.keyID == ring.revocationKeys.last?.keyID)
            #expect(ring.revocationKeys.dropLast().allSatisfy { $0.state == .verifying })
        }
    }
}
