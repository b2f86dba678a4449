import Foundation
public import SigilVerifier

/// The scope a caller asks for at issue.
public enum ScopeRequest: Sendable, Hashable {
    case all
    case readOnly
    /// `resource.action` pairs; `resource.*` expands to the catalog's actions today.
    case custom([String])
}

/// When a new token expires.
public enum Expiry: Sendable, Hashable {
    /// One year after valid-from.
    case `default`
    case never
    case at(Int64)
    /// This many seconds after valid-from.
    case after(Int64)
}

/// What to issue.
///
/// ```swift
/// let request = IssueRequest(name: "reporting", audience: "billing", scope: .readOnly, expiry: .never)
/// ```
public struct IssueRequest: Sendable, Hashable {
    public var name: String
    public var description: String
    public var audience: String
    public var scope: ScopeRequest
    public var validFrom: Int64?
    public var expiry: Expiry
    /// Who the ledger names as creator; the actor's name when nil.
    public var createdBy: String?
    /// The GUID the new token gets, picked by the client beforehand (the console shows it
    /// before the token exists); a fresh random one when nil. ``ChosenGUID`` states the rule:
    /// a version-4 UUID this ledger never used, deleted and purged tokens included.
    public var guid: TokenID?

    public init(
        name: String, description: String = "", audience: String, scope: ScopeRequest, validFrom: Int64? = nil,
        expiry: Expiry = .default, createdBy: String? = nil, guid: TokenID? = nil
    ) {
        self.name = name
        self.description = description
        self.audience = audience
        self.scope = scope
        self.validFrom = validFrom
        self.expiry = expiry
        self.createdBy = createdBy
        self.guid = guid
    }
}

/// A token just issued: the token text (show it once) and its ledger record.
public struct IssuedToken: Sendable {
    public let token: String
    public let record: TokenRecord
}

/// What a lifecycle change did.
public struct ChangeResult: Sendable {
    /// Every selected token, as it is after the change.
    public let tokens: [TokenRecord]
    /// The ones whose state actually changed.
    public let changed: [TokenID]
}

extension Issuer {
    /// The default lifetime: one year.
    public static let defaultLifetime: Int64 = 365 * 86_400

    /// Checks a request's labels, audience and window without touching the ledger.
    ///
    /// - Returns: The window (valid-from, valid-to or nil for never).
    public static func checkRequest(_ request: IssueRequest, now: Int64) throws(IssuerError) -> (Int64, Int64?) {
        _ = try TokenName(request.name)
        _ = try TokenDescription(request.description)
        if let createdBy = request.createdBy { _ = try ActorName(createdBy, field: "created_by") }
        if let guid = request.guid { try ChosenGUID.check(guid) }
        _ = try Audience(request.audience)
        let from = request.validFrom ?? now
        let to: Int64?
        switch request.expiry {
        case .default: to = from.addingReportingOverflow(defaultLifetime).partialValue
        case .never: to = nil
        case .at(let t): to = t
        case .after(let d): to = from.addingReportingOverflow(d).partialValue
        }
        if let to {
            guard to > now else {
                throw IssuerError(
                    .invalidInput, "the window is in the past: its expiry has already passed",
                    detail: .windowInPast(validTo: to))
            }
            guard to > from else {
                throw IssuerError(
                    .invalidInput, "the window is reversed: expiry is not after valid-from",
                    detail: .windowReversed(validFrom: from, validTo: to))
            }
        }
        return (from, to)
    }

    /// Issues a token: checks the request, records it durably, then returns the token.
    ///
    /// The ledger row is committed before this returns, so a token that was shown is never
    /// missing from the ledger.
    ///
    /// - Throws: ``IssuerError``: `invalid_input` (labels, audience, window, unknown pairs, a
    ///   window the audience's lifetime policy refuses, a chosen GUID that is not version 4),
    ///   `conflict` (a chosen GUID this ledger already used), `not_found` (no keyring),
    ///   `lock_busy`, `cannot_write`.
    public func issue(
        _ request: IssueRequest, by actor: Actor, parent: TokenID? = nil, now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> IssuedToken {
        let (from, to) = try Self.checkRequest(request, now: now)
        let ring = try keyring()
        return try transaction(write: true) {
            try checkPolicy(audience: request.audience, validFrom: from, validTo: to)
            if let parent {
                // In the transaction that inserts the child: a parent revoked since it was
                // authenticated (a cascade racing this create) must not gain a child. On
                // PostgreSQL this read is what lets SERIALIZABLE see the race and refuse one side.
                guard let row = try store.token(parent), !row.isDeleted, row.status == .active else {
                    throw IssuerError(
                        .forbidden, "the creating token was revoked or deactivated meanwhile; nothing was created",
                        detail: .insufficientScope("tokens.create"))
                }
            }
            let scope: Scope
            switch request.scope {
            case .all: scope = .all
            case .readOnly: scope = .readOnly
            case .custom(let pairs): scope = .custom(try store.catalog().expand(pairs))
            }
            // In the write transaction that inserts it: two requests naming one GUID cannot both pass.
            if let guid = request.guid, try store.guidEverUsed(guid) { throw ChosenGUID.used(guid) }
            let key = ring.activeKey
            let claims: TokenClaims
            do {
                claims = try TokenClaims(
                    keyID: key.keyID, audience: request.audience, id: request.guid ?? TokenMinter.newTokenID(),
                    validFrom: from,
                    validTo: to, scope: scope)
            } catch let error as VerificationError {
                throw IssuerError(.invalidInput, error.detail)
            }
            let token = try TokenMinter.mint(claims, masterSecret: key.secret)
            let record = TokenRecord(
                claims: claims, name: request.name, description: request.description,
                createdBy: request.createdBy ?? actor.name, now: now, parent: parent)
            try store.insert(record)
            try self.record(
                .issue, by: actor, at: now, guids: [record.id],
                details: [("audience", record.audience), ("name", record.name), ("scope", scope.summary)])
            return IssuedToken(token: token, record: record)
        }
    }

    /// Live tokens the query selects, in its order.
    public func tokens(_ query: TokenQuery = TokenQuery()) throws(IssuerError) -> [TokenRecord] {
        var out: [TokenRecord] = []
        try forEachToken(query) { out.append($0) }
        return out
    }

    /// Calls `body` with each live token the query selects, without holding them all.
    public func forEachToken(_ query: TokenQuery, _ body: (TokenRecord) throws -> Void) throws(IssuerError) {
        try transaction(write: false) {
            let catalog = query.filter.scope == nil ? Catalog() : try store.catalog()
            try store.forEach(query, access: { catalog.access(of: $0) }, body)
        }
    }

    /// How many live tokens the query's filter selects.
    public func count(_ query: TokenQuery) throws(IssuerError) -> Int {
        try transaction(write: false) {
            let catalog = query.filter.scope == nil ? Catalog() : try store.catalog()
            return try store.count(query, access: { catalog.access(of: $0) })
        }
    }

    /// Whether the ledger has no token at all.
    public func isEmpty() throws(IssuerError) -> Bool { try transaction(write: false) { try store.isEmpty() } }

    /// The live token a selector names: a whole GUID (with or without hyphens) or a unique
    /// prefix of at least 8 hex digits.
    public func token(_ selector: String) throws(IssuerError) -> TokenRecord {
        try transaction(write: false) { try resolveOne(selector) }
    }

    /// The live tokens the selectors name, de-duplicated, in the order given.
    public func resolve(_ selectors: [String]) throws(IssuerError) -> [TokenRecord] {
        try transaction(write: false) { try resolveAll(selectors) }
    }

    /// The live tokens the selectors name, de-duplicated, in the order given, inside the caller's transaction.
    private func resolveAll(_ selectors: [String]) throws -> [TokenRecord] {
        var seen = Set<TokenID>()
        return try selectors.map(resolveOne).filter { seen.insert($0.id).inserted }
    }

    private func resolveOne(_ selector: String) throws -> TokenRecord {
        switch try TokenSelector(selector) {
        case .id(let id):
            guard let t = try store.token(id), !t.isDeleted else {
                throw IssuerError(.notFound, "no token with GUID \(id)", detail: .tokenNotFound(id.description))
            }
            return t
        case .prefix(let hex):
            return try TokenSelector.unique(try store.tokens(withPrefix: hex, limit: 6), prefix: hex)
        }
    }

    /// Renames a token or changes its description. Scope, audience and window are sealed.
    ///
    /// - Parameters:
    ///   - selector: A GUID or a unique prefix of at least 8 hex digits.
    ///   - name: The new name, or nil to keep it.
    ///   - description: The new description, or nil to keep it.
    ///   - sealed: Fields the caller also asked to change (`scope`, `audience`, `valid_from`,
    ///     `valid_to`): any one makes this throw `invalid_input` / `sealedField`.
    ///   - actor: Who the audit log names.
    ///   - now: Unix seconds: the change's time.
    /// - Returns: The token as it is after the change; unchanged, with no event written, when
    ///   the given name and description are the token's own already (or none is given).
    /// - Throws: ``IssuerError``: `invalid_input`, `not_found`, `lock_busy`, `cannot_write`.
    public func edit(
        _ selector: String, name: String?, description: String?, sealed: [String] = [], by actor: Actor,
        now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> TokenRecord {
        if let field = sealed.first.map(Labels.echo) {
            throw IssuerError(
                .invalidInput,
                "\(field) is sealed into the token at issue; issue a new token with what you need, then revoke this one",
                detail: .sealedField(field))
        }
        if let name { _ = try TokenName(name) }
        if let description { _ = try TokenDescription(description) }
        return try transaction(write: true) {
            var t = try resolveOne(selector)
            // Only what differs is written: an edit that changes nothing leaves no event.
            let name = name == t.name ? nil : name
            let description = description == t.description ? nil : description
            guard name != nil || description != nil else { return t }
            try store.updateLabels(t.id, name: name, description: description, now: now)
            var details: [(String, String)] = []
            if let name {
                t.name = name
                details.append(("name", name))
            }
            if let description {
                t.description = description
                details.append(("description", description))
            }
            t.updatedAt = now
            try record(.edit, by: actor, at: now, guids: [t.id], details: details)
            return t
        }
    }

    /// Deactivates, activates, revokes or deletes tokens, all or none.
    ///
    /// Every token is checked before anything changes: activating or deactivating a revoked
    /// token is a `conflict`, and revocation is permanent. Tokens already in the target state
    /// count as done. With `cascade`, a revoke also revokes every token they created, and
    /// theirs; `cascade` with another action is `invalid_input` (``LifecycleAction/cascades``).
    ///
    /// `details` go into the audit event as they are (a leak report's location, say).
    /// `progress` is told the tokens read, then the tokens written (``WorkProgress``).
    public func change(
        _ action: LifecycleAction, _ ids: [TokenID], cascade: Bool = false, by actor: Actor,
        details: [(String, String)] = [], now: Int64 = Issuer.currentTime(), progress: ProgressHandler? = nil
    ) throws(IssuerError) -> ChangeResult {
        try Self.checkCascade(action, cascade)
        return try transaction(write: true) {
            var tokens: [TokenRecord] = []
            var seen = Set<TokenID>()
            var queue = ids
            if cascade {
                for id in ids { queue += try store.descendants(of: id) }
            }
            var read = ProgressCounter("reading", total: Int64(queue.count), unit: .tokens, progress)
            for id in queue where seen.insert(id).inserted {
                read.add()
                guard let t = try store.token(id), !t.isDeleted || !ids.contains(id) else {
                    throw IssuerError(.notFound, "no token with GUID \(id)", detail: .tokenNotFound(id.description))
                }
                if t.isDeleted { continue }  // a descendant already deleted
                tokens.append(t)
            }
            read.finish()
            return try apply(
                action, to: tokens, cascade: cascade, by: actor, details: details, now: now, progress: progress)
        }
    }

    /// Tokens one statement of a bulk change writes (``apply``): a progress report between two.
    static let changeSlice = 5_000

    /// Refuses `cascade` for an action that does not cascade (``LifecycleAction/cascades``).
    public static func checkCascade(_ action: LifecycleAction, _ cascade: Bool) throws(IssuerError) {
        guard cascade, !action.cascades else { return }
        throw IssuerError(
            .invalidInput,
            "cascade applies to revoke only; \(action.rawValue) changes the named tokens alone (revoke with cascade first to stop a token and every token it created)",
            detail: .invalidLabel(field: "cascade", problem: "applies to revoke only"))
    }

    /// ``change(_:_:cascade:by:now:)`` for tokens named by selectors (GUIDs or unique prefixes),
    /// resolved inside the same transaction: one read per token for a bulk change of 10k.
    public func change(
        _ action: LifecycleAction, selectors: [String], by actor: Actor, now: Int64 = Issuer.currentTime(),
        progress: ProgressHandler? = nil
    ) throws(IssuerError) -> ChangeResult {
        try transaction(write: true) {
            ProgressCounter("reading", total: Int64(selectors.count), unit: .tokens, progress).begin()
            return try apply(
                action, to: try resolveAll(selectors), cascade: false, by: actor, now: now, progress: progress)
        }
    }

    /// The rule and the write of a lifecycle change, inside the caller's transaction.
    private func apply(
        _ action: LifecycleAction, to tokens: [TokenRecord], cascade: Bool, by actor: Actor,
        details: [(String, String)] = [], now: Int64, progress: ProgressHandler? = nil
    ) throws -> ChangeResult {
        for t in tokens where t.status == .revoked && (action == .activate || action == .deactivate) {
            throw IssuerError(
                .conflict,
                "token \(t.id) is revoked, which is permanent; it cannot be \(action == .activate ? "activated" : "deactivated")",
                detail: .forbiddenChange(t.id, name: t.name, status: t.status, action: action))
        }
        let changing = tokens.filter { t in
            switch action {
            case .deactivate: t.status != .inactive
            case .activate: t.status != .active
            case .revoke: t.status != .revoked
            case .delete: true
            }
        }.map(\.id)
        guard !changing.isEmpty else { return ChangeResult(tokens: tokens, changed: []) }
        // In slices, so a change of a million tokens can say how far it got; one slice is still
        // one statement on PostgreSQL.
        var written = ProgressCounter("writing", total: Int64(changing.count), unit: .tokens, every: 1, progress)
        for start in stride(from: 0, to: changing.count, by: Self.changeSlice) {
            let slice = Array(changing[start..<min(start + Self.changeSlice, changing.count)])
            switch action {
            case .deactivate: try store.setStatus(slice, to: .inactive, now: now)
            case .activate: try store.setStatus(slice, to: .active, now: now)
            case .revoke: try store.setStatus(slice, to: .revoked, now: now)
            case .delete: try store.markDeleted(slice, now: now)
            }
            written.add(Int64(slice.count))
        }
        let audit: AuditAction =
            switch action {
            case .deactivate: .deactivate
            case .activate: .activate
            case .revoke: .revoke
            case .delete: .delete
            }
        try record(
            audit, by: actor, at: now, guids: changing, details: (cascade ? [("cascade", "true")] : []) + details)
        try store.incrementState(Self.listChangesKey)
        // The rows as the updates above left them, without reading them back.
        let changed = Set(changing)
        let after = tokens.map { t -> TokenRecord in
            guard changed.contains(t.id) else { return t }
            var u = t
            u.updatedAt = now
            switch action {
            case .deactivate: u.status = .inactive
            case .activate: u.status = .active
            case .revoke:
                u.status = .revoked
                u.revokedAt = u.revokedAt ?? now
            case .delete:
                u.status = .revoked
                u.revokedAt = u.revokedAt ?? now
                u.deletedAt = u.deletedAt ?? now
            }
            return u
        }
        return ChangeResult(tokens: after, changed: changing)
    }

    /// The audit log, newest first.
    public func events(_ query: AuditQuery = AuditQuery()) throws(IssuerError) -> [AuditEvent] {
        try query.validate()
        return try transaction(write: false) { try store.events(query) }
    }

    // MARK: Catalog

    /// The resources and actions scopes are made of.
    public func catalog() throws(IssuerError) -> Catalog {
        try transaction(write: false) { try store.catalog() }
    }

    /// Adds `resource.action` (or changes its access).
    public func addToCatalog(
        resource: String, action: String, access: Access, by actor: Actor, now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) {
        var check = Catalog()
        try check.add(resource: resource, action: action, access: access)
        try transaction(write: true) {
            try store.putCatalogEntry(resource: resource, action: action, access: access)
            try record(
                .catalog, by: actor, at: now, guids: [],
                details: [("access", access.rawValue), ("permission", "\(resource).\(action)")])
        }
    }
}
