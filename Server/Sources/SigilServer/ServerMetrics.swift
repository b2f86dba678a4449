import Metrics
import NIOCore
public import Prometheus
public import SigilIssuer
import SigilVerifier
import Synchronization

/// sigil-server's metrics: one Prometheus registry, every metric's name and help in one table
/// (``Family``), and one method per event, so that instrumenting code takes one line.
///
/// ```swift
/// ServerMetrics.shared.tokensIssued()
/// ServerMetrics.shared.authenticationFailed(reason: error.reason.rawValue)
/// let began = ContinuousClock.now
/// …
/// ServerMetrics.shared.listPublished(since: began)
/// ```
///
/// The registry is process-wide, like swift-metrics' `MetricsSystem`; `sigil-server` also
/// bootstraps swift-metrics with a `PrometheusMetricsFactory` over it, so anything that counts
/// through swift-metrics' API lands in the same `GET /metrics` (on the metrics listener, never
/// on the API port: ``MetricsListener``). A name registered here with its help must not be
/// made again through swift-metrics (the registry refuses a second help text for one name).
///
/// Labels only ever take bounded values: route templates, never paths; methods outside a fixed
/// list count as `other`; reasons, actions and results from fixed lists, anything else as
/// `other`. Never a GUID, token, e-mail or client address.
///
/// Cost on the request path: counters are atomics; a histogram takes the library's lock for one
/// record; the series whose labels are known up front are made once here, and each route,
/// method and status series on first use, then found under one lock in a small dictionary.
/// Thread-safe.
public final class ServerMetrics: Sendable {
    /// The one registry of this process.
    public static let shared = ServerMetrics()

    /// Where every metric is kept; ``exposition(_:)`` renders it.
    public let registry: PrometheusCollectorRegistry

    /// A metric's name and help text: the one place each is written (docs/OPERATIONS.md lists them).
    public struct Family: Sendable {
        public let name: String
        public let help: String

        init(_ name: String, _ help: String) {
            self.name = name
            self.help = help
        }

        /// The registry's description of it (made when needed: the library's type is not `Sendable`).
        var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }

        public static let requests = Family(
            "sigil_http_requests_total", "HTTP requests answered, by route template, method and status.")
        public static let requestDuration = Family(
            "sigil_http_request_duration_seconds",
            "Time from routing to the answer, by route template and method (a long poll's wait before routing is not included)."
        )
        public static let rateLimited = Family(
            "sigil_http_rate_limited_total", "Requests answered 429, by the limit that refused them.")
        public static let tokensIssued = Family("sigil_tokens_issued_total", "Tokens issued through this server.")
        public static let tokensChanged = Family(
            "sigil_tokens_changed_total", "Tokens changed through this server, by action.")
        public static let authFailures = Family(
            "sigil_auth_failures_total", "Refused authentications, by reason code.")
        public static let longPolls = Family(
            "sigil_revocation_long_polls_open", "Long polls of GET /v1/revocations waiting now.")
        public static let listSequence = Family(
            "sigil_revocation_list_sequence", "Sequence of the revocation list this server serves.")
        public static let listAge = Family(
            "sigil_revocation_list_age_seconds", "Seconds since the served list's issued_at, by this host's clock.")
        public static let listEntries = Family(
            "sigil_revocation_list_entries", "Entries in the served revocation list.")
        public static let listBytes = Family("sigil_revocation_list_bytes", "Size of the served revocation list.")
        public static let publishDuration = Family(
            "sigil_revocation_publish_duration_seconds",
            "Time from the publisher's attempt to a new list stored, the wait for the writer included.")
        public static let transactionDuration = Family(
            "sigil_db_transaction_duration_seconds",
            "Time a database connection spends on one transaction: a group of writes, or one read.")
        public static let connectionWait = Family(
            "sigil_db_connection_wait_seconds",
            "Time a request waits for the writer (behind other writes) or for a free reader.")
        public static let writeGroupSize = Family(
            "sigil_db_write_group_size", "Writes committed together in one writer transaction.")
        public static let sessions = Family(
            "sigil_sessions_open", "Console sessions in the ledger (expired ones until a sign-in purges them).")
        public static let webhookDeliveries = Family(
            "sigil_webhook_deliveries_total", "Webhook delivery attempts, by result.")
        public static let webhookQueue = Family("sigil_webhook_queue_depth", "Webhook events waiting to be sent.")
    }

    /// The limits whose refusals are 429.
    public enum RateLimit: String, Sendable, CaseIterable {
        /// ``FailedAuthLimiter``: a client out of failed authentications.
        case failedAuthentication = "failed_auth"
        /// ``IssuerQueue/maxQueriesPerCaller``: a token with too many listings running.
        case queriesPerToken = "queries_per_token"
    }

    /// The database connections whose waits and transactions are timed.
    public enum Connection: String, Sendable, CaseIterable {
        case writer, reader
    }

    /// What became of one webhook delivery attempt.
    public enum WebhookResult: String, Sendable, CaseIterable {
        case delivered, failed
        case givenUp = "given_up"
        case dropped
    }

    /// Reasons counted by ``authenticationFailed(reason:)``: the verifier's codes and the
    /// server's own; any other string counts as `other`.
    public static let authFailureReasons: [String] =
        VerificationError.Reason.allCases.map(\.rawValue) + [
            "missing_token", "session_expired", "csrf_failed", "repeated_header", "leak_report_token", "other",
        ]

    /// Methods with a label of their own; any other is `other`.
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// The route label of a request that matched no route.
    public static let unmatchedRoute = "unmatched"

    static let requestBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    static let publishBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30),
    ]
    static let waitBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
        .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
    ]
    static let groupBuckets: [Double] = [1, 2, 4, 8, 16, 32, Double(IssuerQueue.maxGroup)]

    private struct SeriesKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }
    private struct RequestSeries {
        let count: Prometheus.Counter
        let duration: DurationHistogram
    }
    /// Bounded by routes × methods × the statuses the server answers.
    private let requestSeries = Mutex<[SeriesKey: RequestSeries]>([:])
    private let issued: Prometheus.Counter
    private let changed: [LifecycleAction: Prometheus.Counter]
    private let authFailures: [String: Prometheus.Counter]
    private let limited: [RateLimit: Prometheus.Counter]
    private let waits: [Connection: DurationHistogram]
    private let transactions: [Connection: DurationHistogram]
    private let groupSize: ValueHistogram
    private let publish: DurationHistogram
    private let webhookResults: [WebhookResult: Prometheus.Counter]
    private let webhookQueue: Prometheus.Gauge
    private let longPolls: Prometheus.Gauge
    private let listSequence: Prometheus.Gauge
    private let listAge: Prometheus.Gauge
    private let listEntries: Prometheus.Gauge
    private let listBytes: Prometheus.Gauge
    private let sessions: Prometheus.Gauge

    /// A registry of its own with every fixed series made (at zero), so a scrape shows each
    /// metric before its first event. Use ``shared`` in the server.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func counters<Key: Hashable>(_ family: Family, _ label: String, _ keys: [Key], _ value: (Key) -> String)
            -> [Key: Prometheus.Counter]
        {
            Dictionary(
                uniqueKeysWithValues: keys.map {
                    ($0, registry.makeCounter(descriptor: family.descriptor, labels: [(label, value($0))]))
                })
        }
        func histograms(_ family: Family, _ buckets: [Duration]) -> [Connection: DurationHistogram] {
            Dictionary(
                uniqueKeysWithValues: Connection.allCases.map {
                    (
                        $0,
                        registry.makeDurationHistogram(
                            descriptor: family.descriptor, labels: [("connection", $0.rawValue)], buckets: buckets)
                    )
                })
        }
        func gauge(_ family: Family) -> Prometheus.Gauge { registry.makeGauge(descriptor: family.descriptor) }
        issued = registry.makeCounter(descriptor: Family.tokensIssued.descriptor)
        changed = counters(Family.tokensChanged, "action", LifecycleAction.allCases, \.rawValue)
        authFailures = counters(Family.authFailures, "reason", Self.authFailureReasons) { $0 }
        limited = counters(Family.rateLimited, "limit", RateLimit.allCases, \.rawValue)
        webhookResults = counters(Family.webhookDeliveries, "result", WebhookResult.allCases, \.rawValue)
        waits = histograms(Family.connectionWait, Self.waitBuckets)
        transactions = histograms(Family.transactionDuration, Self.requestBuckets)
        groupSize = registry.makeValueHistogram(
            descriptor: Family.writeGroupSize.descriptor, buckets: Self.groupBuckets)
        publish = registry.makeDurationHistogram(
            descriptor: Family.publishDuration.descriptor, buckets: Self.publishBuckets)
        webhookQueue = gauge(Family.webhookQueue)
        longPolls = gauge(Family.longPolls)
        listSequence = gauge(Family.listSequence)
        listAge = gauge(Family.listAge)
        listEntries = gauge(Family.listEntries)
        listBytes = gauge(Family.listBytes)
        sessions = gauge(Family.sessions)
    }

    /// Points swift-metrics' global factory at ``shared``'s registry, so whatever counts through
    /// swift-metrics' API (`Counter(label:)`, `Timer(label:)`) shows in `GET /metrics` too. Call it
    /// once, at start: swift-metrics takes one bootstrap per process.
    public static func bootstrapSwiftMetrics() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: shared.registry))
    }

    // MARK: Requests

    /// Counts one answered request and times it.
    ///
    /// - Parameters:
    ///   - route: The route template (`/v1/tokens/{guid}`), or nil when no route matched.
    ///   - method: The request's method; one outside a fixed list counts as `other`.
    ///   - status: The answer's status code.
    ///   - duration: From routing to the answer.
    public func request(route: String?, method: String, status: Int, duration: Duration) {
        let key = SeriesKey(
            route: route ?? Self.unmatchedRoute, method: Self.methods.contains(method) ? method : "other",
            status: status)
        let series = requestSeries.withLock { $0[key] } ?? makeSeries(key)
        series.count.increment()
        series.duration.record(duration)
    }

    /// One route, method and status's series, made on its first request. Kept here, since the
    /// registry's own lookup validates names and hashes label arrays on every call.
    private func makeSeries(_ key: SeriesKey) -> RequestSeries {
        let series = RequestSeries(
            count: registry.makeCounter(
                descriptor: Family.requests.descriptor,
                labels: [("route", key.route), ("method", key.method), ("status", String(key.status))]),
            duration: registry.makeDurationHistogram(
                descriptor: Family.requestDuration.descriptor, labels: [("route", key.route), ("method", key.method)],
                buckets: Self.requestBuckets))
        requestSeries.withLock { $0[key] = series }
        return series
    }

    /// Counts a request refused with 429 by `limit`.
    public func rateLimited(_ limit: RateLimit) { limited[limit]?.increment() }

    /// Counts a refused authentication; `reason` outside ``authFailureReasons`` counts as `other`.
    public func authenticationFailed(reason: String) {
        (authFailures[reason] ?? authFailures["other"])?.increment()
    }

    // MARK: Tokens

    /// Counts `count` tokens issued.
    public func tokensIssued(_ count: Int = 1) { issued.increment(by: Int64(count)) }

    /// Counts `count` tokens that `action` changed.
    public func tokensChanged(_ action: LifecycleAction, count: Int) {
        guard count > 0 else { return }
        changed[action]?.increment(by: Int64(count))
    }

    // MARK: The database and the publisher

    /// Times a wait for `connection` that began at `since`.
    public func waited(for connection: Connection, since: ContinuousClock.Instant) {
        waits[connection]?.record(ContinuousClock.now - since)
    }

    /// Times a transaction on `connection` that began at `since`.
    public func transaction(on connection: Connection, since: ContinuousClock.Instant) {
        transactions[connection]?.record(ContinuousClock.now - since)
    }

    /// Records one writer transaction: each write's wait from when it was `queued` to `began`,
    /// how many writes the transaction carried, and its time from `began` to now.
    public func writerRan(queued: [ContinuousClock.Instant], began: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        for instant in queued { waits[.writer]?.record(began - instant) }
        groupSize.record(Double(queued.count))
        transactions[.writer]?.record(now - began)
    }

    /// Times one attempt of the publisher that began at `since`.
    public func listPublished(since: ContinuousClock.Instant) { publish.record(ContinuousClock.now - since) }

    // MARK: Webhooks

    /// Counts webhook deliveries by what became of them.
    public func webhookDelivery(_ result: WebhookResult, count: Int = 1) {
        webhookResults[result]?.increment(by: Int64(count))
    }

    // MARK: Scrapes

    /// What a scrape reads from the running server, for the gauges it sets just before rendering.
    public struct Snapshot: Sendable {
        /// Long polls waiting now.
        public var longPolls: Int
        /// The list served now, if any.
        public var list: PublishedList?
        /// Unix seconds by the server's clock, for the list's age.
        public var now: Int64
        /// Console sessions in the ledger; nil when the ledger did not answer (the gauge keeps its value).
        public var sessions: Int?
        /// Webhook deliveries queued in the ledger; nil when the ledger did not answer.
        public var webhookQueue: Int?

        public init(longPolls: Int, list: PublishedList?, now: Int64, sessions: Int?, webhookQueue: Int? = nil) {
            self.webhookQueue = webhookQueue
            self.longPolls = longPolls
            self.list = list
            self.now = now
            self.sessions = sessions
        }
    }

    /// The Prometheus text exposition (format 0.0.4) after setting the gauges from `snapshot`.
    public func exposition(_ snapshot: Snapshot) -> [UInt8] {
        longPolls.set(Double(snapshot.longPolls))
        if let list = snapshot.list {
            listSequence.set(Double(list.sequence))
            listBytes.set(Double(list.body.readableBytes))
            if let parsed = list.list {
                listEntries.set(Double(parsed.count))
                listAge.set(Double(snapshot.now - parsed.issuedAt))
            }
        }
        if let count = snapshot.sessions { sessions.set(Double(count)) }
        if let count = snapshot.webhookQueue { webhookQueue.set(Double(count)) }
        return registry.emitToBuffer()
    }

    /// The exposition's media type.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
