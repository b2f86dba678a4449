public import Hummingbird
public import SigilVerifier

/// A Hummingbird request context that carries the Sigil token ``SigilBearerMiddleware``
/// verified for the request.
///
/// Conform your own context to it, or use ``BasicSigilRequestContext``:
///
/// ```swift
/// struct AppContext: SigilRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var token: VerifiedToken?
///     init(source: ApplicationRequestContextSource) {
///         coreContext = .init(source: source)
///         token = nil
///     }
/// }
/// ```
public protocol SigilRequestContext: RequestContext {
    /// Set by ``SigilBearerMiddleware`` once the token verified and granted the route's
    /// permission; nil before that (and on routes without the middleware).
    var token: VerifiedToken? { get set }
}

extension SigilRequestContext {
    /// The verified token, or a 401 if no ``SigilBearerMiddleware`` ran for this route (a
    /// wiring mistake: the route would otherwise run unauthenticated).
    ///
    /// ```swift
    /// router.requiring(.listDevices, verifier: verifier).get("devices") { _, context in
    ///     "hello \(try context.requireToken().id)"
    /// }
    /// ```
    ///
    /// - Throws: `HTTPError(.unauthorized)` when no token was verified.
    public func requireToken() throws -> VerifiedToken {
        guard let token else { throw HTTPError(.unauthorized) }
        return token
    }
}

/// The smallest ``SigilRequestContext``: Hummingbird's core storage and the token.
///
/// ```swift
/// let router = Router(context: BasicSigilRequestContext.self)
/// ```
public struct BasicSigilRequestContext: SigilRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var token: VerifiedToken?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        token = nil
    }
}
