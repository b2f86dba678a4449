import Foundation
import SigilIssuer
import SigilVerifier
import Testing

// Rules that survivors of the mutation pass (scripts/mutation.sh, docs/DESIGN.md "Mutation pass
// (#21)") showed no test stated: what a caller sees of other audiences, a bulk change past its
// reach, and how `Issuer.authenticate` turns a bearer token into a caller.

@Suite("A caller sees and changes only the audiences it reaches", .bothStores)
struct CallerReachRuleTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func caller(_ token: IssuedToken) throws -> Caller { Caller(claims: try TokenClaims.decodeUnverified(token.token)) }

    /// A billing caller, an organization caller, and one more token in billing and in payments.
    func world() throws -> (billing: Caller, organization: Caller, invoices: TokenID, payments: TokenID) {
        let billing = try issuer.issue(request("billing admin"), by: alice, now: t0)
        let org = try issuer.issue(request("org", audience: Caller.organization), by: alice, now: t0)
        let invoices = try issuer.issue(request("invoices"), by: alice, now: t0)
        let payments = try issuer.issue(request("payments", audience: "payments"), by: alice, now: t0)
        return (try caller(billing), try caller(org), invoices.record.id, payments.record.id)
    }

    @Test(
        "A listing holds only the caller's audience, even when the query asks for others",
        .bug(id: "21-6", "a caller's listing without its audience bound, or with the union of both, went unnoticed"),
        arguments: [
            (nil, 2, 4), (["payments"], 0, 1), (["billing", "payments"], 2, 3), (["billing"], 2, 2),
        ] as [(Set<String>?, Int, Int)])
    func listingReach(asked: Set<String>?, billingSees: Int, organizationSees: Int) throws {
        let (billing, organization, _, payments) = try world()
        let seen = try issuer.tokens(TokenQuery(audiences: asked), as: billing)
        #expect(seen.allSatisfy { $0.audience == "billing" }, "\(seen.map(\.audience))")
        #expect(!seen.contains { $0.id == payments })
        #expect(seen.count == billingSees)
        // The organization reaches every audience; its own query still narrows the listing.
        #expect(try issuer.tokens(TokenQuery(audiences: asked), as: organization).count == organizationSees)
    }

    @Test(
        "A bulk change naming one token outside the caller's reach is refused whole, as not found",
        .bug(id: "21-6", "only the first token of a bulk change was checked against the caller's reach"))
    func bulkChangePastReach() throws {
        let (billing, _, invoices, payments) = try world()
        let error = expectIssuerError(.notFound) {
            try issuer.change(.revoke, [invoices, payments], as: billing, now: t0 + 1)
        }
        #expect(error?.detail == .tokenNotFound(payments.description))
        #expect(try issuer.stored(invoices)?.status == .active, "nothing changed")
        #expect(try issuer.stored(payments)?.status == .active)
    }
}

@Suite("Authenticating a bearer token: the issuer's clock and the ledger's state decide", .bothStores)
struct AuthenticateRuleTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    /// Expects `authenticate` to refuse `token` at `now` with `reason`.
    func expectRefused(
        _ token: String, at now: Int64, _ reason: VerificationError.Reason,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: VerificationError.self, sourceLocation: sourceLocation) {
            _ = try issuer.authenticate(token, now: now)
        }
        #expect(error?.reason == reason, "got \(String(describing: error?.reason))", sourceLocation: sourceLocation)
    }

    @Test("An active token authenticates as the caller its claims describe")
    func active() throws {
        let issued = try issuer.issue(request("api", expiry: .at(t0 + day)), by: alice, now: t0)
        let caller = try issuer.authenticate(issued.token, now: t0 + 10)
        #expect(caller == Caller(claims: try TokenClaims.decodeUnverified(issued.token)))
        #expect(caller.validTo == t0 + day)
    }

    @Test(
        "No leeway: the last second before valid_to works, valid_to itself and one second later do not",
        .bug(id: "21-6", "a leeway in authenticate went unnoticed"))
    func noLeeway() throws {
        let issued = try issuer.issue(
            request("api", validFrom: t0 + 100, expiry: .at(t0 + day)), by: alice, now: t0)
        _ = try issuer.authenticate(issued.token, now: t0 + day - 1)
        _ = try issuer.authenticate(issued.token, now: t0 + 100)
        expectRefused(issued.token, at: t0 + day, .expired)
        expectRefused(issued.token, at: t0 + day + 1, .expired)
        expectRefused(issued.token, at: t0 + 99, .notYetValid)
    }

    @Test(
        "A deactivated, revoked or deleted token is refused on its very next use",
        .bug(id: "21-6", "authenticate's ledger checks had no Swift test"),
        arguments: [LifecycleAction.deactivate, .revoke, .delete])
    func ledgerState(action: LifecycleAction) throws {
        let issued = try issuer.issue(request("api", expiry: .at(t0 + day)), by: alice, now: t0)
        _ = try issuer.authenticate(issued.token, now: t0 + 1)
        _ = try issuer.change(action, [issued.record.id], by: alice, now: t0 + 2)
        expectRefused(issued.token, at: t0 + 3, action == .deactivate ? .deactivated : .revoked)
        if action == .deactivate {
            _ = try issuer.change(.activate, [issued.record.id], by: alice, now: t0 + 4)
            _ = try issuer.authenticate(issued.token, now: t0 + 5)
        }
    }

    @Test(
        "A token of a retired key is refused as an unknown key",
        .bug(id: "21-6", "the retired-key check had no Swift test"))
    func retiredKey() throws {
        let issued = try issuer.issue(request("api", expiry: .at(t0 + day)), by: alice, now: t0)
        let (_, old) = try issuer.rotateKey(by: alice, now: t0 + 1)
        _ = try issuer.authenticate(issued.token, now: t0 + 2)
        try issuer.retireKey(old, by: alice, now: t0 + 3)
        expectRefused(issued.token, at: t0 + 4, .unknownKey)
    }
}
