import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

@Suite("deactivate, activate, revoke, delete")
struct LifecycleTests {
    static func status(_ box: Sandbox, _ guid: String) async throws -> String? {
        try await box.show(guid)["status"] as? String
    }

    @Test("deactivate and activate are reversible, in the ledger and for services")
    func reversible() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue()
        let list = box.path("revocations.sgl")

        let off = try await box.run("--json", "deactivate", String(guid.prefix(8)))
        #expect(off.exitCode == 0, "\(off)")
        let o = try off.jsonObject()
        #expect(o["action"] as? String == "deactivate")
        #expect(o["count"] as? Int == 1)
        #expect(o["guids"] as? [String] == [guid])
        #expect(try await Self.status(box, guid) == "inactive")
        try await box.exportRevocations(to: list)
        #expect(try await box.verify(token, ["--revocations", list]).exitCode == 15)

        // Deactivating again is fine and changes nothing.
        #expect(try await box.run("deactivate", guid).exitCode == 0)

        let on = try await box.run("activate", guid)
        #expect(on.exitCode == 0, "\(on)")
        #expect(on.stderr.contains("Activated \(guid)"))
        #expect(on.stderr.contains("sigil revocations export"), "says services need a new list")
        #expect(try await Self.status(box, guid) == "active")
        #expect(try await box.show(guid)["revoked_at"] is NSNull)
        try await box.exportRevocations(to: list)
        #expect(try await box.verify(token, ["--revocations", list]).exitCode == 0)
        box.checkHygiene()
    }

    @Test("A revoked token cannot be activated or deactivated (65)")
    func revokedIsPermanent() async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue()
        #expect(try await box.run("revoke", "--yes", guid).exitCode == 0)
        let activate = try await box.run("activate", guid)
        #expect(activate.exitCode == 65, "\(activate)")
        #expect(activate.stderr.contains("revocation is permanent"))
        let json = try await box.run("--json", "activate", guid)
        #expect(json.exitCode == 65)
        let o = try json.jsonObject()
        #expect(o["error"] as? String == "conflict")
        #expect(o["exit_code"] as? Int == 65)
        #expect(try await box.run("deactivate", guid).exitCode == 65)
        #expect(try await Self.status(box, guid) == "revoked")
        // Revoking again succeeds without changing revoked_at.
        #expect(
            try await box.run(["revoke", "--yes", guid], env: ["SIGIL_NOW": String(Sandbox.defaultNow + 99)]).exitCode
                == 0)
        #expect(try await box.show(guid)["revoked_at"] as? Int64 == Sandbox.defaultNow)
    }

    @Test(
        "revoke and delete without --yes and without a terminal are refused (64); nothing changes",
        arguments: [
            "revoke", "delete",
        ])
    func needsConfirmation(command: String) async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue()
        let before = try LedgerFixture.snapshot(home: box.home)
        let result = try await box.run(command, guid)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("--yes"), "\(result.stderr)")
        let viaStdin = try await box.run([command, "-"], stdin: guid + "\n")
        #expect(viaStdin.exitCode == 64, "\(viaStdin)")
        let matching = try await box.run(command, "--all-matching", "--audience", "billing")
        #expect(matching.exitCode == 64, "\(matching)")
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "the ledger is unchanged")
        #expect(try await Self.status(box, guid) == "active")
    }

    @Test(
        "On a terminal, revoke asks: 'n' cancels (1, nothing changed), 'y' revokes",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a pty"))
    func confirmOnTerminal() async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue(name: "asked")
        // script(1) gives sigil a pseudo-terminal as stdin; the answer is typed through it.
        let command = "'\(SigilBinary.path)' revoke \(guid)"
        let no = try await box.runOther("/usr/bin/script", ["-qec", command, "/dev/null"], stdin: "n\n")
        #expect(no.exitCode == 1, "\(no)")
        #expect(no.stdout.contains("This cannot be undone. [y/N]"), "\(no.stdout)")
        #expect(no.stdout.contains("cancelled; nothing changed"))
        #expect(try await Self.status(box, guid) == "active")
        let yes = try await box.runOther("/usr/bin/script", ["-qec", command, "/dev/null"], stdin: "y\n")
        #expect(yes.exitCode == 0, "\(yes)")
        #expect(yes.stdout.contains("Revoked \(guid) (asked)"))
        #expect(try await Self.status(box, guid) == "revoked")
    }

    @Test("delete: gone from listings, revoked for services until it expires")
    func delete() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue(["--all", "--expires-in", "7d"])
        let result = try await box.run("--json", "delete", "-y", guid)
        #expect(result.exitCode == 0, "\(result)")
        #expect(try result.jsonObject()["action"] as? String == "delete")
        #expect(try await box.list().isEmpty)
        #expect(try await box.run("show", guid).exitCode == 66)
        let list = box.path("revocations.sgl")
        try await box.exportRevocations(to: list)
        #expect(try await box.verify(token, ["--revocations", list]).exitCode == 14)
        // Deleting twice: the token is no longer there.
        #expect(try await box.run("delete", "--yes", guid).exitCode == 66)
    }

    @Test("Bulk: several GUIDs and prefixes in one run, each changed once")
    func bulkArguments() async throws {
        let box = try Sandbox()
        var guids: [String] = []
        for i in 0..<5 { guids.append(try await box.issue(name: "t\(i)").guid) }
        let result = try await box.run(
            ["--json", "deactivate", guids[0], String(guids[1].prefix(8)), guids[2].uppercased(), guids[0]])
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(o["count"] as? Int == 3, "a GUID named twice counts once")
        #expect(Set(o["guids"] as? [String] ?? []) == Set(guids[0..<3]))
        for (i, guid) in guids.enumerated() {
            #expect(try await Self.status(box, guid) == (i < 3 ? "inactive" : "active"))
        }
    }

    @Test("Bulk: '-' reads GUIDs from stdin, skipping blank lines and # comments")
    func bulkStdin() async throws {
        let box = try Sandbox()
        var guids: [String] = []
        for i in 0..<4 { guids.append(try await box.issue(name: "t\(i)").guid) }
        let input = "# to revoke\n\(guids[0])\n\n  \(guids[1])  \r\n\(String(guids[2].prefix(8)))\n"
        let result = try await box.run(["revoke", "--yes", "-"], stdin: input)
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stderr.contains("Revoked \(guids[0])"))
        for (i, guid) in guids.enumerated() {
            #expect(try await Self.status(box, guid) == (i < 3 ? "revoked" : "active"))
        }
        let empty = try await box.run(["revoke", "--yes", "-"], stdin: "# nothing\n\n")
        #expect(empty.exitCode == 64, "\(empty)")
    }

    @Test("Bulk: all or nothing — one unknown GUID changes nothing (66)")
    func bulkAllOrNothing() async throws {
        let box = try Sandbox()
        let (_, a) = try await box.issue(name: "a")
        let (_, b) = try await box.issue(name: "b")
        let before = try LedgerFixture.snapshot(home: box.home)
        let result = try await box.run("revoke", "--yes", a, "00000000-0000-4000-8000-000000000000", b)
        #expect(result.exitCode == 66, "\(result)")
        #expect(try LedgerFixture.snapshot(home: box.home) == before)
        // And one revoked token in a bulk activate refuses the whole batch.
        #expect(try await box.run("deactivate", a).exitCode == 0)
        #expect(try await box.run("revoke", "--yes", b).exitCode == 0)
        #expect(try await box.run("activate", a, b).exitCode == 65)
        #expect(try await Self.status(box, a) == "inactive")
    }

    @Test("Bulk: --all-matching with the list filters")
    func allMatching() async throws {
        let box = try Sandbox()
        let (_, oldCI) = try await box.issue(name: "old ci", audience: "billing")
        let (_, newCI) = try await box.issue(name: "new ci", audience: "billing")
        let (_, shopCI) = try await box.issue(name: "old ci", audience: "shop")
        let (_, report) = try await box.issue(name: "report", audience: "billing", ["--read-only"])

        let deactivated = try await box.run(
            "--json", "deactivate", "--all-matching", "--name", "old ci", "--audience", "billing")
        #expect(deactivated.exitCode == 0, "\(deactivated)")
        #expect(try deactivated.jsonObject()["guids"] as? [String] == [oldCI])

        let revoked = try await box.run("--json", "revoke", "--yes", "--all-matching", "--status", "inactive")
        #expect(try revoked.jsonObject()["guids"] as? [String] == [oldCI])
        let readOnly = try await box.run("--json", "deactivate", "--all-matching", "--scope", "read-only")
        #expect(try readOnly.jsonObject()["guids"] as? [String] == [report])
        let byGUID = try await box.run("--json", "deactivate", "--all-matching", "--guid", String(shopCI.prefix(6)))
        #expect((try byGUID.jsonObject()["guids"] as? [String])?.contains(shopCI) == true)

        let none = try await box.run("--json", "revoke", "--yes", "--all-matching", "--audience", "nobody")
        #expect(none.exitCode == 0)
        #expect(try none.jsonObject()["count"] as? Int == 0)
        #expect(try await Self.status(box, newCI) == "active")
    }

    @Test(
        "Bulk selection usage errors (64)",
        arguments: [
            ["deactivate"],
            ["deactivate", "--all-matching"],
            ["deactivate", "--name", "x"],
            ["deactivate", "--all-matching", "--name", "x", "GUID"],
            ["deactivate", "--all-matching", "--status", "gone"],
            ["deactivate", "1234567"],
            ["revoke", "--yes", "not-a-guid"],
        ])
    func selectionUsage(arguments: [String]) async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue()
        let result = try await box.run(arguments.map { $0 == "GUID" ? guid : $0 })
        #expect(result.exitCode == 64, "\(result)")
        #expect(try await Self.status(box, guid) == "active")
    }

    @Test("Bulk revoke of 1,000 GUIDs from stdin in one run")
    func thousandViaStdin() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let ids = (0..<1000).map { _ in TokenMinter.newTokenID() }
        let minted = try LedgerFixture.addTokens(home: box.home, ids: ids, namePrefix: "bulk", now: Sandbox.defaultNow)
        let (survivor, survivorID) = try await box.issue(name: "survivor")

        let input = ids.map(\.description).joined(separator: "\n") + "\n"
        let result = try await box.run(["--json", "revoke", "--yes", "-"], stdin: input)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let o = try result.jsonObject()
        #expect(o["count"] as? Int == 1000)
        #expect(Set(o["guids"] as? [String] ?? []) == Set(ids.map(\.description)))

        let tokens = try await box.list()
        #expect(tokens.count == 1001)
        let revoked = tokens.filter { $0["status"] as? String == "revoked" }
        #expect(revoked.count == 1000)
        #expect(Set(revoked.compactMap { $0["guid"] as? String }) == Set(ids.map(\.description)))
        #expect(try await Self.status(box, survivorID) == "active")
        // One audit event for the whole batch, naming every token.
        let revokes = try await box.run("--json", "log", "--action", "revoke").jsonArray()
        #expect(revokes.count == 1)
        #expect(Set(revokes.first?["guids"] as? [String] ?? []) == Set(ids.map(\.description)))

        let list = box.path("revocations.sgl")
        let export = try await box.exportRevocations(to: list)
        #expect(export["count"] as? Int == 1000)
        #expect(export["revoked"] as? Int == 1000)
        let show = try await box.run("--json", "revocations", "show", list, "--entries")
        let entries = try #require(try show.jsonObject()["entries"] as? [[String: Any]])
        #expect(entries.count == 1000)
        #expect(Set(entries.compactMap { $0["guid"] as? String }) == Set(ids.map(\.description)))
        #expect(try await box.verify(minted[500].token, ["--revocations", list]).exitCode == 14)
        #expect(try await box.verify(survivor, ["--revocations", list]).exitCode == 0)
        box.checkHygiene()
    }
}
