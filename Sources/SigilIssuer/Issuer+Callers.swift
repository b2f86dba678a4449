import Foundation
public import SigilVerifier

/// A token or a member acting through the API: the verified claims of the bearer token, or a
/// signed-in member's ledger row.
///
/// What a caller may do follows from its rights alone: the permission it needs for a route,
/// the audiences it reaches (its own; all of them for the organization audience ``Caller/organization``),
/// and what it may grant (``Issuer/checkGrant(audience:scope:validFrom:expiry:by:catalog:now:)``).
/// A member caller has the member's ID as ``id``, no window, and ``member`` set.
///
/// ```swift
/// let claims = try verifier.verify(bearer)
/// let caller = Caller(id: claims.id, audience: claims.audience, scope: claims.scope, validTo: claims.validTo)
/// let page = try issuer.tokens(TokenQuery(), as: caller)
/// ```
public struct Caller: Sendable, Hashable {
    /// The reserved audience whose tokens manage tokens of every audience.
    public static let organization = "sigil"

    public let id: TokenID
    public let audience: String
    public let scope: Scope
    public let validTo: Int64?
    /// The start of the caller's window: a token it creates may not start earlier. Nil sets
    /// no bound (a caller built without it).
    public let validFrom: Int64?
    /// The member acting, as its row read when the request was authenticated; nil for a token.
    public let member: Member?

    public init(id: TokenID, audience: String, scope: Scope, validTo: Int64?, validFrom: Int64? = nil) {
        self.id = id
        self.audience = audience
        self.scope = scope
        self.validTo = validTo
        self.validFrom = validFrom
        self.member = nil
    }

    /// A member acting with its rights: its ID, audience and scope, and no window (a member
    /// does not expire; suspending it stops it).
    ///
    /// ```swift
    /// let caller = Caller(member: try issuer.member("ada@example.com"))
    /// print(caller.actor.name)   // member:ada@example.com
    /// ```
    public init(member: Member) {
        self.id = member.id
        self.audience = member.audience
        self.scope = member.scope
        self.validTo = nil
        self.validFrom = nil
        self.member = member
    }

    public init(claims: TokenClaims) {
        self.init(
            id: claims.id, audience: claims.audience, scope: claims.scope, validTo: claims.validTo,
            validFrom: claims.validFrom)
    }

    /// The caller a token's ledger row stands for: the same value ``Issuer/authenticate(_:now:)``
    /// returns for the token itself (its GUID, audience, scope and window; its ancestry follows
    /// from the GUID). A console session acts through it (``Issuer/checkSession(_:now:)``).
    public init(record: TokenRecord) {
        self.init(
            id: record.id, audience: record.audience, scope: record.scope, validTo: record.validTo,
            validFrom: record.validFrom)
    }

    /// The audit log's name for this caller: `token:<GUID>`, or `member:<email>` for a member.
    public var actor: Actor { member?.actor ?? Actor(token: id) }

    /// "this token" or "this member", for messages.
    var noun: String { member == nil ? "this token" : "this member" }

    /// The audiences whose tokens this caller may see and manage; nil means every audience.
    public var audiences: Set<String>? { audience == Self.organization ? nil : [audience] }

    /// Whether this caller may touch tokens of `audience`.
    public func reaches(_ audience: String) -> Bool { audiences?.contains(audience) ?? true }
}

extension Issuer {
    /// Whether a token with scope `held` may grant `requested`: delegation never widens rights.
    ///
    /// `all` covers every scope; `read-only` covers `read-only` and any custom set of read
    /// actions; a custom scope covers a custom subset of its own pairs. `requested` custom pairs
    /// are already expanded (no `resource.*`); a pair the catalog does not know counts as a write.
    ///
    /// - Returns: nil if covered, else the first pair or kind that is too wide.
    public static func uncovered(_ requested: Scope, by held: Scope, catalog: Catalog) -> String? {
        switch (held, requested) {
        case (.all, _): return nil
        case (.readOnly, .readOnly): return nil
        case (.readOnly, .custom(let pairs)):
            return pairs.first { catalog.access(of: $0) != .read }
        case (.custom(let own), .custom(let pairs)):
            let mine = Set(own)
            return pairs.first { !mine.contains($0) }
        case (_, .all): return "all"
        case (_, .readOnly): return "read-only"
        }
    }

    /// Throws `forbidden` / ``IssuerError/Detail/insufficientScope(_:)`` unless the caller's
    /// scope grants `permission` (one of ``Catalog/issuer``'s pairs).
    public func authorize(_ caller: Caller, _ permission: String) throws(IssuerError) {
        let access = Catalog.issuer.access(of: permission) ?? .write
        guard let p = Permission(permission, access: access), caller.scope.grants(p) else {
            throw IssuerError(
                .forbidden, "\(caller.noun)'s scope does not grant \(permission)",
                detail: .insufficientScope(permission))
        }
    }

    /// Whether `caller` may grant `audience` and `scope` over a window: the one delegation
    /// rule, used by token issue and by member add and edit. Nobody grants more than it holds.
    ///
    /// The caller must reach the audience (its own, or any for the organization audience); the
    /// requested scope, expanded with `catalog` (read only for custom pairs), must be covered by the caller's
    /// (``uncovered(_:by:catalog:)``); `validFrom` may be no earlier than the caller's; and the
    /// window must end no later than the caller's: a caller that expires grants nothing that
    /// never expires (a member never does, so such a caller adds no member). A `.default`
    /// expiry becomes one year, or the caller's `valid_to` if that is sooner.
    ///
    /// ```swift
    /// let (scope, expiry) = try issuer.checkGrant(
    ///     audience: "billing", scope: .readOnly, validFrom: nil, expiry: .default, by: caller,
    ///     catalog: try issuer.catalog(), now: now)
    /// ```
    ///
    /// - Returns: The expanded scope and the expiry to record.
    /// - Throws: ``IssuerError`` `forbidden` / ``IssuerError/Detail/insufficientScope(_:)`` naming
    ///   what is too wide (`audience X`, `valid_from`, `valid_to`, a pair, `all`, `read-only`);
    ///   `invalid_input` for unknown pairs.
    public func checkGrant(
        audience: String, scope: ScopeRequest, validFrom: Int64?, expiry: Expiry, by caller: Caller,
        catalog readCatalog: @autoclosure () throws(IssuerError) -> Catalog, now: Int64
    ) throws(IssuerError) -> (scope: Scope, expiry: Expiry) {
        let own = caller.member == nil ? "the creating token's" : "the member's own"
        guard caller.reaches(audience) else {
            throw IssuerError(
                .forbidden, "\(caller.noun) manages only audience \(caller.audience)",
                detail: .insufficientScope("audience \(audience)"))
        }
        if let earliest = caller.validFrom, let from = validFrom, from < earliest {
            throw IssuerError(
                .forbidden,
                "valid_from may not be earlier than \(own): the earliest allowed is \(TimeText.format(earliest))",
                detail: .insufficientScope("valid_from"))
        }
        var expiry = expiry
        if let limit = caller.validTo {
            let from = validFrom ?? now
            switch expiry {
            case .default:
                expiry = .at(min(from.addingReportingOverflow(Self.defaultLifetime).partialValue, limit))
            case .never:
                throw IssuerError(
                    .forbidden,
                    "a token that expires cannot grant rights that never expire (a token without expiry, or a member)",
                    detail: .insufficientScope("valid_to"))
            case .at(let t) where t > limit, .after(let t) where from.addingReportingOverflow(t).partialValue > limit:
                throw IssuerError(
                    .forbidden, "valid_to may not be later than \(own) (\(limit))",
                    detail: .insufficientScope("valid_to"))
            default: break
            }
        }
        let requested: Scope
        // Only custom pairs need the catalog: a grant of all or read-only reads nothing.
        var catalog = Catalog()
        switch scope {
        case .all: requested = .all
        case .readOnly: requested = .readOnly
        case .custom(let pairs):
            catalog = try readCatalog()
            requested = .custom(try catalog.expand(pairs))
        }
        if let wide = Self.uncovered(requested, by: caller.scope, catalog: catalog) {
            throw IssuerError(
                .forbidden, "the requested scope is wider than \(own): \(wide)", detail: .insufficientScope(wide))
        }
        return (requested, expiry)
    }

    /// Issues a token on behalf of a caller, within its rights.
    ///
    /// The caller needs `tokens.create` and may grant only what ``checkGrant(audience:scope:validFrom:expiry:by:catalog:now:)``
    /// allows. Without an expiry the token gets one year, or the caller's `valid_to` if that is
    /// sooner. The new token's creator is the caller's ``Caller/actor`` (`token:<GUID>` or
    /// `member:<email>`); its parent is the calling token, none for a member.
    public func issue(_ request: IssueRequest, as caller: Caller, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> IssuedToken
    {
        try authorize(caller, "tokens.create")
        var request = request
        request.createdBy = caller.actor.name
        let (_, expiry) = try checkGrant(
            audience: request.audience, scope: request.scope, validFrom: request.validFrom, expiry: request.expiry,
            by: caller, catalog: try catalog(), now: now)
        request.expiry = expiry
        return try issue(request, by: caller.actor, parent: caller.member == nil ? caller.id : nil, now: now)
    }

    /// The token a caller names, if it may see it (else `not_found`, as if it did not exist).
    public func token(_ selector: String, as caller: Caller, permission: String = "tokens.get") throws(IssuerError)
        -> TokenRecord
    {
        try authorize(caller, permission)
        let t = try token(selector)
        guard caller.reaches(t.audience) else {
            throw IssuerError(.notFound, "no token with GUID \(selector)", detail: .tokenNotFound(selector))
        }
        return t
    }

    /// A listing restricted to what the caller reaches.
    public func tokens(_ query: TokenQuery, as caller: Caller) throws(IssuerError) -> [TokenRecord] {
        try authorize(caller, "tokens.list")
        var query = query
        query.audiences = Self.intersect(query.audiences, caller.audiences)
        return try tokens(query)
    }

    /// One page of a listing restricted to what the caller reaches; `query`'s own limit and
    /// offset are replaced by `page`'s.
    public func tokens(_ query: TokenQuery, page: PageRequest, as caller: Caller) throws(IssuerError)
        -> Page<TokenRecord>
    {
        var query = query
        query.limit = page.fetchLimit
        query.offset = page.offset
        return page.page(try tokens(query, as: caller))
    }

    /// A lifecycle change by a caller: needs `tokens.<action>`, reach over every token, and
    /// none of them may be one of the caller's ancestors (``refuseAncestors(_:of:)``).
    public func change(
        _ action: LifecycleAction, _ ids: [TokenID], cascade: Bool = false, as caller: Caller,
        now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> ChangeResult {
        try authorize(caller, "tokens.\(action.rawValue)")
        try Self.checkCascade(action, cascade)
        for id in ids { _ = try token(id.description, as: caller, permission: "tokens.\(action.rawValue)") }
        try refuseAncestors(ids, of: caller)
        if cascade {
            // Descendants outside the caller's reach are not its to revoke.
            let outside = try transaction(write: false) {
                try ids.flatMap { try store.descendants(of: $0) }.compactMap { try store.token($0) }
                    .filter { !caller.reaches($0.audience) }
            }
            if let first = outside.first {
                throw IssuerError(
                    .forbidden, "a descendant token belongs to audience \(first.audience)",
                    detail: .insufficientScope("audience \(first.audience)"))
            }
        }
        return try change(action, ids, cascade: cascade, by: caller.actor, now: now)
    }

    /// Renames or re-describes a token the caller reaches (`tokens.update`), which is not one
    /// of its ancestors.
    public func edit(
        _ selector: String, name: String?, description: String?, sealed: [String] = [], as caller: Caller,
        now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> TokenRecord {
        let target = try token(selector, as: caller, permission: "tokens.update")
        try refuseAncestors([target.id], of: caller)
        return try edit(selector, name: name, description: description, sealed: sealed, by: caller.actor, now: now)
    }

    /// Audit events (`audit.list`); a caller outside the organization sees only the tokens it
    /// reaches, in events and in filters.
    ///
    /// An event about tokens of several audiences lists only the reachable GUIDs (the store
    /// drops the others), an event about none of them is left out, and a `guid` filter naming
    /// a token the caller does not reach (or that never existed) yields no event. No count
    /// leaks: events carry no number of tokens, so what is left out cannot be inferred.
    public func events(_ query: AuditQuery, as caller: Caller) throws(IssuerError) -> [AuditEvent] {
        try authorize(caller, "audit.list")
        var query = query
        query.audiences = Self.intersect(query.audiences, caller.audiences)
        if let guid = query.guid, let audiences = query.audiences {
            // Deleted tokens keep their row (a tombstone) and still belong to their audience.
            let row = try transaction(write: false) { try store.token(guid) }
            guard let row, audiences.contains(row.audience) else {
                try query.validate()
                return []
            }
        }
        return try events(query)
    }

    /// One page of the audit log as the caller may see it; `query`'s own limit and offset are
    /// replaced by `page`'s.
    public func events(_ query: AuditQuery, page: PageRequest, as caller: Caller) throws(IssuerError)
        -> Page<AuditEvent>
    {
        var query = query
        query.limit = page.fetchLimit
        query.offset = page.offset
        return page.page(try events(query, as: caller))
    }

    /// Refuses a change by `caller` to any of `ids` that is its strict ancestor (its parent,
    /// that token's parent, and so on): a token created through the API may act on itself,
    /// its siblings and its descendants, never on the tokens it descends from.
    ///
    /// - Throws: ``IssuerError`` `forbidden` / ``IssuerError/Detail/insufficientScope(_:)`` `ancestor`.
    public func refuseAncestors(_ ids: [TokenID], of caller: Caller) throws(IssuerError) {
        let ancestors = try transaction(write: false) { try ancestorIDs(of: caller.id) }
        guard let first = ids.first(where: ancestors.contains) else { return }
        throw IssuerError(
            .forbidden,
            "token \(first) is an ancestor of this token (it created it, directly or through other tokens); a token may not change its ancestors",
            detail: .insufficientScope("ancestor"))
    }

    /// The most parent links followed: far deeper than any real delegation chain, and a bound
    /// on a damaged ledger whose parents form a loop.
    static let maxAncestry = 10_000

    /// `id`'s parent, grandparent and so on, inside the caller's transaction.
    func ancestorIDs(of id: TokenID) throws -> Set<TokenID> {
        var out = Set<TokenID>()
        var next = try store.token(id)?.parent
        while let parent = next, out.count < Self.maxAncestry, out.insert(parent).inserted {
            next = try store.token(parent)?.parent
        }
        return out
    }

    static func intersect(_ a: Set<String>?, _ b: Set<String>?) -> Set<String>? {
        switch (a, b) {
        case (nil, nil): nil
        case (let x?, nil): x
        case (nil, let y?): y
        case (let x?, let y?): x.intersection(y)
        }
    }
}

extension Issuer {
    /// Verifies a bearer token against the keyring and the ledger's current state, and returns
    /// the caller it stands for.
    ///
    /// The MAC is checked over the raw bytes before any claim is trusted; then the window (no
    /// leeway: the issuer's own clock decides) and the ledger's status, so a token revoked or
    /// deactivated a moment ago is refused on its very next use. A token whose row is missing
    /// from the ledger (a restored backup) is refused as revoked.
    ///
    /// - Throws: ``VerificationError`` with the reason; its message never contains `token`.
    public func authenticate(_ token: String, now: Int64 = Issuer.currentTime()) throws(VerificationError) -> Caller {
        let claims = try TokenClaims.decodeUnverified(token)
        guard let ring = try? keyring(), let master = ring.tokenKey(claims.keyID), master.state != .retired,
            let key = try? ring.audienceKey(master, audience: claims.audience),
            let verifier = try? Verifier(
                audience: claims.audience, keys: [TokenKey(keyID: claims.keyID, key: key)], leeway: 0)
        else { throw VerificationError(.unknownKey, "key \(claims.keyID)") }
        let verified = try verifier.verifyClaims(token, at: now)
        let row: TokenRecord?
        do {
            row = try transaction(write: false) { try store.token(verified.id) }
        } catch {
            throw VerificationError(.revocationsStale, "the ledger cannot be read: \(error.reason.rawValue)")
        }
        guard let row, !row.isDeleted else { throw VerificationError(.revoked, "not in the ledger") }
        switch row.status {
        case .active: return Caller(claims: verified)
        case .inactive: throw VerificationError(.deactivated)
        case .revoked: throw VerificationError(.revoked)
        }
    }
}
