import Foundation
import SigilTestSupport
import Testing

/// `sigil --server … members …` against a real sigil-server (its `/v1/members` routes): the
/// same answers, `--json` shapes and exit codes as on the issuer host, and the server's
/// delegation rule for members.
@Suite(
    "sigil members through a real sigil-server",
    .enabled(
        if: SigilServerProcess.isBuilt,
        "sigil-server is not built: swift build --package-path Server --product sigil-server"))
struct MembersRemoteTests {
    let box: Sandbox
    let server: SigilServerProcess
    /// The organization's token (scope all, audience sigil, never expires), mode 600.
    let orgFile: String

    init() async throws {
        // The real clock: sigil-server verifies bearer tokens on it.
        box = try Sandbox(now: nil)
        orgFile = try await Self.tokenFile(box, name: "org admin", ["--audience", "sigil", "--all", "--never-expires"])
        server = try await SigilServerProcess(home: box.home, environment: box.environment())
    }

    /// Issues a token on the issuer host and writes it to a private file named after it.
    static func tokenFile(_ box: Sandbox, name: String, _ options: [String]) async throws -> String {
        let result = try await box.run(["--json", "issue", "--name", name] + options)
        try #require(result.exitCode == 0, "\(result)")
        let token = try #require(try result.jsonObject()["token"] as? String)
        let file = box.path(name.replacingOccurrences(of: " ", with: "-") + ".token")
        try writeFile(Array((token + "\n").utf8), to: file)
        return file
    }

    func remote(_ arguments: [String], as file: String? = nil) async throws -> CommandResult {
        try await box.run(
            ["--server", server.url, "--token-file", file ?? orgFile] + arguments, env: ["SIGIL_HOME": ""])
    }

    @Test("add, list, show, edit, suspend --cascade, activate and remove go through /v1/members")
    func lifecycle() async throws {
        let added = try await remote([
            "--json", "members", "add", "--email", "Ada@Example.com", "--name", "Ada", "--audience", "sigil", "--all",
        ])
        #expect(added.exitCode == 0, "\(added)")
        let row = try added.jsonObject()
        // The API may add `created_by_name` (the creating token's name) to the shared keys.
        #expect(MembersCLITests.memberKeys.isSubset(of: Set(row.keys)), "\(row)")
        #expect(row["email"] as? String == "ada@example.com")
        #expect((row["created_by"] as? String)?.hasPrefix("token:") == true, "\(row)")
        let id = try #require(row["id"] as? String)
        // What the server stored is what the issuer host shows.
        let local = try await box.run("--json", "members", "show", id)
        #expect(try local.jsonObject()["email"] as? String == "ada@example.com", "\(local)")

        let listed = try await remote(["--json", "members", "list"])
        #expect(try listed.jsonArray().map { $0["id"] as? String } == [id], "\(listed)")
        #expect(try await remote(["--json", "members", "show", "ADA@example.com"]).jsonObject()["id"] as? String == id)
        let edited = try await remote(["--json", "members", "edit", id, "--name", "Ada K.", "--read-only"])
        #expect(edited.exitCode == 0, "\(edited)")
        #expect(try edited.jsonObject()["scope"] as? String == "read-only")

        // Tokens Ada created (issued on the issuer host in her name): the cascade deactivates them.
        let mine = try await box.run(
            "--json", "issue", "--name", "ada's", "--audience", "billing", "--all", "--created-by",
            "member:ada@example.com")
        let guid = try #require(try mine.jsonObject()["guid"] as? String)
        let suspended = try await remote(["--json", "members", "suspend", "ada@example.com", "--cascade"])
        #expect(suspended.exitCode == 0, "\(suspended)")
        #expect(try suspended.jsonObject()["deactivated"] as? [String] == [guid], "\(suspended)")
        #expect(try await box.show(guid)["status"] as? String == "inactive")
        let activated = try await remote(["--json", "members", "activate", id])
        #expect(try activated.jsonObject()["status"] as? String == "active", "\(activated)")
        let removed = try await remote(["members", "remove", "ada@example.com"])
        #expect(removed.exitCode == 0 && removed.stdout.contains("Removed ada@example.com"), "\(removed)")
        #expect(try await remote(["members", "show", id]).exitCode == 66)
    }

    @Test("Errors exit as locally: conflict 65, unknown 66, bad email 64, more than the caller holds 77")
    func errors() async throws {
        let add = ["members", "add", "--email", "ada@example.com", "--name", "Ada", "--audience", "sigil", "--all"]
        #expect(try await remote(add).exitCode == 0)
        let again = try await remote(["--json"] + add.map { $0 == "ada@example.com" ? "ADA@example.com" : $0 })
        #expect(again.exitCode == 65, "\(again)")
        #expect(try again.jsonObject()["code"] as? String == "conflict", "\(again)")
        #expect(try await remote(["members", "show", "00000000-0000-4000-8000-000000000009"]).exitCode == 66)
        #expect(try await remote(["members", "show", "bob@example.com"]).exitCode == 66)
        let bad = try await remote(["members", "add", "--email", "bad", "--name", "X", "--audience", "sigil", "--all"])
        #expect(bad.exitCode == 64, "\(bad)")

        // A billing token that may add members grants no more than it holds, and reaches only billing.
        let billing = try await Self.tokenFile(
            box, name: "billing lead",
            ["--audience", "billing", "--scope", "members.create", "--scope", "devices.get", "--never-expires"])
        for (audience, scope) in [("billing", ["--all"]), ("sigil", ["--scope", "devices.get"])] {
            let wide = try await remote(
                ["members", "add", "--email", "x@example.com", "--name", "X", "--audience", audience] + scope,
                as: billing)
            #expect(wide.exitCode == 77, "\(wide)")
        }
        let fits = try await remote(
            [
                "members", "add", "--email", "x@example.com", "--name", "X", "--audience", "billing", "--scope",
                "devices.get",
            ], as: billing)
        #expect(fits.exitCode == 0, "\(fits)")
        // A token that expires adds no member: a member never expires.
        let expiring = try await Self.tokenFile(
            box, name: "expiring admin", ["--audience", "sigil", "--all", "--expires-in", "30d"])
        let refused = try await remote(
            ["members", "add", "--email", "y@example.com", "--name", "Y", "--audience", "billing", "--read-only"],
            as: expiring)
        #expect(refused.exitCode == 77 && refused.stderr.contains("valid_to"), "\(refused)")
    }
}
