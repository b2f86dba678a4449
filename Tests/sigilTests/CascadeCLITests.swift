import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

@Suite("Cascade: revoke only, the same rule as the API's")
struct CascadeCLITests {
    @Test(
        "revoke --cascade revokes what a token created; delete and deactivate take no --cascade (64)",
        .bug(id: "21", "decide the cascade once and make the CLI, API and console agree"))
    func cascade() async throws {
        let box = try Sandbox()
        let issuer = try Issuer(home: box.home, mode: .createIfMissing, now: Sandbox.defaultNow)
        let alice = try Actor(name: "alice")
        let parent = try issuer.issue(
            IssueRequest(name: "parent", audience: "billing", scope: .all), by: alice, now: Sandbox.defaultNow)
        let child = try issuer.issue(
            IssueRequest(name: "child", audience: "billing", scope: .all),
            as: Caller(claims: try TokenClaims.decodeUnverified(parent.token)), now: Sandbox.defaultNow)
        issuer.close()
        for command in ["delete", "deactivate"] {
            let refused = try await box.run(command, "--yes", "--cascade", parent.record.id.description)
            #expect(refused.exitCode == 64, "\(refused)")
        }
        #expect(try await box.show(child.record.id.description)["status"] as? String == "active")
        let revoked = try await box.run("--json", "revoke", "--yes", "--cascade", parent.record.id.description)
        #expect(revoked.exitCode == 0, "\(revoked)")
        #expect(try revoked.jsonObject()["count"] as? Int == 2)
        #expect(try await box.show(child.record.id.description)["status"] as? String == "revoked")
        box.checkHygiene()
    }
}
