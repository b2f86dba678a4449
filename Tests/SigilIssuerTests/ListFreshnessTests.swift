import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Synchronization
import Testing

/// A monotonic clock the test moves by hand, so max-age is tested without sleeping.
final class ManualElapsed: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var read: @Sendable () -> ContinuousClock.Instant { { self.instant.withLock { $0 } } }

    func advance(seconds: Int64) { instant.withLock { $0 += .seconds(seconds) } }
}

/// Issue #20 item 1: the list in force is the one with the highest sequence, and whether it is
/// current never compares one host's clock with another's. Writers share one ledger with clocks an
/// hour apart (`now` stands in for each host's wall clock).
@Suite("Revocation lists under skewed clocks", .bothStores)
struct ListFreshnessTests {
    let temp: TempHome
    let actor: Actor
    static let skews: [Int64] = [-3_600, 0, 3_600]

    init() throws {
        temp = try TempHome()
        _ = try temp.issuer()
        actor = try Actor(name: "replica")
    }

    /// One writer per skew, each its own connection to the shared ledger and its own ``ListClock``.
    func writers() throws -> [(issuer: Issuer, now: Int64, clock: ListClock)] {
        try Self.skews.map { (try temp.issuer(.existing), t0 + $0, ListClock()) }
    }

    func verified(_ bytes: [UInt8], by issuer: Issuer) throws -> RevocationList {
        let signer = try issuer.keyring().signingKey
        return try RevocationList(
            verifying: bytes, keys: [try RevocationKey(keyID: signer.keyID, publicKey: signer.publicKey)])
    }

    @Test(
        "A list stamped an hour ahead does not hide later revokes",
        .bug(id: "20", "item 1: a revoke missing from the served list for minutes"))
    func futureListDoesNotWin() throws {
        let ahead = try temp.issuer(.existing)
        let behind = try temp.issuer(.existing)
        _ = try ahead.exportRevocationList(to: temp.root + "/ahead.sgl", by: actor, now: t0 + 3_600)
        let token = try behind.issue(request(), by: actor, now: t0)
        _ = try behind.change(.revoke, [token.record.id], by: actor, now: t0)
        let made = try #require(try behind.publishRevocationList(clock: ListClock(), by: actor, now: t0))
        let newest = try #require(try behind.latestRevocationList())
        #expect(newest.sequence == made.sequence)
        #expect(try verified(newest.bytes, by: behind).status(of: token.record.id) == .revoked)
    }

    @Test(
        "Every change is in the next published list, whichever writer's clock signs it",
        .bug(id: "20", "item 1: a revoke missing from the served list for minutes"))
    func everyChangePublished() throws {
        let writers = try writers()
        var revoked: [TokenID] = []
        var sequence = try writers[0].issuer.lastExportSequence()
        // Each writer in turn changes the ledger and publishes; then the others check the list.
        for round in 0..<3 {
            for (index, writer) in writers.enumerated() {
                let token = try writer.issuer.issue(request("t\(round)-\(index)"), by: actor, now: writer.now)
                _ = try writer.issuer.change(.revoke, [token.record.id], by: actor, now: writer.now)
                revoked.append(token.record.id)
                let made = try #require(
                    try writer.issuer.publishRevocationList(clock: writer.clock, by: actor, now: writer.now))
                #expect(made.sequence == sequence + 1)
                sequence = made.sequence
                for reader in writers {
                    let newest = try #require(try reader.issuer.latestRevocationList())
                    #expect(newest.sequence == sequence)
                    let list = try verified(newest.bytes, by: reader.issuer)
                    #expect(revoked.allSatisfy { list.status(of: $0) == .revoked })
                }
            }
        }
    }

    @Test(
        "Replicas an hour apart do not re-sign each other's lists",
        .bug(id: "20", "item 1: three servers re-published each other's lists in a loop"))
    func noResignStorm() throws {
        let writers = try writers()
        // The writer behind signs first, so both others see a list from their past or future.
        _ = try #require(
            try writers[0].issuer.publishRevocationList(clock: writers[0].clock, by: actor, now: t0 - 3_600))
        var signed: [Int] = []
        for round in 0..<5 {
            for (index, writer) in writers.enumerated() {
                if try writer.issuer.publishRevocationList(clock: writer.clock, by: actor, now: writer.now) != nil {
                    signed.append(round * 10 + index)
                }
            }
        }
        // The first time a process looks, the list's own age counts (a server starting after a
        // downtime): each host that finds a list an hour old by its clock signs once. After that
        // ages run on each process's own clock, and nobody signs until the ledger changes.
        #expect(signed == [1, 2])
    }

    @Test("A list is signed again once it has been the newest for max-age on this process's clock")
    func maxAgeOnMonotonicClock() throws {
        let issuer = try temp.issuer(.existing)
        let elapsed = ManualElapsed()
        let clock = ListClock(elapsed: elapsed.read)
        // Stamped a year ahead by a host with a broken clock: it must not delay max-age forever.
        _ = try issuer.exportRevocationList(to: temp.root + "/future.sgl", by: actor, now: t0 + 365 * day)
        #expect(try issuer.publishRevocationList(maxAge: 3_600, clock: clock, by: actor, now: t0) == nil)
        elapsed.advance(seconds: 3_599)
        #expect(try issuer.publishRevocationList(maxAge: 3_600, clock: clock, by: actor, now: t0 + 3_599) == nil)
        elapsed.advance(seconds: 1)
        let made = try #require(
            try issuer.publishRevocationList(maxAge: 3_600, clock: clock, by: actor, now: t0 + 3_600))
        // Its own list is new: nothing more until another hour has passed here.
        #expect(try issuer.publishRevocationList(maxAge: 3_600, clock: clock, by: actor, now: t0 + 3_601) == nil)
        elapsed.advance(seconds: 3_600)
        let next = try #require(
            try issuer.publishRevocationList(maxAge: 3_600, clock: clock, by: actor, now: t0 + 7_200))
        #expect(next.sequence == made.sequence + 1)
    }

    @Test("A process's first list that is already older than max-age is signed again at once")
    func oldListAfterDowntime() throws {
        let issuer = try temp.issuer(.existing)
        _ = try issuer.exportRevocationList(to: temp.root + "/old.sgl", by: actor, now: t0 - 2 * day)
        #expect(try issuer.publishRevocationList(clock: ListClock(), by: actor, now: t0) != nil)
    }

    @Test("The newest list is the highest sequence, compared as unsigned above 2^63")
    func unsignedOrder() throws {
        let issuer = try temp.issuer(.existing)
        _ = try issuer.exportRevocationList(to: temp.root + "/low.sgl", by: actor, now: t0)
        try writeFile(Array("\(UInt64(1) << 63)\n".utf8), to: temp.path("revocations.seq"))
        let high = try issuer.exportRevocationList(to: temp.root + "/high.sgl", by: actor, now: t0 - day)
        #expect(high.list.sequence == UInt64(1) << 63 + 1)
        #expect(try issuer.latestRevocationList()?.sequence == high.list.sequence)
    }

    @Test("Pruning keeps the four highest sequences, whatever their issue times")
    func pruneBySequence() throws {
        let issuer = try temp.issuer(.existing)
        var made: [UInt64] = []
        for i in 0..<6 {
            // Each list stamped an hour earlier than the one before.
            made.append(
                try issuer.exportRevocationList(to: temp.root + "/l.sgl", by: actor, now: t0 - Int64(i) * 3_600).list
                    .sequence)
        }
        let kept = try issuer.store.snapshot().lists.map(\.sequence).sorted()
        #expect(kept == Array(made.suffix(4)))
    }

    @Test(
        "An exhausted sequence is refused with a clear error and nothing is signed",
        .bug(id: "20", "item 12: sequence exhaustion"))
    func sequenceExhausted() throws {
        let issuer = try temp.issuer(.existing)
        try writeFile(Array("\(UInt64.max - 1)\n".utf8), to: temp.path("revocations.seq"))
        let last = try issuer.exportRevocationList(to: temp.root + "/last.sgl", by: actor, now: t0)
        #expect(last.list.sequence == UInt64.max)
        let events = try issuer.events(.export).count
        let token = try issuer.issue(request(), by: actor, now: t0)
        _ = try issuer.change(.revoke, [token.record.id], by: actor, now: t0)
        for attempt in [
            { _ = try issuer.exportRevocationList(to: self.temp.root + "/next.sgl", by: self.actor, now: t0) },
            { _ = try issuer.publishRevocationList(clock: ListClock(), by: self.actor, now: t0) },
        ] {
            let error = try #require(throws: IssuerError.self) { try attempt() }
            #expect(error.reason == .conflict)
            #expect(error.detail == .sequenceExhausted(last: UInt64.max))
            #expect(error.message.contains("exhausted"))
        }
        #expect(try issuer.events(.export).count == events)
        #expect(try issuer.latestRevocationList()?.sequence == UInt64.max)
        #expect(!FileManager.default.fileExists(atPath: temp.root + "/next.sgl"))
    }
}
