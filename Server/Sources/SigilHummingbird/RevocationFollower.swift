import Foundation
public import Logging
public import ServiceLifecycle
import SigilFetch
public import SigilVerifier

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Keeps a ``RevocationStore`` current from sigil-server's `GET /v1/revocations` (long
/// polling with `?wait=` and `If-None-Match`, docs/API.md) or from a file, as a
/// ServiceLifecycle `Service`.
///
/// It asks with `?since=` the sequence in force, so sigil-server answers a delta when it can
/// (docs/FORMAT.md §4.3), applied by the store to the list in force and then checked as a full
/// list. Every list goes through the checks of `sigil revocations pull` (``RevocationListUpdate``):
/// the size bound, the format, a known key and its Ed25519 signature, then no rollback
/// (lower sequence) and no equivocation (same sequence, other bytes). A refused list is
/// logged and the list in force stays. Reads are bounded in size (the store's `maxBytes`,
/// checked against `Content-Length` and again while the body arrives) and in time (each
/// request ends after `wait + 15` seconds); failures back off from 1 s, doubling to 30 s.
/// Logs (swift-log) carry sequences, reason codes and the server's host, never a token.
///
/// ```swift
/// let sigil = try VerifierService(keysetPath: "keyset.json", revocationsPath: "revocations.sgl",
///                                 whenNoList: .failClosed)
/// let follower = RevocationFollower(server: "https://issuer.example/v1/revocations",
///                                   store: sigil.revocations, logger: logger)
/// let app = Application(router: router, services: [follower])
/// try await app.runService()
/// ```
///
/// The revocation list reaches verifiers on their next request: a revoke on the server is
/// refused here within about a second (the server answers a waiting poll within ~0.5 s).
public struct RevocationFollower: Service {
    /// Where lists come from.
    public enum Source: Sendable, Hashable {
        /// sigil-server's `GET /v1/revocations` URL (http or https), long-polled.
        case server(String)
        /// A file that `sigil revocations export` or a `pull` sidecar replaces; one `stat`
        /// each `interval`, read only when it changed.
        case file(String, interval: Duration)
    }

    /// What one offered list did.
    public enum Outcome: Sendable, Hashable {
        /// Installed: the store now holds this sequence.
        case installed(sequence: UInt64)
        /// The same list as the one in force.
        case unchanged(sequence: UInt64)
        /// Refused; the list in force stays.
        case refused(RevocationListError)
    }

    public let source: Source
    public let store: RevocationStore
    /// Seconds sigil-server may hold each poll (1...60).
    public let wait: Int
    public let logger: Logger

    /// Follows sigil-server's `GET /v1/revocations`.
    ///
    /// - Parameters:
    ///   - url: The endpoint, e.g. `https://issuer.example/v1/revocations`.
    ///   - store: The store the service's ``Verifier`` reads (``VerifierService/revocations``).
    ///   - wait: Seconds the server may hold each poll; clamped to 1...60.
    ///   - logger: Where installs, refusals and fetch failures are logged.
    public init(server url: String, store: RevocationStore, wait: Int = 30, logger: Logger) {
        self.source = .server(url)
        self.store = store
        self.wait = min(max(wait, 1), 60)
        self.logger = logger
    }

    /// Follows a file (for a service fed by `sigil revocations pull --follow` or a copy job).
    ///
    /// - Parameters:
    ///   - path: The signed list file; it may not exist yet.
    ///   - store: The store the service's ``Verifier`` reads.
    ///   - interval: How often to `stat` the file.
    ///   - logger: Where installs and refusals are logged.
    public init(file path: String, store: RevocationStore, interval: Duration = .seconds(1), logger: Logger) {
        self.source = .file(path, interval: interval)
        self.store = store
        self.wait = 30
        self.logger = logger
    }

    /// Follows the source until the task is cancelled or the service group shuts down
    /// gracefully; returns normally then.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            switch source {
            case .server(let url): await followServer(url)
            case .file(let path, let interval): await followFile(path, interval: interval)
            }
        }
    }

    /// Checks `bytes` as `sigil revocations pull` would against the list in force, and
    /// installs them if they pass.
    ///
    /// ```swift
    /// if case .refused(let error) = follower.offer(bytes) { print(error.reason) }
    /// ```
    ///
    /// - Returns: What happened; a refusal is also logged.
    @discardableResult
    public func offer(_ bytes: [UInt8]) -> Outcome {
        if RevocationDelta.isDelta(bytes) {
            // The store applies a delta to the list in force under its install lock, so the base
            // it is checked against cannot change underneath; then every check of a full list.
            do {
                let list = try store.load(bytes: bytes)
                logger.info(
                    "revocations installed from a delta",
                    metadata: ["sequence": "\(list.sequence)", "entries": "\(list.count)"])
                return .installed(sequence: list.sequence)
            } catch {
                return refused(error)
            }
        }
        let incoming: RevocationList
        do {
            incoming = try RevocationList(verifying: bytes, keys: store.keys, maxBytes: store.maxBytes)
        } catch {
            return refused(error)
        }
        let inForce = store.list
        let held: RevocationListUpdate.Held = inForce.isVerified ? .verified(inForce) : .none
        let decision = RevocationListUpdate.decide(incoming, over: held)
        if let refusal = decision.refusal { return refused(refusal) }
        if decision == .unchanged { return .unchanged(sequence: incoming.sequence) }
        do {
            // The store checks sequence and bytes again under its install lock, so two
            // writers racing cannot roll it back.
            try store.load(bytes: bytes)
        } catch {
            return refused(error)
        }
        logger.info(
            "revocations installed", metadata: ["sequence": "\(incoming.sequence)", "entries": "\(incoming.count)"])
        return .installed(sequence: incoming.sequence)
    }

    private func refused(_ error: RevocationListError) -> Outcome {
        var metadata: Logger.Metadata = ["reason": "\(error.reason.rawValue)"]
        if !error.detail.isEmpty { metadata["detail"] = "\(error.detail)" }
        logger.error("revocations refused (the list in force stays)", metadata: metadata)
        return .refused(error)
    }

    // MARK: - Following a server

    enum Fetched {
        case notModified
        case list([UInt8], etag: String?)
        case failed(String)
    }

    private func followServer(_ url: String) async {
        let host = URL(string: url)?.host ?? "?"
        logger.info("following revocations", metadata: ["host": "\(host)", "wait": "\(wait)"])
        var etag: String? = nil
        var backoff = 1
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var installedOrCurrent = false
            switch await fetch(url, etag: etag) {
            case .notModified:
                installedOrCurrent = true
            case .list(let bytes, let newETag):
                switch offer(bytes) {
                case .installed, .unchanged:
                    etag = newETag
                    installedOrCurrent = true
                case .refused:
                    break
                }
            case .failed(let message):
                logger.warning(
                    "revocations fetch failed; retrying",
                    metadata: [
                        "host": "\(host)", "error": "\(message)",
                        "retry_in_seconds": "\(backoff)",
                    ])
            }
            if installedOrCurrent {
                backoff = 1
                // A server that answers at once (no long poll) is asked at most once a second.
                let pause = Duration.seconds(1) - (ContinuousClock.now - started)
                if pause > .zero, !(await sleep(pause)) { return }
            } else {
                if !(await sleep(.seconds(backoff))) { return }
                backoff = min(backoff * 2, 30)
            }
        }
    }

    /// False when cancelled.
    private func sleep(_ duration: Duration) async -> Bool {
        do {
            try await Task.sleep(for: duration)
            return true
        } catch {
            return false
        }
    }

    private func fetch(_ source: String, etag: String?) async -> Fetched {
        // Asking with the sequence in force lets sigil-server answer a delta (a few bytes per
        // change, docs/FORMAT.md §4.3) instead of the whole list.
        let inForce = store.list
        let since = inForce.isVerified ? "since=\(inForce.sequence)&" : ""
        let address = source + (source.contains("?") ? "&" : "?") + since + "wait=\(wait)"
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https"
        else {
            return .failed("not an http(s) URL")
        }
        var request = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: TimeInterval(wait + 15))
        if let etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
        // Redirects are followed (a CDN in front): the list is signed and no credential is sent.
        let http = BoundedHTTP(
            maxBytes: store.maxBytes, timeout: wait + 15, followsRedirects: true, readsBody: { $0 == 200 })
        switch await http.run(request) {
        case .response(let response, _) where response.statusCode == 304:
            return .notModified
        case .response(let response, let bytes) where response.statusCode == 200:
            return .list(bytes, etag: response.value(forHTTPHeaderField: "ETag"))
        case .response(let response, _):
            return .failed("HTTP \(response.statusCode)")
        case .tooLarge(let declared):
            let error = RevocationListError(
                .tooLarge,
                declared.map { "the server declares \($0) bytes, limit \(store.maxBytes)" }
                    ?? "the body goes past \(store.maxBytes) bytes; stopped reading there")
            _ = refused(error)
            return .failed("too large")
        case .timedOut:
            return .failed("no answer within \(wait + 15) s")
        case .failed(let description):
            return .failed(description)
        case .notHTTP:
            return .failed("not an HTTP answer")
        }
    }

    // MARK: - Following a file

    private func followFile(_ path: String, interval: Duration) async {
        var last: FileBytes.Stamp? = nil
        while !Task.isCancelled {
            if let stamp = FileBytes.stamp(path: path), stamp != last {
                last = stamp
                do {
                    offer(try FileBytes.read(path: path, maxBytes: store.maxBytes))
                } catch {
                    _ = refused(
                        RevocationListError(error.errno == EFBIG ? .tooLarge : .io, error.description))
                }
            }
            if !(await sleep(interval)) { return }
        }
    }
}
