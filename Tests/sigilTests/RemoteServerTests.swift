import Foundation
import SigilTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI's remote client against a real sigil-server: every body it sends is one of the wire
/// model's request types, and the server (which refuses unknown fields and duplicate keys)
/// accepts each; every answer it reads is a wire type.
@Suite(
    "Remote mode against a real sigil-server",
    .enabled(
        if: SigilServerProcess.isBuilt,
        "sigil-server is not built: swift build --package-path Server --product sigil-server"))
struct RemoteServerTests {
    let box: Sandbox
    let server: SigilServerProcess
    /// The organization's token file (scope all, audience sigil), mode 600.
    let tokenFile: String

    init() async throws {
        // The real clock: sigil-server verifies bearer tokens on it, whatever SIGIL_NOW says.
        box = try Sandbox(now: nil)
        let org = try await box.issue(name: "org admin", audience: "sigil", ["--all", "--never-expires"])
        tokenFile = box.path("org.token")
        try writeFile(Array((org.token + "\n").utf8), to: tokenFile)
        server = try await SigilServerProcess(home: box.home, environment: box.environment())
    }

    /// `sigil --server URL --token-file F ARGS…`, without SIGIL_HOME (remote mode uses no home).
    func remote(_ arguments: [String], stdin: String = "") async throws -> CommandResult {
        try await box.run(
            ["--server", server.url, "--token-file", tokenFile] + arguments, stdin: stdin, env: ["SIGIL_HOME": ""])
    }

    @Test(
        "Issue with every kind of expiry, a description, a start and a custom scope: the server accepts each body",
        arguments: [
            ["--all", "--expires-in", "90d"], ["--read-only", "--never-expires"],
            ["--scope", "invoices.get", "--scope", "users.list", "--expires", "2027-06-01T00:00:00Z"],
            ["--all", "--description", "GitHub Actions", "--valid-from", "2027-02-01T00:00:00Z"],
        ])
    func issue(options: [String]) async throws {
        let result = try await remote(["--json", "issue", "--name", "CI deploy", "--audience", "billing"] + options)
        #expect(result.exitCode == 0, "\(result)")
        let row = try result.jsonObject()
        #expect((row["token"] as? String)?.hasPrefix("sgl_") == true)
        let guid = try #require(row["guid"] as? String)
        // What the server stored is what the local ledger shows.
        let local = try await box.show(guid)
        for key in ["scope", "valid_from", "valid_to", "description", "expires"] {
            #expect(canonical(local[key]) == canonical(row[key]), "\(key): \(result)")
        }
        if options.contains("--expires-in") {
            // Counted on the server's clock, from the window's start.
            let from = try #require(row["valid_from"] as? Int)
            #expect(row["valid_to"] as? Int == from + 90 * 86_400)
        }
        if options.contains("--never-expires") { #expect(row["valid_to"] is NSNull) }
    }

    @Test("Edit, bulk changes with and without cascade, and revoke --token go through as wire bodies")
    func changes() async throws {
        let made = try await remote(["--json", "issue", "--name", "svc", "--audience", "billing", "--all"])
        let row = try made.jsonObject()
        let guid = try #require(row["guid"] as? String)
        let token = try #require(row["token"] as? String)

        let edited = try await remote(["--json", "edit", guid, "--name", "svc (prod)", "--description", "runs nightly"])
        #expect(edited.exitCode == 0, "\(edited)")
        #expect(try edited.jsonObject()["name"] as? String == "svc (prod)")
        #expect(try edited.jsonObject()["description"] as? String == "runs nightly")

        for action in ["deactivate", "activate"] {
            let result = try await remote(["--json", action, guid])
            #expect(result.exitCode == 0, "\(result)")
            #expect(try result.jsonObject()["guids"] as? [String] == [guid], "\(result)")
        }
        let other = try await remote(["--json", "issue", "--name", "other", "--audience", "billing", "--all"])
        let otherGUID = try #require(try other.jsonObject()["guid"] as? String)
        let cascaded = try await remote(["--json", "revoke", "--yes", "--cascade", otherGUID])
        #expect(cascaded.exitCode == 0, "\(cascaded)")
        #expect(try cascaded.jsonObject()["action"] as? String == "revoke")

        let byToken = try await remote(["--json", "revoke", "--token", "-"], stdin: token + "\n")
        #expect(byToken.exitCode == 0, "\(byToken)")
        #expect(try await box.show(guid)["status"] as? String == "revoked")
        #expect(!server.logText.contains("sgl_"), "a token reached the server's log")
    }

    @Test("A sealed field sent to PATCH is refused by the server as locally: 64, code sealed_field")
    func sealedEdit() async throws {
        let (_, guid) = try await box.issue()
        let local = try await box.run("--json", "edit", guid, "--audience", "shop")
        let remote = try await remote(["--json", "edit", guid, "--never-expires"])
        for result in [local, remote] {
            #expect(result.exitCode == 64, "\(result)")
            #expect(try result.jsonObject()["code"] as? String == "sealed_field", "\(result)")
        }
    }

    @Test("catalog --json reads the server's catalog into what the local catalog shows")
    func catalog() async throws {
        let local = try await box.run("--json", "catalog")
        let remote = try await remote(["--json", "catalog"])
        #expect(remote.exitCode == 0, "\(remote)")
        #expect(remote.stdout == local.stdout, "\(remote)")
        #expect(remote.stdout.contains("\"invoices\""))
    }

    @Test(
        "A failure's --json error has the same code and exit code locally and remotely",
        .bug("21-3", "local --json errors had no code; remote ones named the HTTP error instead"),
        arguments: [
            // not found, a bad selector, a bad label, a policy refusal
            (["show", "00000000-0000-0000-0000-000000000001"], "not_found", Int32(66)),
            (["show", "abc"], "invalid_selector", 64),
            (["list", "--audience", ""], "invalid_selector", 64),
            (["issue", "--name", "x", "--audience", "Bad Audience!", "--all"], "invalid_input", 64),
            (["issue", "--name", "x", "--audience", "capped", "--all", "--expires-in", "90d"], "outside_policy", 64),
        ] as [([String], String, Int32)])
    func sameCode(arguments: [String], code: String, exitCode: Int32) async throws {
        let policy = try await box.run("policy", "set", "--audience", "capped", "--max-lifetime", "30d")
        try #require(policy.exitCode == 0, "\(policy)")
        let local = try await box.run(["--json"] + arguments)
        let remote = try await remote(["--json"] + arguments)
        for result in [local, remote] {
            #expect(result.exitCode == exitCode, "\(result)")
            let error = try result.jsonObject()
            #expect(error["code"] as? String == code, "\(result)")
            #expect(error["exit_code"] as? Int == Int(exitCode), "\(result)")
        }
    }
}

/// `value` as sorted JSON text, to compare values parsed from two outputs.
private func canonical(_ value: Any?) -> String {
    guard let value else { return "absent" }
    // Wrapped: a lone string or number is not a JSON document to JSONSerialization.
    return (try? canonicalJSON([value])) ?? "\(value)"
}
