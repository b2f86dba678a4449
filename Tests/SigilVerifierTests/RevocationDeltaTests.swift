import SigilIssuer
import SigilVerifier
import Synchronization
import Testing

/// Revocation deltas (docs/FORMAT.md §4.3) beyond the shared vectors: a random walk of lists
/// where every delta the server's history makes rebuilds the newest list exactly, and the
/// history's bounds.
@Suite("Revocation deltas")
struct RevocationDeltaTests {
    static var keys: [RevocationKey] {
        get throws { [try TestKeys.revocationKey()] }
    }

    /// Deterministic pseudo-random numbers (SplitMix64), so a failure reproduces.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    static func list(_ entries: [TokenID: RevocationStatus], sequence: UInt64) throws -> RevocationList {
        try RevocationList(
            verifying: try buildList(
                entries.map { ($0.key, $0.value) }, sequence: sequence, issuedAt: TestKeys.now + Int64(sequence),
                nextUpdate: TestKeys.now + 3_600 + Int64(sequence)),
            keys: try keys)
    }

    @Test("Every delta the history makes, from every base it holds, rebuilds the newest list byte for byte")
    func randomWalk() throws {
        var random = Random(state: 22)
        let pool = (0..<40).map { _ in TokenID(rawValue: UInt128(random.next()) << 64 | UInt128(random.next())) }
        var entries: [TokenID: RevocationStatus] = [:]
        var lists: [RevocationList] = [try Self.list(entries, sequence: 1)]
        let history = RevocationHistory()
        history.record(lists[0])
        for step in 0..<30 {
            // One to four changes per list, sometimes none (a list re-signed on schedule).
            for _ in 0..<(step % 7 == 0 ? 0 : Int.random(in: 1...4, using: &random)) {
                let id = pool.randomElement(using: &random)!
                switch Int.random(in: 0..<3, using: &random) {
                case 0: entries[id] = nil
                case 1: entries[id] = .deactivated
                default: entries[id] = .revoked
                }
            }
            // Sequences may skip (lists this server never saw).
            let sequence = lists.last!.sequence + UInt64(Int.random(in: 1...3, using: &random))
            lists.append(try Self.list(entries, sequence: sequence))
            history.record(lists.last!)
        }
        let newest = try #require(history.newest)
        #expect(newest.sequence == lists.last!.sequence)
        #expect(history.bases == lists.dropLast().map(\.sequence))
        for base in lists.dropLast() {
            let expected = RevocationDeltaBuilder.differences(from: base, to: newest)
            guard let delta = history.delta(since: base.sequence) else {
                // Only when a delta would be no smaller than the whole list.
                #expect(
                    RevocationDeltaBuilder.build(from: base, to: newest).count >= newest.bytes.count,
                    "base \(base.sequence)")
                continue
            }
            let parsed = try RevocationDelta(parsing: delta)
            #expect(parsed.changes.map(\.id) == expected.map(\.id), "only what changed, base \(base.sequence)")
            #expect(delta == RevocationDeltaBuilder.build(from: base, to: newest), "history = direct diff")
            let store = RevocationStore(keys: try Self.keys, initial: base)
            let made = try store.load(bytes: delta)
            #expect(made.hasSameBytes(as: newest), "base \(base.sequence)")
            #expect(history.delta(since: base.sequence) == delta, "made once, then shared")
        }
        #expect(history.delta(since: newest.sequence) == nil, "no delta from the newest to itself")
        #expect(history.delta(since: newest.sequence + 1) == nil)
        #expect(history.delta(since: 0) == nil, "a base never seen")
    }

    @Test("A GUID revoked and reactivated in between is no change; an older list recorded late is ignored")
    func composition() throws {
        let a = TestKeys.id1, b = TestKeys.id2
        let history = RevocationHistory()
        // Other entries, so a delta of a change or two is smaller than the list.
        var others = Dictionary(
            uniqueKeysWithValues: (1...5).map { (TokenID(rawValue: UInt128($0)), RevocationStatus.revoked) })
        others[a] = .revoked
        let l1 = try Self.list(others, sequence: 1)
        let l2 = try Self.list(others.merging([b: .deactivated]) { $1 }, sequence: 2)
        let l3 = try Self.list(others.merging([b: .revoked]) { $1 }, sequence: 3)
        let l4 = try Self.list(others, sequence: 4)
        for list in [l1, l2, l3, l4] { history.record(list) }
        history.record(l2)
        #expect(history.newest?.sequence == 4)
        let delta = try RevocationDelta(parsing: try #require(history.delta(since: 1)))
        #expect(delta.changes.isEmpty && delta.baseSequence == 1 && delta.sequence == 4)
        let fromTwo = try RevocationDelta(parsing: try #require(history.delta(since: 2)))
        #expect(fromTwo.changes == [RevocationDelta.Change(id: b, status: nil)])
    }

    @Test("The history keeps 64 lists or a day's, and drops the oldest past its change budget")
    func bounds() throws {
        let start = ContinuousClock.now
        let history = RevocationHistory()
        var entries: [TokenID: RevocationStatus] = [:]
        for sequence in 1...70 as ClosedRange<UInt64> {
            entries[TokenID(rawValue: UInt128(sequence))] = .revoked
            history.record(try Self.list(entries, sequence: sequence), now: start)
        }
        #expect(history.bases.count == 69, "all younger than a day: every one kept")
        entries[TokenID(rawValue: 1000)] = .revoked
        history.record(try Self.list(entries, sequence: 71), now: start + .seconds(86_401))
        #expect(history.bases.count == RevocationHistory.minimumLists, "older than a day: down to 64")
        #expect(history.bases.first == 71 - 64)
        #expect(history.delta(since: 2) == nil, "dropped: the full list")

        let small = RevocationHistory(maxChanges: 5)
        var few: [TokenID: RevocationStatus] = [:]
        for sequence in 1...8 as ClosedRange<UInt64> {
            few[TokenID(rawValue: UInt128(sequence))] = .deactivated
            small.record(try Self.list(few, sequence: sequence))
        }
        #expect(small.bases == [3, 4, 5, 6, 7], "five changes held")
    }

    @Test("A delta cut short after its magic says so, not that the magic is missing")
    func shortDeltaSaysWhy() {
        let error = #expect(throws: RevocationListError.self) { try RevocationDelta(parsing: Array("SGLD".utf8) + [1]) }
        #expect(error?.reason == .malformed && error?.detail == "a delta cut short after 5 bytes")
        let other = #expect(throws: RevocationListError.self) {
            try RevocationDelta(parsing: Array("SGLX".utf8) + [1, 2])
        }
        #expect(other?.detail == "missing the SGLD magic")
    }

    @Test("A delta bigger than the whole list is not offered")
    func deltaNotLargerThanList() throws {
        let many = Dictionary(
            uniqueKeysWithValues: (1...20).map { (TokenID(rawValue: UInt128($0)), RevocationStatus.revoked) })
        let history = RevocationHistory()
        history.record(try Self.list(many, sequence: 1))
        history.record(try Self.list([:], sequence: 2))
        #expect(history.delta(since: 1) == nil)
    }

    @Test("A store refuses a delta for another list, says why, and keeps its list")
    func storeRefusesMismatch() throws {
        let events = Mutex<[String]>([])
        let store = RevocationStore(keys: try Self.keys) { event in
            if case .refused(let error) = event { events.withLock { $0.append(error.reason.rawValue) } }
        }
        let l1 = try Self.list([TestKeys.id1: .revoked], sequence: 1)
        let l2 = try Self.list([TestKeys.id1: .revoked, TestKeys.id2: .revoked], sequence: 2)
        let l3 = try Self.list([TestKeys.id2: .revoked], sequence: 3)
        let delta = RevocationDeltaBuilder.build(from: l2, to: l3)
        #expect(throws: RevocationListError(.deltaBaseMismatch, "the delta applies to list 2, and no list is in force"))
        {
            try store.load(bytes: delta)
        }
        try store.load(bytes: Array(l1.bytes))
        let error = #expect(throws: RevocationListError.self) { try store.load(bytes: delta) }
        #expect(error?.reason == .deltaBaseMismatch)
        #expect(error?.detail == "the delta applies to list 2, the list in force is 1")
        #expect(store.list.sequence == 1)
        #expect(events.withLock { $0 } == ["delta_base_mismatch", "delta_base_mismatch"])
        try store.load(bytes: RevocationDeltaBuilder.build(from: l1, to: l2))
        try store.load(bytes: delta)
        #expect(store.list.hasSameBytes(as: l3))
        #expect(store.status(of: TestKeys.id1) == nil && store.status(of: TestKeys.id2) == .revoked)
    }
}
