import Foundation
import SigilIssuer
import SigilVerifier
import Testing

@Suite("Lifetime policies", .bothStores)
struct PolicyTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    @Test("A window longer than the policy, or one that never expires, is refused naming the policy")
    func refusesOutsidePolicy() throws {
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 90 * day, allowNeverExpires: false, by: alice, now: t0)
        let long = expectIssuerError(.invalidInput) {
            try issuer.issue(request(expiry: .after(100 * day)), by: alice, now: t0)
        }
        #expect(long?.message.contains("audience billing") == true)
        #expect(long?.message.contains("at most 90d") == true)
        #expect(long?.message.contains("100d was asked") == true)
        guard case .outsidePolicy(let policy, let from, let to) = long?.detail else {
            Issue.record("detail is \(String(describing: long?.detail))")
            return
        }
        #expect(policy.audience == "billing" && policy.maxLifetime == 90 * day && !policy.allowNeverExpires)
        #expect(from == t0 && to == t0 + 100 * day)
        let never = expectIssuerError(.invalidInput) { try issuer.issue(request(expiry: .never), by: alice, now: t0) }
        #expect(never?.message.contains("never expires was asked") == true)
        // The default lifetime (a year) is longer than the cap too: the caller must choose.
        expectIssuerError(.invalidInput) { try issuer.issue(request(), by: alice, now: t0) }
        // A later valid-from does not stretch the cap: the window is what counts.
        expectIssuerError(.invalidInput) {
            try issuer.issue(request(validFrom: t0 + 10 * day, expiry: .at(t0 + 101 * day)), by: alice, now: t0)
        }
        #expect(try issuer.count(TokenQuery()) == 0)
    }

    @Test("Windows up to the cap, other audiences, and never with --allow-never-expires are issued")
    func allowsInsidePolicy() throws {
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 90 * day, allowNeverExpires: true, by: alice, now: t0)
        _ = try issuer.issue(request(expiry: .after(90 * day)), by: alice, now: t0)
        _ = try issuer.issue(request(validFrom: t0 + day, expiry: .at(t0 + 91 * day)), by: alice, now: t0)
        _ = try issuer.issue(request(expiry: .never), by: alice, now: t0)
        _ = try issuer.issue(request(audience: "devices"), by: alice, now: t0)  // no policy there
        #expect(try issuer.count(TokenQuery()) == 4)
    }

    @Test("Existing tokens are untouched; violatingPolicy lists the ones the policy would refuse")
    func violatingPolicy() throws {
        let year = try issuer.issue(request("year"), by: alice, now: t0)
        let never = try issuer.issue(request("never", expiry: .never), by: alice, now: t0)
        let short = try issuer.issue(request("short", expiry: .after(30 * day)), by: alice, now: t0)
        let other = try issuer.issue(request("other", audience: "devices"), by: alice, now: t0)
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 90 * day, allowNeverExpires: false, by: alice, now: t0)
        let violating = TokenQuery(violatingPolicy: true)
        #expect(try issuer.tokens(violating).map(\.id) == [year.record.id, never.record.id])
        #expect(try issuer.count(violating) == 2)
        #expect(try issuer.tokens().count == 4)
        #expect(try issuer.token(year.record.id.description).status == .active)
        // Allowing never-expiring tokens takes that one off the list; other filters combine.
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 90 * day, allowNeverExpires: true, by: alice, now: t0)
        #expect(try issuer.tokens(violating).map(\.id) == [year.record.id])
        let byName = TokenQuery(filter: try TokenFilter(name: "short"), violatingPolicy: true)
        #expect(try issuer.tokens(byName).isEmpty)
        _ = try issuer.setPolicy(
            audience: "devices", maxLifetime: 30 * day, allowNeverExpires: false, by: alice, now: t0)
        #expect(Set(try issuer.tokens(violating).map(\.id)) == [year.record.id, other.record.id])
        _ = short
        #expect(try issuer.clearPolicy(audience: "billing", by: alice, now: t0))
        #expect(try issuer.tokens(violating).map(\.id) == [other.record.id])
    }

    @Test("Set, replace and clear are audited; show lists them by audience; bad input is refused")
    func setReplaceClear() throws {
        _ = try issuer.setPolicy(
            audience: "devices", maxLifetime: 7 * day, allowNeverExpires: false, by: alice, now: t0)
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 30 * day, allowNeverExpires: false, by: alice, now: t0)
        _ = try issuer.setPolicy(
            audience: "billing", maxLifetime: 90 * day, allowNeverExpires: true, by: alice, now: t0 + 1)
        let policies = try issuer.policies()
        #expect(policies.map(\.audience) == ["billing", "devices"])
        #expect(
            policies.first
                == LifetimePolicy(
                    audience: "billing", maxLifetime: 90 * day, allowNeverExpires: true, setAt: t0 + 1, setBy: "alice"))
        #expect(try issuer.clearPolicy(audience: "devices", by: alice, now: t0 + 2))
        #expect(try !issuer.clearPolicy(audience: "devices", by: alice, now: t0 + 3))
        #expect(try issuer.policies().map(\.audience) == ["billing"])
        let events = try issuer.events(AuditQuery(action: .policy))
        #expect(events.count == 4)
        #expect(events.first?.detailsJSON == #"{"audience":"devices","cleared":"true"}"#)
        #expect(
            events.last?.detailsJSON == #"{"audience":"devices","max_lifetime":"1w","allow_never_expires":"false"}"#)
        expectIssuerError(.invalidInput) {
            try issuer.setPolicy(audience: "", maxLifetime: day, allowNeverExpires: false, by: alice, now: t0)
        }
        expectIssuerError(.invalidInput) {
            try issuer.setPolicy(audience: "billing", maxLifetime: 0, allowNeverExpires: false, by: alice, now: t0)
        }
        #expect(try issuer.policies().first?.maxLifetime == 90 * day)
    }

    @Test("A policy set through one issuer holds for another on the same ledger at once")
    func otherIssuerSees() throws {
        let other = try temp.issuer(.existing)
        _ = try issuer.setPolicy(audience: "billing", maxLifetime: day, allowNeverExpires: false, by: alice, now: t0)
        expectIssuerError(.invalidInput) { try other.issue(request(expiry: .after(2 * day)), by: alice, now: t0) }
    }

    @Test("Durations print in the largest unit that divides them")
    func formatDuration() {
        #expect(TimeText.formatDuration(90 * day) == "90d")
        #expect(TimeText.formatDuration(14 * day) == "2w")
        #expect(TimeText.formatDuration(365 * day) == "1y")
        #expect(TimeText.formatDuration(36 * 3600) == "36h")
        #expect(TimeText.formatDuration(61) == "61s")
    }
}
