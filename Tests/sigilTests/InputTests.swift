import Foundation
import SigilIssuer
import SigilTestSupport
import Testing

@Suite("Labels, creators and filters that must not reach the ledger")
struct InputTests {
    @Test(
        "issue refuses a bad --created-by, name or description (64) before creating anything",
        arguments: [
            ["--created-by", "x\u{1b}[2J"], ["--created-by", ""], ["--created-by", "two words"],
            ["--name", "evil\u{202E}txt.exe"], ["--name", "zero\u{200B}width"], ["--name", "bell\u{07}"],
            ["--name", String(repeating: "n", count: 201)], ["--name", String(repeating: "é", count: 100) + "a"],
            ["--name", "   "], ["--description", String(repeating: "d", count: 1001)],
            ["--description", "rtl\u{202E}"],
        ])
    func badLabels(options: [String]) async throws {
        let box = try Sandbox()
        let named = options.contains("--name") ? [] : ["--name", "ok"]
        let result = try await box.run(["issue", "--audience", "billing", "--all"] + named + options)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stdout.isEmpty, "no token")
        #expect(!result.stderr.contains("\u{1b}"), "the error does not echo the escape: \(result.stderr)")
        #expect(!result.stderr.contains("\u{202E}"))
        #expect(!FileManager.default.fileExists(atPath: box.home), "nothing was created")
    }

    @Test("A name of exactly 200 UTF-8 bytes is fine; edit refuses what issue refuses (64)")
    func labelLimits() async throws {
        let box = try Sandbox()
        let long = String(repeating: "é", count: 100)
        let (_, guid) = try await box.issue(name: long)
        #expect(try await box.show(guid)["name"] as? String == long)
        let before = try LedgerFixture.snapshot(home: box.home)
        for name in ["evil\u{202E}", "a\u{200B}b", String(repeating: "n", count: 201), ""] {
            let result = try await box.run("edit", guid, "--name", name)
            #expect(result.exitCode == 64, "\(result)")
        }
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "nothing changed")
    }

    @Test("A hostile $USER never becomes created_by or the actor: it falls back to the passwd name or uid-N")
    func hostileUser() async throws {
        let box = try Sandbox()
        let evil = "evil\u{1b}[31m"
        let result = try await box.run(
            ["--json", "issue", "--name", "x", "--audience", "billing", "--all"], env: ["USER": evil])
        #expect(result.exitCode == 0, "\(result)")
        let guid = try #require(try result.jsonObject()["guid"] as? String)
        let createdBy = try #require(try await box.show(guid)["created_by"] as? String)
        #expect(createdBy != evil && !createdBy.contains("\u{1b}") && !createdBy.contains("evil"))
        #expect(Actor.isValid(createdBy), "\(createdBy)")
        let events = try await box.run("--json", "log", "--action", "issue").jsonArray()
        #expect(events.first?["actor"] as? String == createdBy)
        // A valid $USER is used as it is.
        let (_, plain) = try await box.issue(name: "y", env: ["USER": "svc.deploy"])
        #expect(try await box.show(plain)["created_by"] as? String == "svc.deploy")
        // --created-by wins over --actor, which wins over $USER.
        let (_, both) = try await box.issue(name: "z", ["--all", "--actor", "alice", "--created-by", "ci@build"])
        #expect(try await box.show(both)["created_by"] as? String == "ci@build")
        let issued = try await box.run("--json", "log", both).jsonArray()
        #expect(issued.first?["actor"] as? String == "alice")
    }

    @Test(
        "An empty or blank filter is refused (64) and changes nothing",
        arguments: [
            ["deactivate", "--all-matching", "--name", ""],
            ["deactivate", "--yes", "--all-matching", "--audience", " "],
            ["revoke", "--yes", "--all-matching", "--name", " "], ["delete", "--yes", "--all-matching", "--guid", ""],
            ["list", "--name", ""], ["list", "--audience", "  "], ["list", "--scope", ""],
        ])
    func emptyFilter(command: [String]) async throws {
        let box = try Sandbox()
        for i in 0..<2 { _ = try await box.issue(name: "t\(i)") }
        let before = try LedgerFixture.snapshot(home: box.home)
        let result = try await box.run(command)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("is empty"), "\(result.stderr)")
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "nothing changed")
        #expect(try await box.list(["--status", "active"]).count == 2)
    }

    @Test("deactivate --all-matching of several tokens asks: off a terminal it needs --yes (64), then does all")
    func bulkDeactivateNeedsYes() async throws {
        let box = try Sandbox()
        var billing: [String] = []
        for i in 0..<3 { billing.append(try await box.issue(name: "b\(i)", audience: "billing").guid) }
        let (_, shop) = try await box.issue(name: "s", audience: "shop")
        let before = try LedgerFixture.snapshot(home: box.home)

        let refused = try await box.run("deactivate", "--all-matching", "--audience", "billing")
        #expect(refused.exitCode == 64, "\(refused)")
        #expect(refused.stderr.contains("--yes"), "\(refused.stderr)")
        #expect(refused.stderr.contains("3 tokens"), "\(refused.stderr)")
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "nothing changed")

        // One match is no bulk change: no question.
        let one = try await box.run("deactivate", "--all-matching", "--audience", "shop")
        #expect(one.exitCode == 0, "\(one)")
        #expect(try await box.show(shop)["status"] as? String == "inactive")

        let done = try await box.run("--json", "deactivate", "--yes", "--all-matching", "--audience", "billing")
        #expect(done.exitCode == 0, "\(done)")
        #expect(Set(try done.jsonObject()["guids"] as? [String] ?? []) == Set(billing))
        for guid in billing { #expect(try await box.show(guid)["status"] as? String == "inactive") }
        // activate never asks.
        #expect(try await box.run("activate", "--all-matching", "--audience", "billing").exitCode == 0)
        #expect(try await box.list(["--status", "active"]).count == 3)
    }
}
