import Foundation
import SigilIssuer
import SigilVerifier
import Testing

// The delegation rule for members as one table (issue #25 item 1): a caller, token or member,
// never adds a member, sets a member's rights or issues a token with more than it holds:
// audience, scope kind, custom pairs, window. One rule decides all three
// (`Issuer.checkGrant`); these rows run it through each use case, on both stores.

/// Who asks, as alice set them up at `t0`.
enum GrantingCaller: String, Sendable, CaseIterable, CustomTestStringConvertible {
    /// A token: `all` in the organization audience, never expires.
    case orgToken = "org token"
    /// A token: `all` in the organization audience, expires in 30 days.
    case expiringOrgToken = "expiring org token"
    /// A token: billing, custom ``pairs``; never expires.
    case billingToken = "billing token"
    /// A token: read-only in the organization audience, never expires (lacks members.create).
    case readOnlyToken = "read-only token"
    /// A member: `all` in the organization audience.
    case orgMember = "org member"
    /// A member: billing, custom ``pairs``.
    case billingMember = "billing member"
    /// A member: read-only in billing.
    case readOnlyMember = "read-only member"

    var testDescription: String { rawValue }

    static let pairs = ["members.create", "members.update", "tokens.create", "devices.list", "devices.get"]

    var rights: (audience: String, scope: ScopeRequest) {
        switch self {
        case .orgToken, .expiringOrgToken, .orgMember: (Caller.organization, .all)
        case .billingToken, .billingMember: ("billing", .custom(Self.pairs))
        case .readOnlyToken: (Caller.organization, .readOnly)
        case .readOnlyMember: ("billing", .readOnly)
        }
    }

    func make(_ issuer: Issuer, by alice: Actor) throws -> Caller {
        let (audience, scope) = rights
        switch self {
        case .orgToken, .expiringOrgToken, .billingToken, .readOnlyToken:
            let expiry: Expiry = self == .expiringOrgToken ? .at(t0 + 30 * day) : .never
            let issued = try issuer.issue(
                request("caller \(rawValue)", audience: audience, scope: scope, expiry: expiry), by: alice, now: t0)
            return try issuer.authenticate(issued.token, now: t0)
        case .orgMember, .billingMember, .readOnlyMember:
            let member = try issuer.addMember(
                MemberRequest(
                    email: rawValue.replacingOccurrences(of: " ", with: ".") + "@example.com", name: rawValue,
                    audience: audience, scope: scope),
                by: alice, now: t0)
            return Caller(member: member)
        }
    }
}

/// What the caller asks for.
enum Grant: String, Sendable {
    /// Add a member with these rights.
    case addMember = "add member"
    /// Set these rights on a member alice added (billing, devices.get).
    case editMember = "edit member"
    /// Issue a token with these rights (and `expiry`).
    case issueToken = "issue token"
}

struct GrantRow: Sendable, CustomTestStringConvertible {
    let rule: String
    let caller: GrantingCaller
    var grant: Grant = .addMember
    var audience = "billing"
    var scope: ScopeRequest = .readOnly
    var expiry: Expiry = .never
    /// nil: granted; else refused as `forbidden` naming this.
    let refused: String?

    var testDescription: String { "\(caller.rawValue) \(grant.rawValue): \(rule)" }
}

let grantTable: [GrantRow] = [
    // Adding a member: audience, scope kind, custom pairs, window.
    .init(
        rule: "the organization adds an administrator", caller: .orgToken, audience: "sigil", scope: .all, refused: nil),
    .init(rule: "an org member adds anyone", caller: .orgMember, audience: "payments", scope: .all, refused: nil),
    .init(
        rule: "a token that expires adds no member (members never expire)", caller: .expiringOrgToken,
        refused: "valid_to"),
    .init(rule: "read-only lacks members.create", caller: .readOnlyToken, refused: "members.create"),
    .init(rule: "read-only member lacks members.create", caller: .readOnlyMember, refused: "members.create"),
    .init(
        rule: "custom grants a subset of its pairs", caller: .billingToken, scope: .custom(["devices.get"]),
        refused: nil),
    .init(
        rule: "custom grants exactly its pairs", caller: .billingMember, scope: .custom(GrantingCaller.pairs),
        refused: nil),
    .init(
        rule: "custom refuses a pair it lacks", caller: .billingToken, scope: .custom(["devices.create"]),
        refused: "devices.create"),
    .init(
        rule: "custom refuses members.delete it lacks", caller: .billingMember, scope: .custom(["members.delete"]),
        refused: "members.delete"),
    .init(
        rule: "custom refuses resource.* wider than its pairs", caller: .billingMember, scope: .custom(["devices.*"]),
        refused: "devices.create"),
    .init(rule: "custom refuses all", caller: .billingToken, scope: .all, refused: "all"),
    .init(rule: "custom refuses read-only", caller: .billingMember, scope: .readOnly, refused: "read-only"),
    .init(
        rule: "billing does not reach payments", caller: .billingToken, audience: "payments",
        scope: .custom(["devices.get"]), refused: "audience payments"),
    .init(
        rule: "billing does not reach the organization", caller: .billingMember, audience: "sigil",
        scope: .custom(["devices.get"]), refused: "audience sigil"),

    // Editing a member's rights follows the same rule.
    .init(rule: "org widens to all", caller: .orgMember, grant: .editMember, scope: .all, refused: nil),
    .init(
        rule: "custom sets a pair it holds", caller: .billingToken, grant: .editMember,
        scope: .custom(["devices.list"]), refused: nil),
    .init(rule: "custom cannot widen to all", caller: .billingMember, grant: .editMember, scope: .all, refused: "all"),
    .init(
        rule: "custom cannot move a member to the organization", caller: .billingToken, grant: .editMember,
        audience: "sigil", scope: .custom(["devices.get"]), refused: "audience sigil"),
    .init(
        rule: "custom cannot add a pair it lacks", caller: .billingMember, grant: .editMember,
        scope: .custom(["devices.get", "invoices.pay"]), refused: "invoices.pay"),
    .init(
        rule: "an expiring token cannot set a member's rights", caller: .expiringOrgToken, grant: .editMember,
        refused: "valid_to"),

    // Tokens a member issues: within the member's rights; a member has no window.
    .init(
        rule: "a member grants a subset, never expiring", caller: .billingMember, grant: .issueToken,
        scope: .custom(["devices.get"]), refused: nil),
    .init(
        rule: "a member refuses a pair it lacks", caller: .billingMember, grant: .issueToken,
        scope: .custom(["devices.create"]), refused: "devices.create"),
    .init(
        rule: "a member refuses all", caller: .billingMember, grant: .issueToken, scope: .all, refused: "all"),
    .init(
        rule: "a member does not reach payments", caller: .billingMember, grant: .issueToken, audience: "payments",
        scope: .custom(["devices.get"]), refused: "audience payments"),
    .init(
        rule: "an org member reaches every audience", caller: .orgMember, grant: .issueToken, audience: "payments",
        scope: .all, refused: nil),
    .init(
        rule: "a read-only member lacks tokens.create", caller: .readOnlyMember, grant: .issueToken,
        refused: "tokens.create"),
    .init(
        rule: "an expiring token still cannot issue past its window", caller: .expiringOrgToken, grant: .issueToken,
        expiry: .at(t0 + 31 * day), refused: "valid_to"),
]

@Suite("Delegation for members: nobody grants more than it holds", .bothStores)
struct MemberDelegationTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    @Test("Grant table: adding a member, editing its rights, a member issuing a token", arguments: grantTable)
    func row(_ row: GrantRow) throws {
        let caller = try row.caller.make(issuer, by: alice)
        let target = try issuer.addMember(
            MemberRequest(
                email: "target@example.com", name: "Target", audience: "billing", scope: .custom(["devices.get"])),
            by: alice, now: t0)
        let members = try issuer.memberCount()
        let tokens = try issuer.count(TokenQuery())
        let run: () throws -> Void =
            switch row.grant {
            case .addMember:
                {
                    let added = try issuer.addMember(
                        MemberRequest(email: "new@example.com", name: "New", audience: row.audience, scope: row.scope),
                        as: caller, now: t0 + 1)
                    #expect(added.createdBy == caller.actor.name && added.audience == row.audience)
                }
            case .editMember:
                {
                    let edited = try issuer.editMember(
                        target.email, MemberEdit(audience: row.audience, scope: row.scope), as: caller, now: t0 + 1)
                    #expect(edited.audience == row.audience)
                }
            case .issueToken:
                {
                    let issued = try issuer.issue(
                        request("by caller", audience: row.audience, scope: row.scope, expiry: row.expiry),
                        as: caller, now: t0 + 1)
                    #expect(issued.record.createdBy == caller.actor.name)
                    #expect(issued.record.parent == (caller.member == nil ? caller.id : nil))
                }
            }
        guard let what = row.refused else {
            try run()
            return
        }
        let error = #expect(throws: IssuerError.self) { try run() }
        #expect(error?.reason == .forbidden, "\(String(describing: error))")
        #expect(error?.detail == .insufficientScope(what), "\(String(describing: error))")
        #expect(try issuer.memberCount() == members && issuer.count(TokenQuery()) == tokens, "nothing was added")
        #expect(try issuer.member(target.email) == target, "the target is unchanged")
    }

    @Test("A caller lists and shows only the members of audiences it reaches; others are not_found")
    func reach() throws {
        let org = try GrantingCaller.orgToken.make(issuer, by: alice)
        let billing = try issuer.issue(
            request("billing lister", scope: .custom(["members.list", "members.read"]), expiry: .never), by: alice,
            now: t0)
        let lister = try issuer.authenticate(billing.token, now: t0)
        for (email, audience) in [
            ("a@example.com", "billing"), ("b@example.com", "sigil"), ("c@example.com", "billing"),
        ] {
            _ = try issuer.addMember(
                MemberRequest(email: email, name: email, audience: audience, scope: .readOnly), as: org, now: t0)
        }
        let page = try issuer.members(page: PageRequest(), as: lister)
        #expect(page.items.map(\.email) == ["a@example.com", "c@example.com"])
        #expect(try issuer.members(page: PageRequest(), as: org).items.count == 3)
        #expect(try issuer.member("a@example.com", as: lister).audience == "billing")
        let hidden = #expect(throws: IssuerError.self) { try issuer.member("b@example.com", as: lister) }
        #expect(hidden?.reason == .notFound)
        let devices = try issuer.addMember(
            MemberRequest(email: "d@example.com", name: "D", audience: "billing", scope: .custom(["devices.get"])),
            by: alice, now: t0)
        let noList = #expect(throws: IssuerError.self) {
            try issuer.members(page: PageRequest(), as: Caller(member: devices))
        }
        #expect(noList?.detail == .insufficientScope("members.list"))
    }

    @Test("Each change needs its members.* permission, and nobody changes a member holding more than itself")
    func manage() throws {
        let org = try GrantingCaller.orgToken.make(issuer, by: alice)
        let boss = try issuer.addMember(
            MemberRequest(email: "boss@example.com", name: "Boss", audience: "billing", scope: .all), as: org, now: t0)
        let small = try issuer.addMember(
            MemberRequest(email: "small@example.com", name: "Small", audience: "billing", scope: .readOnly), as: org,
            now: t0)
        let manager = Caller(
            member: try issuer.addMember(
                MemberRequest(
                    email: "manager@example.com", name: "Manager", audience: "billing",
                    scope: .custom(["members.update", "members.read", "devices.get"])),
                as: org, now: t0))
        // More than the manager holds: 403, nothing changes.
        for change in [
            { _ = try issuer.suspendMember(boss.email, as: manager, now: t0 + 1) },
            { _ = try issuer.editMember(boss.email, MemberEdit(name: "Renamed"), as: manager, now: t0 + 1) },
        ] as [() throws -> Void] {
            let error = #expect(throws: IssuerError.self) { try change() }
            #expect(error?.reason == .forbidden && error?.detail == .insufficientScope("all"))
        }
        #expect(try issuer.member(boss.email) == boss)
        // Read-only is a kind the custom manager does not hold either: only custom read pairs it has.
        let error = #expect(throws: IssuerError.self) { try issuer.suspendMember(small.email, as: manager) }
        #expect(error?.detail == .insufficientScope("read-only"))
        // The permission each change needs.
        let reader = Caller(
            member: try issuer.addMember(
                MemberRequest(
                    email: "reader@example.com", name: "Reader", audience: "billing",
                    scope: .custom(["members.read"])),
                as: org, now: t0))
        let cases: [(String, () throws -> Void)] = [
            (
                "members.create",
                {
                    _ = try issuer.addMember(
                        MemberRequest(
                            email: "x@example.com", name: "X", audience: "billing", scope: .custom(["members.read"])),
                        as: reader)
                }
            ),
            (
                "members.update",
                {
                    _ = try issuer.editMember(
                        reader.actor.name.dropFirst(7).description, MemberEdit(name: "R"), as: reader)
                }
            ),
            ("members.update", { _ = try issuer.suspendMember("reader@example.com", as: reader) }),
            ("members.update", { _ = try issuer.activateMember("reader@example.com", as: reader) }),
            ("members.delete", { _ = try issuer.removeMember("reader@example.com", as: reader) }),
            ("members.list", { _ = try issuer.members(page: PageRequest(), as: reader) }),
        ]
        for (permission, run) in cases {
            let refused = #expect(throws: IssuerError.self, "\(permission)") { try run() }
            #expect(refused?.reason == .forbidden && refused?.detail == .insufficientScope(permission))
        }
        // Cascade also needs tokens.deactivate.
        let updater = Caller(
            member: try issuer.addMember(
                MemberRequest(
                    email: "updater@example.com", name: "Updater", audience: "billing",
                    scope: .custom(["members.update", "members.read"])),
                as: org, now: t0))
        let cascade = #expect(throws: IssuerError.self) {
            try issuer.suspendMember("reader@example.com", cascade: true, as: updater)
        }
        #expect(cascade?.detail == .insufficientScope("tokens.deactivate"))
        #expect(try issuer.suspendMember("reader@example.com", as: updater, now: t0 + 2).member.status == .suspended)
        // A cascade never reaches tokens outside the caller's audiences: a member moved from the
        // organization to billing keeps the payments token it created before.
        let mover = try issuer.addMember(
            MemberRequest(email: "mover@example.com", name: "Mover", audience: "sigil", scope: .all), by: alice,
            now: t0)
        let payments = try issuer.issue(
            request("mover's", audience: "payments", expiry: .never), as: Caller(member: mover), now: t0)
        _ = try issuer.editMember(
            mover.email, MemberEdit(audience: "billing", scope: .custom(["devices.get"])), by: alice, now: t0 + 3)
        let billingAdmin = try issuer.authenticate(
            try issuer.issue(request("billing admin", expiry: .never), by: alice, now: t0).token, now: t0)
        let outside = #expect(throws: IssuerError.self) {
            try issuer.suspendMember(mover.email, cascade: true, as: billingAdmin, now: t0 + 4)
        }
        #expect(outside?.reason == .forbidden && outside?.detail == .insufficientScope("audience payments"))
        #expect(
            try issuer.member(mover.email).status == .active && issuer.stored(payments.record.id)?.status == .active)
        let plain = try issuer.suspendMember(mover.email, as: billingAdmin, now: t0 + 5)
        #expect(plain.member.status == .suspended && plain.deactivated.isEmpty)
        let event = try #require(
            try issuer.events(AuditQuery(actor: "member:updater@example.com", action: .member)).first)
        #expect(event.detailsJSON.contains(#""change":"suspend""#) && event.detailsJSON.contains("reader@example.com"))
    }

    @Test("A cascade by a token never deactivates its own ancestor, even one the member created")
    func cascadeRefusesAncestors() throws {
        let member = try issuer.addMember(
            MemberRequest(email: "m@example.com", name: "M", audience: "sigil", scope: .all), by: alice, now: t0)
        let parent = try issuer.issue(
            request("P", audience: "sigil", expiry: .never), as: Caller(member: member), now: t0)
        let child = try issuer.issue(
            request("C", audience: "sigil", expiry: .never), as: try issuer.authenticate(parent.token, now: t0), now: t0
        )
        let caller = try issuer.authenticate(child.token, now: t0)
        let error = #expect(throws: IssuerError.self) {
            try issuer.suspendMember(member.email, cascade: true, as: caller, now: t0 + 1)
        }
        #expect(error?.reason == .forbidden && error?.detail == .insufficientScope("ancestor"))
        #expect(try issuer.stored(parent.record.id)?.status == .active, "the ancestor stays active")
        #expect(try issuer.member(member.email).status == .active, "nothing changed")
        // The local operator is bound by no ancestry.
        let local = try issuer.suspendMember(member.email, cascade: true, by: alice, now: t0 + 2)
        #expect(local.deactivated == [parent.record.id])
    }

    @Test("Activating a member grants its rights again: a token that expires cannot")
    func activateNeedsGrant() throws {
        let member = try issuer.addMember(
            MemberRequest(email: "m@example.com", name: "M", audience: "billing", scope: .readOnly), by: alice,
            now: t0)
        _ = try issuer.suspendMember(member.email, by: alice, now: t0)
        let expiring = try GrantingCaller.expiringOrgToken.make(issuer, by: alice)
        let error = #expect(throws: IssuerError.self) {
            try issuer.activateMember(member.email, as: expiring, now: t0 + 1)
        }
        #expect(error?.reason == .forbidden && error?.detail == .insufficientScope("valid_to"))
        #expect(try issuer.member(member.email).status == .suspended)
        let org = try GrantingCaller.orgToken.make(issuer, by: alice)
        #expect(try issuer.activateMember(member.email, as: org, now: t0 + 2).status == .active)
    }

    @Test("Actor names tell a caller only the tokens and members it may read")
    func actorNamesFollowTheCaller() throws {
        let org = try issuer.issue(request("Org maker", audience: "sigil", expiry: .never), by: alice, now: t0)
        let billingToken = try issuer.issue(request("Billing maker", expiry: .never), by: alice, now: t0)
        let orgMember = try issuer.addMember(
            MemberRequest(email: "o@example.com", name: "Org person", audience: "sigil", scope: .all), by: alice,
            now: t0)
        let billingMember = try issuer.addMember(
            MemberRequest(email: "b@example.com", name: "Billing person", audience: "billing", scope: .readOnly),
            by: alice, now: t0)
        let actors = [
            Actor(token: org.record.id).name, Actor(token: billingToken.record.id).name, orgMember.actor.name,
            billingMember.actor.name,
        ]
        let lister = try issuer.authenticate(
            try issuer.issue(
                request("lister", scope: .custom(["tokens.list", "members.read"]), expiry: .never), by: alice,
                now: t0
            ).token, now: t0)
        #expect(
            try issuer.actorNames(actors, as: lister) == [
                actors[1]: "Billing maker", actors[3]: "Billing person",
            ])
        let noMembers = try issuer.authenticate(
            try issuer.issue(request("no members", scope: .custom(["tokens.list"]), expiry: .never), by: alice, now: t0)
                .token, now: t0)
        #expect(try issuer.actorNames(actors, as: noMembers) == [actors[1]: "Billing maker"])
        // A member without members.* still reads its own name (a token it made shows who made it).
        let reader = try issuer.addMember(
            MemberRequest(
                email: "r@example.com", name: "Reader", audience: "billing", scope: .custom(["tokens.list"])),
            by: alice, now: t0)
        #expect(
            try issuer.actorNames(actors + [reader.actor.name], as: Caller(member: reader)) == [
                actors[1]: "Billing maker", reader.actor.name: "Reader",
            ])
        let everyone = try GrantingCaller.orgToken.make(issuer, by: alice)
        #expect(try issuer.actorNames(actors, as: everyone).count == 4)
    }
}
