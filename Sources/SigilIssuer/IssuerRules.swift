import SigilVerifier

/// The issuer's rules as a front end needs them before it submits: limits, patterns,
/// messages and enumerations, each read from its one definition (``Audience``,
/// ``ActorName``, ``TokenName``, ``TokenDescription``, ``PageRequest``, the enums).
///
/// sigil-server answers `GET /v1/rules` with ``current``; the web console checks a form with
/// these values and adds no rule of its own, so it cannot drift from the issuer.
///
/// ```swift
/// let bytes = Wire.encode(IssuerRules.current)   // {"audience":{"max_bytes":64,…},…}
/// ```
public struct IssuerRules: Codable, Sendable, Hashable {
    /// A value with a character set: its limit, its pattern and the message that refuses it.
    public struct PatternRule: Codable, Sendable, Hashable {
        public var maxBytes: Int
        public var pattern: String
        public var message: String

        enum CodingKeys: String, CodingKey {
            case maxBytes = "max_bytes", pattern, message
        }
    }

    /// Free text: its byte limit (UTF-8) and whether it may be empty.
    public struct TextRule: Codable, Sendable, Hashable {
        public var maxBytes: Int
        public var required: Bool

        enum CodingKeys: String, CodingKey {
            case maxBytes = "max_bytes", required
        }
    }

    /// Page sizes of the listings.
    public struct PageRule: Codable, Sendable, Hashable {
        public var maxLimit: Int
        public var defaultLimit: Int

        enum CodingKeys: String, CodingKey {
            case maxLimit = "max_limit", defaultLimit = "default_limit"
        }
    }

    public var audience: PatternRule
    public var actor: PatternRule
    /// A member's email (``MemberEmail``).
    public var email: PatternRule
    public var name: TextRule
    public var description: TextRule
    public var page: PageRule
    /// The lifetime a token gets when the request names no expiry, in seconds.
    public var defaultLifetime: Int64
    public var statuses: [String]
    public var sorts: [String]
    public var scopeKinds: [String]
    public var lifecycleActions: [String]
    /// The lifecycle actions that take `cascade`.
    public var cascadingActions: [String]
    public var auditActions: [String]
    /// A member's statuses (``MemberStatus``).
    public var memberStatuses: [String]
    /// Why a single sign-on may be refused (``SignInRefusal``).
    public var signInRefusals: [String]

    enum CodingKeys: String, CodingKey {
        case audience, actor, email, name, description, page
        case memberStatuses = "member_statuses"
        case signInRefusals = "sign_in_refusals"
        case defaultLifetime = "default_lifetime"
        case statuses, sorts
        case scopeKinds = "scope_kinds"
        case lifecycleActions = "lifecycle_actions"
        case cascadingActions = "cascading_actions"
        case auditActions = "audit_actions"
    }

    /// The rules of this build.
    public static let current = IssuerRules(
        audience: PatternRule(
            maxBytes: Audience.maxBytes, pattern: Audience.pattern, message: "audience \(Audience.rule)"),
        actor: PatternRule(
            maxBytes: ActorName.maxBytes, pattern: ActorName.pattern, message: "actor \(ActorName.rule)"),
        email: PatternRule(
            maxBytes: MemberEmail.maxBytes, pattern: MemberEmail.pattern, message: "email \(MemberEmail.rule)"),
        name: TextRule(maxBytes: TokenName.maxBytes, required: true),
        description: TextRule(maxBytes: TokenDescription.maxBytes, required: false),
        page: PageRule(maxLimit: PageRequest.maxLimit, defaultLimit: PageRequest.defaultLimit),
        defaultLifetime: Issuer.defaultLifetime,
        statuses: TokenStatus.allCases.map(\.rawValue),
        sorts: TokenSort.allCases.map(\.rawValue),
        scopeKinds: Scope.kindNames,
        lifecycleActions: LifecycleAction.allCases.map(\.rawValue),
        cascadingActions: LifecycleAction.allCases.filter(\.cascades).map(\.rawValue),
        auditActions: AuditAction.allCases.map(\.rawValue),
        memberStatuses: MemberStatus.allCases.map(\.rawValue),
        signInRefusals: SignInRefusal.allCases.map(\.rawValue))
}
