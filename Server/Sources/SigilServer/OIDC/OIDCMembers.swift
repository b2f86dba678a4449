import SigilIssuer

/// The member side of single sign-on, through the issuer's seam (#25).
enum OIDCMembers {
    /// Opens a member session for `email`.
    ///
    /// - Throws: ``OIDCRefusal`` `not_a_member`, `member_suspended` (audited by the issuer), or
    ///   `sessions_full`.
    static func openSession(email: String, issuer: IssuerQueue, sessions: SessionStore, now: Int64) async throws
        -> (id: String, session: SessionStore.Session)
    {
        throw OIDCRefusal.notAMember
    }

    /// Audits a refusal found before the member lookup.
    static func recordRefusal(email: String?, reason: String, issuer: IssuerQueue) async throws {}
}
