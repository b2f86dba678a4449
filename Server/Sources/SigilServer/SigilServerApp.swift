public import Hummingbird
public import Logging
import NIOCore
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

    /// Opens the home (it must exist; the server never creates one).
    ///
    /// - Throws: ``IssuerError`` from opening the home.
    public init(
        home: String, database: String? = nil, hostname: String, port: Int, busyTimeout: Double = 5, logger: Logger,
        limiter: FailedAuthLimiter = FailedAuthLimiter(), secureCookies: Bool = false,
        maxSessions: Int = SessionStore.defaultMaxSessions,
        queryTimeLimit: Double = IssuerQueue.defaultQueryTimeLimit,
        maxQueriesPerCaller: Int = IssuerQueue.defaultMaxQueriesPerCaller
    ) throws(IssuerError) {
        issuer = try IssuerQueue(
            home: home, database: database, busyTimeout: busyTimeout, maxQueriesPerCaller: maxQueriesPerCaller,
            queryTimeLimit: queryTimeLimit)
        broadcaster = RevocationBroadcaster()
        publisher = Publisher(issuer: issuer, broadcaster: broadcaster, logger: logger)
        self.limiter = limiter
        sessions = SessionStore(secureCookies: secureCookies, maxSessions: maxSessions)
        self.hostname = hostname
        self.port = port
        self.logger = logger
    }

    /// `GET /v1/revocations`; its long polls wait before routing (``GuardedHTTP1Channel``).
    var revocations: RevocationsController { RevocationsController(issuer: issuer, broadcaster: broadcaster) }

    /// The OpenAPI document, `docs/openapi.yaml` embedded at build time.
    public static var openAPIDocument: [UInt8] { PackageResources.openapi_yaml }

    /// Every route: pattern and methods. Requests to a known pattern with another method get 405.
    public static let routes: [(pattern: String, methods: [HTTPRequest.Method])] = [
        ("/v1/health", [.get]),
        ("/v1/openapi.yaml", [.get]),
        ("/v1/revocations", [.get]),
        ("/v1/session", [.get, .post, .delete]),
        ("/v1/catalog", [.get]),
        ("/v1/audit", [.get]),
        ("/v1/tokens", [.get, .post]),
        ("/v1/tokens/bulk", [.post]),
        ("/v1/tokens/revoke-by-token", [.post]),
        ("/v1/leak-reports/revocable_token_types", [.get]),
        ("/v1/leak-reports/revoke_tokens", [.post]),
        ("/v1/tokens/{guid}", [.get, .patch, .delete]),
        ("/v1/tokens/{guid}/deactivate", [.post]),
        ("/v1/tokens/{guid}/activate", [.post]),
        ("/v1/tokens/{guid}/revoke", [.post]),
    ]

    /// The methods a known route pattern allows for `path`, or nil for an unknown path.
    static func allowedMethods(for path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for route in routes {
            let pattern = route.pattern.split(separator: "/")
            guard pattern.count == parts.count else { continue }
            if zip(pattern, parts).allSatisfy({ $0 == "{guid}" || $0 == $1 }) { return route.methods }
        }
        return nil
    }

    /// The router: log line outermost, then security headers, then errors to JSON, then the routes.
    public func router() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: ClientAddressMiddleware(trusted: trustedProxies))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MethodNotAllowedMiddleware())
        router.add(middleware: QueryParametersMiddleware())

        let v1 = router.group("v1")
        v1.get("health") { [publisher] _, _ in
            // 503 while the publisher cannot keep the list current, so a load balancer or a
            // monitor sees it; the reasons are stable codes (docs/API.md).
            let reasons = publisher.problems
            if reasons.isEmpty { return JSONResponse.make(["status": "ok"]) }
            return JSONResponse.make(["status": "degraded", "reasons": reasons], status: .serviceUnavailable)
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
        AuditController(issuer: issuer).addRoutes(to: authenticated)
        TokensController(issuer: issuer, publisher: publisher).addRoutes(to: authenticated.group("tokens"))
        ConsoleController().addRoutes(to: router)
        return router
    }

    /// Publishes a list if none is current, then serves until SIGTERM or SIGINT.
    ///
    /// - Parameter onListening: Called with the bound port once the server accepts connections.
    /// - Throws: ``IssuerError`` if the first list cannot be published; the server's bind errors.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        // Long polls need a list to compare with, and services one to fetch: never start without.
        try await publisher.publishNow()
        let port = self.port
        let connections = ConnectionRegistry(maxConnections: connectionLimits.maxConnections, logger: logger)
        let app = Application(
            router: router(),
            server: GuardedHTTP1Channel.builder(limits: connectionLimits, registry: connections) {
                [revocations] request, connection in
                await revocations.holdLongPoll(request, connection: connection)
            },
            configuration: .init(address: .hostname(hostname, port: port), serverName: nil),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        // Graceful shutdown runs in reverse order: the publisher first, which wakes every long
        // poll, then the HTTP server, which then has no request left to wait for.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app), .init(service: publisher)]
                    + (webhooks.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []),
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        // Long polls whose clients left end at once (`ConnectionLifetime`), so this counts only
        // clients still waiting when the server stopped.
        logger.info("stopped", metadata: ["long_polls_cut_short": "\(broadcaster.waitingAtClose ?? 0)"])
    }
}

/// Answers 405 with `Allow` for a known path asked with a method it does not take (the router
/// alone would say 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError
            where error.status == .notFound && (context.endpointPath ?? "NotFound") == "NotFound"
        {
            guard let methods = SigilServerApp.allowedMethods(for: request.uri.path) else { throw error }
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            var api = APIError(.methodNotAllowed, "method_not_allowed", "this route takes \(allowed)")
            api.headers[.allow] = allowed
            throw api
        }
    }
}
