public import SigilVerifier

/// Whether a member may sign in.
public enum MemberStatus: String, Sendable, Hashable, CaseIterable {
    /// Signs in and acts with the member's rights.
    case active
    /// Signs in no more; every session ends at its next request. ``Issuer/activate(member:as:actor:now:)``
    /// undoes it.
    case suspended
}

/// A person in the ledger: signs in to the console through the organization's identity
/// provider and acts with rights expressed exactly like a token's grant.
///
/// `audience` and `scope` are read as for a token: the audience ``Caller/organization``
/// (`sigil`) manages every audience, `all` and `read-only` are the kinds, and a custom scope
/// holds expanded `resource.action` pairs. The audit log names a member `member:<email>`
/// (``actor``).
///
/// ```swift
/// let member = try issuer.addMember(
///     MemberRequest(email: "Ada@Example.com", name: "Ada", audience: "sigil", scope: .all), actor: alice)
/// print(member.email)   // ada@example.com
/// ```
public struct Member: Sendable, Hashable {
    /// A random v4 GUID: the member's ID in `/v1/members/{id}`.
    public var id: TokenID
    /// Lower-cased; unique in the ledger (``MemberEmail``).
    public var email: String
    /// The display name.
    public var name: String
    public var audience: String
    public var scope: Scope
    public var status: MemberStatus
    /// The actor who added the member.
    public var createdBy: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Unix seconds of the last change to the row.
    public var updatedAt: Int64
    /// Unix seconds of the last single sign-on; nil before the first.
    public var lastSignInAt: Int64?

    public init(
        id: TokenID, email: String, name: String, audience: String, scope: Scope, status: MemberStatus,
        createdBy: String, createdAt: Int64, updatedAt: Int64? = nil, lastSignInAt: Int64? = nil
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.audience = audience
        self.scope = scope
        self.status = status
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastSignInAt = lastSignInAt
    }

    /// The audit log's name for this member: `member:<email>`.
    public var actor: Actor { Actor(member: email) }
}

/// A member's email: how a sign-in finds the member, and what the audit log names it by.
///
/// Lower-cased (so it is unique case-insensitively), 3–254 bytes of ASCII: a local part of
/// 1–64 characters of `a-z 0-9 . _ + -` and a domain of dot-separated labels of `a-z 0-9 -`
/// with at least one dot. That is narrower than RFC 5321 (no quoted local parts, no
/// international addresses) on purpose: every address fits ``ActorName`` as `member:<email>`,
/// so it can never carry escapes into a terminal or a log.
///
/// ```swift
/// let email = try MemberEmail("Ada.Lovelace+sigil@Example.COM")
/// print(email.text)   // ada.lovelace+sigil@example.com
/// ```
public struct MemberEmail: Sendable, Hashable, CustomStringConvertible {
    /// The longest address, in bytes (RFC 5321's path limit less its brackets).
    public static let maxBytes = 254
    /// The rule as people read it, after the field's name.
    public static let rule =
        "must be an email address: 1-64 characters of a-z 0-9 . _ + - before @, a domain with a dot after it, 254 bytes at most"
    /// The rule as a regular expression (JavaScript and HTML `pattern` syntax) for the console.
    public static let pattern = "[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+"

    public let text: String

    /// - Throws: ``IssuerError`` `invalid_input` / `invalidLabel(field: "email", …)`; the
    ///   message repeats the input only through ``Labels/echo(_:)``.
    public init(_ text: String) throws(IssuerError) {
        let lower = String(decoding: text.utf8.map { (0x41...0x5a).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
        guard Self.isValid(lower) else {
            let problem = "\(Self.rule) (got \(Labels.echo(text)))"
            throw IssuerError(
                .invalidInput, "email \(problem)", detail: .invalidLabel(field: "email", problem: problem))
        }
        self.text = lower
    }

    public var description: String { text }

    private static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (3...maxBytes).contains(bytes.count) else { return false }
        let parts = bytes.split(separator: 0x40, omittingEmptySubsequences: false)
        guard parts.count == 2, (1...64).contains(parts[0].count) else { return false }
        let local = parts[0]
        let domain = parts[1]
        let localOK = local.allSatisfy {
            (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2b
                || $0 == 0x2d
        }
        let labels = domain.split(separator: 0x2e, omittingEmptySubsequences: false)
        let domainOK =
            labels.count >= 2
            && labels.allSatisfy { label in
                (1...63).contains(label.count) && label.first != 0x2d && label.last != 0x2d
                    && label.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2d }
            }
        return localOK && domainOK
    }
}

/// A member's display name: 1–200 bytes of text a person reads (``TokenName``'s rule, under
/// the field name `name`).
public enum MemberName {
    /// - Throws: ``IssuerError`` `invalid_input` as ``TokenName`` does.
    public static func check(_ text: String) throws(IssuerError) -> String { try TokenName(text).text }
}

/// What to add: the member's email, display name and rights.
///
/// ```swift
/// let request = MemberRequest(email: "ada@example.com", name: "Ada", audience: "sigil", scope: .all)
/// ```
public struct MemberRequest: Sendable, Hashable {
    public var email: String
    public var name: String
    public var audience: String
    public var scope: ScopeRequest
    /// A chosen ID (tests, imports); a fresh random v4 GUID when nil.
    public var id: TokenID?

    public init(email: String, name: String, audience: String, scope: ScopeRequest, id: TokenID? = nil) {
        self.email = email
        self.name = name
        self.audience = audience
        self.scope = scope
        self.id = id
    }
}

/// What to change about a member: each field given is set, the others kept.
public struct MemberEdit: Sendable, Hashable {
    public var name: String?
    public var audience: String?
    public var scope: ScopeRequest?

    public init(name: String? = nil, audience: String? = nil, scope: ScopeRequest? = nil) {
        self.name = name
        self.audience = audience
        self.scope = scope
    }

    public var isEmpty: Bool { name == nil && audience == nil && scope == nil }

    /// Why an empty edit is refused: `invalid_input` naming `edit` (422 over HTTP), the one
    /// rule ``Issuer/editMember(_:_:by:now:)`` applies; the CLI shows the same message.
    public static let emptyRefusal = IssuerError(
        .invalidInput, "nothing to change: give a name, an audience or a scope",
        detail: .invalidLabel(field: "edit", problem: "changes nothing"))
}

/// What a member suspension did.
public struct MemberSuspension: Sendable {
    /// The member after the change.
    public let member: Member
    /// The tokens the cascade deactivated (the member's active tokens), empty without cascade.
    public let deactivated: [TokenID]

    public init(member: Member, deactivated: [TokenID]) {
        self.member = member
        self.deactivated = deactivated
    }
}

/// Why a single sign-on was refused: the closed set of reasons the audit log
/// (`sign-in-refused`, detail `reason`) and sigil-server's refusal page use.
///
/// ```swift
/// try issuer.recordRefusedSignIn(email: nil, reason: .stateMismatch)
/// print(SignInRefusal.notAMember.message)
/// ```
public enum SignInRefusal: String, Sendable, Hashable, CaseIterable {
    /// The email is no member's.
    case notAMember = "not_a_member"
    /// The member is suspended.
    case memberSuspended = "member_suspended"
    /// The member was removed (a session that outlived its member).
    case memberRemoved = "member_removed"
    /// The `state` returned is not the one this browser was sent with, or has expired.
    case stateMismatch = "state_mismatch"
    /// The provider refused the authorization code (replayed, expired, wrong verifier).
    case codeRejected = "code_rejected"
    /// The provider answered the sign-in with an error (the person cancelled, access denied).
    case providerError = "provider_error"
    /// The provider could not be reached, or answered what is not OpenID Connect.
    case providerUnavailable = "provider_unavailable"
    /// The ID token is not a well-formed JWS, or uses an algorithm this server does not accept.
    case badToken = "bad_token"
    /// The ID token's signature does not verify.
    case badSignature = "bad_signature"
    /// The ID token's `kid` is in no key of the provider's JWKS, even after a refresh.
    case unknownKey = "unknown_key"
    /// `iss` is not the configured provider.
    case wrongIssuer = "wrong_issuer"
    /// `aud` does not hold this client's ID.
    case wrongAudience = "wrong_audience"
    /// `exp` has passed (beyond the allowed clock skew).
    case expired
    /// `iat` is in the future (beyond the allowed clock skew).
    case issuedInFuture = "issued_in_future"
    /// `nonce` is not the one this sign-in sent.
    case nonceMismatch = "nonce_mismatch"
    /// The ID token carries no email.
    case emailMissing = "email_missing"
    /// `email_verified` is not true.
    case emailUnverified = "email_unverified"
    /// The email's domain is not the allowed one (`--oidc-allowed-domain`).
    case domainNotAllowed = "domain_not_allowed"

    /// What the person is told: what happened and what to do, never a token or a code.
    public var message: String {
        switch self {
        case .notAMember:
            "This email is not a member of this Sigil. Ask an administrator to add you (sigil members add)."
        case .memberSuspended: "Your membership is suspended. Ask an administrator to activate it."
        case .memberRemoved: "Your membership was removed. Ask an administrator to add you again."
        case .stateMismatch: "The sign-in could not be matched to this browser or took too long. Start again."
        case .codeRejected: "The identity provider refused the sign-in code (used twice, or expired). Start again."
        case .providerError: "The identity provider did not complete the sign-in. Start again."
        case .providerUnavailable: "The identity provider cannot be reached right now. Try again in a moment."
        case .badToken, .badSignature, .unknownKey, .wrongIssuer, .wrongAudience, .issuedInFuture, .nonceMismatch:
            "The identity provider's answer could not be verified. Start again; if it persists, tell an administrator."
        case .expired: "The identity provider's answer has expired. Start again."
        case .emailMissing: "The identity provider did not share your email address. Ask an administrator."
        case .emailUnverified: "Your email address is not verified at the identity provider. Verify it and try again."
        case .domainNotAllowed: "Accounts of this email domain may not sign in here."
        }
    }
}

extension Actor {
    /// The actor recorded for changes made by a member: `member:<email>`.
    public init(member email: String) {
        name = "member:\(email)"
    }
}
