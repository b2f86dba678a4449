import Foundation
public import SigilVerifier

/// Who makes a change: the OS user or `--actor` for the CLI, `token:<GUID>` for an API caller.
///
/// The name is an ``ActorName``, so it can never carry escape sequences or line breaks into a
/// terminal or a log.
///
/// ```swift
/// let actor = try Actor(name: "alice")
/// ```
public struct Actor: Sendable, Hashable {
    public let name: String

    /// - Throws: ``IssuerError`` `invalid_input`: ``ActorName``'s one message.
    public init(name: String, field: String = "actor") throws(IssuerError) {
        self.name = try ActorName(name, field: field).text
    }

    /// The actor recorded for changes made by a token through the API.
    public init(token id: TokenID) {
        name = "token:\(id)"
    }

    /// Whether `name` would be accepted (``ActorName``'s rule).
    public static func isValid(_ name: String) -> Bool { ActorName.isValid(name) }
}

/// The checks every free-text label and identifier passes.
public enum Labels {
    /// Free text: no control characters, no format characters (bidi overrides such as U+202E,
    /// zero-width characters), a byte limit, and not blank when required.
    public static func checkText(_ text: String, field: String, required: Bool, maxBytes: Int) throws(IssuerError) {
        func refuse(_ problem: String) -> IssuerError {
            IssuerError(.invalidInput, "\(field) \(problem)", detail: .invalidLabel(field: field, problem: problem))
        }
        if required, text.allSatisfy(\.isWhitespace) { throw refuse("must not be empty") }
        guard text.utf8.count <= maxBytes else { throw refuse("is longer than \(maxBytes) bytes (UTF-8)") }
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control:
                throw refuse("must not contain control characters (newlines, tabs, escape, NUL)")
            case .format, .lineSeparator, .paragraphSeparator:
                throw refuse(
                    "must not contain invisible format characters (U+\(String(scalar.value, radix: 16, uppercase: true)): bidi controls, zero-width characters)"
                )
            default: continue
            }
        }
    }

    /// The longest input a message repeats as it is.
    public static let maxEchoBytes = 100

    /// User input as a message may repeat it: as it is, unless it looks like a token (holds
    /// `sgl_`, in any case: people paste tokens into the wrong field) or is longer than
    /// ``maxEchoBytes``; then only its length. Every message that echoes input uses this.
    ///
    /// ```swift
    /// Labels.echo("devices.lst")   // devices.lst
    /// Labels.echo("sgl_AQ…")       // (a value of 140 characters that looks like a token, not shown)
    /// ```
    public static func echo(_ text: String) -> String {
        if text.lowercased().contains(TokenClaims.prefix) {
            return "(a value of \(text.count) characters that looks like a token, not shown)"
        }
        guard text.utf8.count <= maxEchoBytes else { return "(a value of \(text.count) characters)" }
        return text
    }
}

/// A change of a token's lifecycle state.
public enum LifecycleAction: String, Sendable, CaseIterable {
    case deactivate, activate, revoke, delete

    /// Whether the change can never be undone.
    public var isPermanent: Bool { self == .revoke || self == .delete }

    /// Whether the change may cascade to the tokens a token created (its descendants): only
    /// `revoke`. Deactivating stops one token and is undone alone; deleting is revoking and
    /// hiding, so a family is removed by a cascading revoke, then a delete. The CLI (`revoke
    /// --cascade` only), the API and the console follow this; ``Issuer`` refuses the rest.
    public var cascades: Bool { self == .revoke }
}

/// What a scope filter asks for: a kind of scope, or tokens that grant one permission.
public enum ScopeFilter: Sendable, Hashable {
    case all
    case readOnly
    case grants(String)
}

/// The filters `list` and the bulk changes take. Every given value must be non-blank.
///
/// Every value is bounded (``maxValueBytes``, ``maxNameWords``) and may not hold NUL: each name
/// word is one more clause over every row, so an unbounded filter lets one caller hold the
/// database for seconds (or past SQLite's expression limit), and PostgreSQL refuses NUL in text.
///
/// ```swift
/// let filter = try TokenFilter(name: "deploy", audience: "billing")
/// ```
public struct TokenFilter: Sendable, Hashable {
    /// The most words a name filter may hold.
    public static let maxNameWords = 16
    /// The most UTF-8 bytes any one filter value may hold.
    public static let maxValueBytes = 256

    /// Words the name must all contain, case-insensitively.
    public let nameWords: [String]
    /// Lowercase hex digits the GUID starts with.
    public let guidPrefix: String?
    public let scope: ScopeFilter?
    public let audience: String?
    public let status: TokenStatus?

    public init(
        name: String? = nil, guidPrefix: String? = nil, scope: String? = nil, audience: String? = nil,
        status: TokenStatus? = nil
    ) throws(IssuerError) {
        func blank(_ field: String) -> IssuerError {
            IssuerError(
                .invalidInput, "the \(field) filter is empty; an empty filter would match every token",
                detail: .emptyFilter(field))
        }
        for (field, value) in [("name", name), ("guid", guidPrefix), ("scope", scope), ("audience", audience)] {
            guard let value else { continue }
            guard value.utf8.count <= Self.maxValueBytes else {
                throw IssuerError(
                    .invalidInput,
                    "the \(field) filter is longer than \(Self.maxValueBytes) bytes (\(value.utf8.count) given)",
                    detail: .invalidLabel(field: field, problem: "is longer than \(Self.maxValueBytes) bytes"))
            }
            guard !value.utf8.contains(0) else {
                throw IssuerError(
                    .invalidInput, "the \(field) filter must not contain NUL (U+0000)",
                    detail: .invalidLabel(field: field, problem: "contains NUL"))
            }
        }
        if let name {
            let words = name.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
            guard !words.isEmpty else { throw blank("name") }
            guard words.count <= Self.maxNameWords else {
                throw IssuerError(
                    .invalidInput,
                    "the name filter has \(words.count) words; give at most \(Self.maxNameWords)",
                    detail: .invalidLabel(field: "name", problem: "has more than \(Self.maxNameWords) words"))
            }
            nameWords = words
        } else {
            nameWords = []
        }
        if let guidPrefix {
            let hex = guidPrefix.replacingOccurrences(of: "-", with: "").lowercased()
            guard !guidPrefix.allSatisfy(\.isWhitespace) else { throw blank("guid") }
            guard !hex.isEmpty, hex.count <= 32, hex.utf8.allSatisfy(TokenFilter.isHexDigit) else {
                throw IssuerError(
                    .invalidInput, "the guid filter takes a hex prefix of a GUID, e.g. 3f2a9c1e",
                    detail: .invalidLabel(field: "guid", problem: "is not a hex prefix"))
            }
            self.guidPrefix = hex
        } else {
            self.guidPrefix = nil
        }
        if let scope {
            switch scope {
            case "all": self.scope = .all
            case "read-only": self.scope = .readOnly
            case _ where scope.allSatisfy(\.isWhitespace): throw blank("scope")
            case _ where Scope.isValidPair(scope): self.scope = .grants(scope)
            default:
                throw IssuerError(
                    .invalidInput, "the scope filter takes resource.action, all or read-only",
                    detail: .invalidPair(scope))
            }
        } else {
            self.scope = nil
        }
        if let audience {
            guard !audience.allSatisfy(\.isWhitespace) else { throw blank("audience") }
            // No token can have an audience outside the format's rule: say so rather than match nothing.
            self.audience = try Audience(audience).text
        } else {
            self.audience = nil
        }
        self.status = status
    }

    /// No filter at all: matches every live token.
    public static let everything: TokenFilter = {
        // A filter without values cannot fail to build.
        guard let filter = try? TokenFilter() else { preconditionFailure("an empty TokenFilter is always valid") }
        return filter
    }()

    public var isEmpty: Bool {
        nameWords.isEmpty && guidPrefix == nil && scope == nil && audience == nil && status == nil
    }

    /// `Character.isHexDigit` also accepts fullwidth digits; GUIDs are ASCII only.
    public static func isHexDigit(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x61...0x66).contains(c) || (0x41...0x46).contains(c)
    }
}

/// The orders `list` can sort by.
public enum TokenSort: String, Sendable, CaseIterable {
    /// Issue order (the default).
    case created
    case name, status, expires
}

/// A page of a filtered, sorted listing.
public struct TokenQuery: Sendable, Hashable {
    public var filter: TokenFilter
    public var sort: TokenSort
    /// At most this many rows; nil for all.
    public var limit: Int?
    /// Rows to skip first.
    public var offset: Int
    /// Only tokens of these audiences (an API caller's reach); nil for every audience.
    public var audiences: Set<String>?
    /// Only tokens whose window their audience's lifetime policy would refuse today (issued
    /// before the policy, or under a looser one): `sigil list --violating-policy`.
    public var violatingPolicy: Bool
    /// Only tokens whose `created_by` is exactly this actor name (``Actor/name``): the API's
    /// `created_by_me=true` sets it to the caller's own (`token:<GUID>`, `member:<email>`).
    public var createdBy: String?

    public init(
        filter: TokenFilter = .everything, sort: TokenSort = .created, limit: Int? = nil, offset: Int = 0,
        audiences: Set<String>? = nil, violatingPolicy: Bool = false, createdBy: String? = nil
    ) {
        self.filter = filter
        self.sort = sort
        self.limit = limit
        self.offset = offset
        self.audiences = audiences
        self.violatingPolicy = violatingPolicy
        self.createdBy = createdBy
    }
}

/// The kinds of change the audit log records.
public enum AuditAction: String, Sendable, CaseIterable {
    case issue, edit, deactivate, activate, revoke, delete, export, keys, catalog, migrate, compact, policy
    /// A member added, edited, suspended, activated or removed (`change` in the details).
    case member
    /// A member signed in through single sign-on.
    case signIn = "sign-in"
    /// A single sign-on was refused (`reason` in the details: a ``SignInRefusal``).
    case signInRefused = "sign-in-refused"
}

/// An audience's cap on the lifetimes of tokens issued for it from now on (`sigil policy set`).
///
/// ```swift
/// let policy = LifetimePolicy(audience: "billing", maxLifetime: 90 * 86_400, allowNeverExpires: false)
/// assert(policy.allows(validFrom: 0, validTo: 30 * 86_400))
/// assert(!policy.allows(validFrom: 0, validTo: nil))
/// ```
public struct LifetimePolicy: Sendable, Hashable {
    public var audience: String
    /// The longest window (valid-to minus valid-from) a new token may have, in seconds.
    public var maxLifetime: Int64
    /// Whether a token that never expires may still be issued (the cap then applies to the others).
    public var allowNeverExpires: Bool
    /// When it was set (Unix seconds) and by whom.
    public var setAt: Int64
    public var setBy: String

    public init(
        audience: String, maxLifetime: Int64, allowNeverExpires: Bool, setAt: Int64 = 0, setBy: String = ""
    ) {
        self.audience = audience
        self.maxLifetime = maxLifetime
        self.allowNeverExpires = allowNeverExpires
        self.setAt = setAt
        self.setBy = setBy
    }

    /// Whether a token with this window may be issued under the policy.
    public func allows(validFrom: Int64, validTo: Int64?) -> Bool {
        guard let validTo else { return allowNeverExpires }
        let (lifetime, overflow) = validTo.subtractingReportingOverflow(validFrom)
        return !overflow && lifetime <= maxLifetime
    }
}

/// One entry of the audit log: who did what to which tokens, and when. Never a token or a key.
public struct AuditEvent: Sendable, Hashable {
    public var at: Int64
    public var actor: String
    public var action: AuditAction
    public var guids: [TokenID]
    /// A JSON object with what else matters (the new name, the list sequence, a key ID).
    public var detailsJSON: String

    public init(at: Int64, actor: String, action: AuditAction, guids: [TokenID], detailsJSON: String = "{}") {
        self.at = at
        self.actor = actor
        self.action = action
        self.guids = guids
        self.detailsJSON = detailsJSON
    }
}

/// Filters for the audit log, newest first.
public struct AuditQuery: Sendable, Hashable {
    public var guid: TokenID?
    public var actor: String?
    public var action: AuditAction?
    public var since: Int64?
    public var limit: Int
    public var offset: Int
    /// Only events about tokens of these audiences, each listing only those tokens' GUIDs;
    /// nil for every event, whole.
    public var audiences: Set<String>?

    public init(
        guid: TokenID? = nil, actor: String? = nil, action: AuditAction? = nil, since: Int64? = nil,
        limit: Int = 100, offset: Int = 0, audiences: Set<String>? = nil
    ) {
        self.audiences = audiences
        self.guid = guid
        self.actor = actor
        self.action = action
        self.since = since
        self.limit = limit
        self.offset = offset
    }

    /// Checks the free-text filter: the actor is an ``ActorName``, which also keeps NUL and
    /// oversized values away from the store.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` naming the field.
    public func validate() throws(IssuerError) {
        if let actor { _ = try ActorName(actor) }
    }
}

extension Scope {
    /// The kinds' names, as the ledger, the wire and the rules answer spell them.
    package static let kindNames = ["all", "read-only", "custom"]

    /// `all`, `read-only` or `custom`.
    package var kindName: String {
        switch self {
        case .all: "all"
        case .readOnly: "read-only"
        case .custom: "custom"
        }
    }

    /// A custom scope's pairs; none for the other kinds.
    package var pairs: [String] {
        if case .custom(let pairs) = self { return pairs }
        return []
    }

    /// The scope a kind name and its pairs describe; nil for an unknown kind, pairs given to a
    /// kind that takes none, or a custom scope whose pairs are missing or not `resource.action`.
    package init?(kindName: String, pairs: [String]) {
        switch kindName {
        case "all" where pairs == [""] || pairs.isEmpty: self = .all
        case "read-only" where pairs == [""] || pairs.isEmpty: self = .readOnly
        case "custom" where !pairs.isEmpty && pairs.allSatisfy(Scope.isValidPair): self = .custom(pairs)
        default: return nil
        }
    }
}
