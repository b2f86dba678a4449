import ArgumentParser
import CMallocTuning
import Foundation
import Logging
import SigilIssuer
import SigilServer
import SigilVerifier

/// `sigil-server`: the issuer's HTTP API over one home.
@main
struct SigilServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigil-server",
        abstract: "Serve the Sigil issuer's HTTP API (/v1) over one home.",
        discussion: """
            Tokens call the API with Authorization: Bearer sgl_…. Bootstrap the first one with the CLI:
              sigil --home keys issue --audience sigil --all --name "org admin"
              sigil-server --home keys --port 8080

            The CLI may keep using the same home while the server runs. The server publishes the \
            revocation list itself (GET /v1/revocations) after every change. Bind it to loopback and \
            put a TLS proxy in front (docs/API.md). Logs go to stderr and never contain tokens; \
            metrics, log format and readiness: docs/OPERATIONS.md.
            """)

    /// `--log-format`.
    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case json, text
    }

    @Option(
        help: ArgumentHelp("Home folder with keyring and ledger (default: $SIGIL_HOME, else ./keys).", valueName: "dir")
    )
    var home: String?

    @Option(
        help: ArgumentHelp(
            "The ledger: postgres://… shared by several replicas, or a SQLite file (default: $SIGIL_DATABASE, else <home>/sigil.db).",
            valueName: "url"))
    var database: String?

    @Option(help: "The address to listen on.")
    var hostname = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one (the log says which).")
    var port = 8080

    @Option(
        name: .customLong("failed-auth-burst"),
        help: ArgumentHelp("Failed authentications one address may make before 429.", valueName: "n"))
    var failedAuthBurst = 10

    @Option(
        name: .customLong("failed-auth-refill"),
        help: ArgumentHelp("Failed authentications per second an address earns back.", valueName: "per-second"))
    var failedAuthRefill = 1.0

    @Option(
        name: .customLong("leak-report-token-file"),
        help: ArgumentHelp(
            "Enable the leak-report intake (GitLab's Token Revocation API) with the token in this 0600 file.",
            valueName: "file"))
    var leakReportTokenFile: String?

    @Flag(
        help: "Mark the web console's session cookie Secure; set it when clients reach the server over TLS (a proxy).")
    var secureCookies = false

    @Option(
        name: .customLong("trusted-proxy"),
        help: ArgumentHelp(
            "A proxy (address or CIDR block; repeatable) whose X-Forwarded-For names the client for the failed-auth limits.",
            valueName: "cidr"))
    var trustedProxy: [String] = []

    @Option(
        name: .customLong("max-sessions"),
        help: ArgumentHelp(
            "Console sessions held at once (16 per token at most); past it, sign-ins get 503.", valueName: "n"))
    var maxSessions = SessionStore.defaultMaxSessions

    @Option(
        help: ArgumentHelp(
            "Send webhooks (docs/WEBHOOKS.md) to this http(s) URL (repeatable; every event).", valueName: "url"))
    var webhook: [String] = []

    @Option(
        name: .customLong("webhook-secret-file"),
        help: ArgumentHelp(
            "The webhook signing secret, in this 0600 file: one for every --webhook, or one per --webhook in order.",
            valueName: "file"))
    var webhookSecretFile: [String] = []

    @Option(
        name: .customLong("webhooks-file"),
        help: ArgumentHelp(
            "Webhook endpoints from this 0600 JSON file, each with its URL, secret file and events (docs/WEBHOOKS.md).",
            valueName: "file"))
    var webhooksFile: String?

    @Option(
        name: .customLong("webhook-poll-seconds"),
        help: ArgumentHelp(
            "Seconds between checks of the ledger for webhooks, and of the lease by replicas standing by.",
            valueName: "seconds"))
    var webhookPollSeconds = 10

    @Option(
        name: .customLong("webhook-lease-seconds"),
        help: ArgumentHelp(
            "Seconds the webhook sender's lease lasts unless renewed; another replica takes over after it.",
            valueName: "seconds"))
    var webhookLeaseSeconds = Int(WebhookSchedule().lease.components.seconds)

    @Option(
        name: .customLong("webhook-retry-seconds"),
        help: ArgumentHelp("Seconds a webhook is retried after it was queued, then dropped.", valueName: "seconds"))
    var webhookRetrySeconds = Int(WebhookSchedule().retryFor.components.seconds)

    @Option(
        name: .customLong("webhook-first-retry-seconds"),
        help: ArgumentHelp(
            "Seconds before a failed webhook's first retry; each later wait doubles, up to an hour.",
            valueName: "seconds"))
    var webhookFirstRetrySeconds = 1.0

    @Option(
        name: .customLong("webhook-timeout"),
        help: ArgumentHelp("Seconds one webhook attempt may take before it counts as failed.", valueName: "seconds"))
    var webhookTimeout = WebhookSchedule().attemptTimeoutSeconds

    @Option(
        name: .customLong("webhook-concurrency"),
        help: ArgumentHelp("Webhooks in flight at once per endpoint.", valueName: "n"))
    var webhookConcurrency = 4

    @Option(
        name: .customLong("idle-timeout"),
        help: ArgumentHelp(
            "Seconds a connection may wait between requests before it is closed (a long poll is never idle).",
            valueName: "seconds"))
    var idleTimeout = Int(ConnectionLimits.defaultIdleTimeout.components.seconds)

    @Option(
        name: .customLong("header-timeout"),
        help: ArgumentHelp(
            "Seconds a request's line and headers may take to arrive before the connection is closed.",
            valueName: "seconds"))
    var headerTimeout = Int(ConnectionLimits.defaultHeaderTimeout.components.seconds)

    @Option(
        name: .customLong("max-connections"),
        help: ArgumentHelp(
            "Open connections kept at once; over it, the oldest idle one is closed (default: the descriptor limit less an eighth, at least 64, for the database and files).",
            valueName: "n"))
    var maxConnections: Int?

    @Option(
        name: .customLong("query-time-limit"),
        help: ArgumentHelp(
            "Seconds one listing or audit read may run before it is stopped (503 query_timeout).",
            valueName: "seconds"))
    var queryTimeLimit = IssuerQueue.defaultQueryTimeLimit

    @Option(
        name: .customLong("max-listings-per-token"),
        help: ArgumentHelp(
            "Listings and audit reads one token may have running or waiting at once; more are 429.", valueName: "n"))
    var maxListingsPerToken = IssuerQueue.defaultMaxQueriesPerCaller

    @Option(
        name: .customLong("db-connections"),
        help: ArgumentHelp(
            "Read connections to the ledger, used at once by authentication, reads and listings (default: two per core, at least 2). Writes have one more connection of their own, and waiting writes commit together.",
            valueName: "n"))
    var dbConnections: Int?

    @Option(
        name: .customLong("event-loops"),
        help: ArgumentHelp(
            "Threads that accept connections and read and write their bytes (default: half the cores, at least 1). Requests are handled on Swift's thread pool and the database on its connections' own threads, so more loops mostly add threads taking turns on the cores.",
            valueName: "n"))
    var eventLoops: Int?

    @Option(
        name: .customLong("list-max-age"),
        help: ArgumentHelp(
            "Seconds a CDN or proxy cache may keep GET /v1/revocations (Cache-Control: public, max-age); a revoke reaches followers behind a cache within this plus their poll. Long polls are never cached.",
            valueName: "seconds"))
    var listMaxAge = RevocationsController.defaultMaxAge

    @Option(
        name: .customLong("log-format"),
        help: ArgumentHelp(
            "Log lines on stderr as JSON objects or as text (default: text when stderr is a terminal, else json).",
            valueName: "json|text"))
    var logFormat: LogFormat?

    @Option(
        name: .customLong("metrics-port"),
        help: ArgumentHelp(
            "Serve GET /metrics (Prometheus) on this port of --metrics-host, never on the API port; 0 picks a free one. Off when not given.",
            valueName: "port"))
    var metricsPort: Int?

    @Option(
        name: .customLong("metrics-host"),
        help: ArgumentHelp(
            "The address of the metrics listener; it has no authentication, so keep it on loopback or a private network.",
            valueName: "address"))
    var metricsHost = "127.0.0.1"

    @Option(
        name: .customLong("oidc-issuer"),
        help: ArgumentHelp(
            "Single sign-on: the OpenID Connect provider's issuer URL (discovery at <url>/.well-known/openid-configuration).",
            valueName: "url"))
    var oidcIssuer: String?

    @Option(
        name: .customLong("oidc-client-id"),
        help: ArgumentHelp("Single sign-on: this server's client ID at the provider.", valueName: "id"))
    var oidcClientID: String?

    @Option(
        name: .customLong("oidc-client-secret-file"),
        help: ArgumentHelp("Single sign-on: the client secret, in this 0600 file.", valueName: "file"))
    var oidcClientSecretFile: String?

    @Option(
        name: .customLong("oidc-redirect-url"),
        help: ArgumentHelp(
            "Single sign-on: this server's callback as the browser reaches it, registered at the provider (default: http://<hostname>:<port>/v1/oidc/callback).",
            valueName: "url"))
    var oidcRedirectURL: String?

    @Option(
        name: .customLong("oidc-allowed-domain"),
        help: ArgumentHelp("Single sign-on: accept only verified emails in this domain.", valueName: "domain"))
    var oidcAllowedDomain: String?

    @Option(
        name: .customLong("oidc-provider-name"),
        help: ArgumentHelp(
            "Single sign-on: the name on the console's button (default: the issuer's host).", valueName: "name"))
    var oidcProviderName: String?

    @Option(
        name: .customLong("oidc-jwks-refresh-seconds"),
        help: ArgumentHelp(
            "Single sign-on: the least seconds between two reads of the provider's keys caused by an unknown key ID.",
            valueName: "seconds"))
    var oidcJWKSRefreshSeconds = 300

    @Option(
        name: .customLong("oidc-clock-skew"),
        help: ArgumentHelp(
            "Single sign-on: seconds an ID token's exp and iat may be off this server's clock.", valueName: "seconds"))
    var oidcClockSkew = 60

    /// `--oidc-*` as settings, or nil when single sign-on is off.
    func oidcSettings() throws(IssuerError) -> OIDCSettings? {
        let given = [oidcIssuer, oidcClientID, oidcClientSecretFile]
        guard
            given.contains(where: { $0 != nil }) || oidcAllowedDomain != nil || oidcRedirectURL != nil
                || oidcProviderName != nil
        else { return nil }
        guard let issuer = oidcIssuer, let clientID = oidcClientID, let secretFile = oidcClientSecretFile else {
            throw IssuerError(
                .invalidInput,
                "single sign-on needs --oidc-issuer, --oidc-client-id and --oidc-client-secret-file together")
        }
        guard oidcRedirectURL != nil || port != 0 else {
            throw IssuerError(.invalidInput, "--port 0 picks a port at start: give --oidc-redirect-url")
        }
        let redirect = oidcRedirectURL ?? "\(Self.url(hostname, port))\(OIDCController.callbackPath)"
        return try OIDCSettings(
            issuer: issuer, clientID: clientID, clientSecret: try Secrets.readFile(secretFile), redirectURL: redirect,
            displayName: oidcProviderName, allowedDomain: oidcAllowedDomain,
            jwksRefreshInterval: oidcJWKSRefreshSeconds,
            clockSkew: oidcClockSkew)
    }

    func validate() throws {
        guard (0...RevocationsController.maxMaxAge).contains(listMaxAge) else {
            throw ValidationError("--list-max-age must be 0...\(RevocationsController.maxMaxAge) seconds")
        }
        guard (1...1_000_000).contains(failedAuthBurst) else {
            throw ValidationError("--failed-auth-burst must be 1...1000000")
        }
        guard failedAuthRefill.isFinite, failedAuthRefill > 0, failedAuthRefill <= 1_000_000 else {
            throw ValidationError("--failed-auth-refill must be above 0 and at most 1000000")
        }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard !hostname.isEmpty else { throw ValidationError("--hostname must not be empty") }
        if let metricsPort {
            guard (0...65_535).contains(metricsPort) else { throw ValidationError("--metrics-port must be 0...65535") }
            guard metricsPort == 0 || metricsPort != port else {
                throw ValidationError("--metrics-port must differ from --port: the API port never serves /metrics")
            }
        }
        guard !metricsHost.isEmpty else { throw ValidationError("--metrics-host must not be empty") }
        guard webhook.isEmpty == webhookSecretFile.isEmpty else {
            throw ValidationError("--webhook and --webhook-secret-file go together: give both or neither")
        }
        guard webhookSecretFile.count <= 1 || webhookSecretFile.count == webhook.count else {
            throw ValidationError(
                "give one --webhook-secret-file for all --webhook URLs, or one per --webhook in the same order")
        }
        for url in webhook {
            do { _ = try WebhookEndpoint.checkURL(url) } catch {
                throw ValidationError("--webhook must be an http:// or https:// URL with a host")
            }
        }
        guard (1...86_400).contains(webhookPollSeconds) else {
            throw ValidationError("--webhook-poll-seconds must be 1...86400")
        }
        let bounds = (
            lease: WebhookSchedule.leaseSeconds, retryFor: WebhookSchedule.retryForSeconds,
            firstRetry: WebhookSchedule.firstRetrySeconds, timeout: WebhookSchedule.attemptTimeoutSeconds
        )
        guard bounds.lease.contains(webhookLeaseSeconds) else {
            throw ValidationError("--webhook-lease-seconds must be \(bounds.lease)")
        }
        guard bounds.retryFor.contains(webhookRetrySeconds) else {
            throw ValidationError("--webhook-retry-seconds must be \(bounds.retryFor) (30 days)")
        }
        guard webhookFirstRetrySeconds.isFinite, bounds.firstRetry.contains(webhookFirstRetrySeconds) else {
            throw ValidationError("--webhook-first-retry-seconds must be \(bounds.firstRetry)")
        }
        guard bounds.timeout.contains(webhookTimeout) else {
            throw ValidationError("--webhook-timeout must be \(bounds.timeout)")
        }
        guard (1...WebhookService.maxConcurrency).contains(webhookConcurrency) else {
            throw ValidationError("--webhook-concurrency must be 1...\(WebhookService.maxConcurrency)")
        }
        guard (1...86_400).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be 1...86400") }
        guard (1...3_600).contains(headerTimeout) else { throw ValidationError("--header-timeout must be 1...3600") }
        if let maxConnections, !(1...10_000_000).contains(maxConnections) {
            throw ValidationError("--max-connections must be 1...10000000")
        }
        guard queryTimeLimit.isFinite, queryTimeLimit > 0, queryTimeLimit <= 3_600 else {
            throw ValidationError("--query-time-limit must be above 0 and at most 3600")
        }
        if let dbConnections, !(2...256).contains(dbConnections) {
            throw ValidationError("--db-connections must be 2...256")
        }
        if let eventLoops, !(1...256).contains(eventLoops) {
            throw ValidationError("--event-loops must be 1...256")
        }
        guard (1...1_000).contains(maxListingsPerToken) else {
            throw ValidationError("--max-listings-per-token must be 1...1000")
        }
        for text in trustedProxy where IPAddressRange(text) == nil {
            throw ValidationError(
                "--trusted-proxy '\(text.prefix(100))' is not an address or CIDR block (like 10.0.0.0/8)")
        }
        guard (1...1_000_000).contains(maxSessions) else { throw ValidationError("--max-sessions must be 1...1000000") }
    }

    var homePath: String {
        if let home, !home.isEmpty { return home }
        if let env = ProcessInfo.processInfo.environment["SIGIL_HOME"], !env.isEmpty { return env }
        return "keys"
    }

    /// `SIGIL_LOCK_TIMEOUT` seconds, default 5, as the CLI reads it.
    static var busyTimeout: Double {
        guard let text = ProcessInfo.processInfo.environment["SIGIL_LOCK_TIMEOUT"], let value = Double(text),
            value.isFinite, value >= 0
        else { return 5 }
        return min(value, 3_600)
    }

    func run() async throws {
        let json = (logFormat ?? (isatty(STDERR_FILENO) != 0 ? .text : .json)) == .json
        // Every logger of the process, Hummingbird's and swift-service-lifecycle's included.
        if json { LoggingSystem.bootstrap(JSONLogHandler.init(label:)) }
        ServerMetrics.bootstrapSwiftMetrics()
        var logger = Logger(label: "sigil-server")  // text: swift-log's default handler, on stderr
        logger.logLevel = .info
        // Lines for people (startup errors, the address) go through the logger in JSON mode.
        let plain: Logger? = json ? logger : nil
        // glibc hands an arena's free top back with madvise once it passes 128 KiB, and each
        // call flushes the other cores' TLBs: about a thousand a second under creates (perf).
        // Up to 32 MiB kept per arena stops them (docs/DESIGN.md, "Where a create's time goes").
        _ = sigil_set_malloc_trim_threshold(32 << 20)
        // Before anything opens a descriptor: each connection needs one, and the default cap
        // follows the limit.
        let descriptors = DescriptorLimit.raiseSoftToHard()
        let limits = ConnectionLimits(
            idleTimeout: .seconds(idleTimeout), headerTimeout: .seconds(headerTimeout),
            maxConnections: maxConnections ?? ConnectionLimits.defaultMaxConnections(descriptorLimit: descriptors.soft))
        if limits.maxConnections > descriptors.soft - 16 {
            logger.warning(
                "--max-connections leaves almost no descriptors for the database and files; connections may fail with 'too many open files'",
                metadata: ["max_connections": "\(limits.maxConnections)", "descriptor_limit": "\(descriptors.soft)"])
        }
        logger.info(
            "connection limits",
            metadata: [
                "max_connections": "\(limits.maxConnections)", "descriptor_limit": "\(descriptors.soft)",
                "idle_timeout_s": "\(idleTimeout)", "header_timeout_s": "\(headerTimeout)",
            ])
        var server: SigilServerApp
        do {
            server = try SigilServerApp(
                home: homePath, database: database ?? ProcessInfo.processInfo.environment["SIGIL_DATABASE"],
                hostname: hostname, port: port, busyTimeout: Self.busyTimeout, logger: logger,
                limiter: FailedAuthLimiter(burst: failedAuthBurst, refillPerSecond: failedAuthRefill),
                secureCookies: secureCookies, maxSessions: maxSessions, queryTimeLimit: queryTimeLimit,
                maxQueriesPerCaller: maxListingsPerToken, readers: dbConnections ?? IssuerQueue.defaultReaders)
            server.eventLoops = eventLoops ?? SigilServerApp.defaultEventLoops
            logger.info(
                "database connections", metadata: ["readers": "\(server.issuer.readers)", "writers": "1"])
            logger.info("event loops", metadata: ["threads": "\(server.eventLoops)"])
            server.trustedProxies = trustedProxy.compactMap(IPAddressRange.init)
            server.connectionLimits = limits
            server.listMaxAge = listMaxAge
            server.oidc = try oidcSettings()
            if let oidc = server.oidc {
                logger.info("single sign-on", metadata: ["issuer": "\(oidc.issuer)", "client_id": "\(oidc.clientID)"])
            }
            if let file = leakReportTokenFile { server.leakReportSecret = try Secrets.readFile(file) }
            let endpoints = try webhookEndpoints()
            if !endpoints.isEmpty {
                var schedule = WebhookSchedule()
                schedule.lease = .seconds(webhookLeaseSeconds)
                schedule.retryFor = .seconds(webhookRetrySeconds)
                schedule.firstRetry = .milliseconds(Int64(webhookFirstRetrySeconds * 1000))
                schedule.attemptTimeout = .seconds(webhookTimeout)
                server.webhooks = WebhookService(
                    issuer: server.issuer, endpoints: endpoints, schedule: schedule,
                    pollInterval: .seconds(webhookPollSeconds), concurrency: webhookConcurrency, logger: logger)
                logger.info(
                    "webhooks",
                    metadata: [
                        "endpoints": "\(endpoints.map(\.name).joined(separator: ","))",
                        "holder": "\(server.webhooks?.holder ?? "")",
                    ])
            }
        } catch {
            Self.fail(error, logger: plain)
        }
        if let metricsPort {
            server.metricsAddress = (metricsHost, metricsPort)
            if !IPAddress.isLoopback(host: metricsHost) {
                logger.warning(
                    "the metrics listener is on a non-loopback address: whoever reaches it reads the metrics (no authentication)",
                    metadata: ["metrics_host": "\(metricsHost)"])
            }
        }
        if !IPAddress.isLoopback(host: hostname) {
            logger.warning(
                "listening on a non-loopback address: bearer tokens cross the network, so serve only through a TLS proxy in front (docs/API.md, Deployment)",
                metadata: ["hostname": "\(hostname)"])
        }
        // SIGHUP: read the keyring again now (it is also read again whenever its file is replaced).
        signal(SIGHUP, SIG_IGN)
        let hangUp = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangUp.setEventHandler {
            Keyring.forgetLoaded()
            logger.notice("SIGHUP: the keyring is read again at its next use")
        }
        hangUp.resume()
        defer { hangUp.cancel() }
        let (host, metricsHost) = (hostname, self.metricsHost)
        do {
            try await server.run(
                onListening: { port in Self.say("sigil-server: listening on \(Self.url(host, port))", logger: plain) },
                onMetricsListening: { port in
                    Self.say("sigil-server: metrics on \(Self.url(metricsHost, port))/metrics", logger: plain)
                })
        } catch let error as IssuerError {
            Self.fail(error, logger: plain)
        }
    }

    /// `http://host:port`, an IPv6 address in brackets.
    static func url(_ host: String, _ port: Int) -> String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// Every `--webhook` (with its secret file) and every endpoint of `--webhooks-file`.
    func webhookEndpoints() throws(IssuerError) -> [WebhookEndpoint] {
        var out: [WebhookEndpoint] = []
        for (i, url) in webhook.enumerated() {
            let file = webhookSecretFile.count == 1 ? webhookSecretFile[0] : webhookSecretFile[i]
            out.append(try WebhookEndpoint(url: url, secret: try Secrets.readFile(file)))
        }
        if let webhooksFile { out += try WebhookEndpoint.load(file: webhooksFile) }
        try WebhookEndpoint.checkSet(out)
        return out
    }

    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A line for people: plain on stderr, or a log line through `logger` (JSON mode).
    static func say(_ line: String, logger: Logger?, level: Logger.Level = .notice) {
        if let logger { logger.log(level: level, "\(line)") } else { stderr(line) }
    }

    /// Prints the issuer's message and exits with the CLI's sysexits code for its reason.
    static func fail(_ error: IssuerError, logger: Logger? = nil) -> Never {
        let hint =
            switch error.detail {
            case .noHome(let path):
                ". Create one and a first token with: sigil --home \(path) issue --audience sigil --all --name \"org admin\""
            default: ""
            }
        say("sigil-server: error: \(error.message)\(hint)", logger: logger, level: .critical)
        // The same table as every sigil command's exit code (docs/API.md, "Errors").
        Foundation.exit(ErrorContract.exitCode(for: error))
    }
}
