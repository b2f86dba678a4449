import Dispatch
import Foundation
import Hummingbird
import NIOCore
public import SigilIssuer
import SigilVerifier
import Synchronization

/// The server's database connections: one writer that commits waiting writes together, and a
/// small pool of readers that run at once.
///
/// `Issuer` is not `Sendable`, and its database calls block (an fsync per commit, a network
/// round trip to PostgreSQL, up to the busy timeout while the CLI holds SQLite's write lock).
/// Every call runs on a connection's own dispatch queue, never on Swift concurrency's
/// cooperative pool, and the awaiting task is suspended meanwhile.
///
/// - **Writes** (``write(_:)``): one writer per process. Writes that arrive while it is busy
///   wait, and are then applied together by ``Issuer/group(_:)``: one transaction, a savepoint
///   each (one request's refusal undoes only that request), one commit, so on SQLite one fsync
///   for up to ``maxGroup`` requests. No request is answered before its group commits.
/// - **Reads** (``read(_:)``, ``query(as:_:)``): ``readers`` connections (SQLite WAL readers,
///   or PostgreSQL connections), each a snapshot. Authentication and single reads may take any
///   free reader; callers' listings and audit reads may not take the last free one, and at most
///   ``maxQueriesPerCaller`` run or wait per calling token, so listings never hold up sign-ins.
///
/// Waiting for a connection ends when the waiting task is cancelled (a client that went
/// away, a server shutting down); work already running on a connection finishes.
///
/// ```swift
/// let queue = try IssuerQueue(home: "keys")
/// let caller = try await queue.read { try $0.authenticate(token) }
/// let rows = try await queue.query(as: caller) { try $0.tokens(TokenQuery(), as: caller) }
/// try await queue.write { _ = try $0.change(.revoke, [id], as: caller) }
/// ```
///
/// Nothing read from the ledger is cached: each call reads the database, so changes the CLI
/// or another replica commits are seen on the next request.
public final class IssuerQueue: @unchecked Sendable {
    // @unchecked: each Issuer is touched only on its own serial dispatch queue (the writer's by
    // `drain`, a reader's between `checkOut` and `checkIn`), so no two threads use one at once.
    // All shared state is in Mutexes.
    private let writer: Issuer
    private let writerQueue = DispatchQueue(label: "sigil-server.writer")
    private let writes = Mutex(WriteState())
    private let readerIssuers: [Issuer]
    private let readerQueues: [DispatchQueue]
    private let pool: Mutex<PoolState>
    /// Queries running or waiting, per calling token.
    private let running = Mutex<[TokenID: Int]>([:])

    /// How many read connections are open.
    public var readers: Int { readerIssuers.count }

    /// Transactions the writer committed or tried (a group, or a write alone), and the writes
    /// they carried: writes per transaction is how much grouping saved.
    public var writerCounts: (transactions: Int, writes: Int) {
        (transactionCount.load(ordering: .relaxed), writeCount.load(ordering: .relaxed))
    }
    private let transactionCount = Atomic(0)
    private let writeCount = Atomic(0)

    /// The most waiting writes one transaction applies.
    public static let maxGroup = 64

    /// The most listings and audit reads one calling token may have running or waiting at once;
    /// one more is answered 429 with `Retry-After`.
    public let maxQueriesPerCaller: Int

    /// The default of ``maxQueriesPerCaller``: enough for a console page and a script.
    public static let defaultMaxQueriesPerCaller = 2

    /// Seconds one listing or audit read may run before it is stopped (503 `query_timeout`).
    public let queryTimeLimit: Double

    /// The default of ``queryTimeLimit``: bounded filters over a million tokens take well under it.
    public static let defaultQueryTimeLimit = 5.0

    /// The default number of read connections: two per core, at least 2.
    public static var defaultReaders: Int { max(2, 2 * System.coreCount) }

    /// The home folder, for log lines.
    public let home: String
    private let database: String?
    private let busyTimeout: Double

    /// Opens an existing home: the writer's connection, then `readers` more (at least 2).
    ///
    /// - Throws: The same errors as ``Issuer/init(home:database:mode:busyTimeout:now:)``.
    public init(
        home: String, database: String? = nil, busyTimeout: Double = 5, readers: Int = IssuerQueue.defaultReaders,
        maxQueriesPerCaller: Int = IssuerQueue.defaultMaxQueriesPerCaller,
        queryTimeLimit: Double = IssuerQueue.defaultQueryTimeLimit
    ) throws(IssuerError) {
        writer = try Issuer(home: home, database: database, mode: .existing, busyTimeout: busyTimeout)
        // The change watcher checkpoints (``watchChanges(_:)``): a commit, a publish of a 17 MB
        // list above all, then pays for its own log frames only.
        try writer.deferCheckpoints()
        // A group is many savepoints in one transaction: their undo copies stay in memory.
        try writer.journalSavepointsInMemory()
        var issuers: [Issuer] = []
        for _ in 0..<max(2, readers) {
            // Not more `Issuer(home:)`s: their checks open and close the database's files, which
            // would drop the first connection's locks (see ``Issuer/init(anotherConnectionTo:database:busyTimeout:)``).
            let reader = try Issuer(anotherConnectionTo: home, database: database, busyTimeout: busyTimeout)
            reader.queryTimeLimit = queryTimeLimit
            issuers.append(reader)
        }
        readerIssuers = issuers
        readerQueues = issuers.indices.map { DispatchQueue(label: "sigil-server.reader.\($0)") }
        pool = Mutex(PoolState(free: Array(issuers.indices)))
        self.home = home
        self.database = database
        self.busyTimeout = busyTimeout
        self.maxQueriesPerCaller = max(1, maxQueriesPerCaller)
        self.queryTimeLimit = queryTimeLimit
    }

    // MARK: Writes

    /// One waiting write: `run` applies it on the writer's queue and keeps its result, `deliver`
    /// answers its caller with that result or with its group's error.
    private struct WriteJob: Sendable {
        let id: UInt64
        let alone: Bool
        /// Keeps the write's result for `deliver`. Its error is not thrown into the group: each
        /// use case undoes its own changes when it fails, and some commit a record before they
        /// throw (a refused sign-in is audited, then refused).
        let run: @Sendable (Issuer) -> Void
        let deliver: @Sendable ((any Error)?) -> Void
        let queued = ContinuousClock.now
    }

    /// A write's result and its caller, typed. `continuation` is set and taken under the
    /// `writes` lock only, so exactly one of `deliver` and a cancellation resumes it; `outcome`
    /// is touched on the writer's queue only.
    private final class Pending<T: Sendable>: @unchecked Sendable {
        var outcome: Result<T, any Error>?
        var continuation: CheckedContinuation<T, any Error>?
    }

    private struct WriteState {
        var waiting: [WriteJob] = []
        var draining = false
        var nextID: UInt64 = 0
    }

    /// Runs `body` with the writer's connection, grouped with the writes waiting alongside it,
    /// and returns once its group has committed: every change, and console sign-in.
    ///
    /// - Throws: `CancellationError` if the task is cancelled while it still waits; what `body`
    ///   throws (its changes undone, the group's others kept); or the group's ``IssuerError``
    ///   when the commit failed (then no change of the group was kept).
    /// `alone`: in a transaction of its own, never grouped, for a write that must take a lock
    /// before its transaction begins (signing a list, ``Issuer/publishRevocationList(nextUpdate:maxAge:clock:by:now:)``).
    public func write<T: Sendable>(alone: Bool = false, _ body: @escaping @Sendable (Issuer) throws -> T)
        async throws -> T
    {
        let pending = Pending<T>()
        let id = writes.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        let job = WriteJob(
            id: id, alone: alone,
            run: { issuer in pending.outcome = Result { try body(issuer) } },
            deliver: { groupError in
                let continuation = self.writes.withLock { _ in
                    defer { pending.continuation = nil }
                    return pending.continuation
                }
                if let groupError {
                    continuation?.resume(throwing: groupError)
                } else {
                    continuation?.resume(with: pending.outcome ?? .failure(CancellationError()))
                }
            })
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let queued = writes.withLock { state -> Bool? in
                    if Task.isCancelled { return nil }
                    pending.continuation = continuation
                    state.waiting.append(job)
                    guard !state.draining else { return false }
                    state.draining = true
                    return true
                }
                switch queued {
                case nil: continuation.resume(throwing: CancellationError())
                case true?: writerQueue.async { self.drain() }
                case false?: break
                }
            }
        } onCancel: {
            // Only a write still waiting is taken back; one in a running group finishes.
            let taken = writes.withLock { state -> CheckedContinuation<T, any Error>? in
                guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
                state.waiting.remove(at: index)
                defer { pending.continuation = nil }
                return pending.continuation
            }
            taken?.resume(throwing: CancellationError())
        }
    }

    /// The previous name of ``write(_:)``.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Issuer) throws -> T) async throws -> T {
        try await write(body)
    }

    /// On the writer's queue: applies waiting writes, a group at a time, until none wait.
    private func drain() {
        while true {
            let group = writes.withLock { state -> [WriteJob] in
                // A write that must be alone goes alone; the others group up to it.
                var count = 0
                while count < min(Self.maxGroup, state.waiting.count) {
                    if state.waiting[count].alone {
                        if count == 0 { count = 1 }
                        break
                    }
                    count += 1
                }
                let group = Array(state.waiting.prefix(count))
                state.waiting.removeFirst(count)
                if group.isEmpty { state.draining = false }
                return group
            }
            if group.isEmpty { return }
            transactionCount.add(1, ordering: .relaxed)
            writeCount.add(group.count, ordering: .relaxed)
            let began = ContinuousClock.now
            defer { ServerMetrics.shared.writerRan(queued: group.map(\.queued), began: began) }
            let issuer = writer
            if group.count == 1, group[0].alone {
                // Its own transactions, as the use case opens them (a lock taken before the
                // transaction begins, ``Issuer/serialTransaction(_:)``).
                group[0].run(issuer)
                group[0].deliver(nil)
                continue
            }
            do {
                // Even a write alone in the queue goes through a group: the reads and writes
                // of one request then share one transaction (one BEGIN and COMMIT, not one per
                // use case it calls), and its savepoint is sent only once a statement runs.
                try issuer.group(group.map { job in { job.run(issuer) } })
                for job in group { job.deliver(nil) }
            } catch {
                for job in group { job.deliver(error) }
            }
        }
    }

    // MARK: The change signal

    /// How often the change watcher copies the write-ahead log into the SQLite file, at most.
    static let checkpointInterval = Duration.milliseconds(250)

    /// Calls `changed` soon after any other connection (this server's writer, the CLI, another
    /// replica) commits to the ledger, from a thread with a connection of its own: PostgreSQL's
    /// `NOTIFY` wakes it, SQLite's `data_version` is read every 20 ms. Nothing runs on the
    /// writer or the readers. On SQLite it also copies the write-ahead log into the database
    /// after changes, at most every ``checkpointInterval`` (the writer leaves that to it,
    /// ``Issuer/deferCheckpoints()``).
    /// After an error (the database is down) it calls `changed` once
    /// it can read again, since changes may have been missed, and retries every second.
    ///
    /// - Returns: A function that stops the watcher (within a quarter of a second).
    /// - Throws: ``IssuerError`` if its connection cannot be opened.
    public func watchChanges(_ changed: @escaping @Sendable () -> Void) throws(IssuerError) -> @Sendable () -> Void {
        let watcher = try Issuer(anotherConnectionTo: home, database: database, busyTimeout: busyTimeout)
        nonisolated(unsafe) let connection = watcher
        let stopped = StopFlag()
        let every = Self.checkpointInterval
        let thread = Thread {
            var failed = false
            var unchecked = false
            var lastCheckpoint = ContinuousClock.now
            while !stopped.isSet {
                do {
                    if try connection.waitForChange(timeout: 0.25) || failed {
                        changed()
                        unchecked = true
                    }
                    // Off the writer's path; it never blocks a writer, and a reader that holds
                    // an old snapshot only makes it copy less this time. At most every
                    // `checkpointInterval`: under steady writes the same index pages change in
                    // every group, and copying them at each change wrote them 50 times a second.
                    // A failed one is retried next time; the writer's backstop bounds the log.
                    if unchecked, ContinuousClock.now - lastCheckpoint >= every {
                        try? connection.checkpoint()
                        lastCheckpoint = ContinuousClock.now
                        unchecked = false
                    }
                    failed = false
                } catch {
                    failed = true
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            connection.close()
        }
        thread.name = "sigil-server.changes"
        thread.start()
        return { stopped.set() }
    }

    // MARK: Reads

    private struct PoolState {
        var free: [Int]
        /// Reads waiting for any connection, then queries waiting for one that is not the last.
        var reads: [(id: UInt64, continuation: CheckedContinuation<Int, any Error>)] = []
        var queries: [(id: UInt64, continuation: CheckedContinuation<Int, any Error>)] = []
        var nextID: UInt64 = 0

        /// Who gets a connection just given back: a waiting read first, then a query if another
        /// connection stays free for reads.
        mutating func handOut(_ index: Int) -> CheckedContinuation<Int, any Error>? {
            if !reads.isEmpty { return reads.removeFirst().continuation }
            if !queries.isEmpty, !free.isEmpty { return queries.removeFirst().continuation }
            free.append(index)
            return nil
        }
    }

    /// Runs `body` with a read connection: authentication, single token reads, the catalog.
    /// Never give it an unbounded read (``query(as:_:)`` is for listings).
    ///
    /// - Throws: `CancellationError` if the task is cancelled while waiting for a connection;
    ///   else what `body` throws.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Issuer) throws -> T) async throws -> T {
        let index = try await checkOut(query: false)
        return try await use(index, body)
    }

    /// Runs a caller's listing or audit read on a read connection.
    ///
    /// - Throws: ``APIError`` 429 `too_many_requests` with `Retry-After` when `caller` already
    ///   has ``maxQueriesPerCaller`` queries running or waiting, 503 `query_timeout` when a read
    ///   ran past ``queryTimeLimit``; `CancellationError`; else what `body` throws.
    public func query<T: Sendable>(as caller: Caller, _ body: @escaping @Sendable (Issuer) throws -> T)
        async throws -> T
    {
        let admitted = running.withLock { running -> Bool in
            let count = running[caller.id, default: 0]
            guard count < maxQueriesPerCaller else { return false }
            running[caller.id] = count + 1
            return true
        }
        guard admitted else {
            ServerMetrics.shared.rateLimited(.queriesPerToken)
            var error = APIError(
                .tooManyRequests, "too_many_requests",
                "this token already has \(maxQueriesPerCaller) listings or audit reads running; retry in 1 s")
            error.headers[.retryAfter] = "1"
            throw error
        }
        defer {
            running.withLock { running in
                let count = running[caller.id, default: 1] - 1
                running[caller.id] = count > 0 ? count : nil
            }
        }
        // A read stopped at the time limit is 503 `query_timeout` (ErrorMiddleware).
        let index = try await checkOut(query: true)
        return try await use(index, body)
    }

    private func use<T: Sendable>(_ index: Int, _ body: @escaping @Sendable (Issuer) throws -> T) async throws -> T {
        // The reader crosses into its queue's block; only that queue uses it until `checkIn`.
        nonisolated(unsafe) let issuer = readerIssuers[index]
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            readerQueues[index].async {
                let began = ContinuousClock.now
                let outcome = Result { try body(issuer) }
                ServerMetrics.shared.transaction(on: .reader, since: began)
                self.checkIn(index)
                continuation.resume(with: outcome)
            }
        }
    }

    private func checkOut(query: Bool) async throws -> Int {
        let asked = ContinuousClock.now
        defer { ServerMetrics.shared.waited(for: .reader, since: asked) }
        let id = pool.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                let got = pool.withLock { state -> Result<Int, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    // A query leaves the last free connection to reads.
                    if let index = state.free.last, !query || state.free.count > 1 {
                        state.free.removeLast()
                        return .success(index)
                    }
                    if query {
                        state.queries.append((id, continuation))
                    } else {
                        state.reads.append((id, continuation))
                    }
                    return nil
                }
                if let got { continuation.resume(with: got) }
            }
        } onCancel: {
            let taken = pool.withLock { state -> CheckedContinuation<Int, any Error>? in
                if let i = state.reads.firstIndex(where: { $0.id == id }) {
                    return state.reads.remove(at: i).continuation
                }
                if let i = state.queries.firstIndex(where: { $0.id == id }) {
                    return state.queries.remove(at: i).continuation
                }
                return nil
            }
            taken?.resume(throwing: CancellationError())
        }
    }

    private func checkIn(_ index: Int) {
        let next = pool.withLock { $0.handOut(index) }
        next?.resume(returning: index)
    }
}

/// A flag one thread raises and another reads.
final class StopFlag: Sendable {
    private let raised = Atomic(false)
    var isSet: Bool { raised.load(ordering: .acquiring) }
    func set() { raised.store(true, ordering: .releasing) }
}
