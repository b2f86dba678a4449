import Foundation
import SigilIssuer
import SigilTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Ledger database: concurrent writers, the write lock and compaction")
struct LedgerTests {
    @Test("8 concurrent sigil processes issuing and revoking lose nothing and duplicate nothing")
    func concurrentWriters() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let env = ["SIGIL_LOCK_TIMEOUT": "60"]
        // Each worker issues 10 tokens, one process each, then revokes its even-numbered ones in one run.
        let perWorker = try await withThrowingTaskGroup(of: (issued: [String], revoked: [String]).self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var issued: [String] = []
                    for i in 0..<10 {
                        let result = try await box.run(
                            ["--json", "issue", "--name", "w\(worker)-\(i)", "--audience", "billing", "--all"], env: env
                        )
                        try #require(result.exitCode == 0, "\(result)")
                        issued.append(try #require(try result.jsonObject()["guid"] as? String))
                    }
                    let toRevoke = issued.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
                    let revoke = try await box.run(
                        ["revoke", "--yes", "-"], stdin: toRevoke.joined(separator: "\n") + "\n", env: env)
                    try #require(revoke.exitCode == 0, "\(revoke)")
                    return (issued, toRevoke)
                }
            }
            var all: [(issued: [String], revoked: [String])] = []
            for try await result in group { all.append(result) }
            return all
        }
        let issued = perWorker.flatMap(\.issued)
        let revoked = Set(perWorker.flatMap(\.revoked))
        #expect(issued.count == 80 && Set(issued).count == 80)
        #expect(revoked.count == 40)

        let tokens = try await box.list()
        let guids = tokens.compactMap { $0["guid"] as? String }
        #expect(guids.count == 80, "every token listed once")
        #expect(Set(guids) == Set(issued))
        for token in tokens {
            let guid = token["guid"] as? String ?? ""
            #expect(token["status"] as? String == (revoked.contains(guid) ? "revoked" : "active"), "\(guid)")
        }
        // Each worker's tokens appear in the order that worker issued them.
        for worker in perWorker {
            let positions = worker.issued.compactMap { guids.firstIndex(of: $0) }
            #expect(positions == positions.sorted())
        }
        // One audit event per issue and per bulk revoke, each naming its tokens.
        let log = try await box.run("--json", "log", "--limit", "1000")
        #expect(log.exitCode == 0, "\(log)")
        let events = try log.jsonArray()
        let issues = events.filter { $0["action"] as? String == "issue" }
        let revokes = events.filter { $0["action"] as? String == "revoke" }
        #expect(issues.count == 80 && revokes.count == 8)
        #expect(Set(issues.flatMap { $0["guids"] as? [String] ?? [] }) == Set(issued))
        #expect(Set(revokes.flatMap { $0["guids"] as? [String] ?? [] }) == revoked)
        let export = try await box.exportRevocations()
        #expect(export["revoked"] as? Int == 40)
        box.checkHygiene()
    }

    @Test("8 sigil issue processes started at once all land: no lost change")
    func parallelIssues() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let env = ["SIGIL_LOCK_TIMEOUT": "60"]
        let guids = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 {
                group.addTask {
                    let result = try await box.run(
                        ["--json", "issue", "--name", "p\(i)", "--audience", "billing", "--all"], env: env)
                    try #require(result.exitCode == 0, "\(result)")
                    return try #require(try result.jsonObject()["guid"] as? String)
                }
            }
            var all: [String] = []
            for try await guid in group { all.append(guid) }
            return all
        }
        #expect(Set(guids).count == 8)
        let listed = try await box.list()
        #expect(Set(listed.compactMap { $0["guid"] as? String }) == Set(guids))
        #expect(Set(listed.compactMap { $0["name"] as? String }) == Set((0..<8).map { "p\($0)" }))
        #expect(try await box.run("--json", "log", "--action", "issue").jsonArray().count == 8)
    }

    @Test("A held write lock makes a writer give up after SIGIL_LOCK_TIMEOUT with 75, naming the database")
    func lockBusy() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        _ = try await box.issue(name: "x")
        let before = try LedgerFixture.snapshot(home: box.home)
        let held = try HeldLock(home: box.home)
        defer { held.release() }
        let env = ["SIGIL_LOCK_TIMEOUT": "1"]
        let result = try await box.run(["issue", "--name", "y", "--audience", "billing", "--all"], env: env)
        let waited = result.elapsed
        #expect(result.exitCode == 75, "\(result)")
        #expect(result.stderr.contains("holds the database \(box.home)/sigil.db"), "\(result.stderr)")
        #expect(result.stderr.contains("waited 1"), "\(result.stderr)")
        #expect(result.stderr.contains("SIGIL_LOCK_TIMEOUT"))
        #expect(result.stdout.isEmpty, "no token without a ledger row")
        // It waited the 1 s asked for, not the default 5 s.
        #expect(waited >= .milliseconds(900), "waited \(waited)")
        #expect(waited < .milliseconds(4500), "waited \(waited)")
        let json = try await box.run(["--json", "issue", "--name", "y", "--audience", "billing", "--all"], env: env)
        #expect(json.exitCode == 75)
        #expect(try json.jsonObject()["error"] as? String == "lock_busy")
        // The error contract's code, as sigil-server's 503 body carries it (#21).
        #expect(try json.jsonObject()["code"] as? String == "lock_busy")
        for command in [
            ["revoke", "--yes", "--all-matching", "--name", "x"], ["revocations", "export"], ["keys", "rotate"],
            ["catalog", "add", "a", "b", "--access", "read"], ["ledger", "compact"],
            ["deactivate", "--yes", "--all-matching", "--name", "x"],
        ] {
            let r = try await box.run(command, env: env)
            #expect(r.exitCode == 75, "\(r)")
        }
        held.release()
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "nothing changed while the lock was held")
        #expect(try await box.run(["issue", "--name", "y", "--audience", "billing", "--all"], env: env).exitCode == 0)
    }

    @Test(
        "Readers do not wait for a writer's lock: WAL lets list and show read while a write is under way", )
    func readersDoNotWait() async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue(name: "x")
        let held = try HeldLock(home: box.home)
        defer { held.release() }
        let env = ["SIGIL_LOCK_TIMEOUT": "1"]
        for command in [["list"], ["show", guid], ["log"], ["catalog"], ["keys", "list"]] {
            let r = try await box.run(command, env: env)
            #expect(r.exitCode == 0, "\(r)")
        }
    }

    @Test("ledger compact drops tombstones past valid_to + 1 day, keeps every live token and the sequence")
    func compact() async throws {
        let box = try Sandbox()
        let (_, keep) = try await box.issue(name: "keep")
        let (_, gone) = try await box.issue(name: "gone", ["--all", "--expires-in", "1h"])
        let (_, deletedLong) = try await box.issue(name: "deleted long", ["--all", "--expires-in", "30d"])
        #expect(try await box.run("edit", keep, "--name", "kept").exitCode == 0)
        #expect(try await box.run("deactivate", keep).exitCode == 0)
        #expect(try await box.run("delete", "--yes", gone, deletedLong).exitCode == 0)
        try await box.exportRevocations()
        try await box.exportRevocations()
        let listed = try await box.list()

        // A day and an hour after "gone" expired: its tombstone is no longer needed.
        let later = ["SIGIL_NOW": String(Sandbox.defaultNow + 3600 + 86_400 + 3600)]
        // Too early: valid_to + 1 day has not passed yet, nothing is dropped.
        let early = try await box.run(
            ["--json", "ledger", "compact"], env: ["SIGIL_NOW": String(Sandbox.defaultNow + 7200)])
        #expect(early.exitCode == 0, "\(early)")
        #expect(try early.jsonObject()["records_before"] as? Int == 3)
        #expect(try early.jsonObject()["records_after"] as? Int == 3)

        let result = try await box.run(["--json", "ledger", "compact"], env: later)
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(o["records_before"] as? Int == 3)
        #expect(o["records_after"] as? Int == 2, "keep and deleted long")
        #expect(fileMode(box.home + "/sigil.db") == 0o600)
        let issuer = try Issuer(home: box.home)
        #expect(try issuer.store.db.integer("SELECT count(*) FROM tokens") == 2)
        let goneHex = gone.replacingOccurrences(of: "-", with: "")
        #expect(try issuer.store.db.integer("SELECT count(*) FROM tokens WHERE guid = x'\(goneHex)'") == 0)
        issuer.close()
        let after = try await box.list()
        #expect(after.count == listed.count)
        #expect(try canonicalJSON(after) == canonicalJSON(listed), "compaction changes no live token")
        // The export sequence survives compaction, and the deleted-long tombstone is still listed.
        let export = try await box.exportRevocations(env: later)
        #expect(export["sequence"] as? Int == 3)
        #expect(export["revoked"] as? Int == 1 && export["deactivated"] as? Int == 1)
        let plain = try await box.run(["ledger", "compact"], env: later)
        #expect(plain.exitCode == 0, "\(plain)")
        #expect(plain.stderr.contains("Compacted the ledger"), "\(plain.stderr)")
    }
}
