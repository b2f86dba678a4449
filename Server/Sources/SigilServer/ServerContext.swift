public import Hummingbird
import NIOCore
public import SigilIssuer
import SigilVerifier
import Synchronization

/// The server's request context: Hummingbird's core storage, the peer address (for the
/// failed-authentication limiter) and the caller that ``BearerAuthMiddleware`` authenticated.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, without the port; "unknown" for a Unix socket.
    public let peer: String
    /// Set once the bearer token authenticated; nil for routes that need none.
    public var caller: Caller?
    /// Shared with the request log middleware, which runs outside and cannot see `caller`.
    let record: RequestRecord

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress ?? "unknown"
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

/// What a request's log line needs from inside the middleware chain.
final class RequestRecord: Sendable {
    private let state = Mutex<TokenID?>(nil)

    var callerID: TokenID? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
