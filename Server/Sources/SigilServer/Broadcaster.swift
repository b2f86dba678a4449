import Dispatch
public import NIOCore
public import SigilIssuer
public import SigilVerifier
import Synchronization

/// The newest stored revocation list, held once in memory: every response and every long poll
/// shares this one buffer instead of reading (and copying) the blob from the database.
///
/// Copying a `PublishedList` retains the buffer's storage; nothing on the way to the socket copies
/// the bytes (`ResponseBody(byteBuffer:)` hands the buffer to NIO's HTTP encoder, which writes it
/// as it is), so a thousand long polls answered with one list hold one copy of it.
public struct PublishedList: Sendable {
    public let sequence: UInt64
    /// The signed list's bytes; `ByteBuffer` is copy-on-write, so responses share the storage.
    public let body: ByteBuffer
    /// The same list parsed (this server signed it or read it from its own ledger), for
    /// deltas; nil if the bytes do not parse as a list.
    public let list: RevocationList?

    public init(sequence: UInt64, bytes: [UInt8]) {
        self.sequence = sequence
        body = ByteBuffer(bytes: bytes)
        list = try? RevocationList.parseUnverified(bytes)
    }
}

/// Tells long polls that a newer revocation list exists.
///
/// Holds the newest list and the waiters; ``publish(_:)`` raises the sequence and wakes every
/// waiter whose list is now out of date. After ``close()`` (graceful shutdown) every wait returns
/// at once, so the server can stop without holding them to their timeout.
///
/// A waiter costs one continuation in a dictionary, never a copy of the list. Waiters are grouped
/// by the sequence they hold (in practice one group: the current list), so a publish takes whole
/// groups out under the lock instead of filtering every waiter.
public final class RevocationBroadcaster: Sendable {
    private struct State {
        var list: PublishedList?
        var sequence: UInt64 { list?.sequence ?? 0 }
        var closed = false
        var nextID = 0
        /// Waiters by the sequence they hold, then by wait ID.
        var waiters: [UInt64: [Int: CheckedContinuation<Void, Never>]] = [:]
        var waiterCount = 0
        /// Waits cancelled before they registered.
        var cancelled: Set<Int> = []
        /// Waiters still registered when ``close()`` ran.
        var waitingAtClose: Int?

        mutating func remove(_ id: Int, holding sequence: UInt64) -> CheckedContinuation<Void, Never>? {
            guard let continuation = waiters[sequence]?.removeValue(forKey: id) else { return nil }
            if waiters[sequence]?.isEmpty == true { waiters[sequence] = nil }
            waiterCount -= 1
            return continuation
        }
    }

    private let state = Mutex(State())
    /// The lists published before, as changes: `GET /v1/revocations?since=` answers deltas from it.
    public let history: RevocationHistory

    public init(history: RevocationHistory = RevocationHistory()) {
        self.history = history
    }

    /// The newest sequence published so far (0 before the first).
    public var sequence: UInt64 { state.withLock { $0.sequence } }

    /// The newest list published so far (nil before the first).
    public var current: PublishedList? { state.withLock { $0.list } }

    /// Long polls waiting now.
    public var waiterCount: Int { state.withLock { $0.waiterCount } }

    /// How many long polls ``close()`` cut short (nil before it ran): a shutdown log line reports it.
    public var waitingAtClose: Int? { state.withLock { $0.waitingAtClose } }

    /// Records that `list` is stored and wakes the waiters it satisfies. An older or equal
    /// sequence changes nothing: the list in force is always the highest sequence.
    public func publish(_ list: PublishedList) {
        let sequence = list.sequence
        // Recorded before any waiter wakes, so each one's `since` finds the list it woke for.
        if let parsed = list.list, sequence > self.sequence { history.record(parsed) }
        let woken = state.withLock { s -> [[Int: CheckedContinuation<Void, Never>]] in
            guard sequence > s.sequence else { return [] }
            s.list = list
            let due = s.waiters.keys.filter { $0 < sequence }
            let groups = due.compactMap { s.waiters.removeValue(forKey: $0) }
            s.waiterCount -= groups.reduce(0) { $0 + $1.count }
            return groups
        }
        for group in woken {
            for continuation in group.values { continuation.resume() }
        }
    }

    /// Wakes every waiter and makes later waits return at once.
    public func close() {
        let woken = state.withLock { s -> [[Int: CheckedContinuation<Void, Never>]] in
            s.closed = true
            if s.waitingAtClose == nil { s.waitingAtClose = s.waiterCount }
            defer {
                s.waiters = [:]
                s.waiterCount = 0
            }
            return Array(s.waiters.values)
        }
        for group in woken {
            for continuation in group.values { continuation.resume() }
        }
    }

    /// Returns when a list newer than `sequence` is published, `timeout` passes, the task is
    /// cancelled, `connection` closes or the broadcaster closes, whichever comes first.
    ///
    /// One continuation per wait and no extra task: whichever event comes first takes the waiter
    /// out of the dictionary under the lock and resumes it; the others find it gone.
    ///
    /// - Parameters:
    ///   - sequence: The sequence the client holds.
    ///   - timeout: The longest wait.
    ///   - connection: The client's connection: when the client goes away the wait ends at once
    ///     instead of holding its waiter until `timeout`. Hummingbird does not cancel a handler
    ///     whose connection closed, so this is how a long poll learns of it.
    public func wait(newerThan sequence: UInt64, timeout: Duration, connection: ConnectionLifetime? = nil) async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        let end: @Sendable () -> Void = { [self] in
            state.withLock { $0.remove(id, holding: sequence) }?.resume()
        }
        let timer = DispatchWorkItem(block: end)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.closed || s.sequence > sequence || s.cancelled.remove(id) != nil { return true }
                    s.waiters[sequence, default: [:]][id] = continuation
                    s.waiterCount += 1
                    return false
                }
                if resumeNow {
                    continuation.resume()
                } else {
                    DispatchQueue.global().asyncAfter(deadline: .now() + Self.seconds(timeout), execute: timer)
                    // Registered first, so a close that comes first finds the waiter to remove:
                    // `onClose` runs the action at once if the connection is already closed.
                    connection?.onClose(end)
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let continuation = s.remove(id, holding: sequence) { return continuation }
                s.cancelled.insert(id)
                return nil
            }
            waiter?.resume()
        }
        timer.cancel()
        connection?.clearOnClose()
        // A cancel that raced a normal wake-up left its mark; drop it.
        _ = state.withLock { $0.cancelled.remove(id) }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
