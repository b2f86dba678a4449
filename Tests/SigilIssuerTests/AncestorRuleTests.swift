import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// What a caller does to one token of its family.
enum FamilyAction: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case deactivate, activate, revoke, cascadingRevoke = "revoke with cascade", delete, rename

    var testDescription: String { rawValue }
}

/// How the target is related to the calling token.
enum Relation: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case itself = "self", parent, grandparent, sibling, child

    var testDescription: String { rawValue }

    /// The rule: a token may act on itself, its siblings and its descendants, never on a
    /// token it descends from.
    var allowed: Bool { self != .parent && self != .grandparent }
}

/// A family made through the API: grandparent → parent → caller → child, and a sibling of
/// the caller (another child of parent). Every token has scope `all` in audience billing.
struct Family {
    let grandparent: IssuedToken
    let parent: IssuedToken
    let caller: IssuedToken
    let sibling: IssuedToken
    let child: IssuedToken

    init(_ issuer: Issuer) throws {
        let alice = try Actor(name: "alice")
        grandparent = try issuer.issue(request("grandparent"), by: alice, now: t0)
        parent = try issuer.issue(request("parent"), as: try Self.caller(grandparent), now: t0)
        caller = try issuer.issue(request("caller"), as: try Self.caller(parent), now: t0)
        sibling = try issuer.issue(request("sibling"), as: try Self.caller(parent), now: t0)
        child = try issuer.issue(request("child"), as: try Self.caller(caller), now: t0)
    }

    static func caller(_ token: IssuedToken) throws -> Caller {
        Caller(claims: try TokenClaims.decodeUnverified(token.token))
    }

    func token(_ relation: Relation) -> IssuedToken {
        switch relation {
        case .itself: caller
        case .parent: parent
        case .grandparent: grandparent
        case .sibling: sibling
        case .child: child
        }
    }
}

@Suite("A token never changes its ancestors", .bothStores)
struct AncestorRuleTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    @Test(
        "Action × relation: allowed on self, sibling and child; 403 ancestor on parent and grandparent",
        .bug(id: "20-7", "a child re-activated, revoked and renamed its parent"),
        arguments: FamilyAction.allCases, Relation.allCases)
    func rule(action: FamilyAction, relation: Relation) throws {
        let family = try Family(issuer)
        let target = family.token(relation).record
        // The organization deactivated it: activating is then a real change.
        if action == .activate, relation != .itself {
            _ = try issuer.change(.deactivate, [target.id], by: alice, now: t0 + 1)
        }
        let before = try #require(try issuer.stored(target.id))
        let eventsBefore = try issuer.events(AuditQuery(limit: 1_000)).count
        let caller = try Family.caller(family.caller)
        func act() throws {
            switch action {
            case .deactivate: _ = try issuer.change(.deactivate, [target.id], as: caller, now: t0 + 2)
            case .activate: _ = try issuer.change(.activate, [target.id], as: caller, now: t0 + 2)
            case .revoke: _ = try issuer.change(.revoke, [target.id], as: caller, now: t0 + 2)
            case .cascadingRevoke:
                _ = try issuer.change(.revoke, [target.id], cascade: true, as: caller, now: t0 + 2)
            case .delete: _ = try issuer.change(.delete, [target.id], as: caller, now: t0 + 2)
            case .rename:
                _ = try issuer.edit(target.id.description, name: "renamed", description: nil, as: caller, now: t0 + 2)
            }
        }
        if relation.allowed {
            try act()
            let after = try #require(try issuer.stored(target.id))
            switch action {
            case .deactivate: #expect(after.status == .inactive)
            case .activate: #expect(after.status == .active)
            case .revoke, .cascadingRevoke: #expect(after.status == .revoked)
            case .delete: #expect(after.isDeleted)
            case .rename: #expect(after.name == "renamed")
            }
        } else {
            let error = expectIssuerError(.forbidden) { try act() }
            #expect(error?.detail == .insufficientScope("ancestor"))
            #expect(try issuer.stored(target.id) == before, "nothing changed")
            #expect(try issuer.events(AuditQuery(limit: 1_000)).count == eventsBefore, "no event written")
        }
    }

    @Test("A bulk change naming an ancestor among others changes nothing")
    func bulkIsAllOrNothing() throws {
        let family = try Family(issuer)
        let caller = try Family.caller(family.caller)
        expectIssuerError(.forbidden) {
            try issuer.change(.revoke, [family.child.record.id, family.parent.record.id], as: caller, now: t0 + 2)
        }
        #expect(try issuer.stored(family.child.record.id)?.status == .active)
        #expect(try issuer.stored(family.parent.record.id)?.status == .active)
    }

    @Test("Revoking an ancestor by its token text is refused too; the ancestor may revoke itself")
    func revokeByTokenText() throws {
        let family = try Family(issuer)
        let caller = try Family.caller(family.caller)
        expectIssuerError(.forbidden, hiding: [family.parent.token]) {
            try issuer.revoke(token: family.parent.token, as: caller, now: t0 + 2)
        }
        let parent = try Family.caller(family.parent)
        _ = try issuer.revoke(token: family.parent.token, as: parent, now: t0 + 3)
        #expect(try issuer.stored(family.parent.record.id)?.status == .revoked)
    }

    @Test("The organization's own actor (not a token) is not bound by the rule")
    func actorsAreNotTokens() throws {
        let family = try Family(issuer)
        _ = try issuer.change(.revoke, [family.grandparent.record.id], cascade: true, by: alice, now: t0 + 2)
        for relation in Relation.allCases {
            #expect(try issuer.stored(family.token(relation).record.id)?.status == .revoked, "\(relation)")
        }
    }

    @Test(
        "Only revoke cascades: cascade with deactivate, activate or delete is invalid_input and changes nothing",
        .bug(id: "21", "Issuer.change cascaded on delete while the API allowed revoke only"),
        arguments: [LifecycleAction.deactivate, .activate, .delete])
    func onlyRevokeCascades(action: LifecycleAction) throws {
        #expect(LifecycleAction.allCases.filter(\.cascades) == [.revoke])
        let family = try Family(issuer)
        let error = expectIssuerError(.invalidInput) {
            try issuer.change(action, [family.parent.record.id], cascade: true, by: alice, now: t0 + 2)
        }
        #expect(isInvalidLabel(error, field: "cascade"))
        expectIssuerError(.invalidInput) {
            try issuer.change(
                action, [family.child.record.id], cascade: true, as: try Family.caller(family.caller), now: t0 + 2)
        }
        for relation in Relation.allCases {
            let t = try #require(try issuer.stored(family.token(relation).record.id))
            #expect(t.status == .active && !t.isDeleted, "\(relation)")
        }
    }
}
