import SigilIssuer
import SigilVerifier
import Synchronization

/// `GET /v1/health/ready`: whether this server can do its work now, for a load balancer or an
/// orchestrator that sends traffic only to ready replicas. `GET /v1/health` stays liveness.
///
/// Ready means all of:
/// - the database answers a bounded query on a reader (the newest list's sequence, one row by
///   its key) within ``databaseTimeLimit``;
/// - the keyring loads (present, 0600, readable, parsable);
/// - a revocation list is held and its `next_update` has not passed by this host's clock;
/// - the publisher can sign lists (``Publisher/problems`` is empty).
///
/// Otherwise the answer names every failed condition by a stable reason code (``Reason``,
/// docs/API.md). A check is shared: probes within ``reuseFor`` of the last check, or while one
/// runs, get its answer, so however many probes arrive the ledger sees at most one query a
/// second from them.
///
/// ```swift
/// let readiness = Readiness(issuer: queue, publisher: publisher, broadcaster: broadcaster)
/// let reasons = await readiness.reasons()   // [] when ready
/// ```
public final class Readiness: Sendable {
    /// Why the server is not ready. The raw values are a contract (docs/API.md); codes may be added.
    public enum Reason: String, Sendable, CaseIterable {
        /// The database refused or failed the query.
        case databaseUnavailable = "database_unavailable"
        /// The database did not answer within ``Readiness/databaseTimeLimit``.
        case databaseTimeout = "database_timeout"
        /// The keyring is missing, unreadable, too open (not 0600) or damaged.
        case keyringUnavailable = "keyring_unavailable"
        /// No revocation list is held yet.
        case revocationListMissing = "revocation_list_missing"
        /// The list held has passed its `next_update`: followers that fail closed refuse it.
        case revocationListStale = "revocation_list_stale"
        /// The list sequence is used up: no list can be signed again (``Publisher/sequenceExhaustedReason``).
        case revocationSequenceExhausted = "revocation_sequence_exhausted"
    }

    /// The longest the database query may take before the answer is `database_timeout`.
    public static let databaseTimeLimit: Duration = .seconds(1)
    /// How long one check's answer is given to later probes.
    public static let reuseFor: Duration = .seconds(1)

    let issuer: IssuerQueue
    let publisher: Publisher
    let broadcaster: RevocationBroadcaster
    private let shared = SharedAnswer<[String]>(reuseFor: Readiness.reuseFor)

    public init(issuer: IssuerQueue, publisher: Publisher, broadcaster: RevocationBroadcaster) {
        self.issuer = issuer
        self.publisher = publisher
        self.broadcaster = broadcaster
    }

    /// The reason codes that keep the server from being ready, in ``Reason``'s order; empty when ready.
    public func reasons() async -> [String] {
        await shared.value { await self.evaluate() }
    }

    private func evaluate() async -> [String] {
        var found: [Reason] = []
        let queue = issuer
        switch await TimeLimit.run(
            Self.databaseTimeLimit, { try await queue.read { try $0.latestRevocationSequence() } })
        {
        case nil: found.append(.databaseTimeout)
        case .failure?: found.append(.databaseUnavailable)
        case .success?: break
        }
        do {
            // Cached while the file is unchanged (a stat), read again once it changed.
            _ = try Keyring.load(home: issuer.home)
        } catch {
            found.append(.keyringUnavailable)
        }
        if let list = broadcaster.current?.list {
            if list.isStale(at: Publisher.wallClock()) { found.append(.revocationListStale) }
        } else {
            found.append(.revocationListMissing)
        }
        // The publisher's problems are stable codes of their own (`/v1/health` gives them too).
        var reasons = found.map(\.rawValue)
        for problem in publisher.problems where !reasons.contains(problem) { reasons.append(problem) }
        return reasons
    }
}

/// One answer shared by every caller within `reuseFor` of when it was made, or while it is being
/// made: however many unauthenticated probes or scrapes arrive, the ledger sees at most one query
/// from them per interval.
///
/// ```swift
/// let counts = SharedAnswer<Int>(reuseFor: .seconds(1))
/// let sessions = await counts.value { await countSessions() }
/// ```
final class SharedAnswer<Value: Sendable>: Sendable {
    private struct State {
        var last: (at: ContinuousClock.Instant, value: Value)?
        var running: Task<Value, Never>?
    }
    private let state = Mutex(State())
    let reuseFor: Duration

    init(reuseFor: Duration) { self.reuseFor = reuseFor }

    /// The last answer if it is recent, the one being made if any, else a new one from `make`.
    private enum Next {
        case answer(Value)
        case wait(Task<Value, Never>)
    }

    func value(_ make: @escaping @Sendable () async -> Value) async -> Value {
        let now = ContinuousClock.now
        let next = state.withLock { state -> Next in
            if let last = state.last, now - last.at < reuseFor { return .answer(last.value) }
            if let running = state.running { return .wait(running) }
            // Unstructured: a caller that leaves does not cancel the answer others wait for.
            let task = Task {
                let value = await make()
                self.state.withLock { state in
                    state.last = (ContinuousClock.now, value)
                    state.running = nil
                }
                return value
            }
            state.running = task
            return .wait(task)
        }
        switch next {
        case .answer(let value): return value
        case .wait(let task): return await task.value
        }
    }
}

/// Runs work with a time limit, without waiting for it past the limit.
enum TimeLimit {
    /// `body`'s result, or nil when `limit` passed first; `body` is then cancelled and its
    /// result, if it still comes, is dropped. (A task group would wait for it.)
    static func run<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async -> Result<
        T, any Error
    >? {
        let outcome = FirstOutcome<Result<T, any Error>?>()
        let work = Task {
            do { outcome.finish(.success(try await body())) } catch { outcome.finish(.failure(error)) }
        }
        let timer = Task {
            try? await Task.sleep(for: limit)
            outcome.finish(nil)
        }
        let first = await outcome.value
        work.cancel()
        timer.cancel()
        return first
    }
}

/// The first of several values offered; later ones are dropped.
final class FirstOutcome<Value: Sendable>: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Value, Never>])
        case done(Value)
    }
    private let state = Mutex(State.waiting([]))

    /// Offers `value`; ignored when a value came first.
    func finish(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(value)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The first value offered, once there is one.
    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Value? in
                    switch state {
                    case .done(let value): return value
                    case .waiting(var waiters):
                        waiters.append(continuation)
                        state = .waiting(waiters)
                        return nil
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
