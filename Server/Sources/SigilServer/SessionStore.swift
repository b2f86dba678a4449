import Foundation
public import Hummingbird
public import SigilIssuer
public import SigilVerifier
import Synchronization

/// The web console's sign-in sessions, kept in this process's memory.
///
/// A session maps a random 256-bit ID (the `sigil_session` cookie) to the token that signed
/// in, a CSRF secret and an expiry: 8 hours after sign-in or the token's `valid_to`, whichever
/// comes first. The token stays in server memory only; every request of the session runs it
/// through ``BearerAuthMiddleware``'s check again, so the session has exactly the token's
/// rights and is refused the moment the token is revoked or deactivated.
///
/// Sessions do not survive a restart (everyone signs in again) and are not shared between
/// server processes. Thread-safe: one `Mutex` covers the dictionary, never any I/O.
///
/// ```swift
/// let sessions = SessionStore()
/// let (id, session) = sessions.open(token: token, caller: caller)
/// // Set-Cookie: sigil_session=<id>; the page sends X-CSRF-Token: session.csrf
/// ```
public final class SessionStore: Sendable {
    /// One signed-in console.
    public struct Session: Sendable {
        /// The token that signed in; never logged, never sent back to the browser.
        let token: String
        /// The value the `X-CSRF-Token` header must carry on state-changing requests.
        public let csrf: String
        /// Unix seconds after which the session is refused.
        public let expiresAt: Int64
        public let callerID: TokenID
        /// The order sessions were opened in, to find a token's oldest.
        let serial: UInt64
    }

    private struct State {
        var sessions: [String: Session] = [:]
        var opened: UInt64 = 0
    }

    /// The cookie that carries the session ID.
    public static let cookieName = "sigil_session"
    /// The header that carries the CSRF secret.
    public static let csrfHeader = "X-CSRF-Token"
    static let csrfHeaderName = HTTPFields.Element.Name(csrfHeader)
    /// The longest a session lives, in seconds.
    public static let maxLifetime: Int64 = 8 * 3_600

    /// The most sessions one token holds at once; its next sign-in ends its oldest.
    public static let maxSessionsPerToken = 16
    /// The default of ``maxSessions``.
    public static let defaultMaxSessions = 10_000

    private let state = Mutex(State())
    /// The most sessions held at once; past it, sign-ins are refused (503) until some end.
    public let maxSessions: Int
    /// Whether cookies carry `Secure` (the server is reached over TLS, directly or via a proxy).
    public let secureCookies: Bool

    public init(secureCookies: Bool = false, maxSessions: Int = SessionStore.defaultMaxSessions) {
        self.secureCookies = secureCookies
        self.maxSessions = max(1, maxSessions)
    }

    /// 32 bytes from the system's CSPRNG (getrandom on Linux), base64url without padding.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(bytes)
    }

    /// Opens a session for `token`, which `caller` authenticated just now.
    ///
    /// A token holds at most ``maxSessionsPerToken`` sessions: past that, its own oldest session
    /// ends. Another token's session is never ended to make room: when the store holds
    /// ``maxSessions`` live sessions, the sign-in is refused instead, so no token (however
    /// little it may do) can sign other people out by signing in over and over.
    ///
    /// - Returns: The session ID for the cookie, and the session.
    /// - Throws: ``APIError`` 503 `unavailable` with `Retry-After` when the store is full.
    public func open(token: String, caller: Caller, now: Int64 = Issuer.currentTime()) throws(APIError)
        -> (String, Session)
    {
        let expiresAt = min(now + Self.maxLifetime, caller.validTo ?? .max)
        let csrf = Self.randomID()
        let id = Self.randomID()
        let limit = maxSessions
        let session = state.withLock { state -> Session? in
            if state.sessions.count >= limit {
                state.sessions = state.sessions.filter { $0.value.expiresAt > now }
            }
            let own = state.sessions.filter { $0.value.callerID == caller.id }
            if own.count >= Self.maxSessionsPerToken, let oldest = own.min(by: { $0.value.serial < $1.value.serial }) {
                state.sessions[oldest.key] = nil
            }
            guard state.sessions.count < limit else { return nil }
            state.opened += 1
            let session = Session(
                token: token, csrf: csrf, expiresAt: expiresAt, callerID: caller.id, serial: state.opened)
            state.sessions[id] = session
            return session
        }
        guard let session else {
            var error = APIError(
                .serviceUnavailable, "unavailable",
                "the server holds its maximum of \(limit) console sessions; sign in again once some end (sign out of unused ones), or use the token as a bearer token"
            )
            error.headers[.retryAfter] = "60"
            throw error
        }
        return (id, session)
    }

    /// The live session `id` names, or nil (an expired one is forgotten on the way).
    public func session(_ id: String, now: Int64 = Issuer.currentTime()) -> Session? {
        state.withLock { state in
            guard let session = state.sessions[id] else { return nil }
            guard session.expiresAt > now else {
                state.sessions[id] = nil
                return nil
            }
            return session
        }
    }

    /// Ends session `id`.
    public func close(_ id: String) {
        _ = state.withLock { $0.sessions.removeValue(forKey: id) }
    }

    /// How many sessions are held (expired ones included until they are next looked at).
    public var count: Int { state.withLock { $0.sessions.count } }

    // MARK: HTTP

    /// The session ID in the request's `Cookie` header(s), if any.
    static func sessionID(in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == cookieName else { continue }
                let value = pair[1].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    /// Methods that change nothing and so need no CSRF header.
    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }

    /// The token of the request's session, after the session and (for a state-changing
    /// request) its CSRF header were checked.
    ///
    /// - Throws: ``APIError`` 401 `invalid_token` (`reason` `session_expired`) for an unknown or
    ///   expired session; 403 `csrf_failed` for a missing or wrong `X-CSRF-Token`.
    func token(for request: Request, sessionID id: String) throws -> String {
        guard let session = session(id) else {
            var error = APIError(
                .unauthorized, "invalid_token", "the console session ended or expired; sign in again")
            error.fields["reason"] = "session_expired"
            error.headers[.setCookie] = clearingCookie()
            throw error
        }
        if !Self.isSafe(request.method) {
            let sent = Self.csrfHeaderName.map { request.headers[values: $0] } ?? []
            guard sent.count == 1, Secrets.equal(Array(sent[0].utf8), Array(session.csrf.utf8)) else {
                throw APIError(
                    .forbidden, "csrf_failed",
                    "a session's state-changing request needs the X-CSRF-Token header its sign-in returned")
            }
        }
        return session.token
    }

    /// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Path=/, Max-Age to its end.
    func cookie(id: String, session: Session, now: Int64 = Issuer.currentTime()) -> String {
        let maxAge = max(0, session.expiresAt - now)
        return "\(Self.cookieName)=\(id); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
            + (secureCookies ? "; Secure" : "")
    }

    /// `Set-Cookie` that makes the browser drop the session cookie.
    func clearingCookie() -> String {
        "\(Self.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secureCookies ? "; Secure" : "")
    }
}
