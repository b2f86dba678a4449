import Foundation
import SigilTestSupport
import Testing

@Suite("sigil inspect")
struct InspectTests {
    @Test("inspect decodes the claims, verifies with the keyring and shows the ledger record")
    func verified() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue(
            name: "CI deploy", ["--scope", "devices.list,users.get", "--expires-in", "30d"])
        let result = try await box.run("--json", "inspect", "-", stdin: token + "\n")
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(
            Set(o.keys) == [
                "verified", "signature", "kid", "guid", "audience", "valid_from", "valid_to", "scope", "ledger",
            ])
        #expect(o["verified"] as? Bool == true)
        #expect((o["signature"] as? String)?.hasPrefix("verified with key") == true)
        #expect(o["guid"] as? String == guid)
        #expect(o["audience"] as? String == "billing")
        #expect(o["kid"] as? String == (try await box.activeKeyID()))
        #expect(o["valid_from"] as? Int64 == Sandbox.defaultNow)
        #expect(o["valid_to"] as? Int64 == Sandbox.defaultNow + 30 * 86_400)
        #expect(o["scope"] as? [String] == ["devices.list", "users.get"])
        #expect((o["ledger"] as? [String: Any])?["name"] as? String == "CI deploy")

        let text = try await box.run("inspect", token)
        #expect(text.exitCode == 0)
        for line in [
            "signature  verified with key", "guid       \(guid)", "audience   billing",
            "scope      devices.list,users.get",
            "name       CI deploy", "status     active",
        ] {
            #expect(text.stdout.contains(line), "missing \(line)")
        }
        // After a revoke, inspect still verifies the MAC and shows the ledger status.
        #expect(try await box.run("revoke", "--yes", guid).exitCode == 0)
        #expect(try await box.run("inspect", token).stdout.contains("status     revoked"))
        box.checkHygiene()
    }

    @Test("inspect of a token from another issuer is unverified and shows no ledger data")
    func unverified() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let issuer = try Sandbox()
        let (token, _) = try await issuer.issue()
        let result = try await box.run("--json", "inspect", "-", stdin: token + "\n")
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(o["verified"] as? Bool == false)
        #expect((o["signature"] as? String)?.contains("is not in this keyring") == true)
        #expect(o["ledger"] == nil)
        let tampered = try Tamper.flipMiddle(try await box.issue().token)
        let bad = try await box.run("--json", "inspect", tampered).jsonObject()
        #expect(bad["verified"] as? Bool == false)
        #expect((bad["signature"] as? String)?.hasPrefix("INVALID (bad_signature)") == true)
        #expect(bad["ledger"] == nil, "no ledger data for a token whose MAC failed")
    }

    @Test("inspect: malformed is 10, no token is 64", arguments: [("sgl_AAAA", Int32(10)), ("", 10), ("-", 64)])
    func errors(argument: String, code: Int32) async throws {
        let box = try Sandbox()
        let result = try await box.run("inspect", argument)
        #expect(result.exitCode == code, "\(result)")
        #expect(result.stdout.isEmpty)
    }
}
