import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything a service needs to check tokens, built from its two files: the keyset that
/// `sigil keys export` wrote and the revocation list that `sigil revocations export` (or a
/// sidecar's `pull`) keeps current.
///
/// It holds a ``Verifier`` over the keyset, a ``RevocationStore`` loaded from the list file
/// and a ``RevocationWatcher`` that reloads the list when the file changes. Keep one value for
/// the life of the process, share it between tasks (it is `Sendable`), and either call
/// ``start()`` once, or run ``run()`` in a task or a service group (SigilHummingbird makes it
/// a ServiceLifecycle `Service`; this library itself depends on no Swift package).
///
/// ```swift
/// let sigil = try VerifierService(
///     keysetPath: "/etc/billing/keyset.json", revocationsPath: "/etc/billing/revocations.sgl",
///     whenNoList: .failClosed)
/// sigil.start()
/// defer { sigil.stop() }
/// let token = try sigil.verify(bearer, for: Routes.deleteDevice)
/// ```
public final class VerifierService: Sendable {
    /// The verifier over the keyset, wired to ``revocations``.
    public let verifier: Verifier
    /// The list in force; reloaded by ``watcher``.
    public let revocations: RevocationStore
    /// Polls the list file; ``run()`` and ``start()`` drive it.
    public let watcher: RevocationWatcher
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Reads the keyset, loads the revocation list if it exists, and prepares the watcher.
    ///
    /// A list file that exists must verify under the keyset's revocation keys, or this
    /// throws: a forged or truncated list at start-up is a deployment error, not something to
    /// serve around. A missing list file is allowed, and `whenNoList` says what happens until
    /// it appears (the watcher loads it as soon as it does).
    ///
    /// - Parameters:
    ///   - keysetPath: The `sigil-keyset-v1` file (`sigil keys export --audience AUD`).
    ///   - revocationsPath: The signed list file; it may not exist yet.
    ///   - whenNoList: Fail closed (refuse every token with `revocations_stale`) or open
    ///     (accept tokens as if nothing were revoked) until the first list is loaded.
    ///   - stalePolicy: What to do once the list is past its `next_update`.
    ///   - pollInterval: How often the watcher checks the file (one `stat` a poll).
    ///   - leeway: Clock skew tolerated at both ends of a token's window.
    ///   - onEvent: Told about every load, refusal and the first staleness, for logs.
    /// - Throws: ``KeysetError`` if the keyset cannot be read or used;
    ///   ``RevocationListError`` if the list file exists but cannot be read or verified.
    public init(
        keysetPath: String, revocationsPath: String, whenNoList: RevocationStore.NoListPolicy,
        stalePolicy: RevocationStore.StalePolicy = .keepServing, pollInterval: Duration = .seconds(5),
        leeway: Int64 = Verifier.defaultLeeway,
        onEvent: @escaping @Sendable (RevocationStore.Event) -> Void = { _ in }
    ) throws {
        let keyset = try Keyset(contentsOf: keysetPath)
        let store = RevocationStore(
            keys: keyset.revocationKeys, stalePolicy: stalePolicy, noListPolicy: whenNoList, onEvent: onEvent)
        let watcher = RevocationWatcher(path: revocationsPath, store: store, interval: pollInterval)
        try watcher.loadIfPresent()
        self.verifier = try Verifier(keyset: keyset, leeway: leeway, revocations: store)
        self.revocations = store
        self.watcher = watcher
    }

    /// Verifies `token` with ``verifier``; see ``Verifier/verify(_:for:at:)``.
    ///
    /// Allocation-free on success, like the verifier's own method.
    ///
    /// - Throws: ``VerificationError``. Its message never contains `token`.
    @inlinable
    public func verify(_ token: String, for permission: Permission? = nil, at now: Int64? = nil)
        throws(VerificationError) -> VerifiedToken
    {
        try verifier.verify(token, for: permission, at: now)
    }

    /// Keeps the revocation list current until the calling task is cancelled.
    ///
    /// Shaped like ServiceLifecycle's `Service.run()`, so an adapter conforms with one line.
    /// Returns normally on cancellation.
    public func run() async throws {
        await watcher.run()
    }

    /// Starts ``run()`` in a task of its own, for services without a service group.
    /// Calling it again while running does nothing.
    public func start() {
        task.withLock { task in
            guard task == nil else { return }
            let watcher = self.watcher
            task = Task { await watcher.run() }
        }
    }

    /// Stops the task ``start()`` began. The list in force stays in force.
    public func stop() {
        let running = task.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        running?.cancel()
    }

    deinit { stop() }
}
