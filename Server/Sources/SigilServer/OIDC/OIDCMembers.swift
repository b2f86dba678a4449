import SigilIssuer

/// The member side of single sign-on: the issuer's two calls for it (#25's seam), nothing else.
enum OIDCMembers {
    /// Opens a member session for `email` (found case-insensitively; the issuer audits
    /// `sign-in` or `sign-in-refused`).
    ///
    /// - Throws: ``OIDCRefusal`` `not_a_member`, `member_suspended` (audited by the issuer) or
    ///   `sessions_full`; ``IssuerError`` from the ledger.
    static func openSession(email: String, issuer: IssuerQueue, sessions: SessionStore, now: Int64) async throws
        -> (id: String, session: SessionStore.Session)
    {
        let limit = sessions.maxSessions
        let opened: (id: String, session: ConsoleSession)?
        do {
            opened = try await issuer.run { try $0.openMemberSession(email: email, maxSessions: limit, now: now) }
        } catch let error as IssuerError {
            if case .signInRefused(let reason) = error.detail { throw OIDCRefusal(reason) }
            throw error
        }
        guard let opened else { throw OIDCRefusal.sessionsFull }
        return opened
    }

    /// Audits a refusal found before the member lookup (`sign-in-refused` with the reason).
    static func recordRefusal(email: String?, reason: SignInRefusal, issuer: IssuerQueue) async throws {
        let now = Issuer.currentTime()
        try await issuer.run { try $0.recordRefusedSignIn(email: email, reason: reason, now: now) }
    }
}
