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
    }

    /// The cookie that carries the session ID.
    public static let cookieName = "sigil_session"
    /// The header that carries the CSRF secret.
    public static let csrfHeader = "X-CSRF-Token"
    static let csrfHeaderName = HTTPFields.Element.Name(csrfHeader)
    /// The longest a session lives, in seconds.
    public static let maxLifetime: Int64 = 8 * 3_600

    private let sessions = Mutex<[String: Session]>([:])
    let maxSessions: Int
    /// Whether cookies carry `Secure` (the server is reached over TLS, directly or via a proxy).
    public let secureCookies: Bool

    public init(secureCookies: Bool = false, maxSessions: Int = 10_000) {
        self.secureCookies = secureCookies
        self.maxSessions = maxSessions
    }

    /// 32 bytes from the system's CSPRNG (getrandom on Linux), base64url without padding.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(bytes)
    }

    /// Opens a session for `token`, which `caller` authenticated just now.
    ///
    /// - Returns: The session ID for the cookie, and the session.
    public func open(token: String, caller: Caller, now: Int64 = Issuer.currentTime()) -> (String, Session) {
        let expiresAt = min(now + Self.maxLifetime, caller.validTo ?? .max)
        let session = Session(token: token, csrf: Self.randomID(), expiresAt: expiresAt, callerID: caller.id)
        let id = Self.randomID()
        sessions.withLock { sessions in
            if sessions.count >= maxSessions {
                sessions = sessions.filter { $0.value.expiresAt > now }
                // Still full: the session closest to its end makes room.
                if sessions.count >= maxSessions,
                    let oldest = sessions.min(by: { $0.value.expiresAt < $1.value.expiresAt })
                {
                    sessions[oldest.key] = nil
                }
            }
            sessions[id] = session
        }
        return (id, session)
    }

    /// The live session `id` names, or nil (an expired one is forgotten on the way).
    public func session(_ id: String, now: Int64 = Issuer.currentTime()) -> Session? {
        sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expiresAt > now else {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    /// Ends session `id`.
    public func close(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// How many sessions are held (expired ones included until they are next looked at).
    public var count: Int { sessions.withLock { $0.count } }

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
            guard sent.count == 1, Self.constantTimeEquals(sent[0], session.csrf) else {
                throw APIError(
                    .forbidden, "csrf_failed",
                    "a session's state-changing request needs the X-CSRF-Token header its sign-in returned")
            }
        }
        return session.token
    }

    /// Compares without stopping at the first difference, so timing says nothing of the secret.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
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

/// base64url without padding (RFC 4648 §5), for random IDs.
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if i + 1 < bytes.count { out.append(alphabet[Int(n >> 6 & 63)]) }
            if i + 2 < bytes.count { out.append(alphabet[Int(n & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
