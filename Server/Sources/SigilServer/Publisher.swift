public import Logging
public import ServiceLifecycle
import SigilIssuer
import Synchronization

/// Tells long polls that a newer revocation list exists.
///
/// Holds the newest sequence known to be stored and the waiters; ``publish(_:)`` raises the
/// sequence and wakes every waiter whose list is now out of date. After ``close()`` (graceful
/// shutdown) every wait returns at once, so the server can stop without holding them to their
/// timeout.
public final class RevocationBroadcaster: Sendable {
    private struct State {
        var sequence: UInt64 = 0
        var closed = false
        var nextID = 0
        var waiters: [Int: (after: UInt64, continuation: CheckedContinuation<Void, Never>)] = [:]
        /// Waits cancelled before they registered.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The newest sequence published so far (0 before the first).
    public var sequence: UInt64 { state.withLock { $0.sequence } }

    /// Records that a list with `sequence` is stored and wakes the waiters it satisfies.
    public func publish(_ sequence: UInt64) {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard sequence > s.sequence else { return [] }
            s.sequence = sequence
            let ready = s.waiters.filter { $0.value.after < sequence }
            for id in ready.keys { s.waiters[id] = nil }
            return ready.map(\.value.continuation)
        }
        for c in woken { c.resume() }
    }

    /// Wakes every waiter and makes later waits return at once.
    public func close() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.closed = true
            defer { s.waiters = [:] }
            return s.waiters.values.map(\.continuation)
        }
        for c in woken { c.resume() }
    }

    /// Returns when a list newer than `sequence` is published, `timeout` passes, the task is
    /// cancelled or the broadcaster closes, whichever comes first.
    public func wait(newerThan sequence: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForPublish(newerThan: sequence) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForPublish(newerThan sequence: UInt64) async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.closed || s.sequence > sequence || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = (sequence, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let w = s.waiters.removeValue(forKey: id) { return w.continuation }
                s.cancelled.insert(id)
                return nil
            }
            waiter?.resume()
        }
        // A cancel that raced a normal wake-up left its mark; drop it.
        _ = state.withLock { $0.cancelled.remove(id) }
    }
}

/// Keeps the stored revocation list current without cron: a service in the server's group.
///
/// Signs a new list (``Issuer/publishRevocationList(nextUpdate:maxAge:by:now:)``):
/// - soon after a change made through the API (``noteChange()``), debounced: it waits until
///   changes pause for `quiet`, but never longer than `maxDelay` after the first, so a burst
///   makes one list and every change is published within about a second;
/// - when another process (the CLI) or, on PostgreSQL, another replica committed to the
///   ledger, seen by polling ``Issuer/dataVersion()`` every `pollInterval`: SQLite's
///   `PRAGMA data_version`, or the count of `NOTIFY sigil_ledger` messages from other stores
///   (already on the listening socket: no round trip). So every replica wakes its long polls
///   within about `pollInterval` of a list made anywhere;
/// - at least once a minute it asks the library, which signs again when the newest list is an
///   hour old (`maxAge`), so `next_update` is always kept.
///
/// Whenever a newer list is stored, by this service or by a CLI export, it wakes the long polls
/// through ``RevocationBroadcaster``. At graceful shutdown it closes the broadcaster first.
public final class Publisher: Service, Sendable {
    private struct Pending {
        var first: ContinuousClock.Instant?
        var last: ContinuousClock.Instant?
    }

    let issuer: IssuerQueue
    let broadcaster: RevocationBroadcaster
    let logger: Logger
    let pollInterval: Duration
    let quiet: Duration
    let maxDelay: Duration
    let recheck: Duration
    private let pending = Mutex(Pending())
    static let actorName = "sigil-server"

    public init(
        issuer: IssuerQueue, broadcaster: RevocationBroadcaster, logger: Logger,
        pollInterval: Duration = .milliseconds(150), quiet: Duration = .milliseconds(250),
        maxDelay: Duration = .milliseconds(700), recheck: Duration = .seconds(60)
    ) {
        self.issuer = issuer
        self.broadcaster = broadcaster
        self.logger = logger
        self.pollInterval = pollInterval
        self.quiet = quiet
        self.maxDelay = maxDelay
        self.recheck = recheck
    }

    /// Called by routes after a change that may alter the list (a lifecycle change).
    public func noteChange() {
        let now = ContinuousClock.now
        pending.withLock { p in
            if p.first == nil { p.first = now }
            p.last = now
        }
    }

    /// Publishes if needed and wakes long polls; returns the newest stored sequence.
    @discardableResult
    public func publishNow() async throws -> UInt64 {
        let (published, latest) = try await issuer.run { issuer -> (UInt64?, UInt64) in
            let actor = try Actor(name: Publisher.actorName)
            if let made = try issuer.publishRevocationList(by: actor) { return (made.sequence, made.sequence) }
            return (nil, try issuer.latestRevocationList()?.sequence ?? 0)
        }
        if let published { logger.info("revocation list published", metadata: ["sequence": "\(published)"]) }
        broadcaster.publish(latest)
        return latest
    }

    public func run() async throws {
        let firstVersion = try await issuer.run { try $0.dataVersion() }
        await cancelWhenGracefulShutdown {
            var lastVersion = firstVersion
            var lastCheck = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: self.pollInterval)
                if Task.isCancelled { break }
                let now = ContinuousClock.now
                let due = self.pending.withLock { p -> Bool in
                    guard let first = p.first, let last = p.last else { return false }
                    guard now - last >= self.quiet || now - first >= self.maxDelay else { return false }
                    p = Pending()
                    return true
                }
                do {
                    let version = try await self.issuer.run { try $0.dataVersion() }
                    let foreign = version != lastVersion
                    lastVersion = version
                    if due || foreign || now - lastCheck >= self.recheck {
                        lastCheck = now
                        try await self.publishNow()
                    }
                } catch {
                    // lock_busy while the CLI writes, most often: the next tick tries again.
                    self.logger.warning("revocation publisher will retry", metadata: ["error": "\(error)"])
                    if due { self.noteChange() }
                }
            }
        }
        broadcaster.close()
    }
}
