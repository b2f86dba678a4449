public import Hummingbird
import NIOCore
public import SigilIssuer
public import SigilVerifier

/// The server's request context: Hummingbird's core storage, the peer address (for the
/// failed-authentication limiter) and the caller that ``BearerAuthMiddleware`` authenticated.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, without the port; "unknown" for a Unix socket.
    public let peer: String
    /// Whom the failed-authentication limits count this request against: the peer's
    /// ``IPAddress/limitKey`` (an IPv6 peer by its /64), or, when the peer is a trusted proxy
    /// (`--trusted-proxy`), the client its `X-Forwarded-For` names (``ClientAddressMiddleware``).
    public internal(set) var client: String
    /// Set once the bearer token authenticated; nil for routes that need none.
    public var caller: Caller?
    /// Shared with the request log middleware, which runs outside and cannot see `caller`.
    let record: RequestRecord

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress ?? "unknown"
        client = IPAddress(peer)?.limitKey ?? peer
        caller = nil
        record = RequestRecord()
    }

    /// The caller, or a programmer error: only routes behind the bearer middleware ask.
    var authenticated: Caller {
        get throws {
            guard let caller else { throw APIError(.unauthorized, "invalid_token", "no bearer token was checked") }
            return caller
        }
    }

    /// Bodies larger than this are refused with 413.
    public var maxUploadSize: Int { APIBody.maxBytes }
}

/// Sets ``ServerContext/client`` from `X-Forwarded-For` when the peer is a trusted proxy.
///
/// Behind a proxy every request comes from the proxy's address, so without this all clients
/// share one failed-authentication budget. The header counts only from a peer in `trusted`
/// (``IPAddress/client(peer:forwardedFor:trusted:)``: the right-most entry that is not a
/// trusted proxy; a malformed header leaves the peer); from anyone else it is ignored, since
/// any client can write it.
///
/// ```swift
/// router.add(middleware: ClientAddressMiddleware(trusted: [IPAddressRange("127.0.0.1/32")].compactMap { $0 }))
/// ```
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    static let forwardedFor = HTTPFields.Element.Name("X-Forwarded-For")

    let trusted: [IPAddressRange]

    public init(trusted: [IPAddressRange]) { self.trusted = trusted }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard !trusted.isEmpty, let peer = IPAddress(context.peer), let name = Self.forwardedFor else {
            return try await next(request, context)
        }
        var context = context
        let client = IPAddress.client(peer: peer, forwardedFor: request.headers[values: name], trusted: trusted)
        context.client = client.limitKey
        return try await next(request, context)
    }
}
