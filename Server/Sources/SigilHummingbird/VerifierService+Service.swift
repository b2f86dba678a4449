public import ServiceLifecycle
public import SigilVerifier

extension VerifierService {
    /// This value's file watcher as a ServiceLifecycle `Service`, for a service group or
    /// Hummingbird's `Application(services:)`; it stops on graceful shutdown.
    ///
    /// ```swift
    /// let sigil = try VerifierService(keysetPath: "keyset.json", revocationsPath: "revocations.sgl",
    ///                                 whenNoList: .failClosed)
    /// let app = Application(router: router, services: [sigil.lifecycleService])
    /// ```
    public var lifecycleService: some Service { WatcherService(sigil: self) }
}

/// Runs ``VerifierService/run()`` until graceful shutdown.
struct WatcherService: Service {
    let sigil: VerifierService

    func run() async throws {
        let sigil = self.sigil
        try await cancelWhenGracefulShutdown { try await sigil.run() }
    }
}
