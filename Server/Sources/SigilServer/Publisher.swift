import Foundation
public import Logging
public import ServiceLifecycle
import SigilIssuer
import Synchronization

/// Keeps the stored revocation list current without cron: a service in the server's group.
///
/// Signs a new list (``Issuer/publishRevocationList(nextUpdate:maxAge:clock:by:now:)``):
/// - soon after a change made through the API (``noteChange()``), debounced: it waits until
///   changes pause for `quiet`, but never longer than `maxDelay` after the first, so a burst
///   makes one list and every change is published within about a second;
/// - when another connection committed to the ledger (the CLI, on PostgreSQL another replica),
///   as the store's change signal reports (``IssuerQueue/watchChanges(_:)``: `NOTIFY` on
///   PostgreSQL, `data_version` on SQLite, on a connection of its own): a newer stored list
///   is taken at once, so every replica wakes its long polls within moments of a list made
///   anywhere; any other change is published like one made here;
/// - at least once a minute it asks the library, which signs again when the newest list has been
///   the newest for an hour (`maxAge`, measured by ``ListClock`` on this process's monotonic clock,
///   never by comparing another host's `issued_at` with this host's clock), so `next_update` is
///   always kept.
///
/// When the list sequence is exhausted nothing can be signed again: it logs that once per
/// attempt, retries after a delay that doubles up to ``maxBackoff``, and ``problems`` names it, so
/// `GET /v1/health` answers 503 `degraded`.
///
/// Whenever a newer list is stored, by this service or by a CLI export, it wakes the long polls
/// through ``RevocationBroadcaster``. At graceful shutdown it closes the broadcaster first.
public final class Publisher: Service, Sendable {
    private struct Pending {
        var first: ContinuousClock.Instant?
        var last: ContinuousClock.Instant?
    }

    /// Why publishing cannot go on, and when to try again.
    private struct Blocked {
        var reason: String
        var delay: Duration
        var retryAt: ContinuousClock.Instant
    }

    /// The stable reason `GET /v1/health` gives while the list sequence is exhausted.
    public static let sequenceExhaustedReason = "revocation_sequence_exhausted"

    let issuer: IssuerQueue
    let broadcaster: RevocationBroadcaster
    let logger: Logger
    /// How often the loop looks at its in-memory flags (no database access).
    let tick: Duration
    let quiet: Duration
    let maxDelay: Duration
    let recheck: Duration
    private let pending = Mutex(Pending())
    /// Raised by the change signal; the loop takes it.
    private let foreign = Mutex(false)
    private let blocked = Mutex<Blocked?>(nil)
    /// The first retry delay after publishing was refused; it doubles up to ``maxBackoff``.
    let firstBackoff: Duration
    let maxBackoff: Duration
    /// How long the newest list has been the newest, for the max-age rule.
    let listClock = ListClock()
    /// Unix seconds for a new list's `issued_at`: the only use of the wall clock here.
    let wallClock: @Sendable () -> Int64
    static let actorName = "sigil-server"

    public init(
        issuer: IssuerQueue, broadcaster: RevocationBroadcaster, logger: Logger,
        tick: Duration = .milliseconds(50), quiet: Duration = .milliseconds(250),
        maxDelay: Duration = .milliseconds(700), recheck: Duration = .seconds(60),
        firstBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(64),
        wallClock: @escaping @Sendable () -> Int64 = Publisher.wallClock
    ) {
        self.wallClock = wallClock
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        self.issuer = issuer
        self.broadcaster = broadcaster
        self.logger = logger
        self.tick = tick
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

    /// The host's clock, or `SIGIL_NOW` (Unix seconds) when set: as in the CLI, tests stand a
    /// host whose clock is off in with it (only lists' `issued_at` and expiry cut-off use it).
    public static func wallClock() -> Int64 { fixedNow ?? Issuer.currentTime() }

    /// `SIGIL_NOW`, read once: every create asks for the time, and reading the environment
    /// builds a dictionary of all of it (5 % of a create's CPU when it was read each time).
    private static let fixedNow: Int64? = ProcessInfo.processInfo.environment["SIGIL_NOW"].flatMap { Int64($0) }

    /// Why the publisher cannot keep the list current (empty when it can): stable reason codes
    /// for `GET /v1/health`.
    public var problems: [String] { blocked.withLock { $0.map { [$0.reason] } ?? [] } }

    /// Publishes if needed and wakes long polls; returns the newest stored sequence.
    ///
    /// An exhausted sequence does not throw: the newest stored list is still served, ``problems``
    /// reports it and the loop backs off.
    @discardableResult
    public func publishNow() async throws -> UInt64 {
        let clock = listClock
        let now = wallClock()
        let started = ContinuousClock.now
        let (made, refused) = try await issuer.write(alone: true) { issuer -> (PublishedList?, IssuerError?) in
            let actor = try Actor(name: Publisher.actorName)
            do {
                guard let made = try issuer.publishRevocationList(clock: clock, by: actor, now: now) else {
                    return (nil, nil)
                }
                return (PublishedList(sequence: made.sequence, bytes: made.bytes), nil)
            } catch let error as IssuerError {
                guard case .sequenceExhausted = error.detail else { throw error }
                return (nil, error)
            }
        }
        if let made {
            let signed = ContinuousClock.now
            ServerMetrics.shared.listPublished(since: started)
            broadcaster.publish(made)
            logger.info(
                "revocation list published",
                metadata: [
                    "sequence": "\(made.sequence)", "sign_ms": "\(Self.milliseconds(signed - started))",
                    "serve_ms": "\(Self.milliseconds(.now - signed))",
                ])
        } else {
            try await adoptNewer()
        }
        if let refused { backOff(Self.sequenceExhaustedReason, refused) } else { recovered() }
        return broadcaster.sequence
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Serves a list newer than the one held, if another process or replica stored one: its
    /// sequence is read first, its bytes only when it is newer.
    private func adoptNewer() async throws {
        let known = broadcaster.sequence
        guard let newest = try await issuer.read({ try $0.latestRevocationSequence() }), newest > known else { return }
        guard let stored = try await issuer.read({ try $0.latestRevocationList() }), stored.sequence > known else {
            return
        }
        broadcaster.publish(PublishedList(sequence: stored.sequence, bytes: stored.bytes))
    }

    /// Called by the change signal: another connection committed.
    func changedElsewhere() { foreign.withLock { $0 = true } }

    /// Schedules the next attempt: `firstBackoff`, then twice the last delay up to `maxBackoff`.
    /// Logs once per attempt, so a stuck publisher writes a line per step, not per tick.
    private func backOff(_ reason: String, _ error: IssuerError) {
        let now = ContinuousClock.now
        let delay = blocked.withLock { b -> Duration in
            let delay = b.map { min($0.delay * 2, maxBackoff) } ?? firstBackoff
            b = Blocked(reason: reason, delay: delay, retryAt: now + delay)
            return delay
        }
        logger.error(
            "revocation list not published; retrying later",
            metadata: ["reason": "\(reason)", "retry_in": "\(delay)", "error": "\(error.message)"])
    }

    private func recovered() {
        let was = blocked.withLock { b -> String? in
            defer { b = nil }
            return b?.reason
        }
        if let was { logger.notice("revocation publisher recovered", metadata: ["was": "\(was)"]) }
    }

    /// Whether a refused publish is still waiting out its delay.
    private func isBackingOff(at now: ContinuousClock.Instant) -> Bool {
        blocked.withLock { b in b.map { now < $0.retryAt } ?? false }
    }

    public func run() async throws {
        let stopWatching = try issuer.watchChanges { [weak self] in self?.changedElsewhere() }
        defer { stopWatching() }
        await cancelWhenGracefulShutdown {
            var lastCheck = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: self.tick)
                if Task.isCancelled { break }
                let now = ContinuousClock.now
                if self.foreign.withLock({ flag in
                    defer { flag = false }; return flag
                }) {
                    // A list signed elsewhere is served at once; any other change is published
                    // like one made here (it may be this server's own, which costs one check).
                    do { try await self.adoptNewer() } catch {
                        self.logger.warning("revocation publisher will retry", metadata: ["error": "\(error)"])
                    }
                    self.noteChange()
                }
                let due = self.pending.withLock { p -> Bool in
                    guard let first = p.first, let last = p.last else { return false }
                    guard now - last >= self.quiet || now - first >= self.maxDelay else { return false }
                    p = Pending()
                    return true
                }
                // Nothing can be signed until the delay passes; the retry covers every change.
                if self.isBackingOff(at: now) { continue }
                guard due || now - lastCheck >= self.recheck || self.blocked.withLock({ $0 != nil }) else { continue }
                lastCheck = now
                do {
                    try await self.publishNow()
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
