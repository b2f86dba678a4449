import Foundation
import SigilTestSupport
import Testing

@Suite("sigil policy and list --violating-policy")
struct PolicyCommandTests {
    @Test("policy set caps new tokens: a longer window or never is refused (64) naming the policy")
    func setRefusesIssue() async throws {
        let box = try Sandbox()
        let (_, oldGUID) = try await box.issue(name: "old year", ["--all", "--expires-in", "365d"])
        let set = try await box.run("policy", "set", "--audience", "billing", "--max-lifetime", "90d")
        #expect(set.exitCode == 0, "\(set)")
        #expect(set.stdout.contains("at most 90d") && set.stdout.contains("--violating-policy"))

        let long = try await box.run(
            "issue", "--name", "too long", "--audience", "billing", "--all", "--expires-in", "120d")
        #expect(long.exitCode == 64, "\(long)")
        #expect(long.stderr.contains("lifetime policy of audience billing"))
        #expect(long.stderr.contains("at most 90d") && long.stderr.contains("sigil policy show --audience billing"))
        let never = try await box.run(
            "--json", "issue", "--name", "forever", "--audience", "billing", "--all", "--never-expires")
        #expect(never.exitCode == 64)
        #expect(try never.jsonObject()["error"] as? String == "usage")
        _ = try await box.issue(name: "fits", ["--all", "--expires-in", "90d"])
        _ = try await box.issue(name: "other audience", audience: "devices", ["--all", "--never-expires"])

        // Existing tokens are untouched and listed.
        let violating = try await box.list(["--violating-policy"])
        #expect(violating.map { $0["guid"] as? String } == [oldGUID])
        #expect(violating.first?["status"] as? String == "active")
        let text = try await box.run("list", "--violating-policy", "--audience", "devices")
        #expect(text.exitCode == 0)
        #expect(text.stderr.contains("No token breaks its audience's lifetime policy"))
        #expect(try await box.list().count == 3)
    }

    @Test("policy show lists policies (text and --json); clear removes one; missing ones exit 66")
    func showAndClear() async throws {
        let box = try Sandbox()
        #expect(try await box.run("policy", "show").exitCode == 66)  // no home yet
        #expect(try await box.run("init").exitCode == 0)
        #expect(try await box.run("policy", "show").stderr.contains("No lifetime policy"))
        #expect(
            try await box.run("policy", "set", "--audience", "ci", "--max-lifetime", "2w", "--allow-never-expires")
                .exitCode == 0)
        #expect(try await box.run("policy", "set", "--audience", "billing", "--max-lifetime", "90d").exitCode == 0)
        let shown = try await box.run("--json", "policy", "show")
        let rows = try shown.jsonArray()
        #expect(rows.map { $0["audience"] as? String } == ["billing", "ci"])
        #expect(rows.last?["max_lifetime"] as? String == "2w")
        #expect(rows.last?["max_lifetime_seconds"] as? Int == 14 * 86_400)
        #expect(rows.last?["allow_never_expires"] as? Bool == true)
        let table = try await box.run("policy")
        #expect(table.stdout.contains("AUDIENCE") && table.stdout.contains("90d") && table.stdout.contains("allowed"))
        let one = try await box.run("policy", "show", "--audience", "nobody")
        #expect(one.exitCode == 66 && one.stderr.contains("sigil policy set --audience nobody"))

        #expect(try await box.run("policy", "clear", "--audience", "billing").exitCode == 0)
        #expect(try await box.run("policy", "clear", "--audience", "billing").exitCode == 66)
        #expect(try await box.run("--json", "policy", "show").jsonArray().count == 1)
        _ = try await box.issue(name: "free again", ["--all", "--never-expires"])
        let log = try await box.run("--json", "log", "--action", "policy")
        #expect(try log.jsonArray().count == 3)
    }

    @Test(
        "Bad durations and audiences are usage errors (64); policy needs the issuer host",
        arguments: [
            ["policy", "set", "--audience", "billing", "--max-lifetime", "soon"],
            ["policy", "set", "--audience", "billing", "--max-lifetime", "0d"],
            ["policy", "set", "--audience", "billing", "--max-lifetime", "-5d"],
            ["policy", "set", "--audience", "bad audience!", "--max-lifetime", "5d"],
            ["policy", "set", "--max-lifetime", "5d"],
            ["--server", "http://127.0.0.1:9", "policy", "set", "--audience", "billing", "--max-lifetime", "5d"],
            ["--server", "http://127.0.0.1:9", "policy", "show"],
        ])
    func usage(_ arguments: [String]) async throws {
        let box = try Sandbox()
        #expect(try await box.run("init").exitCode == 0)
        let result = try await box.run(arguments)
        #expect(result.exitCode == 64, "\(result)")
        #expect(try await box.run("--json", "policy", "show").jsonArray().isEmpty)
    }
}
