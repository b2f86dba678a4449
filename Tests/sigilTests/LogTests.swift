import Foundation
import SigilTestSupport
import Testing

@Suite("sigil log: the audit log of every change")
struct LogTests {
    /// Two actors take turns changing one home, each step 100 s after the previous one.
    struct History {
        let box: Sandbox
        let a: String
        let b: String
        static let t0 = Sandbox.defaultNow
    }

    static func history() async throws -> History {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        func at(_ offset: Int64) -> [String: String] { ["SIGIL_NOW": String(History.t0 + offset)] }
        let (_, a) = try await box.issue(name: "a", ["--all", "--actor", "alice"], env: at(0))
        let (_, b) = try await box.issue(name: "b", ["--all", "--actor", "bob"], env: at(10))
        let steps: [([String], Int64)] = [
            (["edit", a, "--name", "a2", "--actor", "alice"], 100),
            (["deactivate", b, "--actor", "bob"], 200),
            (["revoke", "--yes", a, "--actor", "alice"], 300),
            (["revocations", "export", "--actor", "bob"], 400),
            (["keys", "rotate", "--actor", "alice"], 500),
            (["catalog", "add", "reports", "export", "--access", "read", "--actor", "bob"], 600),
        ]
        for (command, offset) in steps {
            let result = try await box.run(command, env: at(offset))
            try #require(result.exitCode == 0, "\(result)")
        }
        return History(box: box, a: a, b: b)
    }

    /// `log --json ARGS` as (action, actor, at, guids) rows, leaving out sigil's own setup events
    /// (their time is the wall clock's, not SIGIL_NOW).
    static func log(_ box: Sandbox, _ arguments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> [(action: String, actor: String, at: Int64, guids: [String])]
    {
        let result = try await box.run(["--json", "log"] + arguments)
        try #require(result.exitCode == 0, "\(result)", sourceLocation: sourceLocation)
        #expect(!result.stdout.contains("sgl_"), "an event holds a token text", sourceLocation: sourceLocation)
        return try result.jsonArray(sourceLocation: sourceLocation).compactMap { e in
            guard let actor = e["actor"] as? String, actor != "sigil" else { return nil }
            return (e["action"] as? String ?? "", actor, e["at"] as? Int64 ?? -1, e["guids"] as? [String] ?? [])
        }
    }

    @Test("log --json lists every change newest first, with its action, actor, time and GUIDs")
    func fullLog() async throws {
        let h = try await Self.history()
        let events = try await Self.log(h.box)
        #expect(
            events.map(\.action) == ["catalog", "keys", "export", "revoke", "deactivate", "edit", "issue", "issue"])
        #expect(events.map(\.actor) == ["bob", "alice", "bob", "alice", "bob", "alice", "bob", "alice"])
        #expect(events.map(\.at) == [600, 500, 400, 300, 200, 100, 10, 0].map { History.t0 + $0 })
        #expect(events.map(\.guids) == [[], [], [], [h.a], [h.b], [h.a], [h.b], [h.a]])

        // The raw shape: exactly these keys, details an object; init's key creation is there too.
        let raw = try await h.box.run("--json", "log").jsonArray()
        for e in raw {
            #expect(Set(e.keys) == ["action", "actor", "at", "details", "guids"], "\(e)")
            #expect(e["details"] is [String: Any])
        }
        #expect(raw.last?["action"] as? String == "keys" && raw.last?["actor"] as? String == "sigil")
        #expect((raw.first?["details"] as? [String: Any])?.isEmpty == false, "catalog add says what it added")

        // Issued tokens are recorded by who issued them.
        #expect(try await h.box.show(h.a)["created_by"] as? String == "alice")
        #expect(try await h.box.show(h.b)["created_by"] as? String == "bob")

        let plain = try await h.box.run("log")
        #expect(plain.exitCode == 0, "\(plain)")
        #expect(plain.stdout.contains("ACTOR") && plain.stdout.contains("alice") && plain.stdout.contains("revoke"))
        #expect(!plain.stdout.contains("sgl_"))
        h.box.checkHygiene()
    }

    @Test("log filters: GUID or prefix, --actor, --action, --since, --limit")
    func filters() async throws {
        let h = try await Self.history()
        let aEvents = try await Self.log(h.box, [h.a])
        #expect(aEvents.map(\.action) == ["revoke", "edit", "issue"])
        #expect(aEvents.allSatisfy { $0.guids == [h.a] && $0.actor == "alice" })
        #expect(try await Self.log(h.box, [String(h.a.prefix(8))]).map(\.action) == ["revoke", "edit", "issue"])
        #expect(try await Self.log(h.box, [h.b]).map(\.action) == ["deactivate", "issue"])

        let bob = try await Self.log(h.box, ["--actor", "bob"])
        #expect(bob.map(\.action) == ["catalog", "export", "deactivate", "issue"])
        #expect(try await Self.log(h.box, ["--actor", "carol"]).isEmpty)
        #expect(try await Self.log(h.box, ["--action", "revoke"]).map(\.guids) == [[h.a]])
        #expect(try await Self.log(h.box, ["--action", "issue", "--actor", "bob"]).map(\.guids) == [[h.b]])
        #expect(try await Self.log(h.box, ["--action", "keys"]).map(\.actor) == ["alice"])

        // 2027-01-15T08:04:10Z is t0 + 250 s.
        let since = try await Self.log(h.box, ["--since", "2027-01-15T08:04:10Z"])
        #expect(since.map(\.action) == ["catalog", "keys", "export", "revoke"])
        #expect(try await Self.log(h.box, ["--since", "2027-01-16"]).isEmpty)

        let limited = try await h.box.run("--json", "log", "--limit", "2").jsonArray()
        #expect(limited.compactMap { $0["action"] as? String } == ["catalog", "keys"])

        // A deleted token's history stays readable by its whole GUID.
        #expect(try await h.box.run("delete", "--yes", h.b).exitCode == 0)
        #expect(try await Self.log(h.box, [h.b]).map(\.action) == ["delete", "deactivate", "issue"])
        #expect(try await h.box.run("log", "00000000-0000-4000-8000-000000000000").exitCode == 0)
    }

    @Test(
        "log refuses bad filters (64)",
        arguments: [
            ["--actor", "bad name"], ["--actor", ""], ["--actor", "x\u{1b}[2J"],
            ["--actor", String(repeating: "a", count: 262)],
            ["--action", "nope"], ["--since", "yesterday-ish"], ["--limit", "0"], ["--limit", "100001"], ["1234567"],
        ])
    func badFilters(arguments: [String]) async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let result = try await box.run(["log"] + arguments)
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stdout.isEmpty)
    }

    @Test(
        "A bad --actor on a changing command is 64 and changes nothing",
        arguments: [
            ["issue", "--name", "x", "--audience", "billing", "--all"], ["revoke", "--yes", "GUID"],
            ["deactivate", "GUID"],
            ["revocations", "export"], ["keys", "rotate"], ["catalog", "add", "a", "b", "--access", "read"],
            ["ledger", "compact"], ["edit", "GUID", "--name", "y"],
        ])
    func badActor(command: [String]) async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue()
        let before = try LedgerFixture.snapshot(home: box.home)
        for actor in ["bad name", "x\u{1b}[31m", "", "ünïcode"] {
            let result = try await box.run(command.map { $0 == "GUID" ? guid : $0 } + ["--actor", actor])
            #expect(result.exitCode == 64, "\(result)")
            #expect(!result.stdout.contains("sgl_"))
        }
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "nothing changed")
    }
}
