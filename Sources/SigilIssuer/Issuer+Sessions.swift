import SigilIssuerCrypto
public import SigilVerifier

/// A console session's row in the ledger's `sessions` table (docs/DATABASE.md).
///
/// It holds a hash of the session ID (``Issuer/sessionHash(_:)``), never the ID, and the GUID
/// of the token that signed in (never the token) or the ID of the member who signed in: a copy
/// of the database opens no session.
package struct SessionRecord: Sendable, Hashable {
    /// ``Issuer/sessionHash(_:)`` of the session ID: 32 bytes.
    package let idHash: [UInt8]
    /// The token that signed in, or the member (column `guid`).
    package let ownerID: TokenID
    package let createdAt: Int64
    /// Unix seconds from which the session is refused.
    package let expiresAt: Int64
    /// Whether ``ownerID`` is a member's ID (column `member` set) rather than a token's GUID.
    package let isMember: Bool

    package init(idHash: [UInt8], ownerID: TokenID, createdAt: Int64, expiresAt: Int64, isMember: Bool = false) {
        self.idHash = idHash
        self.ownerID = ownerID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.isMember = isMember
    }
}

/// A signed-in web console, as sigil-server sees it: which token or member, until when, and
/// the CSRF secret its state-changing requests must carry.
///
/// ```swift
/// guard let (id, session) = try issuer.openSession(for: caller, maxSessions: 10_000) else { … }
/// // Set-Cookie: sigil_session=<id>; the page sends X-CSRF-Token: session.csrf
/// ```
public struct ConsoleSession: Sendable, Hashable {
    /// The token that signed in; nil for a member's session.
    public let tokenID: TokenID?
    /// The member who signed in (its row when the session was opened or last checked); nil
    /// for a token's session.
    public let member: Member?
    /// The value the `X-CSRF-Token` header must carry (``Issuer/csrfSecret(ofSession:)``).
    public let csrf: String
    public let createdAt: Int64
    /// Unix seconds from which the session is refused: 8 hours after sign-in or the token's
    /// `valid_to`, whichever comes first.
    public let expiresAt: Int64
}

/// Why a live session may not act right now: its token would be refused as a bearer token,
/// or its member is suspended or removed (the session row is then already deleted).
public enum SessionRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The token's verdict (`revoked`, `deactivated`, `expired`, `not_yet_valid`, `unknown_key`).
    case token(VerificationError)
    /// ``SignInRefusal/memberSuspended`` or ``SignInRefusal/memberRemoved``.
    case member(SignInRefusal)

    /// The stable reason string an API error carries in `reason`.
    public var reason: String {
        switch self {
        case .token(let error): error.reason.rawValue
        case .member(let refusal): refusal.rawValue
        }
    }

    public var description: String {
        switch self {
        case .token(let error): error.description
        case .member(let refusal): "[\(refusal.rawValue)] \(refusal.message)"
        }
    }
}

/// A live session found by its ID, with the verdict on its token or member right now.
public struct SessionCheck: Sendable {
    public let session: ConsoleSession
    /// The caller: the token's, built from its ledger row, or ``Caller/init(member:)`` from the
    /// member's row; or why it is refused right now (``SessionRefusal``).
    public let caller: Result<Caller, SessionRefusal>
}

extension Issuer {
    /// The longest a console session lives, in seconds.
    public static let sessionLifetime: Int64 = 8 * 3_600

    /// The most sessions one token holds at once; its next sign-in ends its own oldest.
    public static let maxSessionsPerToken = 16

    /// What the ledger stores for a session ID: HMAC-SHA256 under the fixed key
    /// `sigil/v1/session-id` of the ID's UTF-8 bytes (a one-way hash with its own domain).
    ///
    /// ```swift
    /// let stored = Issuer.sessionHash(cookieValue)   // 32 bytes
    /// ```
    public static func sessionHash(_ id: String) -> [UInt8] {
        mac(key: Array("sigil/v1/session-id".utf8), message: Array(id.utf8))
    }

    /// The CSRF secret of session `id`: base64url(HMAC-SHA256(key: the ID's UTF-8 bytes,
    /// `sigil/v1/session-csrf`)), 43 characters.
    ///
    /// Derived, not stored: every replica computes it from the cookie, the database holds
    /// nothing it could be read from, and it does not reveal the ID.
    public static func csrfSecret(ofSession id: String) -> String {
        Base64URL.encode(mac(key: Array(id.utf8), message: Array("sigil/v1/session-csrf".utf8)))
    }

    private static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                tag.withUnsafeMutableBytes { OpenSSL.hmacSHA256(key: k, message: m, into: $0) }
            }
        }
        precondition(ok, "OpenSSL HMAC-SHA256 failed")
        return tag
    }

    private static func session(_ record: SessionRecord, id: String, member: Member? = nil) -> ConsoleSession {
        ConsoleSession(
            tokenID: record.isMember ? nil : record.ownerID, member: member, csrf: csrfSecret(ofSession: id),
            createdAt: record.createdAt, expiresAt: record.expiresAt)
    }

    /// Opens a console session for `caller`, which authenticated just now.
    ///
    /// One write transaction, so the caps hold across every replica of a shared ledger:
    /// expired sessions are purged first; a token holding ``maxSessionsPerToken`` sessions
    /// loses its own oldest; and when `maxSessions` live sessions remain, the sign-in is
    /// refused (nil) rather than end another token's session.
    ///
    /// ```swift
    /// let caller = try issuer.authenticate(token)
    /// guard let (id, session) = try issuer.openSession(for: caller, maxSessions: 10_000) else { /* 503 */ }
    /// ```
    ///
    /// - Parameters:
    ///   - caller: The token signing in.
    ///   - maxSessions: The most sessions the ledger holds at once.
    ///   - now: Unix seconds.
    /// - Returns: The new session's ID (32 random bytes, base64url: the cookie) and the
    ///   session; nil when the ledger already holds `maxSessions` live sessions.
    /// - Throws: ``IssuerError`` from the database.
    public func openSession(for caller: Caller, maxSessions: Int, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> (id: String, session: ConsoleSession)?
    {
        let id = Base64URL.encode(OpenSSL.randomBytes(count: 32))
        let record = SessionRecord(
            idHash: Self.sessionHash(id), ownerID: caller.id, createdAt: now,
            expiresAt: min(now.addingReportingOverflow(Self.sessionLifetime).partialValue, caller.validTo ?? .max),
            isMember: caller.member != nil)
        let opened = try transaction(write: true) { try insertCapped(record, maxSessions: maxSessions, now: now) }
        return opened ? (id, Self.session(record, id: id, member: caller.member)) : nil
    }

    /// Inserts `record` under the caps, inside the caller's write transaction: expired sessions
    /// go first, the owner's oldest past ``maxSessionsPerToken``; false (nothing inserted) when
    /// `maxSessions` live sessions remain.
    func insertCapped(_ record: SessionRecord, maxSessions: Int, now: Int64) throws -> Bool {
        _ = try store.deleteSessions(expiredAt: now)
        let own = try store.sessions(of: record.ownerID, member: record.isMember)
        for oldest in own.prefix(max(0, own.count - Self.maxSessionsPerToken + 1)) {
            _ = try store.deleteSession(idHash: oldest.idHash)
        }
        guard try store.sessionCount() < max(1, maxSessions) else { return false }
        try store.insertSession(record)
        return true
    }

    /// The live session `id` names, with the verdict on its token or member right now.
    ///
    /// Reads the session by its hash and the token's ledger row by GUID: the token must be in
    /// the ledger, active, inside its window (no leeway) and under a key that is not retired,
    /// exactly as ``authenticate(_:now:)`` asks of the token itself; the caller is then built
    /// from the row (``Caller/init(record:)``). A member's session reads the member's row: a
    /// suspended or removed member's session is deleted here and refused
    /// (``SessionRefusal/member(_:)``), an active member acts as ``Caller/init(member:)`` with
    /// the rights the row holds now. An expired session is removed on the way.
    ///
    /// ```swift
    /// guard let check = try issuer.checkSession(cookieValue) else { /* 401 session_expired */ }
    /// let caller = try check.caller.get()
    /// ```
    ///
    /// - Returns: nil for an unknown or expired session.
    /// - Throws: ``IssuerError`` from the database.
    public func checkSession(_ id: String, now: Int64 = Issuer.currentTime()) throws(IssuerError) -> SessionCheck? {
        let hash = Self.sessionHash(id)
        let found = try transaction(write: false) { () throws -> (SessionRecord, TokenRecord?, Member?)? in
            guard let record = try store.session(idHash: hash) else { return nil }
            if record.isMember { return (record, nil, try store.member(record.ownerID)) }
            return (record, try store.token(record.ownerID), nil)
        }
        guard let (record, row, member) = found else { return nil }
        guard record.expiresAt > now else {
            _ = try transaction(write: true) { try store.deleteSession(idHash: hash) }
            return nil
        }
        if record.isMember {
            let refusal: SignInRefusal? =
                switch member?.status {
                case nil: .memberRemoved
                case .suspended: .memberSuspended
                case .active: nil
                }
            if let refusal {
                _ = try transaction(write: true) { try store.deleteSession(idHash: hash) }
                return SessionCheck(
                    session: Self.session(record, id: id, member: member), caller: .failure(.member(refusal)))
            }
        }
        let verdict: Result<Caller, SessionRefusal>
        if let member {
            verdict = .success(Caller(member: member))
        } else {
            verdict = Result { () throws(VerificationError) -> Caller in try caller(of: row, now: now) }
                .mapError { .token($0) }
        }
        return SessionCheck(session: Self.session(record, id: id, member: member), caller: verdict)
    }

    /// The caller a ledger row stands for at `now`, or why the token itself would be refused.
    private func caller(of row: TokenRecord?, now: Int64) throws(VerificationError) -> Caller {
        guard let row, !row.isDeleted else { throw VerificationError(.revoked, "not in the ledger") }
        switch row.status {
        case .active: break
        case .inactive: throw VerificationError(.deactivated)
        case .revoked: throw VerificationError(.revoked)
        }
        guard let ring = try? keyring(), let master = ring.tokenKey(row.keyID), master.state != .retired else {
            throw VerificationError(.unknownKey, "key \(row.keyID)")
        }
        if now < row.validFrom { throw VerificationError(.notYetValid) }
        if let validTo = row.validTo, now >= validTo { throw VerificationError(.expired) }
        return Caller(record: row)
    }

    /// Ends session `id` (sign-out, or a session whose token was refused).
    ///
    /// - Returns: Whether there was such a session.
    /// - Throws: ``IssuerError`` from the database.
    @discardableResult
    public func closeSession(_ id: String) throws(IssuerError) -> Bool {
        let hash = Self.sessionHash(id)
        return try transaction(write: true) { try store.deleteSession(idHash: hash) }
    }

    /// How many session rows the ledger holds (expired ones until the next sign-in purges them).
    public func sessionCount() throws(IssuerError) -> Int {
        try transaction(write: false) { try store.sessionCount() }
    }
}
