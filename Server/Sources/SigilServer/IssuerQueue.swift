import Dispatch
import Hummingbird
public import SigilIssuer
import SigilVerifier
import Synchronization

/// The server's ``Issuer``s, each owned by a serial dispatch queue: a priority lane and a
/// query lane, each with its own database connection.
///
/// `Issuer` is not `Sendable`, and its SQLite calls block (an fsync per commit, up to the busy
/// timeout while the CLI holds the write lock). Every call runs on a lane's own thread, never
/// on Swift concurrency's cooperative pool, and the awaiting task is suspended meanwhile, so a
/// slow commit never starves other requests of threads.
///
/// Callers' listings and audit reads (``query(as:_:)``) run on the query lane, at most
/// ``maxQueriesPerCaller`` at a time per calling token; everything else (authentication,
/// console sign-in, writes such as a revoke, the publisher) runs on the priority lane
/// (``run(_:)``), so a caller's slow listing never delays a revoke or a sign-in.
///
/// ```swift
/// let queue = try IssuerQueue(home: "keys")
/// let caller = try await queue.run { try $0.authenticate(token) }
/// let rows = try await queue.query(as: caller) { try $0.tokens(TokenQuery(), as: caller) }
/// ```
///
/// Nothing is cached: each call reads the database, so changes the CLI commits meanwhile are seen
/// on the next request.
public final class IssuerQueue: @unchecked Sendable {
    // @unchecked: each issuer is touched only inside `async` blocks of its own serial queue, so
    // no two threads ever use one at once. `running` is a Mutex; nothing else is mutable.
    private let issuer: Issuer
    private let queue = DispatchQueue(label: "sigil-server.issuer")
    private let queryIssuer: Issuer
    private let queryQueue = DispatchQueue(label: "sigil-server.issuer.queries")
    /// Queries running or waiting on the query lane, per calling token.
    private let running = Mutex<[TokenID: Int]>([:])

    /// The most listings and audit reads one calling token may have running or waiting at once;
    /// one more is answered 429 with `Retry-After`.
    public let maxQueriesPerCaller: Int

    /// The default of ``maxQueriesPerCaller``: enough for a console page and a script.
    public static let defaultMaxQueriesPerCaller = 2

    /// Seconds one listing or audit read may run before it is stopped (503 `query_timeout`).
    public let queryTimeLimit: Double

    /// The default of ``queryTimeLimit``: bounded filters over a million tokens take well under it.
    public static let defaultQueryTimeLimit = 5.0

    /// The home folder, for log lines.
    public let home: String

    /// Opens an existing home twice (one connection per lane); the same errors as
    /// ``Issuer/init(home:database:mode:busyTimeout:)``.
    public init(
        home: String, database: String? = nil, busyTimeout: Double = 5,
        maxQueriesPerCaller: Int = IssuerQueue.defaultMaxQueriesPerCaller,
        queryTimeLimit: Double = IssuerQueue.defaultQueryTimeLimit
    ) throws(IssuerError) {
        issuer = try Issuer(home: home, database: database, mode: .existing, busyTimeout: busyTimeout)
        // Not a second `Issuer(home:)`: its checks open and close the database's files, which
        // would drop the first connection's locks (see ``Issuer/init(anotherConnectionTo:database:busyTimeout:)``).
        queryIssuer = try Issuer(anotherConnectionTo: home, database: database, busyTimeout: busyTimeout)
        self.home = home
        self.maxQueriesPerCaller = max(1, maxQueriesPerCaller)
        self.queryTimeLimit = queryTimeLimit
        queryIssuer.queryTimeLimit = queryTimeLimit
    }

    /// Runs `body` on the priority lane and returns its result: authentication, sign-in, single
    /// token reads and every change. Never give it an unbounded read.
    ///
    /// - Throws: What `body` throws.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Issuer) throws -> T) async throws -> T {
        try await Self.run(body, with: issuer, on: queue)
    }

    /// Runs a caller's listing or audit read on the query lane.
    ///
    /// - Throws: ``APIError`` 429 `too_many_requests` with `Retry-After` when `caller` already
    ///   has ``maxQueriesPerCaller`` queries running or waiting, 503 `query_timeout` when a read
    ///   ran past ``queryTimeLimit``; else what `body` throws.
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
        return try await Self.run(body, with: queryIssuer, on: queryQueue)
    }

    private static func run<T: Sendable>(
        _ body: @escaping @Sendable (Issuer) throws -> T, with issuer: Issuer, on queue: DispatchQueue
    ) async throws -> T {
        // The issuer crosses into the queue's block; only that queue ever uses it (see above).
        nonisolated(unsafe) let issuer = issuer
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                continuation.resume(with: Result { try body(issuer) })
            }
        }
    }
}
