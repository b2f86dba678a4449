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
/// Credentials are checked first and only failures meet ``FailedAuthLimiter``: a failure costs
/// the client (``ServerContext/client``) a try, and once its bucket is empty a failure is
/// answered 429 instead of 401. A token that authenticates (or a live session) is never
/// refused by the limit, so nobody can lock the right callers out by sending wrong tokens from
/// their address (every client of a proxy shares one). Checking first is cheap where it
/// matters: a malformed or forged token fails on its MAC, before the ledger is read.
/// The token is never logged: a refusal logs its reason code, a success the caller's GUID.
///
/// Without an `Authorization` header, a console session cookie (``SessionStore``) stands in:
/// its ledger row names the token, whose ledger row then goes through the same checks (status,
/// window, key) and yields the same ``Caller``; a state-changing request must also carry the
/// session's CSRF header.
public struct BearerAuthMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    let issuer: IssuerQueue
    let limiter: FailedAuthLimiter
    let sessions: SessionStore?

    public init(issuer: IssuerQueue, limiter: FailedAuthLimiter, sessions: SessionStore? = nil) {
        self.issuer = issuer
        self.limiter = limiter
        self.sessions = sessions
        sessions?.attach(issuer)
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let credentials = BearerCredentials(authorization: request.headers[values: .authorization])
        let caller: Caller
        var kind = RequestRecord.CallerKind.token
        do {
            if credentials == .absent, let sessions, let id = SessionStore.sessionID(in: request.headers) {
                kind = .session
                caller = try await sessions.caller(for: request, sessionID: id)
            } else {
                let token = try bearerToken(credentials, context: context)
                caller = try await issuer.read { issuer throws(VerificationError) in try issuer.authenticate(token) }
            }
        } catch let error as VerificationError {
            context.logger.notice("refused token", metadata: ["reason": "\(error.reason.rawValue)"])
            ServerMetrics.shared.authenticationFailed(reason: error.reason.rawValue)
            // An unreadable ledger is the server's failure, not the caller's.
            if error.reason != .revocationsStale { try limiter.chargeFailure(context.client) }
            throw error
        } catch let error as APIError {
            ServerMetrics.shared.authenticationFailed(reason: error.fields["reason"] ?? Self.reason(of: error))
            // A guessed session ID costs like a guessed token; a CSRF failure (403) does not.
            if error.status == .unauthorized { try limiter.chargeFailure(context.client) }
            throw error
        }
        var context = context
        context.caller = caller
        context.record.caller = (caller.id, kind)
        return try await next(request, context)
    }

    /// The metrics reason of a refusal without a `reason` field: a CSRF failure, a repeated header.
    private static func reason(of error: APIError) -> String {
        error.status == .badRequest ? "repeated_header" : error.code
    }

    /// The bearer token of a request without a session. A 401 or a ``VerificationError`` thrown
    /// here is charged to the client by ``handle(_:context:next:)``; a repeated header is charged here.
    private func bearerToken(_ credentials: BearerCredentials, context: Context) throws -> String {
        switch credentials {
        case .absent:
            var error = APIError(
                .unauthorized, "invalid_token", "send a token in the Authorization header: Bearer, then the token")
            error.fields["reason"] = "missing_token"
            // RFC 6750 §3.1: no error code when the request carried no credentials at all.
            error.headers[.wwwAuthenticate] = #"Bearer realm="sigil""#
            throw error
        case .repeated:
            try limiter.chargeFailure(context.client)
            throw APIError.badRequest("send exactly one Authorization header")
        case .malformed:
            // Not one b64token after `Bearer `: no Sigil token can look like that.
            throw VerificationError(.malformed, "the Bearer credentials are not one token")
        case .bearer(let text):
            return String(text)
        }
    }
}

/// A token bucket per client that only failed authentications drain.
///
/// Each client (``ServerContext/client``: an IPv4 address, an IPv6 /64) holds up to `burst`
/// tries; every failure takes one, and they come back at `refillPerSecond`. A failure from a
/// client with an empty bucket is answered 429 instead of its 401 until a try has come back.
/// Successful authentications take nothing and are never refused, so wrong tokens sent from
/// the same address (or through the same proxy) cannot lock a right one out; what the limit
/// still does is slow down whoever keeps failing and answer them with no verdict at all.
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

    /// Seconds to wait if `client` has no try left, else nil.
    public func retryAfter(_ client: String) -> Int? {
        let now = ContinuousClock.now
        return buckets.withLock { buckets -> Int? in
            guard let bucket = buckets[client] else { return nil }
            let current = refilled(bucket, now: now)
            guard current.tokens < 1 else { return nil }
            return max(1, Int(((1 - current.tokens) / refillPerSecond).rounded(.up)))
        }
    }

    /// 429 `too_many_requests` with `Retry-After` when `client` has no try left.
    public func refuseIfExhausted(_ client: String, what: String = "failed authentications") throws(APIError) {
        guard let wait = retryAfter(client) else { return }
        ServerMetrics.shared.rateLimited(.failedAuthentication)
        var error = APIError(
            .tooManyRequests, "too_many_requests", "too many \(what) from this address; retry in \(wait) s")
        error.headers[.retryAfter] = String(wait)
        throw error
    }

    /// Charges one failed authentication to `client`: 429 `too_many_requests` with
    /// `Retry-After` when its bucket is already empty, else `cost` tries are taken and the
    /// caller goes on to answer its own refusal (401).
    ///
    /// ```swift
    /// guard verified else {
    ///     try limiter.chargeFailure(context.client)  // 429 once the bucket is empty
    ///     throw APIError(.unauthorized, "invalid_token", "…")
    /// }
    /// ```
    ///
    /// - Throws: ``APIError`` 429 when `client` has no try left.
    public func chargeFailure(_ client: String, cost: Double = 1, what: String = "failed authentications")
        throws(APIError)
    {
        try refuseIfExhausted(client, what: what)
        recordFailure(client, cost: cost)
    }

    /// Takes `cost` tries from `client`'s bucket.
    public func recordFailure(_ client: String, cost: Double = 1) {
        let now = ContinuousClock.now
        buckets.withLock { buckets in
            let bucket = buckets[client].map { refilled($0, now: now) } ?? Bucket(tokens: burst, updated: now)
            buckets[client] = Bucket(tokens: max(0, bucket.tokens - cost), updated: now)
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
