import Hummingbird
import Logging
import NIOCore
import SigilIssuer

/// `GET /metrics` (Prometheus text format) on a listener of its own, `--metrics-port`, bound to
/// loopback unless `--metrics-host` says otherwise.
///
/// Its own listener, not a route: the API port may face the network through a proxy, and the
/// metrics (route counts, failure reasons, database timings) are for the operator only, with no
/// authentication. So the API's router has no `/metrics` (it answers 404 there), and nothing but
/// `GET /metrics` is served here: no middleware, no request log line per scrape.
///
/// ```swift
/// server.metricsAddress = ("127.0.0.1", 9464)
/// try await server.run(onMetricsListening: { port in print("metrics on \(port)") })
/// ```
struct MetricsListener: Sendable {
    let app: SigilServerApp

    /// The metrics application, a service for the server's group.
    func application(
        host: String, port: Int, logger: Logger, onListening: @escaping @Sendable (Int) -> Void
    ) -> Application<RouterResponder<BasicRequestContext>> {
        let router = Router()
        router.get("metrics") { [app] _, _ in
            let bytes = ServerMetrics.shared.exposition(await app.metricsSnapshot())
            return Response(
                status: .ok, headers: [.contentType: ServerMetrics.contentType, .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        // Its lines (Hummingbird's "listening on" among them) say which listener they are about.
        var logger = logger
        logger[metadataKey: "listener"] = "metrics"
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }
}

/// What a scrape reads from the ledger; nil when it did not answer (the gauges keep their values).
struct ScrapeCounts: Sendable {
    var sessions: Int?
    var webhookQueue: Int?
}

extension SigilServerApp {
    /// What a scrape reads from the running server: long polls, the list, the sessions in the
    /// ledger (a count bounded by `--max-sessions`, on a reader, given at most a second).
    func metricsSnapshot() async -> ServerMetrics.Snapshot {
        let queue = issuer
        // Shared for a second, as readiness is: the listener has no authentication.
        let read = await scrapeCounts.value {
            let counts = await TimeLimit.run(.seconds(1)) {
                try await queue.read {
                    ScrapeCounts(
                        sessions: try $0.sessionCount(), webhookQueue: try $0.webhookQueueDepths().values.reduce(0, +))
                }
            }
            return (try? counts?.get()) ?? ScrapeCounts()
        }
        return ServerMetrics.Snapshot(
            longPolls: broadcaster.waiterCount, list: broadcaster.current, now: Publisher.wallClock(),
            sessions: read.sessions, webhookQueue: read.webhookQueue)
    }
}
