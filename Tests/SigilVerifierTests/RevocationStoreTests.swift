import SigilIssuer
import SigilVerifier
import Synchronization
import Testing

@Suite("Revocation store")
struct RevocationStoreTests {
    static func store(
        stalePolicy: RevocationStore.StalePolicy = .keepServing, maxBytes: Int = RevocationList.defaultMaxBytes,
        log: EventLog
    ) throws -> RevocationStore {
        RevocationStore(
            keys: [try TestKeys.revocationKey()], stalePolicy: stalePolicy, maxBytes: maxBytes, onEvent: log.handler)
    }

    @Test("A newer list replaces the old one and the verifier follows it")
    func newerList() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        let verifier = try TestKeys.verifier(revocations: store)
        let token = try TestKeys.mint(try TestKeys.claims(id: TestKeys.id1))
        #expect(throws: Never.self) { try verifier.verify(token, at: TestKeys.now) }

        try store.load(bytes: try buildList([(TestKeys.id1, .deactivated)], sequence: 1))
        var error = #expect(throws: VerificationError.self) { try verifier.verify(token, at: TestKeys.now) }
        #expect(error?.reason == .deactivated)

        try store.load(bytes: try buildList([(TestKeys.id1, .revoked)], sequence: 2))
        error = #expect(throws: VerificationError.self) { try verifier.verify(token, at: TestKeys.now) }
        #expect(error?.reason == .revoked)
        #expect(store.status(of: TestKeys.id1) == .revoked)

        try store.load(bytes: try buildList([(TestKeys.id2, .revoked)], sequence: 3))
        #expect(throws: Never.self) { try verifier.verify(token, at: TestKeys.now) }
        #expect(store.list.sequence == 3)
        #expect(log.all == ["loaded(1,1)", "loaded(2,1)", "loaded(3,1)"])
    }

    @Test("A lower sequence is refused as a rollback and the old list stays")
    func rollback() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        try store.load(bytes: try buildList([(TestKeys.id1, .revoked)], sequence: 5))
        let error = #expect(throws: RevocationListError.self) {
            try store.load(bytes: try buildList([], sequence: 4))
        }
        #expect(error?.reason == .rollback)
        #expect(store.list.sequence == 5)
        #expect(store.status(of: TestKeys.id1) == .revoked)
        #expect(log.all == ["loaded(5,1)", "refused(rollback)"])
    }

    @Test("The same sequence with other bytes is refused as equivocation and the old list stays")
    func equivocation() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        let original = try buildList([(TestKeys.id1, .revoked)], sequence: 5)
        try store.load(bytes: original)
        let error = #expect(throws: RevocationListError.self) {
            try store.load(bytes: try buildList([], sequence: 5))
        }
        #expect(error?.reason == .equivocation)
        #expect(Array(store.list.bytes) == original)
        #expect(store.status(of: TestKeys.id1) == .revoked)
        #expect(log.all == ["loaded(5,1)", "refused(equivocation)"])
    }

    @Test("The same bytes again are reported as unchanged, not refused")
    func unchanged() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        let bytes = try buildList([(TestKeys.id1, .revoked)], sequence: 5)
        try store.load(bytes: bytes)
        let again = try store.load(bytes: bytes)
        #expect(again.sequence == 5)
        #expect(log.all == ["loaded(5,1)", "unchanged(5)"])
    }

    @Test("A forged or malformed list is refused, reported and the old list stays")
    func forged() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        try store.load(bytes: try buildList([(TestKeys.id1, .revoked)], sequence: 1))
        var forged = try buildList([], sequence: 2)
        forged[forged.count - 1] ^= 0x80
        #expect(throws: RevocationListError.self) { try store.load(bytes: forged) }
        #expect(throws: RevocationListError.self) { try store.load(bytes: [1, 2, 3]) }
        let stranger = try buildList([], sequence: 3, keyID: "r3", seed: TestKeys.strangerRevocationSeed)
        #expect(throws: RevocationListError.self) { try store.load(bytes: stranger) }
        #expect(store.list.sequence == 1)
        #expect(store.status(of: TestKeys.id1) == .revoked)
        #expect(log.all == ["loaded(1,1)", "refused(bad_signature)", "refused(malformed)", "refused(unknown_key)"])
    }

    @Test("A list larger than the store's limit is too_large")
    func tooLarge() throws {
        let log = EventLog()
        let bytes = try buildList([(TestKeys.id1, .revoked)])
        let store = try Self.store(maxBytes: bytes.count - 1, log: log)
        let error = #expect(throws: RevocationListError.self) { try store.load(bytes: bytes) }
        #expect(error?.reason == .tooLarge)
        #expect(log.all == ["refused(too_large)"])
    }

    @Test("A missing file is an io refusal")
    func missingFile() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        let error = #expect(throws: RevocationListError.self) {
            try store.load(path: "/nonexistent/sigil-test-only/revocations.sgl")
        }
        #expect(error?.reason == .io)
        #expect(log.all == ["refused(io)"])
    }

    @Test("keepServing: a stale list still answers and staleness is reported once per list")
    func keepServing() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        try store.load(bytes: try buildList([(TestKeys.id1, .revoked)], sequence: 1, nextUpdate: 1_000))
        #expect(store.check(TestKeys.id1, at: 999) == .revoked)
        #expect(store.check(TestKeys.id2, at: 999) == .clear)
        #expect(log.all == ["loaded(1,1)"])
        #expect(store.check(TestKeys.id1, at: 1_000) == .revoked)
        #expect(store.check(TestKeys.id2, at: 5_000) == .clear)
        #expect(store.check(TestKeys.id2, at: 9_000) == .clear)
        #expect(log.all == ["loaded(1,1)", "stale(1,1000)"])

        // A new list resets the report; it is stale again later, and said so once more.
        try store.load(bytes: try buildList([], sequence: 2, nextUpdate: 2_000))
        #expect(store.check(TestKeys.id1, at: 1_500) == .clear)
        #expect(store.check(TestKeys.id1, at: 2_000) == .clear)
        #expect(store.check(TestKeys.id1, at: 2_001) == .clear)
        #expect(log.all == ["loaded(1,1)", "stale(1,1000)", "loaded(2,0)", "stale(2,2000)"])
    }

    @Test("failClosed: from next_update on, every token is revocations_stale until a fresher list")
    func failClosed() throws {
        let log = EventLog()
        let store = try Self.store(stalePolicy: .failClosed, log: log)
        let verifier = try TestKeys.verifier(revocations: store)
        let token = try TestKeys.mint(try TestKeys.claims(validFrom: 0, validTo: nil))
        try store.load(bytes: try buildList([(TestKeys.id2, .revoked)], sequence: 1, nextUpdate: TestKeys.now))
        #expect(throws: Never.self) { try verifier.verify(token, at: TestKeys.now - 1) }
        let error = #expect(throws: VerificationError.self) { try verifier.verify(token, at: TestKeys.now) }
        #expect(error?.reason == .revocationsStale)
        #expect(store.check(TestKeys.id2, at: TestKeys.now) == .stale)

        try store.load(bytes: try buildList([(TestKeys.id2, .revoked)], sequence: 2, nextUpdate: nil))
        #expect(throws: Never.self) { try verifier.verify(token, at: .max) }
    }

    @Test("A list at sequence 0 replaces the unsigned empty starting list")
    func sequenceZero() throws {
        let log = EventLog()
        let store = try Self.store(log: log)
        #expect(store.list.sequence == 0)
        #expect(!store.list.isVerified)
        try store.load(bytes: try buildList([(TestKeys.id1, .revoked)], sequence: 0))
        #expect(store.status(of: TestKeys.id1) == .revoked)
        #expect(log.all == ["loaded(0,1)"])
    }

    /// Readers verify while one task installs 1,000 lists. Lists alternate: even sequences
    /// revoke token A, odd ones token B. Each verify must give one of the two consistent
    /// answers (valid or revoked), and every list a reader sees must revoke exactly one of them.
    ///
    /// Meant to be run under `swift test --sanitize=thread` too: the store's reader slots use
    /// pthread mutexes, which TSan sees (it cannot see `Synchronization.Mutex` on Linux), so a
    /// report from this test is a real race.
    @Test("Verifies stay consistent while another task reloads 1,000 times")
    func verifyWhileReloading() async throws {
        let a = TestKeys.id1
        let b = TestKeys.id2
        let lists = try (1...1_000).map { n in
            try buildList([(n % 2 == 0 ? a : b, .revoked)], sequence: UInt64(n))
        }
        let log = EventLog()
        let store = try Self.store(log: log)
        let verifier = try TestKeys.verifier(revocations: store)
        let tokenA = try TestKeys.mint(try TestKeys.claims(id: a))
        let tokenB = try TestKeys.mint(try TestKeys.claims(id: b))

        let readers = 6
        let results = try await withThrowingTaskGroup(of: [String: Int].self) { group in
            group.addTask {
                for bytes in lists {
                    try store.load(bytes: bytes)
                    await Task.yield()
                }
                return ["loads": lists.count]
            }
            for _ in 0..<readers {
                group.addTask {
                    var tally: [String: Int] = [:]
                    for i in 0..<1_500 {
                        let token = i % 2 == 0 ? tokenA : tokenB
                        let result = Result { () throws(VerificationError) in
                            try verifier.verify(token, at: TestKeys.now)
                        }
                        switch result {
                        case .success: tally["valid", default: 0] += 1
                        case .failure(let error):
                            tally[error.reason == .revoked ? "revoked" : "wrong: \(error.reason)", default: 0] += 1
                        }
                        let list = store.list
                        let revokedCount = [a, b].filter { list.status(of: $0) == .revoked }.count
                        if list.sequence > 0, revokedCount != 1 { tally["torn list", default: 0] += 1 }
                        if i % 16 == 0 { await Task.yield() }
                    }
                    return tally
                }
            }
            var total: [String: Int] = [:]
            for try await tally in group { total.merge(tally, uniquingKeysWith: +) }
            return total
        }
        #expect(results["loads"] == 1_000)
        #expect(results.keys.allSatisfy { ["loads", "valid", "revoked"].contains($0) }, "\(results)")
        #expect((results["valid"] ?? 0) + (results["revoked"] ?? 0) == readers * 1_500)
        #expect(store.list.sequence == 1_000)
        #expect(store.status(of: a) == .revoked)
        #expect(store.status(of: b) == nil)
        #expect(log.all.count == 1_000)
    }
}
