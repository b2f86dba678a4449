import Dispatch
import Foundation
import Hummingbird
public import SigilIssuer
import SigilVerifier
import Synchronization

/// The web console's sign-in sessions, kept in the ledger so every replica serves every session.
///
/// A session maps a random 256-bit ID (the `sigil_session` cookie) to the token that signed
/// in and an expiry: 8 hours after sign-in or the token's `valid_to`, whichever comes first.
/// The ledger's `sessions` row holds a hash of the ID and the token's GUID, never the ID or the
/// token (``Issuer/openSession(for:maxSessions:now:)``); the CSRF secret is derived from the ID
/// (``Issuer/csrfSecret(ofSession:)``), so any replica checks it. Every request of a session
/// reads the row and the token's ledger row (``Issuer/checkSession(_:now:)``) on the issuer's
/// priority lane, so the session has exactly the token's rights and is refused the moment
/// the token is revoked or deactivated, on whichever replica that happened.
///
/// Sessions survive a restart and are shared by every server on one ledger. Thread-safe:
/// nothing here is mutable but the attached ``IssuerQueue`` reference, behind a `Mutex`.
///
/// ```swift
/// let sessions = SessionStore(issuer: queue)
/// let (id, session) = try await sessions.open(caller: caller)
/// // Set-Cookie: sigil_session=<id>; the page sends X-CSRF-Token: session.csrf
/// ```
public final class SessionStore: Sendable {
    /// One signed-in console.
    public typealias Session = ConsoleSession

    /// The cookie that carries the session ID.
    public static let cookieName = "sigil_session"
    /// The header that carries the CSRF secret.
    public static let csrfHeader = "X-CSRF-Token"
    static let csrfHeaderName = HTTPFields.Element.Name(csrfHeader)
    /// The longest a session lives, in seconds.
    public static let maxLifetime = Issuer.sessionLifetime

    /// The most sessions one token holds at once; its next sign-in ends its oldest.
    public static let maxSessionsPerToken = Issuer.maxSessionsPerToken
    /// The default of ``maxSessions``.
    public static let defaultMaxSessions = 10_000

    /// The issuer whose ledger holds the sessions.
    private let ledger: Mutex<IssuerQueue?>
    /// The most sessions the ledger holds at once; past it, sign-ins are refused (503) until some end.
    public let maxSessions: Int
    /// Whether cookies carry `Secure` (the server is reached over TLS, directly or via a proxy).
    public let secureCookies: Bool

    /// Sessions in `issuer`'s ledger; without `issuer`, the first ``SessionController`` or
    /// ``BearerAuthMiddleware`` built with this store attaches theirs.
    ///
    /// - Parameters:
    ///   - issuer: The issuer whose ledger holds the sessions.
    ///   - secureCookies: Whether cookies carry `Secure`.
    ///   - maxSessions: The most sessions the ledger holds at once.
    public init(
        issuer: IssuerQueue? = nil, secureCookies: Bool = false, maxSessions: Int = SessionStore.defaultMaxSessions
    ) {
        ledger = Mutex(issuer)
        self.secureCookies = secureCookies
        self.maxSessions = max(1, maxSessions)
    }

    /// Uses `issuer`'s ledger unless the store already has one.
    public func attach(_ issuer: IssuerQueue) {
        ledger.withLock { if $0 == nil { $0 = issuer } }
    }

    private func issuer() throws -> IssuerQueue {
        guard let issuer = ledger.withLock({ $0 }) else {
            throw APIError(.serviceUnavailable, "unavailable", "console sessions are not set up on this server")
        }
        return issuer
    }

    /// Opens a session for `caller`, which authenticated just now.
    ///
    /// A token holds at most ``maxSessionsPerToken`` sessions: past that, its own oldest session
    /// ends. Another token's session is never ended to make room: when the ledger holds
    /// ``maxSessions`` live sessions, the sign-in is refused instead, so no token (however
    /// little it may do) can sign other people out by signing in over and over.
    ///
    /// - Returns: The session ID for the cookie, and the session.
    /// - Throws: ``APIError`` 503 `unavailable` with `Retry-After` when the ledger is full;
    ///   ``IssuerError`` from the ledger.
    public func open(caller: Caller, now: Int64 = Issuer.currentTime()) async throws -> (String, Session) {
        let limit = maxSessions
        guard
            let (id, session) = try await issuer().run({ try $0.openSession(for: caller, maxSessions: limit, now: now) }
            )
        else {
            var error = APIError(
                .serviceUnavailable, "unavailable",
                "the server holds its maximum of \(limit) console sessions; sign in again once some end (sign out of unused ones), or use the token as a bearer token"
            )
            error.headers[.retryAfter] = "60"
            throw error
        }
        return (id, session)
    }

    /// The live session `id` names with the verdict on its token, or nil (an expired one is
    /// removed on the way).
    public func check(_ id: String, now: Int64 = Issuer.currentTime()) async throws -> SessionCheck? {
        do {
            return try await issuer().run { issuer throws(IssuerError) in try issuer.checkSession(id, now: now) }
        } catch let error as IssuerError {
            // As for a bearer token: an unreadable ledger is the server's failure (503).
            throw VerificationError(.revocationsStale, "the ledger cannot be read: \(error.reason.rawValue)")
        }
    }

    /// The live session `id` names, or nil.
    public func session(_ id: String, now: Int64 = Issuer.currentTime()) async throws -> Session? {
        try await check(id, now: now)?.session
    }

    /// Ends session `id`.
    public func close(_ id: String) async throws {
        _ = try await issuer().run { try $0.closeSession(id) }
    }

    /// How many session rows the ledger holds (expired ones until a sign-in purges them).
    public func sessionCount() async throws -> Int {
        try await issuer().read { try $0.sessionCount() }
    }

    /// ``sessionCount()`` for synchronous callers (tests): blocks the calling thread until the
    /// issuer's lane answers; -1 if the ledger could not be read.
    ///
    /// The waiting task runs on an executor of its own, never on the cooperative pool, so it
    /// finishes even when every pool thread is blocked in this call.
    public var count: Int {
        let answer = BlockingAnswer()
        Task(executorPreference: BlockingAnswer.executor) { [self] in
            answer.set((try? await sessionCount()) ?? -1)
        }
        return answer.wait()
    }

    // MARK: HTTP

    /// The session ID in the request's `Cookie` header(s), if any.
    static func sessionID(in headers: HTTPFields) -> String? { cookie(named: cookieName, in: headers) }

    /// The first value of cookie `name` in the request's `Cookie` header(s); nil when absent or
    /// empty. The one cookie parser: the session and the single sign-on flow cookie use it.
    static func cookie(named name: String, in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for part in header.split(separator: ";") {
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name else { continue }
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

    /// The caller of the request's session, after the session, (for a state-changing request)
    /// its CSRF header and its token's state right now were checked.
    ///
    /// - Throws: ``APIError`` 401 `invalid_token` (`reason` `session_expired`) for an unknown or
    ///   expired session; 403 `csrf_failed` for a missing or wrong `X-CSRF-Token`;
    ///   ``VerificationError`` when the token would be refused as a bearer token right now
    ///   (the session then ends: it never works again, even once the token would).
    func caller(for request: Request, sessionID id: String) async throws -> Caller {
        guard let check = try await check(id) else {
            var error = APIError(
                .unauthorized, "invalid_token", "the console session ended or expired; sign in again")
            error.fields["reason"] = "session_expired"
            error.headers[.setCookie] = clearingCookie()
            throw error
        }
        if !Self.isSafe(request.method) {
            let sent = Self.csrfHeaderName.map { request.headers[values: $0] } ?? []
            guard sent.count == 1, Secrets.equal(Array(sent[0].utf8), Array(check.session.csrf.utf8)) else {
                throw APIError(
                    .forbidden, "csrf_failed",
                    "a session's state-changing request needs the X-CSRF-Token header its sign-in returned")
            }
        }
        switch check.caller {
        case .success(let caller):
            return caller
        case .failure(.token(let error)):
            try await close(id)
            throw error
        case .failure(.member(let refusal)):
            // The issuer already deleted the session of a suspended or removed member.
            var error = APIError(.unauthorized, "invalid_token", refusal.message)
            error.fields["reason"] = refusal.rawValue
            error.headers[.setCookie] = clearingCookie()
            throw error
        }
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

/// One value handed from a task to a thread that blocks until it arrives (``SessionStore/count``).
private final class BlockingAnswer: Sendable {
    /// Runs the answering task's jobs on a serial queue of its own, off the cooperative pool.
    final class Executor: TaskExecutor {
        let queue = DispatchQueue(label: "sigil-server.sessions.count")

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    static let executor = Executor()

    private let value = Mutex<Int?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func set(_ answer: Int) {
        value.withLock { $0 = answer }
        ready.signal()
    }

    func wait() -> Int {
        ready.wait()
        return value.withLock { $0 } ?? -1
    }
}
