import Foundation
import SigilTestSupport
import Testing

/// `sigil members …` end to end through the built binary (issue #25 item 1): the local
/// operator on the issuer host, text and `--json`, and every error a person can reach.
@Suite("sigil members")
struct MembersCLITests {
    /// The keys of a member's `--json` object (WireMember).
    static let memberKeys: Set<String> = [
        "id", "email", "name", "audience", "scope", "status", "created_by", "created_at", "last_sign_in_at",
    ]

    @Test("Bootstrap: members add … --audience sigil --all works on a fresh home and is audited")
    func bootstrap() async throws {
        let box = try Sandbox()
        #expect(!FileManager.default.fileExists(atPath: box.home))
        let added = try await box.run(
            "--json", "members", "add", "--email", "Ada@Example.COM", "--name", "Ada Lovelace", "--audience", "sigil",
            "--all")
        #expect(added.exitCode == 0, "\(added)")
        let row = try added.jsonObject()
        #expect(Set(row.keys) == Self.memberKeys)
        #expect(row["email"] as? String == "ada@example.com" && row["scope"] as? String == "all")
        #expect(row["status"] as? String == "active" && row["created_by"] as? String == "tester")
        #expect(row["last_sign_in_at"] is NSNull && row["created_at"] as? Int == Int(Sandbox.defaultNow))
        let id = try #require(row["id"] as? String)
        let log = try await box.run("--json", "log", "--action", "member")
        let event = try #require(try log.jsonArray().first)
        let details = try #require(event["details"] as? [String: Any])
        #expect(event["actor"] as? String == "tester", "\(event)")
        #expect(details["change"] as? String == "add" && details["email"] as? String == "ada@example.com")
        #expect(details["id"] as? String == id && details["scope"] as? String == "all")

        let text = try await box.run(
            "members", "add", "--email", "grace@example.com", "--name", "Grace", "--audience",
            "billing", "--scope", "devices.*", "--actor", "ops-lead")
        #expect(text.exitCode == 0, "\(text)")
        #expect(text.stdout.contains("grace@example.com") && text.stdout.contains("devices.create,devices.delete"))
        #expect(text.stdout.contains("by ops-lead"))
        let listed = try await box.run("members")
        #expect(listed.stdout.contains("EMAIL") && listed.stdout.contains("ada@example.com"))
        #expect(listed.stdout.contains("Grace") && listed.stdout.contains("never"))
        let json = try await box.run("--json", "members", "list")
        #expect(try json.jsonArray().map { $0["email"] as? String } == ["ada@example.com", "grace@example.com"])
        box.checkHygiene()
    }

    @Test("An empty listing says how to add the first administrator")
    func emptyList() async throws {
        let box = try Sandbox()
        #expect(try await box.run("init").exitCode == 0)
        let listed = try await box.run("members", "list")
        #expect(listed.exitCode == 0 && listed.stderr.contains("sigil members add --email EMAIL"), "\(listed)")
        #expect(try await box.run("--json", "members", "list").jsonArray().isEmpty)
    }

    @Test("show, edit, suspend, activate and remove by email or ID, text and --json")
    func lifecycle() async throws {
        let box = try Sandbox()
        let added = try await box.run(
            "--json", "members", "add", "--email", "ada@example.com", "--name", "Ada", "--audience", "sigil", "--all")
        let id = try #require(try added.jsonObject()["id"] as? String)
        let shown = try await box.run("members", "show", id)
        #expect(shown.stdout.contains("ada@example.com") && shown.stdout.contains("last sign-in never"), "\(shown)")
        let byEmail = try await box.run("--json", "members", "show", "ADA@example.com")
        #expect(try byEmail.jsonObject()["id"] as? String == id)

        let edited = try await box.run(
            "--json", "members", "edit", id, "--name", "Ada K.", "--audience", "billing",
            "--scope", "devices.get", "--scope", "tokens.list")
        #expect(edited.exitCode == 0, "\(edited)")
        let row = try edited.jsonObject()
        #expect(row["name"] as? String == "Ada K." && row["audience"] as? String == "billing")
        #expect(row["scope"] as? [String] == ["devices.get", "tokens.list"])

        let suspended = try await box.run("members", "suspend", "ada@example.com")
        #expect(suspended.exitCode == 0 && suspended.stdout.contains("Suspended ada@example.com"), "\(suspended)")
        #expect(try await box.run("--json", "members", "list", "--status", "suspended").jsonArray().count == 1)
        #expect(try await box.run("--json", "members", "list", "--status", "active").jsonArray().isEmpty)
        let activated = try await box.run("--json", "members", "activate", id)
        #expect(try activated.jsonObject()["status"] as? String == "active")
        let removed = try await box.run("members", "remove", "ada@example.com")
        #expect(removed.exitCode == 0 && removed.stdout.contains("Removed ada@example.com (\(id))"), "\(removed)")
        #expect(try await box.run("members", "show", id).exitCode == 66)
        let changes = try await box.run("--json", "log", "--action", "member").jsonArray().map {
            ($0["details"] as? [String: Any])?["change"] as? String
        }
        #expect(changes == ["remove", "activate", "suspend", "edit", "add"])
    }

    @Test("suspend --cascade deactivates exactly the member's active tokens and lists them")
    func cascade() async throws {
        let box = try Sandbox()
        _ = try await box.run(
            "members", "add", "--email", "ada@example.com", "--name", "Ada", "--audience", "sigil", "--all")
        let (_, mine) = try await box.issue(name: "ada's", ["--all", "--created-by", "member:ada@example.com"])
        let (_, revoked) = try await box.issue(name: "ada's old", ["--all", "--created-by", "member:ada@example.com"])
        let (_, other) = try await box.issue(name: "someone else's", ["--all"])
        #expect(try await box.run("revoke", revoked, "--yes").exitCode == 0)
        let result = try await box.run("--json", "members", "suspend", "ada@example.com", "--cascade")
        #expect(result.exitCode == 0, "\(result)")
        let object = try result.jsonObject()
        #expect(object["deactivated"] as? [String] == [mine])
        #expect((object["member"] as? [String: Any])?["status"] as? String == "suspended")
        #expect(try await box.show(mine)["status"] as? String == "inactive")
        #expect(try await box.show(revoked)["status"] as? String == "revoked")
        #expect(try await box.show(other)["status"] as? String == "active")
        _ = try await box.run("members", "activate", "ada@example.com")
        let text = try await box.run("members", "suspend", "ada@example.com", "--cascade")
        #expect(text.stdout.contains("Deactivated 0 token(s)"), "\(text)")
    }

    @Test(
        "Every user-reachable error exits with its code and says what to fix",
        arguments: [
            (
                ["members", "add", "--email", "ADA@example.com", "--name", "Again", "--audience", "sigil", "--all"], 65,
                "already a member; change its rights with sigil members edit"
            ),
            (
                ["members", "add", "--email", "not-an-email", "--name", "X", "--audience", "sigil", "--all"], 64,
                "must be an email address"
            ),
            (
                ["members", "add", "--email", "x@example.com", "--name", "X", "--audience", "Bad Audience", "--all"],
                64,
                "audience"
            ),
            (
                ["members", "add", "--email", "x@example.com", "--name", "X", "--audience", "sigil"], 64,
                "choose exactly one scope"
            ),
            (["members", "add", "--email", "x@example.com", "--name", "X", "--all"], 64, "--audience"),
            (
                [
                    "members", "add", "--email", "x@example.com", "--name", "X", "--audience", "sigil", "--scope",
                    "nope.nope",
                ],
                64, "unknown permission"
            ),
            (["members", "add", "--email", "x@example.com", "--name", "", "--audience", "sigil", "--all"], 64, "name"),
            (["members", "show", "00000000-0000-4000-8000-000000000000"], 66, "no member"),
            (
                ["members", "show", "bob@example.com"], 66,
                "no member bob@example.com; see the members with sigil members list"
            ),
            (["members", "show", "bob"], 64, "<member> is neither an ID nor an email address"),
            (["members", "remove", "bob@example.com"], 66, "no member"),
            (["members", "suspend", "bob@example.com", "--cascade"], 66, "no member"),
            (["members", "edit", "ada@example.com"], 64, "nothing to change"),
            (["members", "edit", "ada@example.com", "--all", "--read-only"], 64, "at most one scope"),
            (["members", "list", "--status", "gone"], 64, "status"),
        ] as [([String], Int32, String)])
    func errors(arguments: [String], code: Int32, says: String) async throws {
        let box = try Sandbox()
        _ = try await box.run(
            "members", "add", "--email", "ada@example.com", "--name", "Ada", "--audience", "sigil", "--all")
        let result = try await box.run(arguments)
        #expect(result.exitCode == code, "\(result)")
        #expect(result.stderr.contains(says), "\(result)")
        let json = try await box.run(["--json"] + arguments)
        #expect(json.exitCode == code, "\(json)")
        #expect(try json.jsonObject()["exit_code"] as? Int == Int(code), "\(json)")
        #expect(try await box.run("--json", "members", "list").jsonArray().count == 1, "nothing else was added")
    }

    @Test("With --server, --actor is refused (the server names the caller) before anything is sent")
    func remoteActor() async throws {
        let box = try Sandbox()
        let tokenFile = box.path("t.token")
        try writeFile(Array("sgl_notreallyatoken\n".utf8), to: tokenFile)
        let result = try await box.run(
            [
                "--server", "http://127.0.0.1:9", "--token-file", tokenFile, "members", "add", "--email",
                "a@example.com",
                "--name", "A", "--audience", "sigil", "--all", "--actor", "someone",
            ], env: ["SIGIL_HOME": ""])
        #expect(result.exitCode == 64 && result.stderr.contains("--actor does not apply with --server"), "\(result)")
    }

    @Test("--help teaches: roles as rights, the bootstrap, cascade, exit codes")
    func help() async throws {
        let box = try Sandbox()
        let group = try await box.run("members", "--help")
        for words in ["first administrator", "--audience", "a role is a set of rights", "members.*", "Exit codes"] {
            #expect(group.stdout.contains(words), "\(words)")
        }
        let suspend = try await box.run("members", "suspend", "--help")
        #expect(suspend.stdout.contains("--cascade") && suspend.stdout.contains("member:<email>"))
        let root = try await box.run("--help")
        #expect(root.stdout.contains("members"))
    }
}
