import SigilIssuerCrypto
public import SigilVerifier

/// Members (docs/MEMBERS.md): people with rights written like a token's grant, who sign in
/// through the organization's identity provider.
///
/// Each use case comes twice, as for tokens: `by actor` for the local operator on the issuer
/// host (no rule about rights: the host's files already give everything, as for `sigil issue`),
/// and `as caller` for a token or a member through the API, which needs a `members.*`
/// permission and follows the delegation rule:
///
/// - adding a member, or setting its audience or scope, grants rights: the caller must be able
///   to grant them (``checkGrant(audience:scope:validFrom:expiry:by:catalog:now:)`` with a
///   window that never ends, since a member does not expire);
/// - listing and showing reach the members of the caller's audiences (every member for the
///   organization audience); others are `not_found`, as if they did not exist;
/// - editing, suspending, activating and removing a member also need the member's current
///   rights to be within the caller's (nobody manages someone who holds more).
///
/// Every change is one transaction with one `member` audit event whose details say what
/// changed (`change`: `add`, `edit`, `suspend`, `activate`, `remove`).
extension Issuer {
    /// Where the member use cases take their rights from: the local operator, or a caller.
    enum MemberPrincipal {
        case local(Actor)
        case caller(Caller)

        var actor: Actor {
            switch self {
            case .local(let actor): actor
            case .caller(let caller): caller.actor
            }
        }

        var caller: Caller? {
            if case .caller(let caller) = self { return caller }
            return nil
        }
    }

    // MARK: Add

    /// Adds a member, as the local operator.
    ///
    /// ```swift
    /// let ada = try issuer.addMember(
    ///     MemberRequest(email: "ada@example.com", name: "Ada", audience: "sigil", scope: .all), by: alice)
    /// ```
    ///
    /// - Throws: ``IssuerError`` `invalid_input` (email, name, audience, scope pairs),
    ///   `conflict` / ``IssuerError/Detail/memberExists(email:)`` for an email already a member's
    ///   (case-insensitively).
    public func addMember(_ request: MemberRequest, by actor: Actor, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try addMember(request, principal: .local(actor), now: now)
    }

    /// Adds a member on behalf of `caller`: needs `members.create` and rights the caller may grant.
    ///
    /// - Throws: as ``addMember(_:by:now:)``, and `forbidden` / ``IssuerError/Detail/insufficientScope(_:)``.
    public func addMember(_ request: MemberRequest, as caller: Caller, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try authorize(caller, "members.create")
        return try addMember(request, principal: .caller(caller), now: now)
    }

    private func addMember(_ request: MemberRequest, principal: MemberPrincipal, now: Int64) throws(IssuerError)
        -> Member
    {
        let email = try MemberEmail(request.email).text
        let name = try MemberName.check(request.name)
        let audience = try Audience(request.audience).text
        let catalog = try catalog()
        let scope = try grant(
            audience: audience, scope: request.scope, principal: principal, catalog: catalog, now: now)
        var member = Member(
            id: request.id ?? TokenMinter.newTokenID(), email: email, name: name, audience: audience, scope: scope,
            status: .active, createdBy: principal.actor.name, createdAt: now)
        return try transaction(write: true) {
            if try store.member(email: email) != nil {
                throw IssuerError(
                    .conflict,
                    "\(email) is already a member; change its rights with sigil members edit (PATCH /v1/members/{id})",
                    detail: .memberExists(email: email))
            }
            if try store.member(member.id) != nil {
                throw IssuerError(
                    .conflict, "a member already has the ID \(member.id)", detail: .memberExists(email: email))
            }
            // Tokens and members share the sessions' GUID column: a member never takes a GUID a
            // token has (or had). A drawn ID is drawn again; a chosen one is refused.
            while try store.guidEverUsed(member.id) {
                guard request.id == nil else {
                    throw IssuerError(
                        .conflict, "a token has (or had) the GUID \(member.id); choose another member ID",
                        detail: .memberExists(email: email))
                }
                member.id = TokenMinter.newTokenID()
            }
            try store.insertMember(member)
            try recordMember("add", member, by: principal.actor, at: now)
            return member
        }
    }

    // MARK: Read

    /// One page of members in the order they were added, optionally of one status.
    ///
    /// ```swift
    /// let page = try issuer.members(status: .active, page: PageRequest(limit: 50, cursor: nil))
    /// ```
    public func members(status: MemberStatus? = nil, page: PageRequest) throws(IssuerError) -> Page<Member> {
        try members(status: status, audiences: nil, page: page)
    }

    /// One page of the members the caller reaches (`members.list`).
    public func members(status: MemberStatus? = nil, page: PageRequest, as caller: Caller) throws(IssuerError)
        -> Page<Member>
    {
        try authorize(caller, "members.list")
        return try members(status: status, audiences: caller.audiences, page: page)
    }

    private func members(status: MemberStatus?, audiences: Set<String>?, page: PageRequest) throws(IssuerError)
        -> Page<Member>
    {
        page.page(
            try transaction(write: false) {
                try store.members(status: status, audiences: audiences, limit: page.fetchLimit, offset: page.offset)
            })
    }

    /// How many members the ledger holds.
    public func memberCount() throws(IssuerError) -> Int { try transaction(write: false) { try store.memberCount() } }

    /// The member a selector names: its ID (a GUID, with or without hyphens) or its email (any case).
    ///
    /// - Throws: ``IssuerError`` `not_found` / ``IssuerError/Detail/memberNotFound(_:)``;
    ///   `invalid_input` for a selector that is neither.
    public func member(_ selector: String) throws(IssuerError) -> Member {
        try transaction(write: false) { try resolveMember(selector) }
    }

    /// The member a selector names, if the caller reaches it (`members.read`); else `not_found`.
    public func member(_ selector: String, as caller: Caller) throws(IssuerError) -> Member {
        try authorize(caller, "members.read")
        let member = try member(selector)
        guard caller.reaches(member.audience) else { throw Self.memberNotFound(selector) }
        return member
    }

    // MARK: Change

    /// Changes a member's name, audience or scope, as the local operator.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` (an empty edit, bad values), `not_found`.
    public func editMember(_ selector: String, _ edit: MemberEdit, by actor: Actor, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try editMember(selector, edit, principal: .local(actor), now: now)
    }

    /// Changes a member on behalf of `caller` (`members.update`): the member's current rights
    /// and the new ones must both be within the caller's.
    public func editMember(
        _ selector: String, _ edit: MemberEdit, as caller: Caller, now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> Member {
        try authorize(caller, "members.update")
        return try editMember(selector, edit, principal: .caller(caller), now: now)
    }

    private func editMember(_ selector: String, _ edit: MemberEdit, principal: MemberPrincipal, now: Int64)
        throws(IssuerError) -> Member
    {
        guard !edit.isEmpty else { throw MemberEdit.emptyRefusal }
        let name = try edit.name.map { (text: String) throws(IssuerError) -> String in try MemberName.check(text) }
        let audience = try edit.audience.map { (text: String) throws(IssuerError) -> String in try Audience(text).text }
        let catalog = try catalog()
        return try changeMember(selector, principal: principal, catalog: catalog, now: now) {
            (member: inout Member) throws(IssuerError) -> [(String, String)] in
            var changes: [(String, String)] = []
            if let name, name != member.name {
                member.name = name
                changes.append(("name", name))
            }
            if audience != nil || edit.scope != nil {
                let newAudience = audience ?? member.audience
                let request = edit.scope ?? Self.scopeRequest(member.scope)
                let scope = try grant(
                    audience: newAudience, scope: request, principal: principal, catalog: catalog, now: now)
                if newAudience != member.audience { changes.append(("audience", newAudience)) }
                if scope != member.scope { changes.append(("scope", scope.summary)) }
                member.audience = newAudience
                member.scope = scope
            }
            return changes
        }
    }

    /// Suspends a member, as the local operator: its sessions end at their next request and it
    /// cannot sign in; with `cascade`, the active tokens it created are deactivated too.
    ///
    /// ```swift
    /// let result = try issuer.suspendMember("ada@example.com", cascade: true, by: alice)
    /// print(result.deactivated.count)
    /// ```
    public func suspendMember(
        _ selector: String, cascade: Bool = false, by actor: Actor, now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> MemberSuspension {
        try suspendMember(selector, cascade: cascade, principal: .local(actor), now: now)
    }

    /// Suspends a member on behalf of `caller` (`members.update`, and `tokens.deactivate` for
    /// `cascade`). A cascade follows the rules of ``change(_:_:cascade:as:now:)``: every token
    /// in the caller's reach, and none of them one of the caller's ancestors.
    public func suspendMember(
        _ selector: String, cascade: Bool = false, as caller: Caller, now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> MemberSuspension {
        try authorize(caller, "members.update")
        if cascade { try authorize(caller, "tokens.deactivate") }
        return try suspendMember(selector, cascade: cascade, principal: .caller(caller), now: now)
    }

    private func suspendMember(_ selector: String, cascade: Bool, principal: MemberPrincipal, now: Int64)
        throws(IssuerError) -> MemberSuspension
    {
        let catalog = try catalog()
        return try transaction(write: true) {
            var deactivated: [TokenID] = []
            let member = try changeMember(selector, principal: principal, catalog: catalog, now: now) {
                (member: inout Member) throws(IssuerError) -> [(String, String)] in
                let changed = member.status != .suspended
                member.status = .suspended
                return changed ? [("status", "suspended"), ("cascade", cascade ? "true" : "false")] : []
            }
            if cascade {
                var ids: [TokenID] = []
                let query = TokenQuery(filter: try TokenFilter(status: .active), createdBy: member.actor.name)
                var outside: String?
                try store.forEach(query, access: { _ in nil }) { token in
                    ids.append(token.id)
                    if let caller = principal.caller, !caller.reaches(token.audience) { outside = token.audience }
                }
                // A member moved to another audience may have tokens the caller does not reach.
                if let outside {
                    throw IssuerError(
                        .forbidden, "a token this member created belongs to audience \(outside)",
                        detail: .insufficientScope("audience \(outside)"))
                }
                // The ancestor rule of every caller change: a token never deactivates the tokens
                // it descends from, here neither (the member may have created one of them).
                if let caller = principal.caller { try refuseAncestors(ids, of: caller) }
                if !ids.isEmpty {
                    deactivated =
                        try change(
                            .deactivate, ids, by: principal.actor, details: [("member", member.email)], now: now
                        ).changed
                }
            }
            return MemberSuspension(member: member, deactivated: deactivated)
        }
    }

    /// Activates a suspended member, as the local operator. Tokens a cascade deactivated stay
    /// deactivated: activate them one by one.
    public func activateMember(_ selector: String, by actor: Actor, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try activateMember(selector, principal: .local(actor), now: now)
    }

    /// Activates a member on behalf of `caller` (`members.update`), which must be able to grant
    /// the member's rights as when adding it (a caller that expires activates no member).
    public func activateMember(_ selector: String, as caller: Caller, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try authorize(caller, "members.update")
        return try activateMember(selector, principal: .caller(caller), now: now)
    }

    private func activateMember(_ selector: String, principal: MemberPrincipal, now: Int64) throws(IssuerError)
        -> Member
    {
        let catalog = try catalog()
        return try changeMember(selector, principal: principal, catalog: catalog, now: now) {
            (member: inout Member) throws(IssuerError) -> [(String, String)] in
            // Activating gives the member's rights back: the caller must be able to grant them
            // as when adding it (a caller that expires grants nothing that never expires).
            let changed = member.status != .active
            if changed {
                _ = try grant(
                    audience: member.audience, scope: Self.scopeRequest(member.scope), principal: principal,
                    catalog: catalog, now: now)
            }
            member.status = .active
            return changed ? [("status", "active")] : []
        }
    }

    /// Removes a member, as the local operator: its sessions end at their next request. The
    /// tokens it created stay (deactivate them with `suspend --cascade` first if they should
    /// stop); the audit log keeps its events.
    ///
    /// - Returns: The member as it was.
    public func removeMember(_ selector: String, by actor: Actor, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try removeMember(selector, principal: .local(actor), now: now)
    }

    /// Removes a member on behalf of `caller` (`members.delete`).
    public func removeMember(_ selector: String, as caller: Caller, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> Member
    {
        try authorize(caller, "members.delete")
        return try removeMember(selector, principal: .caller(caller), now: now)
    }

    private func removeMember(_ selector: String, principal: MemberPrincipal, now: Int64) throws(IssuerError)
        -> Member
    {
        let catalog = try catalog()
        return try transaction(write: true) {
            let member = try resolveMember(selector)
            try checkManage(member, principal: principal, selector: selector, catalog: catalog, now: now)
            _ = try store.deleteMember(member.id)
            try recordMember("remove", member, by: principal.actor, at: now)
            return member
        }
    }

    // MARK: Single sign-on

    /// Opens a console session for the member whose email the identity provider vouched for.
    ///
    /// Finds the member case-insensitively. An active member's last sign-in is set, a
    /// `sign-in` event recorded and a session opened under the same caps as a token's
    /// (``openSession(for:maxSessions:now:)``). A refusal is recorded as `sign-in-refused`
    /// with its reason before it is thrown.
    ///
    /// ```swift
    /// guard let (id, session) = try issuer.openMemberSession(email: claims.email, maxSessions: 10_000)
    /// else { /* 503 sessions_full */ }
    /// ```
    ///
    /// - Returns: The session ID (the cookie) and the session; nil when the ledger already
    ///   holds `maxSessions` live sessions (nothing recorded).
    /// - Throws: ``IssuerError`` `forbidden` / ``IssuerError/Detail/signInRefused(_:)``
    ///   ``SignInRefusal/notAMember`` or ``SignInRefusal/memberSuspended``; errors of the database.
    public func openMemberSession(email: String, maxSessions: Int, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> (id: String, session: ConsoleSession)?
    {
        enum Outcome {
            case opened(SessionRecord, Member)
            case full
            case refused(SignInRefusal)
        }
        let id = Base64URL.encode(OpenSSL.randomBytes(count: 32))
        let valid = try? MemberEmail(email).text
        let outcome = try transaction(write: true) { () throws -> Outcome in
            guard let valid, var member = try store.member(email: valid) else {
                try recordRefusal(.notAMember, email: email, at: now)
                return .refused(.notAMember)
            }
            guard member.status == .active else {
                try recordRefusal(.memberSuspended, email: email, at: now)
                return .refused(.memberSuspended)
            }
            let record = SessionRecord(
                idHash: Self.sessionHash(id), ownerID: member.id, createdAt: now,
                expiresAt: now.addingReportingOverflow(Self.sessionLifetime).partialValue, isMember: true)
            guard try insertCapped(record, maxSessions: maxSessions, now: now) else { return .full }
            member.lastSignInAt = now
            try store.updateMember(member)
            try self.record(.signIn, by: member.actor, at: now, guids: [], details: [("id", member.id.description)])
            return .opened(record, member)
        }
        switch outcome {
        case .full: return nil
        case .refused(let reason): throw Self.signInRefused(reason)
        case .opened(let record, let member):
            return (
                id,
                ConsoleSession(
                    tokenID: nil, member: member, csrf: Self.csrfSecret(ofSession: id), createdAt: record.createdAt,
                    expiresAt: record.expiresAt)
            )
        }
    }

    /// Records a single sign-on refused before any member was looked up (a bad `state`, a
    /// signature that does not verify, an unverified email, a provider that is down…).
    ///
    /// The event's actor is `sso`; its details hold the reason and, when it is a well-formed
    /// address, the email the ID token named.
    ///
    /// ```swift
    /// try issuer.recordRefusedSignIn(email: nil, reason: .stateMismatch)
    /// ```
    ///
    /// - Throws: ``IssuerError`` from the database.
    public func recordRefusedSignIn(email: String?, reason: SignInRefusal, now: Int64 = Issuer.currentTime())
        throws(IssuerError)
    {
        try transaction(write: true) { try recordRefusal(reason, email: email, at: now) }
    }

    /// The error a refused sign-in is thrown as: `forbidden` with the reason.
    static func signInRefused(_ reason: SignInRefusal) -> IssuerError {
        IssuerError(
            .forbidden, "sign-in refused (\(reason.rawValue)): \(reason.message)", detail: .signInRefused(reason))
    }

    // MARK: Shared steps

    /// The scope `principal` may grant a member (expanded), or why not.
    private func grant(
        audience: String, scope: ScopeRequest, principal: MemberPrincipal, catalog: Catalog, now: Int64
    ) throws(IssuerError) -> Scope {
        guard let caller = principal.caller else {
            switch scope {
            case .all: return .all
            case .readOnly: return .readOnly
            case .custom(let pairs): return .custom(try catalog.expand(pairs))
            }
        }
        return try checkGrant(
            audience: audience, scope: scope, validFrom: nil, expiry: .never, by: caller, catalog: catalog, now: now
        ).scope
    }

    /// Refuses a change to `member` by a caller that does not reach it (`not_found`) or holds
    /// less than it (`forbidden`).
    private func checkManage(
        _ member: Member, principal: MemberPrincipal, selector: String, catalog: Catalog, now: Int64
    ) throws(IssuerError) {
        guard let caller = principal.caller else { return }
        guard caller.reaches(member.audience) else { throw Self.memberNotFound(selector) }
        if let wide = Self.uncovered(member.scope, by: caller.scope, catalog: catalog) {
            throw IssuerError(
                .forbidden,
                "this member holds more than \(caller.noun) (\(wide)); only a caller holding as much may change it",
                detail: .insufficientScope(wide))
        }
    }

    /// Reads, checks, changes and writes one member in one transaction; records a `member`
    /// event when `body` reports changes (an unchanged member is written and recorded not at all).
    private func changeMember(
        _ selector: String, principal: MemberPrincipal, catalog: Catalog, now: Int64,
        _ body: (inout Member) throws(IssuerError) -> [(String, String)]
    ) throws(IssuerError) -> Member {
        try transaction(write: true) {
            var member = try resolveMember(selector)
            try checkManage(member, principal: principal, selector: selector, catalog: catalog, now: now)
            let changes = try body(&member)
            guard !changes.isEmpty else { return member }
            member.updatedAt = now
            try store.updateMember(member)
            try record(
                .member, by: principal.actor, at: now, guids: [],
                details: [("change", Self.changeName(changes)), ("id", member.id.description), ("email", member.email)]
                    + changes)
            return member
        }
    }

    private static func changeName(_ changes: [(String, String)]) -> String {
        if let status = changes.first(where: { $0.0 == "status" }) {
            return status.1 == "active" ? "activate" : "suspend"
        }
        return "edit"
    }

    private func recordMember(_ change: String, _ member: Member, by actor: Actor, at now: Int64) throws {
        try record(
            .member, by: actor, at: now, guids: [],
            details: [
                ("change", change), ("id", member.id.description), ("email", member.email), ("name", member.name),
                ("audience", member.audience), ("scope", member.scope.summary),
            ])
    }

    private func recordRefusal(_ reason: SignInRefusal, email: String?, at now: Int64) throws {
        var details = [("reason", reason.rawValue)]
        if let email, let valid = try? MemberEmail(email).text { details.append(("email", valid)) }
        try record(.signInRefused, by: Actor(trusted: "sso"), at: now, guids: [], details: details)
    }

    /// The member `selector` names, inside the caller's transaction.
    private func resolveMember(_ selector: String) throws -> Member {
        if let id = Self.memberID(selector) {
            guard let member = try store.member(id) else { throw Self.memberNotFound(selector) }
            return member
        }
        guard selector.contains("@") else {
            throw IssuerError(
                .invalidInput, "a member is named by its ID (a GUID) or its email address",
                detail: .invalidLabel(field: "member", problem: "is neither an ID nor an email address"))
        }
        guard let email = try? MemberEmail(selector).text, let member = try store.member(email: email) else {
            throw Self.memberNotFound(selector)
        }
        return member
    }

    /// The member ID a selector writes: a GUID with hyphens, or as 32 hex digits without them;
    /// nil for anything else (an email, say). The one parser the local and remote CLI share.
    ///
    /// ```swift
    /// Issuer.memberID("0f8c9e4a2b7d4c1e9a3f5d6e7f809a1b")   // 0f8c9e4a-2b7d-4c1e-9a3f-5d6e7f809a1b
    /// ```
    public static func memberID(_ selector: String) -> TokenID? {
        if let id = TokenID(uuidString: selector) { return id }
        guard selector.utf8.count == 32, selector.utf8.allSatisfy(TokenFilter.isHexDigit) else { return nil }
        var hyphenated = selector
        for offset in [20, 16, 12, 8] {
            hyphenated.insert("-", at: hyphenated.index(hyphenated.startIndex, offsetBy: offset))
        }
        return TokenID(uuidString: hyphenated)
    }

    /// The one answer for a member that is not there, local or through the API.
    package static func memberNotFound(_ selector: String) -> IssuerError {
        let shown = Labels.echo(selector)
        return IssuerError(
            .notFound, "no member \(shown); see the members with sigil members list (GET /v1/members)",
            detail: .memberNotFound(shown))
    }

    /// The request that describes `scope` again (its pairs are already expanded).
    static func scopeRequest(_ scope: Scope) -> ScopeRequest {
        switch scope {
        case .all: .all
        case .readOnly: .readOnly
        case .custom(let pairs): .custom(pairs)
        }
    }
}
