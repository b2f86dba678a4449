import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// What a lifecycle change should do to one token.
enum Outcome: Sendable, CustomTestStringConvertible {
    case becomes(TokenStatus)
    case deleted
    case alreadyThere
    case forbidden

    var testDescription: String {
        switch self {
        case .becomes(let status): "becomes \(status)"
        case .deleted: "deleted"
        case .alreadyThere: "no-op"
        case .forbidden: "forbidden"
        }
    }
}

@Suite("Editing and lifecycle changes", .bothStores)
struct LifecycleTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func seed(_ records: TokenRecord...) throws -> [TokenID] {
        try issuer.insertForTesting(records)
        return records.map(\.id)
    }

    /// Events about `id` (any action), newest first.
    func events(about id: TokenID) throws -> [AuditEvent] { try issuer.events(AuditQuery(guid: id)) }

    // MARK: Edit

    @Test("Edit renames and redescribes, stamps updatedAt and records an edit event")
    func edit() throws {
        let issued = try issuer.issue(request("old name", description: "old"), by: alice, now: t0)
        let id = issued.record.id
        let edited = try issuer.edit(
            String(id.hexString.prefix(8)), name: "New Name", description: "new words", by: try Actor(name: "bob"),
            now: t0 + 60)
        #expect(edited.name == "New Name")
        #expect(edited.description == "new words")
        #expect(edited.updatedAt == t0 + 60)
        #expect(edited.createdAt == t0)
        let stored = try issuer.token(id.description)
        #expect(stored == edited)
        #expect(try issuer.tokens(TokenQuery(filter: TokenFilter(name: "new name"))).map(\.id) == [id])
        #expect(try issuer.tokens(TokenQuery(filter: TokenFilter(name: "old"))).isEmpty)
        let event = try #require(try issuer.events(.edit).first)
        #expect(event.actor == "bob")
        #expect(event.at == t0 + 60)
        #expect(event.guids == [id])
        #expect(event.detailsJSON.contains("\"name\":\"New Name\""))
        // The token itself still verifies: nothing sealed changed.
        let verifier = try Verifier(keyset: try issuer.keyset(audience: "billing"))
        #expect(try verifier.verify(issued.token, at: t0 + 60).id == id)
    }

    @Test("Edit changes only what is given")
    func editOne() throws {
        let issued = try issuer.issue(request("keep me", description: "before"), by: alice, now: t0)
        let described = try issuer.edit(
            issued.record.id.description, name: nil, description: "", by: alice, now: t0 + 1)
        #expect(described.name == "keep me")
        #expect(described.description == "")
        let renamed = try issuer.edit(
            issued.record.id.description, name: "renamed", description: nil, by: alice, now: t0 + 2)
        #expect(renamed.description == "")
        #expect(try issuer.token(issued.record.id.description).name == "renamed")
    }

    @Test(
        "Sealed fields cannot be edited, and nothing changes",
        arguments: ["scope", "audience", "valid_from", "valid_to"])
    func sealed(field: String) throws {
        let issued = try issuer.issue(request("sealed"), by: alice, now: t0)
        let error = expectIssuerError(.invalidInput) {
            try issuer.edit(
                issued.record.id.description, name: "other", description: nil, sealed: [field], by: alice, now: t0 + 5)
        }
        #expect(error?.detail == .sealedField(field))
        #expect(try issuer.token(issued.record.id.description) == issued.record)
        #expect(try issuer.events(.edit).isEmpty)
    }

    @Test(
        "Edit refuses bad labels, and nothing changes",
        arguments: [
            ("name", "evil\u{202E}txt"), ("name", ""), ("name", " "), ("name", String(repeating: "n", count: 201)),
            ("name", "esc\u{1b}[2J"), ("description", String(repeating: "d", count: 1_001)),
            ("description", "zero\u{200B}width"), ("description", "two\nlines"),
        ])
    func editBadLabel(field: String, value: String) throws {
        let issued = try issuer.issue(request("labelled"), by: alice, now: t0)
        let error = expectIssuerError(.invalidInput) {
            try issuer.edit(
                issued.record.id.description, name: field == "name" ? value : nil,
                description: field == "description" ? value : nil, by: alice, now: t0 + 5)
        }
        #expect(isInvalidLabel(error, field: field))
        #expect(try issuer.token(issued.record.id.description) == issued.record)
        #expect(try issuer.events(.edit).isEmpty)
    }

    @Test("Editing an unknown or deleted token is not found")
    func editMissing() throws {
        let gone = try seed(makeRecord(status: .revoked, deletedAt: t0 - 1))[0]
        for selector in [gone.description, "deadbeef"] {
            let error = expectIssuerError(.notFound) {
                try issuer.edit(selector, name: "x", description: nil, by: alice, now: t0)
            }
            guard case .tokenNotFound = error?.detail else {
                Issue.record("detail \(String(describing: error?.detail))")
                continue
            }
        }
    }

    // MARK: Lifecycle

    @Test(
        "Every state × action: allowed, already done, or forbidden",
        arguments: [
            (TokenStatus.active, LifecycleAction.deactivate, Outcome.becomes(.inactive)),
            (.active, .activate, .alreadyThere),
            (.active, .revoke, .becomes(.revoked)),
            (.active, .delete, .deleted),
            (.inactive, .deactivate, .alreadyThere),
            (.inactive, .activate, .becomes(.active)),
            (.inactive, .revoke, .becomes(.revoked)),
            (.inactive, .delete, .deleted),
            (.revoked, .deactivate, .forbidden),
            (.revoked, .activate, .forbidden),
            (.revoked, .revoke, .alreadyThere),
            (.revoked, .delete, .deleted),
        ])
    func transitions(from status: TokenStatus, action: LifecycleAction, outcome: Outcome) throws {
        let before = makeRecord(name: "subject", status: status, revokedAt: status == .revoked ? t0 - 10 : nil)
        try issuer.insertForTesting([before])
        let id = before.id
        let now = t0 + 100

        switch outcome {
        case .forbidden:
            let error = expectIssuerError(.conflict) { try issuer.change(action, [id], by: alice, now: now) }
            #expect(error?.detail == .forbiddenChange(id, name: "subject", status: status, action: action))
            #expect(try issuer.stored(id) == before)
            #expect(try events(about: id).isEmpty)
        case .alreadyThere:
            let result = try issuer.change(action, [id], by: alice, now: now)
            #expect(result.changed.isEmpty)
            #expect(result.tokens == [before])
            #expect(try issuer.stored(id) == before)
            #expect(try events(about: id).isEmpty)
        case .becomes(let next):
            let result = try issuer.change(action, [id], by: alice, now: now)
            #expect(result.changed == [id])
            let after = try #require(try issuer.stored(id))
            #expect(result.tokens == [after])
            #expect(after.status == next)
            #expect(after.updatedAt == now)
            #expect(after.revokedAt == (next == .revoked ? now : nil))
            #expect(after.deletedAt == nil)
            #expect(try issuer.token(id.description) == after)
            let events = try events(about: id)
            #expect(events.count == 1)
            #expect(events.first?.action.rawValue == action.rawValue)
            #expect(events.first?.actor == "alice")
            #expect(events.first?.at == now)
        case .deleted:
            let result = try issuer.change(action, [id], by: alice, now: now)
            #expect(result.changed == [id])
            let after = try #require(try issuer.stored(id))
            #expect(after.status == .revoked)
            #expect(after.deletedAt == now)
            #expect(after.revokedAt == (status == .revoked ? t0 - 10 : now))
            #expect(try issuer.tokens().isEmpty)
            #expect(try issuer.count(TokenQuery()) == 0)
            let lookup = expectIssuerError(.notFound) { try issuer.token(id.description) }
            #expect(lookup?.detail == .tokenNotFound(id.description))
            #expect(try events(about: id).map(\.action) == [.delete])
            // Deleting again: the token is gone.
            let again = expectIssuerError(.notFound) { try issuer.change(.delete, [id], by: alice, now: now + 1) }
            #expect(again?.detail == .tokenNotFound(id.description))
        }
    }

    @Test("A bulk change is all or nothing: one revoked token stops an activate of three")
    func allOrNothing() throws {
        let a = makeRecord(name: "a", status: .inactive)
        let b = makeRecord(name: "b", status: .inactive)
        let c = makeRecord(name: "c", status: .revoked)
        try issuer.insertForTesting([a, b, c])
        let error = expectIssuerError(.conflict) {
            try issuer.change(.activate, [a.id, c.id, b.id], by: alice, now: t0)
        }
        #expect(error?.detail == .forbiddenChange(c.id, name: "c", status: .revoked, action: .activate))
        #expect(try issuer.stored(a.id) == a)
        #expect(try issuer.stored(b.id) == b)
        #expect(try issuer.stored(c.id) == c)
        #expect(try issuer.events(.activate).isEmpty)

        // A deleted or unknown GUID among them stops the change too.
        let deleted = makeRecord(status: .revoked, deletedAt: t0 - 1)
        try issuer.insertForTesting([deleted])
        for missing in [deleted.id, TokenMinter.newTokenID()] {
            let notFound = expectIssuerError(.notFound) {
                try issuer.change(.revoke, [a.id, missing], by: alice, now: t0)
            }
            #expect(notFound?.detail == .tokenNotFound(missing.description))
        }
        #expect(try issuer.stored(a.id) == a)
        #expect(try issuer.events(.revoke).isEmpty)
    }

    @Test("A bulk change records one event with every changed GUID, and skips the ones already done")
    func bulkEvent() throws {
        let a = makeRecord(status: .active)
        let b = makeRecord(status: .inactive)
        let c = makeRecord(status: .active)
        try issuer.insertForTesting([a, b, c])
        let result = try issuer.change(.deactivate, [a.id, b.id, c.id, a.id], by: alice, now: t0)
        #expect(result.changed == [a.id, c.id])
        #expect(result.tokens.map(\.id) == [a.id, b.id, c.id])
        #expect(result.tokens.allSatisfy { $0.status == .inactive })
        let events = try issuer.events(.deactivate)
        #expect(events.count == 1)
        #expect(Set(try #require(events.first).guids) == [a.id, c.id])
        #expect(events.first?.guids.count == 2)
    }

    @Test("Revocation time is set by the first revoke and kept by later ones and by delete")
    func revokedAtOnce() throws {
        let id = try seed(makeRecord(status: .inactive))[0]
        _ = try issuer.change(.revoke, [id], by: alice, now: t0 + 10)
        #expect(try issuer.stored(id)?.revokedAt == t0 + 10)
        let again = try issuer.change(.revoke, [id], by: alice, now: t0 + 20)
        #expect(again.changed.isEmpty)
        #expect(try issuer.stored(id)?.revokedAt == t0 + 10)
        #expect(try issuer.stored(id)?.updatedAt == t0 + 10)
        _ = try issuer.change(.delete, [id], by: alice, now: t0 + 30)
        let tomb = try #require(try issuer.stored(id))
        #expect(tomb.revokedAt == t0 + 10)
        #expect(tomb.deletedAt == t0 + 30)
        #expect(tomb.status == .revoked)
    }

    @Test("A tombstone stays in the store, hidden from listings and lookups")
    func tombstone() throws {
        let issued = try issuer.issue(request("doomed"), by: alice, now: t0)
        let id = issued.record.id
        _ = try issuer.change(.delete, [id], by: alice, now: t0 + 5)
        #expect(try issuer.tokens().isEmpty)
        #expect(try issuer.tokens(TokenQuery(filter: TokenFilter(status: .revoked))).isEmpty)
        #expect(try !issuer.isEmpty())
        let stored = try #require(try issuer.stored(id))
        #expect(stored.isDeleted)
        #expect(stored.status == .revoked)
        #expect(stored.name == "doomed")
        expectIssuerError(.notFound) { try issuer.resolve([String(id.hexString.prefix(8))]) }
        expectIssuerError(.notFound) {
            try issuer.edit(id.description, name: "x", description: nil, by: alice, now: t0 + 6)
        }
    }

    // Only revoke cascades (AncestorRuleTests.onlyRevokeCascades checks the others are refused).
    @Test(
        "A cascading revoke reaches every descendant through parent, and nothing else",
        arguments: [LifecycleAction.revoke])
    func cascade(action: LifecycleAction) throws {
        let root = makeRecord(name: "root")
        let child = makeRecord(name: "child", parent: root.id)
        let grandchild = makeRecord(name: "grandchild", status: .inactive, parent: child.id)
        let otherChild = makeRecord(name: "other child", status: .revoked, parent: root.id)
        let unrelated = makeRecord(name: "unrelated")
        let unrelatedChild = makeRecord(name: "unrelated child", parent: unrelated.id)
        try issuer.insertForTesting([root, child, grandchild, otherChild, unrelated, unrelatedChild])

        let result = try issuer.change(action, [root.id], cascade: true, by: alice, now: t0)
        let expectChanged: Set<TokenID> =
            action == .revoke ? [root.id, child.id, grandchild.id] : [root.id, child.id, grandchild.id, otherChild.id]
        #expect(Set(result.changed) == expectChanged)
        for id in [root.id, child.id, grandchild.id, otherChild.id] {
            let t = try #require(try issuer.stored(id))
            #expect(t.status == .revoked)
            #expect(t.isDeleted == (action == .delete))
        }
        #expect(try issuer.stored(otherChild.id)?.revokedAt == otherChild.revokedAt)
        #expect(try issuer.stored(unrelated.id) == unrelated)
        #expect(try issuer.stored(unrelatedChild.id) == unrelatedChild)
        let event = try #require(try issuer.events(AuditQuery(action: AuditAction(rawValue: action.rawValue))).first)
        #expect(Set(event.guids) == expectChanged)
        #expect(event.detailsJSON.contains("\"cascade\":\"true\""))
    }

    @Test("Without cascade, or for deactivate, descendants are left alone")
    func noCascade() throws {
        let root = makeRecord(name: "root")
        let child = makeRecord(name: "child", parent: root.id)
        try issuer.insertForTesting([root, child])
        _ = try issuer.change(.deactivate, [root.id], by: alice, now: t0)
        #expect(try issuer.stored(child.id) == child)
        _ = try issuer.change(.revoke, [root.id], by: alice, now: t0 + 1)
        #expect(try issuer.stored(child.id) == child)
        #expect(try issuer.stored(root.id)?.status == .revoked)
    }

    @Test("Lifecycle actions name which can never be undone")
    func permanence() {
        #expect(LifecycleAction.allCases.filter(\.isPermanent) == [.revoke, .delete])
    }
}
