import Foundation
import SigilIssuer
import SigilVerifier
import Testing

// The delegation rules as one table: who may issue what, for which audience and window, and
// which cascades a caller may run. Server/tests/test_access.py drives the same rules over HTTP;
// here they run on the use-case layer itself, on both stores.

/// The calling token, as the organization issued it at `t0`.
enum DelegatingCaller: String, Sendable, CaseIterable, CustomTestStringConvertible {
    /// Scope `all` in audience billing, valid for 30 days.
    case all
    /// `read-only` in billing, 30 days: it lacks `tokens.create` altogether.
    case readOnly = "read-only"
    /// `tokens.create`, `devices.list`, `devices.get` in billing, 30 days.
    case custom
    /// Scope `all` in the organization audience (`sigil`), 30 days.
    case organization
    /// Scope `all` in billing that never expires.
    case neverExpiring = "never-expiring"

    var testDescription: String { rawValue }

    /// Every caller's `valid_to`, but the never-expiring one's.
    static let validTo = t0 + 30 * day

    var request: IssueRequest {
        switch self {
        case .all: SigilIssuerTests.request("caller all", scope: .all, expiry: .at(Self.validTo))
        case .readOnly: SigilIssuerTests.request("caller read-only", scope: .readOnly, expiry: .at(Self.validTo))
        case .custom:
            SigilIssuerTests.request(
                "caller custom", scope: .custom(["tokens.create", "devices.list", "devices.get"]),
                expiry: .at(Self.validTo))
        case .organization:
            SigilIssuerTests.request(
                "caller org", audience: Caller.organization, scope: .all, expiry: .at(Self.validTo))
        case .neverExpiring: SigilIssuerTests.request("caller never", scope: .all, expiry: .never)
        }
    }
}

/// What the table expects of one request.
enum Verdict: Sendable, Hashable {
    /// Issued, with this `valid_to` when the row names one.
    case issued(validTo: Int64?? = .none)
    /// 403 `forbidden` with ``IssuerError/Detail/insufficientScope(_:)`` naming `what`.
    case refused(String)
    /// 400 `invalid_input` with ``IssuerError/Detail/outsidePolicy(_:validFrom:validTo:)``.
    case outsidePolicy
}

/// One row: a caller asks for a token.
struct DelegationRow: Sendable, CustomTestStringConvertible {
    let rule: String
    let caller: DelegatingCaller
    var audience = "billing"
    var scope: ScopeRequest = .readOnly
    var validFrom: Int64?
    var expiry: Expiry = .at(t0 + 10 * day)
    /// A lifetime policy on billing (max lifetime in seconds, never-expiring allowed).
    var policy: (Int64, Bool)?
    let verdict: Verdict

    var testDescription: String { "\(rule) [\(caller.rawValue)]" }
}

private let limit = DelegatingCaller.validTo

/// The whole table. Windows are relative to `t0` (the callers' `valid_from`).
let delegationTable: [DelegationRow] = [
    // Scope covering: `all` covers everything; a custom scope covers its own pairs only.
    .init(rule: "all grants all", caller: .all, scope: .all, verdict: .issued()),
    .init(rule: "all grants read-only", caller: .all, scope: .readOnly, verdict: .issued()),
    .init(rule: "all grants write pairs", caller: .all, scope: .custom(["devices.create"]), verdict: .issued()),
    .init(rule: "all grants resource.*", caller: .all, scope: .custom(["users.*"]), verdict: .issued()),
    .init(
        rule: "read-only lacks tokens.create", caller: .readOnly, scope: .readOnly, verdict: .refused("tokens.create")),
    .init(
        rule: "read-only lacks tokens.create, even for read pairs", caller: .readOnly,
        scope: .custom(["devices.list"]), verdict: .refused("tokens.create")),
    .init(rule: "custom grants a subset", caller: .custom, scope: .custom(["devices.list"]), verdict: .issued()),
    .init(
        rule: "custom grants exactly its read pairs", caller: .custom,
        scope: .custom(["devices.list", "devices.get"]), verdict: .issued()),
    .init(
        rule: "custom grants a pair it holds that is a write", caller: .custom, scope: .custom(["tokens.create"]),
        verdict: .issued()),
    .init(
        rule: "custom refuses a wider set, naming the pair", caller: .custom,
        scope: .custom(["devices.list", "users.list"]), verdict: .refused("users.list")),
    .init(
        rule: "custom refuses a write pair it lacks", caller: .custom, scope: .custom(["devices.create"]),
        verdict: .refused("devices.create")),
    .init(
        rule: "custom refuses resource.* wider than its pairs", caller: .custom, scope: .custom(["devices.*"]),
        verdict: .refused("devices.create")),
    .init(rule: "custom refuses all", caller: .custom, scope: .all, verdict: .refused("all")),
    .init(rule: "custom refuses read-only", caller: .custom, scope: .readOnly, verdict: .refused("read-only")),

    // Audience reach: exact equality, except the organization audience reaches every one.
    .init(rule: "reaches its own audience", caller: .all, audience: "billing", verdict: .issued()),
    .init(
        rule: "billing does not reach billing-eu", caller: .all, audience: "billing-eu",
        verdict: .refused("audience billing-eu")),
    .init(
        rule: "billing does not reach billin", caller: .all, audience: "billin", verdict: .refused("audience billin")),
    .init(
        rule: "billing does not reach payments", caller: .all, audience: "payments",
        verdict: .refused("audience payments")),
    .init(
        rule: "billing does not reach the organization", caller: .all, audience: Caller.organization,
        verdict: .refused("audience sigil")),
    .init(rule: "the organization reaches payments", caller: .organization, audience: "payments", verdict: .issued()),
    .init(
        rule: "the organization reaches billing-eu", caller: .organization, audience: "billing-eu", verdict: .issued()),

    // Window: inside the caller's own, `valid_to` included.
    .init(rule: "valid_to inside", caller: .all, expiry: .at(t0 + 10 * day), verdict: .issued(validTo: t0 + 10 * day)),
    .init(rule: "valid_to equal to the caller's", caller: .all, expiry: .at(limit), verdict: .issued(validTo: limit)),
    .init(rule: "valid_to one second later", caller: .all, expiry: .at(limit + 1), verdict: .refused("valid_to")),
    .init(rule: "valid_to 60 days out", caller: .all, expiry: .at(t0 + 60 * day), verdict: .refused("valid_to")),
    .init(
        rule: "after(d) ending at the caller's valid_to", caller: .all, expiry: .after(30 * day),
        verdict: .issued(validTo: limit)),
    .init(
        rule: "after(d) ending one second later", caller: .all, expiry: .after(30 * day + 1),
        verdict: .refused("valid_to")),
    .init(
        rule: "after(d) counts from a later valid_from", caller: .all, validFrom: t0 + day, expiry: .after(29 * day),
        verdict: .issued(validTo: limit)),
    .init(
        rule: "after(d) from a later valid_from, one second past", caller: .all, validFrom: t0 + day,
        expiry: .after(29 * day + 1), verdict: .refused("valid_to")),
    .init(
        rule: "the default expiry is capped at the caller's", caller: .all, expiry: .default,
        verdict: .issued(validTo: limit)),
    .init(
        rule: "valid_from equal to the caller's", caller: .all, validFrom: t0, verdict: .issued(validTo: t0 + 10 * day)
    ),
    .init(
        rule: "valid_from one second before the caller's", caller: .all, validFrom: t0 - 1,
        verdict: .refused("valid_from")),

    // Never-expires: only from a caller that never expires.
    .init(rule: "an expiring caller cannot grant never", caller: .all, expiry: .never, verdict: .refused("valid_to")),
    .init(
        rule: "a never-expiring caller grants never", caller: .neverExpiring, expiry: .never,
        verdict: .issued(validTo: .some(nil))),
    .init(
        rule: "a never-expiring caller's default is one year", caller: .neverExpiring, expiry: .default,
        verdict: .issued(validTo: t0 + Issuer.defaultLifetime)),
    .init(
        rule: "a never-expiring caller has no valid_to bound", caller: .neverExpiring, expiry: .at(t0 + 300 * day),
        verdict: .issued(validTo: t0 + 300 * day)),

    // Policy: the audience's lifetime policy holds for delegated issues too.
    .init(
        rule: "policy: up to its max lifetime", caller: .neverExpiring, expiry: .after(10 * day),
        policy: (10 * day, false), verdict: .issued(validTo: t0 + 10 * day)),
    .init(
        rule: "policy: one second past its max lifetime", caller: .neverExpiring, expiry: .after(10 * day + 1),
        policy: (10 * day, false), verdict: .outsidePolicy),
    .init(
        rule: "policy: never refused unless allowed", caller: .neverExpiring, expiry: .never,
        policy: (10 * day, false), verdict: .outsidePolicy),
    .init(
        rule: "policy: never allowed when allowed", caller: .neverExpiring, expiry: .never, policy: (10 * day, true),
        verdict: .issued()),
    .init(
        rule: "policy: the caller's bound still comes first", caller: .all, expiry: .at(limit + 1),
        policy: (60 * day, false), verdict: .refused("valid_to")),
]

@Suite("Delegation: a token grants only what it holds, where it reaches, inside its window", .bothStores)
struct DelegationTableTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func caller(_ kind: DelegatingCaller) throws -> Caller {
        let token = try issuer.issue(kind.request, by: alice, now: t0)
        return Caller(claims: try TokenClaims.decodeUnverified(token.token))
    }

    @Test(
        "Delegation table: scope covering, audience reach, window, never-expires, policy",
        .bug(id: "21-6", "read-only pairs, valid_to equality, exact reach and after(d) had no test"),
        arguments: delegationTable)
    func row(_ row: DelegationRow) throws {
        let caller = try caller(row.caller)
        if let (maxLifetime, allowNever) = row.policy {
            _ = try issuer.setPolicy(
                audience: "billing", maxLifetime: maxLifetime, allowNeverExpires: allowNever, by: alice, now: t0)
        }
        let before = try issuer.count(TokenQuery())
        let asked = request(
            "delegated", audience: row.audience, scope: row.scope, validFrom: row.validFrom, expiry: row.expiry)
        switch row.verdict {
        case .issued(let validTo):
            let issued = try issuer.issue(asked, as: caller, now: t0)
            #expect(issued.record.parent == caller.id)
            #expect(issued.record.createdBy == caller.actor.name)
            #expect(issued.record.audience == row.audience)
            if case .some(let expected) = validTo { #expect(issued.record.validTo == expected) }
            #expect(try issuer.count(TokenQuery()) == before + 1)
        case .refused(let what):
            let error = expectIssuerError(.forbidden) { try issuer.issue(asked, as: caller, now: t0) }
            #expect(error?.detail == .insufficientScope(what), "\(String(describing: error?.detail))")
            #expect(try issuer.count(TokenQuery()) == before, "a refused request issues nothing")
        case .outsidePolicy:
            let error = expectIssuerError(.invalidInput) { try issuer.issue(asked, as: caller, now: t0) }
            guard case .outsidePolicy(let policy, _, _) = error?.detail else {
                Issue.record("detail is \(String(describing: error?.detail))")
                return
            }
            #expect(policy.audience == "billing")
            #expect(try issuer.count(TokenQuery()) == before)
        }
    }

    // MARK: Cascade

    /// A target in billing with a child in billing and, when `foreign` is given, a grandchild
    /// in that audience (made by the organization with the child as parent).
    func family(foreign: String?) throws -> (target: TokenID, all: [TokenID]) {
        let target = try issuer.issue(request("target"), by: alice, now: t0)
        let child = try issuer.issue(request("child"), by: alice, parent: target.record.id, now: t0)
        var all = [target.record.id, child.record.id]
        if let foreign {
            let grandchild = try issuer.issue(
                request("grandchild", audience: foreign), by: alice, parent: child.record.id, now: t0)
            all.append(grandchild.record.id)
        }
        return (target.record.id, all)
    }

    @Test(
        "A cascade is refused when a descendant is outside the caller's reach; nothing changes",
        .bug(id: "21-6", "a cascade past the caller's reach had no test"),
        arguments: ["payments", "billing-eu"])
    func cascadeOutsideReach(foreign: String) throws {
        let caller = try caller(.all)
        let (target, all) = try family(foreign: foreign)
        let error = expectIssuerError(.forbidden) {
            try issuer.change(.revoke, [target], cascade: true, as: caller, now: t0 + 1)
        }
        #expect(error?.detail == .insufficientScope("audience \(foreign)"))
        for id in all { #expect(try issuer.stored(id)?.status == .active) }
    }

    @Test("A cascade inside the caller's reach revokes the whole family")
    func cascadeInsideReach() throws {
        let caller = try caller(.all)
        let (target, all) = try family(foreign: nil)
        _ = try issuer.change(.revoke, [target], cascade: true, as: caller, now: t0 + 1)
        for id in all { #expect(try issuer.stored(id)?.status == .revoked) }
    }

    @Test("The organization's cascade reaches descendants of every audience")
    func cascadeFromOrganization() throws {
        let caller = try caller(.organization)
        let (target, all) = try family(foreign: "payments")
        _ = try issuer.change(.revoke, [target], cascade: true, as: caller, now: t0 + 1)
        for id in all { #expect(try issuer.stored(id)?.status == .revoked) }
    }

    @Test("Without cascade, a foreign descendant does not stop a revoke, and stays active")
    func noCascade() throws {
        let caller = try caller(.all)
        let (target, all) = try family(foreign: "payments")
        _ = try issuer.change(.revoke, [target], as: caller, now: t0 + 1)
        #expect(try issuer.stored(target)?.status == .revoked)
        for id in all.dropFirst() { #expect(try issuer.stored(id)?.status == .active) }
    }

    @Test(
        "Only revoke cascades: any other action with cascade is invalid input",
        arguments: [LifecycleAction.deactivate, .activate, .delete])
    func onlyRevokeCascades(action: LifecycleAction) throws {
        let caller = try caller(.all)
        let (target, _) = try family(foreign: nil)
        let error = expectIssuerError(.invalidInput) {
            try issuer.change(action, [target], cascade: true, as: caller, now: t0 + 1)
        }
        #expect(isInvalidLabel(error, field: "cascade"))
    }

    @Test("A caller without tokens.revoke cannot cascade; a billing caller cannot revoke a payments token")
    func cascadeNeedsPermissionAndReach() throws {
        let reader = try caller(.readOnly)
        let (target, _) = try family(foreign: nil)
        let error = expectIssuerError(.forbidden) {
            try issuer.change(.revoke, [target], cascade: true, as: reader, now: t0 + 1)
        }
        #expect(error?.detail == .insufficientScope("tokens.revoke"))
        let payments = try issuer.issue(request("payments", audience: "payments"), by: alice, now: t0)
        expectIssuerError(.notFound) { try issuer.change(.revoke, [payments.record.id], as: try caller(.all)) }
        #expect(try issuer.stored(payments.record.id)?.status == .active)
    }
}

/// The two rules below the table, stated without a ledger.
@Suite("Caller and uncovered: reach is audience equality, covering is pair by pair")
struct CallerRuleTests {
    static let id = TokenMinter.newTokenID()

    static func caller(_ audience: String, _ scope: Scope = .all) -> Caller {
        Caller(id: id, audience: audience, scope: scope, validTo: t0 + day, validFrom: t0)
    }

    @Test(
        "A caller reaches exactly its own audience",
        .bug(id: "21-6", "reach as a prefix match went unnoticed"),
        arguments: [
            ("billing", "billing", true), ("billing", "billing-eu", false), ("billing", "billin", false),
            ("billing", "Billing", false), ("billing", "billing ", false), ("billing", "sigil", false),
            ("billing", "", false), ("billing-eu", "billing", false), ("sigil", "billing", true),
            ("sigil", "billing-eu", true), ("sigil", "sigil", true), ("Sigil", "billing", false),
            ("sigil-eu", "billing", false), ("sigi", "billing", false),
        ])
    func reach(caller audience: String, target: String, reaches: Bool) {
        #expect(Self.caller(audience).reaches(target) == reaches)
    }

    @Test("The organization's audiences are every audience (nil); another's are itself")
    func audiences() {
        #expect(Self.caller(Caller.organization).audiences == nil)
        #expect(Self.caller("billing").audiences == ["billing"])
        #expect(Caller.organization == "sigil")
    }

    @Test("A caller made from claims keeps its GUID, audience, scope and window; its actor is token:<GUID>")
    func fromClaims() throws {
        let claims = try TokenClaims(
            keyID: "k1", audience: "billing", id: Self.id, validFrom: t0, validTo: t0 + day, scope: .readOnly)
        let caller = Caller(claims: claims)
        #expect(caller == Self.caller("billing", .readOnly))
        #expect(caller.actor.name == "token:\(Self.id)")
        let never = Caller(
            claims: try TokenClaims(
                keyID: "k1", audience: "billing", id: Self.id, validFrom: t0, validTo: nil, scope: .all))
        #expect(never.validTo == nil)
    }

    static let examplePairs = [
        "tokens.create", "devices.list", "devices.get", "devices.create", "devices.delete", "users.list",
    ]

    @Test(
        "uncovered: what each held scope may grant, naming the first pair too wide",
        .bug(id: "21-6", "a read-only caller offering devices.create went unnoticed"),
        arguments: [
            // held, requested, the first uncovered pair (nil: covered)
            (Scope.all, Scope.all, String?.none), (.all, .readOnly, nil), (.all, .custom(["devices.create"]), nil),
            (.readOnly, .readOnly, nil), (.readOnly, .custom(["devices.list", "devices.get"]), nil),
            (.readOnly, .custom(["devices.create"]), "devices.create"),
            (.readOnly, .custom(["devices.list", "devices.delete"]), "devices.delete"),
            (.readOnly, .custom(["made.up"]), "made.up"), (.readOnly, .all, "all"),
            (.custom(["devices.list"]), .custom(["devices.list"]), nil),
            (.custom(["devices.list"]), .custom(["devices.get"]), "devices.get"),
            (.custom(["devices.list", "devices.get"]), .custom(["devices.get"]), nil),
            (.custom(["devices.list"]), .readOnly, "read-only"), (.custom(["devices.list"]), .all, "all"),
            (.custom(["devices.create"]), .custom(["devices.create"]), nil),
            (.custom([]), .custom(["devices.list"]), "devices.list"),
        ])
    func uncovered(held: Scope, requested: Scope, wide: String?) throws {
        let catalog = try Self.catalog()
        #expect(Issuer.uncovered(requested, by: held, catalog: catalog) == wide)
    }

    /// The example catalog a new home gets.
    static func catalog() throws -> Catalog {
        let temp = try TempHome()
        return try temp.issuer().catalog()
    }
}
