import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Polls a revocation-list file and loads it into a ``RevocationStore`` when it changes.
///
/// Each poll costs one `stat`: the file is read only when its device, inode, size or
/// modification time differ from the last poll, so an atomic replace (rename) or an
/// in-place rewrite is noticed and an unchanged file costs nothing more.
///
/// ```swift
/// let watcher = RevocationWatcher(path: "/etc/billing/revocations.sgl", store: store,
///                                 interval: .seconds(5))
/// let task = Task { await watcher.run() }   // cancel the task to stop
/// ```
public final class RevocationWatcher: Sendable {
    public let path: String
    public let store: RevocationStore
    public let interval: Duration
    private let lastStamp = Mutex<FileBytes.Stamp?>(nil)

    public init(path: String, store: RevocationStore, interval: Duration = .seconds(5)) {
        self.path = path
        self.store = store
        self.interval = interval
    }

    /// Checks the file once and loads it if it changed.
    ///
    /// - Returns: True if a new list was installed. A refused file is reported through the
    ///   store's `onEvent` once and not re-read until it changes again.
    @discardableResult
    public func poll() -> Bool {
        guard let stamp = FileBytes.stamp(path: path) else { return false }
        let changed = lastStamp.withLock { last -> Bool in
            guard last != stamp else { return false }
            last = stamp
            return true
        }
        guard changed else { return false }
        let before = store.list.sequence
        do {
            let list = try store.load(path: path)
            return list.sequence != before
        } catch {
            return false
        }
    }

    /// Loads the file now if it exists, reporting a refusal as an error rather than an event
    /// only: what ``VerifierService`` does at start-up. A missing file is not an error.
    ///
    /// - Throws: ``RevocationListError`` if the file exists but cannot be read or verified.
    package func loadIfPresent() throws(RevocationListError) {
        // The stamp is taken before the read: if the file changes in between, the next poll
        // sees a new stamp and reads it again.
        guard let stamp = FileBytes.stamp(path: path) else {
            let code = errno
            guard code == ENOENT else {
                let reason = String(cString: strerror(code))
                throw RevocationListError(.io, "\(path): \(reason)")
            }
            return
        }
        lastStamp.withLock { $0 = stamp }
        try store.load(path: path)
    }

    /// Polls every `interval` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            poll()
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
