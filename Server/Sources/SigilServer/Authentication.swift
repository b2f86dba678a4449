import Foundation
public import Hummingbird
import Logging
import SigilIssuer
import SigilVerifier
import Synchronization

/// Authenticates `Authorization: Bearer sgl_…` on every request of the routes it guards.
///
/// Calls ``Issuer/authenticate(_:now:)`` each time: the MAC, the window and the ledger's status
/// right now, so a token revoked a moment ago (through the API or the CLI) is refused on its
/// next request. What the caller may then do is the library's business (`Issuer.…(as:)`).
///
/// Failed authentications cost the peer address a token from ``FailedAuthLimiter``; when its
/// bucket is empty, the request is answered 429 before the token is even looked at.
/// The token is never logged: a refusal logs its reason code, a success the caller's GUID.
///
/// Without an `Authorization` header, a console session cookie (``SessionStore``) stands in:
/// its token then goes through the very same check, and a state-changing request must also
/// carry the session's CSRF header.
public struct BearerAuthMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    let issuer: IssuerQueue
    let limiter: FailedAuthLimiter
    let sessions: SessionStore?

    public init(issuer: IssuerQueue, limiter: FailedAuthLimiter, sessions: SessionStore? = nil) {
        self.issuer = issuer
        self.limiter = limiter
        self.sessions = sessions
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try limiter.refuseIfExhausted(context.peer)
        let token: String
        var sessionID: String?
        let credentials = Self.credentials(in: request.headers)
        if credentials == .absent, let sessions, let id = SessionStore.sessionID(in: request.headers) {
            do {
                token = try sessions.token(for: request, sessionID: id)
            } catch let error as APIError {
                if error.status == .unauthorized { limiter.recordFailure(context.peer) }
                throw error
            }
            sessionID = id
        } else {
            switch credentials {
            case .absent:
                limiter.recordFailure(context.peer)
                var error = APIError(
                    .unauthorized, "invalid_token", "send a token in the Authorization header: Bearer, then the token")
                error.fields["reason"] = "missing_token"
                // RFC 6750 §3.1: no error code when the request carried no credentials at all.
                error.headers[.wwwAuthenticate] = #"Bearer realm="sigil""#
                throw error
            case .repeated:
                limiter.recordFailure(context.peer)
                throw APIError.badRequest("send exactly one Authorization header")
            case .bearer(let text):
                token = text
            }
        }
        let caller: Caller
        do {
            caller = try await issuer.run { issuer throws(VerificationError) in try issuer.authenticate(token) }
        } catch let error as VerificationError {
            if error.reason != .revocationsStale { limiter.recordFailure(context.peer) }
            context.logger.notice("refused token", metadata: ["reason": "\(error.reason.rawValue)"])
            // A session whose token was revoked, deactivated or expired never works again.
            if let sessionID, error.reason != .revocationsStale { sessions?.close(sessionID) }
            throw error
        }
        var context = context
        context.caller = caller
        context.record.callerID = caller.id
        return try await next(request, context)
    }

    /// What the `Authorization` header holds, as far as the Bearer scheme is concerned.
    enum Credentials: Equatable {
        case absent
        case repeated
        case bearer(String)
    }

    /// Parses `Authorization: Bearer <token>`; the scheme name is case-insensitive (RFC 9110 §11.1).
    static func credentials(in headers: HTTPFields) -> Credentials {
        let values = headers[values: .authorization]
        guard values.count <= 1 else { return .repeated }
        guard let value = values.first else { return .absent }
        let scheme = value.prefix { $0 != " " }
        guard scheme.utf8.count == 6, scheme.lowercased() == "bearer" else { return .absent }
        return .bearer(String(value.dropFirst(scheme.count).drop { $0 == " " }))
    }
}

/// A token bucket per peer address that only failed authentications drain.
///
/// Each address holds up to `burst` tries; every failure takes one, and they come back at
/// `refillPerSecond`. An address with an empty bucket is answered 429 until one has come back.
/// Successful requests take nothing, so a busy client with a good token is never limited.
/// Memory stays bounded: full buckets are forgotten, and past `maxAddresses` the oldest go.
public final class FailedAuthLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let buckets = Mutex<[String: Bucket]>([:])
    let burst: Double
    let refillPerSecond: Double
    let maxAddresses: Int

    public init(burst: Int = 10, refillPerSecond: Double = 1, maxAddresses: Int = 10_000) {
        self.burst = Double(burst)
        self.refillPerSecond = refillPerSecond
        self.maxAddresses = maxAddresses
    }

    private func refilled(_ bucket: Bucket, now: ContinuousClock.Instant) -> Bucket {
        let elapsed = now - bucket.updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Bucket(tokens: min(burst, bucket.tokens + seconds * refillPerSecond), updated: now)
    }

    /// Seconds to wait if `peer` has no try left, else nil.
    public func retryAfter(_ peer: String) -> Int? {
        let now = ContinuousClock.now
        return buckets.withLock { buckets -> Int? in
            guard let bucket = buckets[peer] else { return nil }
            let current = refilled(bucket, now: now)
            guard current.tokens < 1 else { return nil }
            return max(1, Int(((1 - current.tokens) / refillPerSecond).rounded(.up)))
        }
    }

    /// 429 `too_many_requests` with `Retry-After` when `peer` has no try left.
    public func refuseIfExhausted(_ peer: String, what: String = "failed authentications") throws(APIError) {
        guard let wait = retryAfter(peer) else { return }
        var error = APIError(
            .tooManyRequests, "too_many_requests", "too many \(what) from this address; retry in \(wait) s")
        error.headers[.retryAfter] = String(wait)
        throw error
    }

    /// Takes `cost` tries from `peer`'s bucket (the leak intake also charges its successes).
    public func recordFailure(_ peer: String, cost: Double = 1) {
        let now = ContinuousClock.now
        buckets.withLock { buckets in
            let bucket = buckets[peer].map { refilled($0, now: now) } ?? Bucket(tokens: burst, updated: now)
            buckets[peer] = Bucket(tokens: max(0, bucket.tokens - cost), updated: now)
            if buckets.count > maxAddresses {
                // Forget addresses whose bucket has filled up again, then the oldest if still too many.
                buckets = buckets.filter { refilled($0.value, now: now).tokens < burst }
                while buckets.count > maxAddresses,
                    let oldest = buckets.min(by: { $0.value.updated < $1.value.updated })
                {
                    buckets[oldest.key] = nil
                }
            }
        }
    }
}
