import Dispatch
public import SigilIssuer

/// The one ``Issuer`` the server uses, owned by a serial dispatch queue.
///
/// `Issuer` is not `Sendable`, and its SQLite calls block (an fsync per commit, up to the busy
/// timeout while the CLI holds the write lock). Every call runs on this queue's own thread, never
/// on Swift concurrency's cooperative pool, and the awaiting task is suspended meanwhile, so a
/// slow commit never starves other requests of threads.
///
/// ```swift
/// let queue = try IssuerQueue(home: "keys")
/// let rows = try await queue.run { try $0.tokens(TokenQuery(), as: caller) }
/// ```
///
/// Nothing is cached: each call reads the database, so changes the CLI commits meanwhile are seen
/// on the next request.
public final class IssuerQueue: @unchecked Sendable {
    // @unchecked: `issuer` is touched only inside `queue.async` blocks of this one serial queue,
    // so no two threads ever use it at once. Nothing else here is mutable.
    private let issuer: Issuer
    private let queue = DispatchQueue(label: "sigil-server.issuer")

    /// The home folder, for log lines.
    public let home: String

    /// Opens an existing home; the same errors as ``Issuer/init(home:mode:busyTimeout:)``.
    public init(home: String, database: String? = nil, busyTimeout: Double = 5) throws(IssuerError) {
        issuer = try Issuer(home: home, database: database, mode: .existing, busyTimeout: busyTimeout)
        self.home = home
    }

    /// Runs `body` with the issuer on the queue's thread and returns its result.
    ///
    /// - Throws: What `body` throws.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Issuer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                continuation.resume(with: Result { try body(self.issuer) })
            }
        }
    }
}
