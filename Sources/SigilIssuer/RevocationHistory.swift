public import SigilVerifier
import Synchronization

/// The recent revocation lists a server has published, kept as the changes between them, so it
/// can answer `GET /v1/revocations?since=SEQ` with a delta (docs/FORMAT.md §4.3) instead of the
/// whole list.
///
/// Only the newest list is held whole; each older one is the set of GUIDs that changed after it
/// (with their status before the change). The delta from list `S` to the newest list is then the
/// GUIDs touched since `S`, each with its status in the newest list, leaving out those back where
/// they started. Steps are kept while fewer than ``minimumLists`` are held or they are younger
/// than ``minimumAge``, and dropped (oldest first) when their changes exceed ``maxChanges``: a
/// follower further behind gets the full list, which is always correct.
///
/// Deltas are built once per base and newest list, then shared by every request that asks.
///
/// ```swift
/// let history = RevocationHistory()
/// history.record(try RevocationList(verifying: newest, keys: keyset.revocationKeys))
/// if let delta = history.delta(since: 41) { print("\(delta.count) bytes") }
/// ```
public final class RevocationHistory: Sendable {
    /// Lists kept at least (issue #22: "the last 64 lists or one day").
    public static let minimumLists = 64
    /// How long a list stays a valid base at least.
    public static let minimumAge: Duration = .seconds(86_400)
    /// The most changes held over all steps (about 24 bytes each): the memory bound.
    public static let maxChanges = 1 << 20

    private struct Step {
        var from: UInt64
        var recorded: ContinuousClock.Instant
        /// The GUIDs that changed after list `from`, with their status in list `from`.
        var before: [(id: TokenID, status: RevocationStatus?)]
    }

    private struct State {
        var newest: RevocationList?
        var steps: [Step] = []
        var changes = 0
        /// Deltas to `newest`, by base sequence; emptied when a newer list is recorded.
        var deltas: [UInt64: [UInt8]] = [:]
    }

    private let state = Mutex(State())
    private let maxChanges: Int

    /// - Parameter maxChanges: The memory bound (tests lower it).
    public init(maxChanges: Int = RevocationHistory.maxChanges) {
        self.maxChanges = maxChanges
    }

    /// The newest list recorded.
    public var newest: RevocationList? { state.withLock { $0.newest } }

    /// The sequences a delta can start from, oldest first.
    public var bases: [UInt64] { state.withLock { $0.steps.map(\.from) } }

    /// Records `list` as the newest; an older or equal sequence changes nothing.
    ///
    /// - Parameters:
    ///   - list: The newest list (this server's own, parsed).
    ///   - now: When it was recorded, on the monotonic clock (tests pass their own).
    public func record(_ list: RevocationList, now: ContinuousClock.Instant = .now) {
        // The merge walk over two large lists happens outside the lock.
        guard let previous = newest else {
            state.withLock { s in if s.newest == nil { s.newest = list } }
            return
        }
        guard list.sequence > previous.sequence else { return }
        let before = RevocationDeltaBuilder.differences(from: previous, to: list).map { (id: $0.id, status: $0.old) }
        state.withLock { s in
            // Another record may have run meanwhile: only a step from the list it saw is true.
            guard s.newest?.sequence == previous.sequence else { return }
            s.steps.append(Step(from: previous.sequence, recorded: now, before: before))
            s.changes += before.count
            s.newest = list
            s.deltas = [:]
            while let oldest = s.steps.first,
                s.changes > maxChanges
                    || (s.steps.count > Self.minimumLists && now - oldest.recorded > Self.minimumAge)
            {
                s.changes -= oldest.before.count
                s.steps.removeFirst()
            }
        }
    }

    /// The delta from list `since` to the newest list, or nil when `since` is not held (too old,
    /// never seen, the newest itself), the newest list is not `target` (when given), or the
    /// delta would not be smaller than the full list.
    public func delta(since: UInt64, to target: UInt64? = nil) -> [UInt8]? {
        state.withLock { s -> [UInt8]? in
            guard let newest = s.newest, since < newest.sequence, target.map({ $0 == newest.sequence }) ?? true
            else { return nil }
            if let made = s.deltas[since] { return made }
            guard let start = s.steps.firstIndex(where: { $0.from == since }) else { return nil }
            var base: [TokenID: RevocationStatus?] = [:]
            for step in s.steps[start...] {
                for (id, status) in step.before where base[id] == nil { base[id] = .some(status) }
            }
            let changes = base.compactMap { id, old -> RevocationDelta.Change? in
                let now = newest.status(of: id)
                return now == old ? nil : RevocationDelta.Change(id: id, status: now)
            }.sorted { $0.id < $1.id }
            // Changes alone as large as the list: the whole list is the better answer.
            guard changes.count * RevocationDelta.changeSize < newest.bytes.count else { return nil }
            let delta = RevocationDeltaBuilder.encode(baseSequence: since, changes: changes, target: newest)
            guard delta.count < newest.bytes.count else { return nil }
            s.deltas[since] = delta
            return delta
        }
    }
}
