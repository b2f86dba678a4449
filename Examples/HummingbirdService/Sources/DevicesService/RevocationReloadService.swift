import Logging
import ServiceLifecycle
import SigilVerifier

/// Runs a ``RevocationWatcher`` beside the HTTP server, in the application's service group.
///
/// The watcher stats the revocation file every poll interval and loads it into the store when
/// it changed; verifiers pick the new list up on their next request. Graceful shutdown
/// (SIGTERM, SIGINT) cancels the loop.
struct RevocationReloadService: Service {
    let watcher: RevocationWatcher

    func run() async throws {
        let watcher = self.watcher
        await cancelWhenGracefulShutdown { await watcher.run() }
    }

    /// Logs what happened to the store (to stderr, through swift-log's default handler).
    static func log(_ event: RevocationStore.Event, to logger: Logger) {
        switch event {
        case .loaded(let sequence, let count):
            logger.info("revocations loaded", metadata: ["sequence": "\(sequence)", "entries": "\(count)"])
        case .unchanged(let sequence):
            logger.debug("revocations unchanged", metadata: ["sequence": "\(sequence)"])
        case .refused(let error):
            logger.error(
                "revocations refused (the list in force, if any, stays)",
                metadata: ["reason": "\(error.reason.rawValue)", "detail": "\(error.detail)"])
        case .stale(let sequence, let nextUpdate):
            logger.warning(
                "revocations stale: past next_update, still serving",
                metadata: ["sequence": "\(sequence)", "next_update": "\(nextUpdate)"])
        }
    }
}
