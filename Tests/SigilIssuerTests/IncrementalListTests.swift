import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

/// A list made from the last one plus the audit events since (``Issuer`` keeps the entries it
/// signed) must name exactly what a list read from every row names: issue #22's long polls on a
/// million entries need the fast way, and a revoked token left off would be a hole.
@Suite("Lists made from the last one", .bothStores)
struct IncrementalListTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    /// The entries a list read from every row names at `now`.
    func wholeBody(_ issuer: Issuer, now: Int64) throws -> [UInt8] {
        RevocationListBuilder.body(try issuer.store.revocationEntries(now: now, grace: Issuer.maxLeeway))
    }

    func entryBytes(_ bytes: [UInt8]) throws -> [UInt8] {
        try RevocationList.parseUnverified(bytes).withEntryBytes { Array($0) }
    }

    /// A seeded walk of issues (some short-lived, some never expiring), lifecycle changes,
    /// label edits, time passing (entries expire), changes through a second issuer on the same
    /// ledger (as the CLI beside a server), compactions, and lists signed in between: every
    /// list must equal the one read from every row.
    @Test("A seeded walk of changes: every list equals the list read from every row")
    func walk() throws {
        var rng = SeededRandom(seed: 22)
        let other = try temp.issuer()
        var now = t0
        var ids: [TokenID] = []
        var incremental = 0
        var whole = 0
        for step in 0..<160 {
            let actor = rng.next() % 4 == 0 ? other : issuer
            switch rng.next() % 10 {
            case 0, 1, 2:
                let expiry: Expiry = rng.next() % 3 == 0 ? .never : .after(Int64(rng.next() % 200_000) + 60)
                ids.append(try actor.issue(request("t\(step)", expiry: expiry), by: alice, now: now).record.id)
            case 3, 4:
                if let id = ids.randomElement(using: &rng) { _ = try? actor.change(.revoke, [id], by: alice, now: now) }
            case 5:
                if let id = ids.randomElement(using: &rng) {
                    _ = try? actor.change(.deactivate, [id], by: alice, now: now)
                }
            case 6:
                if let id = ids.randomElement(using: &rng) {
                    _ = try? actor.change(.activate, [id], by: alice, now: now)
                }
            case 7:
                if let id = ids.randomElement(using: &rng) {
                    if rng.next() % 2 == 0 {
                        _ = try? actor.change(.delete, [id], by: alice, now: now)
                    } else {
                        _ = try actor.edit(
                            id.description, name: "renamed \(step)", description: nil, by: alice, now: now)
                    }
                }
            case 8:
                now += Int64(rng.next() % UInt64(2 * day))
            default:
                if rng.next() % 4 == 0 { _ = try actor.compactLedger(by: alice, now: now) }
            }
            if step % 3 == 2 {
                let made = try #require(try issuer.publishRevocationList(maxAge: 0, by: alice, now: now))
                #expect(
                    try entryBytes(made.bytes) == (try wholeBody(issuer, now: now)),
                    "list \(made.sequence), step \(step)")
                if issuer.lastListWasIncremental { incremental += 1 } else { whole += 1 }
            }
        }
        if StoreUnderTest.current == .sqlite {
            // Most lists took the fast way; compactions and the first list did not.
            #expect(incremental > 30)
            #expect(whole >= 1)
        } else {
            // PostgreSQL commits event IDs out of order: every list is read whole.
            #expect(incremental == 0)
        }
    }

    @Test("Time going back, a compaction, or a list in an outer transaction makes the next list whole")
    func fallsBackToWhole() throws {
        guard StoreUnderTest.current == .sqlite else { return }
        let a = try issuer.issue(request("a", expiry: .after(3_600)), by: alice, now: t0).record.id
        _ = try issuer.publishRevocationList(maxAge: 0, by: alice, now: t0)
        #expect(!issuer.lastListWasIncremental)
        _ = try issuer.change(.revoke, [a], by: alice, now: t0)
        let second = try #require(try issuer.publishRevocationList(maxAge: 0, by: alice, now: t0 + 10))
        #expect(issuer.lastListWasIncremental)
        #expect(try RevocationList.parseUnverified(second.bytes).status(of: a) == .revoked)

        // A clock that went back could bring an expired entry back: read everything.
        _ = try issuer.publishRevocationList(maxAge: 0, by: alice, now: t0 + 5)
        #expect(!issuer.lastListWasIncremental)

        // `a` expired a day and an hour later: it leaves the list, the fast way.
        let later = t0 + 3_600 + day + 1
        let third = try #require(try issuer.publishRevocationList(maxAge: 0, by: alice, now: later))
        #expect(issuer.lastListWasIncremental)
        #expect(try RevocationList.parseUnverified(third.bytes).status(of: a) == nil)

        // A compaction removes rows no lookup can see.
        _ = try issuer.compactLedger(by: alice, now: later)
        _ = try issuer.publishRevocationList(maxAge: 0, by: alice, now: later)
        #expect(!issuer.lastListWasIncremental)

        // Inside a transaction of the caller's, the list may yet be rolled back: read whole, keep nothing.
        let b = try issuer.issue(request("b"), by: alice, now: later).record.id
        _ = try issuer.change(.revoke, [b], by: alice, now: later)
        try issuer.group([{ _ = try issuer.publishRevocationList(maxAge: 0, by: alice, now: later) }])
        #expect(!issuer.lastListWasIncremental)
        let fourth = try #require(try issuer.publishRevocationList(maxAge: 0, by: alice, now: later))
        #expect(issuer.lastListWasIncremental)
        #expect(try entryBytes(fourth.bytes) == (try wholeBody(issuer, now: later)))
    }

    @Test("A list rolled back is not the start of the next one")
    func rolledBackListIsForgotten() throws {
        guard StoreUnderTest.current == .sqlite else { return }
        let a = try issuer.issue(request("a"), by: alice, now: t0).record.id
        _ = try issuer.publishRevocationList(maxAge: 0, by: alice, now: t0)
        // A group whose transaction is lost after a list was signed in it: nothing of it stays.
        struct Lost: Error {}
        _ = try? issuer.transactionForTesting {
            _ = try issuer.change(.revoke, [a], by: alice, now: t0)
            _ = try issuer.publishRevocationList(maxAge: 0, by: alice, now: t0)
            throw Lost()
        }
        #expect(try issuer.stored(a)?.status == .active)
        let made = try #require(try issuer.publishRevocationList(maxAge: 0, by: alice, now: t0 + 1))
        #expect(try RevocationList.parseUnverified(made.bytes).status(of: a) == nil)
        #expect(try entryBytes(made.bytes) == (try wholeBody(issuer, now: t0 + 1)))
    }
}
