public import Hummingbird
import NIOCore

/// The web console: static HTML, CSS and JavaScript modules compiled into the binary
/// (`Resources/console/`), served at `/` and `/console/<file>`. The page talks to `/v1` only.
///
/// No build step and nothing fetched from elsewhere: the files are served as they are in the
/// repository, under ``SecurityHeadersMiddleware``'s `default-src 'self'` policy.
///
/// ```swift
/// ConsoleController().addRoutes(to: router)   // GET /, GET /console/app.js, …
/// ```
public struct ConsoleController: Sendable {
    /// A file of the console: its bytes and `Content-Type`.
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
    }

    static let javaScript = "text/javascript; charset=utf-8"

    /// Every file the console serves under `/console/`, by name.
    static let assets: [String: Asset] = [
        "console.css": Asset(bytes: PackageResources.console_css, contentType: "text/css; charset=utf-8"),
        "app.js": Asset(bytes: PackageResources.app_js, contentType: javaScript),
        "api.js": Asset(bytes: PackageResources.api_js, contentType: javaScript),
        "ui.js": Asset(bytes: PackageResources.ui_js, contentType: javaScript),
        "tokens.js": Asset(bytes: PackageResources.tokens_js, contentType: javaScript),
        "create.js": Asset(bytes: PackageResources.create_js, contentType: javaScript),
        "detail.js": Asset(bytes: PackageResources.detail_js, contentType: javaScript),
        "audit.js": Asset(bytes: PackageResources.audit_js, contentType: javaScript),
        "sso.js": Asset(bytes: PackageResources.sso_js, contentType: javaScript),
        "members.js": Asset(bytes: PackageResources.members_js, contentType: javaScript),
        "favicon.svg": Asset(bytes: PackageResources.favicon_svg, contentType: "image/svg+xml"),
    ]

    static let index = Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8")

    public init() {}

    public func addRoutes(to router: Router<ServerContext>) {
        router.get("/") { _, _ in Self.response(Self.index) }
        router.get("/console/{file}") { _, context in
            guard let name = context.parameters.get("file"), let asset = Self.assets[name] else {
                throw APIError(.notFound, "not_found", "no such console file")
            }
            return Self.response(asset)
        }
    }

    static func response(_ asset: Asset) -> Response {
        // no-store, as for every answer (docs/API.md): an upgraded server never runs beside a
        // stale page. The files carry no validator, so no-cache would refetch them whole anyway.
        Response(
            status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}

/// Adds the browser-hardening headers to every answer, API and console alike:
/// a Content-Security-Policy that allows only this origin's files (no inline script or style,
/// no framing), `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer` and `nosniff`.
///
/// ```swift
/// router.add(middleware: SecurityHeadersMiddleware())   // inside the log, outside the errors
/// ```
public struct SecurityHeadersMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    static let contentSecurityPolicy =
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

    /// Name and value of each header set; the names are constant and valid.
    static let headers: [(HTTPFields.Element.Name, String)] = [
        ("Content-Security-Policy", contentSecurityPolicy),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
    ].compactMap { name, value in HTTPFields.Element.Name(name).map { ($0, value) } }

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        for (name, value) in Self.headers { response.headers[name] = value }
        return response
    }
}
