import Hummingbird
import SigilVerifier

/// The devices service's request context: Hummingbird's core storage plus the token that
/// ``BearerTokenMiddleware`` verified for this request.
struct SigilRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Set once the token verified and granted the route's permission; nil before that.
    var token: VerifiedToken?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        token = nil
    }
}
