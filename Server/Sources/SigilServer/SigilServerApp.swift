public import Hummingbird
public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
public import SigilIssuer
public import SigilVerifier
import UnixSignals

/// Builds sigil-server: the router with its route groups and middleware, the application and
/// the service group that runs it beside the revocation ``Publisher``.
///
/// ```swift
/// let server = try SigilServerApp(home: "keys", hostname: "127.0.0.1", port: 8080, logger: logger)
/// try await server.run()   // until SIGTERM or SIGINT
/// ```
public struct SigilServerApp: Sendable {
    public let issuer: IssuerQueue
    public let broadcaster: RevocationBroadcaster
    public let publisher: Publisher
    public let limiter: FailedAuthLimiter
    /// The web console's sign-in sessions (in memory; a restart signs everyone out).
    public let sessions: SessionStore
    public let hostname: String
    public let port: Int
    public let logger: Logger
    /// The leak-report intake's own token; nil turns `/v1/leak-reports` off (404).
    public var leakReportSecret: [UInt8]?
    /// Sends webhooks when set (docs/WEBHOOKS.md).
    public var webhooks: WebhookService?
    /// Idle and header timeouts and the connection cap (`--idle-timeout`, `--header-timeout`,
    /// `--max-connections`); the default cap follows the process's descriptor limit.
    public var connectionLimits = ConnectionLimits(descriptorLimit: DescriptorLimit.current.soft)
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`); empty: none.
    public var trustedProxies: [IPAddressRange] = []
    /// Seconds a cache may keep the revocation list (`--list-max-age`).
    public var listMaxAge = RevocationsController.defaultMaxAge
    /// Threads that accept connections and move their bytes (`--event-loops`).
    public var eventLoops = SigilServerApp.defaultEventLoops

    /// The default of ``eventLoops``: half the cores, at least 1. Handlers run on Swift's pool
    /// (a thread per core) and the database on its own connections' threads, so a loop per
    /// core too only adds threads taking turns on the cores: on 2 cores one loop made 8 % more
    /// creates and 17 % more reads a second than two (docs/DESIGN.md, "Where a create's time goes").
    public static var defaultEventLoops: Int { max(1, System.coreCount / 2) }
    /// `GET /v1/health/ready`'s checks.
    public let readiness: Readiness
    /// What `GET /metrics` reads from the ledger, shared by the scrapes of a second.
    let scrapeCounts = SharedAnswer<ScrapeCounts>(reuseFor: Readiness.reuseFor)
    /// Where `GET /metrics` listens (`--metrics-host`, `--metrics-port`); nil: no metrics listener.
    /// Never the API's own port: see ``MetricsListener``.
    public var metricsAddress: (host: String, port: Int)?
    /// Single sign-on with an OpenID Connect provider (`--oidc-*`); nil: token sign-in only.
    public var oidc: OIDCSettings?

    /// Opens the home (it must exist; the server never creates one).
    ///
    /// - Throws: ``IssuerError`` from opening the home.
    public init(
        home: String, database: String? = nil, hostname: String, port: Int, busyTimeout: Double = 5, logger: Logger,
        limiter: FailedAuthLimiter = FailedAuthLimiter(), secureCookies: Bool = false,
        maxSessions: Int = SessionStore.defaultMaxSessions,
        queryTimeLimit: Double = IssuerQueue.defaultQueryTimeLimit,
        maxQueriesPerCaller: Int = IssuerQueue.defaultMaxQueriesPerCaller,
        readers: Int = IssuerQueue.defaultReaders
    ) throws(IssuerError) {
        issuer = try IssuerQueue(
            home: home, database: database, busyTimeout: busyTimeout, readers: readers,
            maxQueriesPerCaller: maxQueriesPerCaller, queryTimeLimit: queryTimeLimit)
        broadcaster = RevocationBroadcaster()
        publisher = Publisher(issuer: issuer, broadcaster: broadcaster, logger: logger)
        self.limiter = limiter
        sessions = SessionStore(issuer: issuer, secureCookies: secureCookies, maxSessions: maxSessions)
        readiness = Readiness(issuer: issuer, publisher: publisher, broadcaster: broadcaster)
        self.hostname = hostname
        self.port = port
        self.logger = logger
    }

    /// `GET /v1/revocations`; its long polls wait before routing (``GuardedHTTP1Channel``).
    var revocations: RevocationsController {
        RevocationsController(issuer: issuer, broadcaster: broadcaster, maxAge: listMaxAge)
    }

    /// The OpenAPI document, `docs/openapi.yaml` embedded at build time.
    public static var openAPIDocument: [UInt8] { PackageResources.openapi_yaml }

    /// Every route the router holds, with its methods, read from the registrations themselves
    /// (a router built once to be asked): a known path asked with another method gets 405.
    public func routeTable() -> RouteTable {
        let probe = Router(context: ServerContext.self)
        addRoutes(to: probe)
        return RouteTable(probe.routes.map { ($0.path.description, $0.method) })
    }

    /// The router: log line and request ID outermost, then the client's address, security
    /// headers, errors to JSON, then the routes.
    public func router() -> Router<ServerContext> {
        let routes = routeTable()
        let router = Router(context: ServerContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ClientAddressMiddleware(trusted: trustedProxies))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MethodNotAllowedMiddleware(routes: routes))
        router.add(middleware: QueryParametersMiddleware(routes: routes))
        addRoutes(to: router)
        return router
    }

    /// Registers every route; ``router()`` and ``routeTable()`` both call it, so the 405 table
    /// cannot miss a route.
    func addRoutes(to router: Router<ServerContext>) {
        let v1 = router.group("v1")
        v1.get("health") { [publisher] _, _ in
            // 503 while the publisher cannot keep the list current, so a load balancer or a
            // monitor sees it; the reasons are stable codes (docs/API.md).
            let reasons = publisher.problems
            if reasons.isEmpty { return JSONResponse.make(["status": "ok"]) }
            return JSONResponse.make(["status": "degraded", "reasons": reasons], status: .serviceUnavailable)
        }
        v1.get("health/ready") { [readiness] _, _ in
            // Readiness, for load balancers: the database, the keyring and a current list (Readiness).
            let reasons = await readiness.reasons()
            let headers: HTTPFields = [.cacheControl: "no-store"]
            if reasons.isEmpty { return JSONResponse.make(["status": "ready"], headers: headers) }
            return JSONResponse.make(
                ["status": "not_ready", "reasons": reasons], status: .serviceUnavailable, headers: headers)
        }
        v1.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: Self.openAPIDocument)))
        }
        revocations.addRoutes(to: v1)
        LeakReportController(issuer: issuer, publisher: publisher, secret: leakReportSecret).addRoutes(to: v1)

        let authenticated = v1.group()
            .add(middleware: BearerAuthMiddleware(issuer: issuer, limiter: limiter, sessions: sessions))
        SessionController(issuer: issuer, sessions: sessions, limiter: limiter)
            .addRoutes(open: v1, guarded: authenticated)
        CatalogController(issuer: issuer).addRoutes(to: authenticated)
        RulesController().addRoutes(to: authenticated)
        AuditController(issuer: issuer).addRoutes(to: authenticated)
        TokensController(issuer: issuer, publisher: publisher).addRoutes(to: authenticated.group("tokens"))
        OIDCController(settings: oidc, issuer: issuer, sessions: sessions, limiter: limiter).addRoutes(to: v1)
        MembersController(issuer: issuer, publisher: publisher).addRoutes(to: authenticated.group("members"))
        ConsoleController().addRoutes(to: router)
    }

    /// Publishes a list if none is current, then serves until SIGTERM or SIGINT.
    ///
    /// - Parameters:
    ///   - onListening: Called with the bound port once the server accepts connections.
    ///   - onMetricsListening: Called with the metrics listener's bound port, if it has one.
    /// - Throws: ``IssuerError`` if the first list cannot be published; the server's bind errors.
    public func run(
        onListening: @escaping @Sendable (Int) -> Void = { _ in },
        onMetricsListening: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        // Long polls need a list to compare with, and services one to fetch: never start without.
        try await publisher.publishNow()
        let port = self.port
        let connections = ConnectionRegistry(maxConnections: connectionLimits.maxConnections, logger: logger)
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: max(1, eventLoops))
        let app = Application(
            router: router(),
            server: GuardedHTTP1Channel.builder(limits: connectionLimits, registry: connections) {
                [revocations] request, connection in
                await revocations.holdLongPoll(request, connection: connection)
            },
            configuration: .init(address: .hostname(hostname, port: port), serverName: nil),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            eventLoopGroupProvider: .shared(loops),
            logger: logger)
        // Graceful shutdown runs in reverse order: the publisher first, which wakes every long
        // poll, then the HTTP server, which then has no request left to wait for.
        let metrics = metricsAddress.map { address in
            MetricsListener(app: self).application(
                host: address.host, port: address.port, logger: logger, onListening: onMetricsListening)
        }
        // The metrics listener stops last, so a final scrape can still see the shutdown.
        let group = ServiceGroup(
            configuration: .init(
                services: (metrics.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? [])
                    + [.init(service: app), .init(service: publisher)]
                    + (webhooks.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let stopped: (any Error)?
        do { try await group.run(); stopped = nil } catch { stopped = error }
        // The server on them has stopped, whether it ended well or not: its connections are closed.
        try? await loops.shutdownGracefully()
        if let stopped { throw stopped }
        // Long polls whose clients left end at once (`ConnectionLifetime`), so this counts only
        // clients still waiting when the server stopped.
        logger.info("stopped", metadata: ["long_polls_cut_short": "\(broadcaster.waitingAtClose ?? 0)"])
    }
}

/// Answers 405 with `Allow` for a known path asked with a method it does not take (the router
/// alone would say 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let routes: RouteTable

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError
            where error.status == .notFound && (context.endpointPath ?? "NotFound") == "NotFound"
        {
            guard let methods = routes.allowedMethods(for: request.uri.path) else { throw error }
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            var api = APIError(.methodNotAllowed, "method_not_allowed", "this route takes \(allowed)")
            api.headers[.allow] = allowed
            throw api
        }
    }
}

/// The routes a router holds: each path pattern with the methods it takes.
///
/// Built from Hummingbird's `Router.routes`, so it lists exactly what was registered.
public struct RouteTable: Sendable {
    struct Entry: Sendable {
        let pattern: [Substring]
        var methods: [HTTPRequest.Method]
    }
    private let entries: [Entry]

    /// The order `Allow` lists methods in (the order the API documents them).
    private static let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete]

    /// A table of `(pattern, method)` pairs, patterns written like `/v1/tokens/{guid}`.
    public init(_ routes: [(pattern: String, method: HTTPRequest.Method)]) {
        var entries: [Entry] = []
        for (pattern, method) in routes {
            let parts = pattern.split(separator: "/", omittingEmptySubsequences: true)
            if let i = entries.firstIndex(where: { $0.pattern == parts }) {
                entries[i].methods.append(method)
            } else {
                entries.append(Entry(pattern: parts, methods: [method]))
            }
        }
        for i in entries.indices {
            entries[i].methods.sort { a, b in
                (Self.order.firstIndex(of: a) ?? Self.order.count, a.rawValue)
                    < (Self.order.firstIndex(of: b) ?? Self.order.count, b.rawValue)
            }
        }
        // Literal segments before captures, as the router matches (`bulk` before `{guid}`).
        self.entries = entries.sorted { $0.captures < $1.captures }
    }

    /// Every pattern with its methods, for tests and docs.
    public var routes: [(pattern: String, methods: [HTTPRequest.Method])] {
        entries.map { ("/" + $0.pattern.joined(separator: "/"), $0.methods) }
    }

    /// The methods a known route pattern allows for `path`, or nil for an unknown path.
    public func allowedMethods(for path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for entry in entries where entry.pattern.count == parts.count {
            if zip(entry.pattern, parts).allSatisfy({ $0.hasPrefix("{") && $0.hasSuffix("}") || $0 == $1 }) {
                return entry.methods
            }
        }
        return nil
    }
}

extension RouteTable.Entry {
    /// How many segments are captures: fewer first, so a literal route wins over `{guid}`.
    var captures: Int { pattern.filter { $0.hasPrefix("{") }.count }
}
