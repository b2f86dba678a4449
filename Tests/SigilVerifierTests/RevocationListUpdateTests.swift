import SigilIssuer
import SigilVerifier
import Testing

/// The checks `sigil revocations pull` and SigilHummingbird's follower share.
@Suite("Revocation list update")
struct RevocationListUpdateTests {
    static func keys() throws -> [RevocationKey] { [try TestKeys.revocationKey()] }

    static func list(_ sequence: UInt64, _ entries: [(TokenID, RevocationStatus)] = []) throws -> RevocationList {
        try RevocationList(verifying: try buildList(entries, sequence: sequence), keys: try keys())
    }

    @Test("Nothing held: any verified list is installed")
    func nothingHeld() throws {
        let decision = RevocationListUpdate.decide(try Self.list(1), over: .none)
        #expect(decision == .install)
        #expect(decision.installs)
        #expect(decision.refusal == nil)
    }

    @Test("A higher sequence replaces a verified list")
    func newer() throws {
        #expect(RevocationListUpdate.decide(try Self.list(6), over: .verified(try Self.list(5))) == .install)
    }

    @Test("A lower sequence than a verified list is a rollback, even with force")
    func rollback() throws {
        for force in [false, true] {
            let decision = RevocationListUpdate.decide(
                try Self.list(4), over: .verified(try Self.list(5)), force: force)
            #expect(decision == .refuseRollback(held: 5))
            #expect(!decision.installs)
            #expect(decision.refusal?.reason == .rollback)
        }
    }

    @Test("The same sequence with other bytes is equivocation; the same bytes are unchanged")
    func equivocation() throws {
        let held = try Self.list(5, [(TestKeys.id1, .revoked)])
        let other = RevocationListUpdate.decide(try Self.list(5), over: .verified(held), force: true)
        #expect(other == .refuseEquivocation)
        #expect(other.refusal?.reason == .equivocation)
        let same = RevocationListUpdate.decide(try Self.list(5, [(TestKeys.id1, .revoked)]), over: .verified(held))
        #expect(same == .unchanged)
        #expect(!same.installs)
        #expect(same.refusal == nil)
    }

    @Test("A held list signed by another key still protects its sequence, unless forced")
    func unverifiedHeld() throws {
        let foreign = try buildList([], sequence: 9, seed: TestKeys.strangerRevocationSeed)
        let held = RevocationListUpdate.Held(bytes: foreign, keys: try Self.keys())
        guard case .unverified(let sequence, let why) = held else {
            Issue.record("expected .unverified, got \(held)")
            return
        }
        #expect(sequence == 9)
        #expect(why.hasPrefix("bad_signature"))
        #expect(
            RevocationListUpdate.decide(try Self.list(8), over: held) == .refuseUnverifiedRollback(held: 9, why: why))
        #expect(RevocationListUpdate.decide(try Self.list(8), over: held).refusal?.reason == .rollback)
        #expect(RevocationListUpdate.decide(try Self.list(8), over: held, force: true) == .replaceUnverified(why: why))
        #expect(RevocationListUpdate.decide(try Self.list(9), over: held) == .replaceUnverified(why: why))
    }

    @Test("A held list damaged past its header keeps the header's sequence")
    func truncatedHeld() throws {
        let bytes = Array(try buildList([(TestKeys.id1, .revoked)], sequence: 12).dropLast(10))
        guard case .unverified(let sequence, _) = RevocationListUpdate.Held(bytes: bytes, keys: try Self.keys()) else {
            Issue.record("expected .unverified")
            return
        }
        #expect(sequence == 12)
    }

    @Test("Held bytes without a readable header refuse everything unless forced")
    func unknownHeld() throws {
        let held = RevocationListUpdate.Held(bytes: Array("not a list".utf8), keys: try Self.keys())
        guard case .unknown(let why) = held else {
            Issue.record("expected .unknown, got \(held)")
            return
        }
        #expect(why.hasPrefix("its header does not parse"))
        #expect(RevocationListUpdate.decide(try Self.list(1), over: held) == .refuseUnknown(why: why))
        #expect(RevocationListUpdate.decide(try Self.list(1), over: held, force: true) == .replaceForced(why: why))
    }

    @Test("A held list that verifies is classified as verified")
    func verifiedHeld() throws {
        let bytes = try buildList([(TestKeys.id2, .deactivated)], sequence: 3)
        guard case .verified(let list) = RevocationListUpdate.Held(bytes: bytes, keys: try Self.keys()) else {
            Issue.record("expected .verified")
            return
        }
        #expect(list.sequence == 3)
        #expect(list.status(of: TestKeys.id2) == .deactivated)
    }
}
