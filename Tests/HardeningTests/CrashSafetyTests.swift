import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Processes started by the crash test, so a killer task can pick one to SIGKILL.
final class LiveProcesses: Sendable {
    private let pids = Mutex<Set<Int32>>([])
    func add(_ pid: Int32) { pids.withLock { _ = $0.insert(pid) } }
    func remove(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }
    func random() -> Int32? { pids.withLock { $0.randomElement() } }
}

/// How many operations the workers have started.
final class OperationCount: Sendable {
    private let started = Atomic<Int>(0)
    func add() { started.add(1, ordering: .relaxed) }
    var value: Int { started.load(ordering: .relaxed) }
}

/// What one worker operation did, and when it ran.
struct Operation: Sendable {
    enum Kind: String, Sendable { case issue, revoke, deactivate, export }
    let kind: Kind
    let guid: String?
    let name: String?
    let run: CommandResult
    let started: ContinuousClock.Instant
    let ended: ContinuousClock.Instant
    var succeeded: Bool { !run.signaled && run.status == 0 }

    /// What `--json` printed, for the commands that print an object.
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [String: Any] }
}

@Suite("Crash safety", .serialized)
struct CrashSafetyTests {
    static let workers = 8
    static let storm: Duration = .seconds(10)
    /// On a loaded machine 10 s may fit few runs: go on until this many, within `hardStop`.
    static let minimumOperations = 48
    static let hardStop: Duration = .seconds(90)

    static func run(_ arguments: [String], home: String, live: LiveProcesses) async throws -> CommandResult {
        let child = ChildProcess(
            SigilBinary.path, arguments, environment: Sigil.environment(home: home, ["SIGIL_LOCK_TIMEOUT": "60"]),
            stdin: .nullDevice, onSpawn: live.add, onExit: live.remove)
        return CommandResult(try await child.run(), arguments: arguments)
    }

    @Test("8 processes issue, revoke, deactivate and export under a SIGKILL storm: every reported change is there once")
    func sigkillStorm() async throws {
        let scratch = try TempFolder("crash")
        let home = try Home(in: scratch)
        // Targets for revoke and deactivate, stored with the library.
        var targets: [String] = [home.guid.description]
        var records: [TokenRecord] = []
        for _ in 0..<15 {
            let claims = try Known.claims(id: TokenMinter.newTokenID())
            records.append(TokenRecord(claims: claims, name: "target", description: "", createdBy: "t", now: Sigil.now))
            targets.append(claims.id.description)
        }
        try Home.withIssuer(home.path) { try $0.insertForTesting(records) }
        let live = LiveProcesses()
        let targetList = targets
        let done = Atomic<Bool>(false)
        let killed = Atomic<Int>(0)
        let started = ContinuousClock.now
        let deadline = started + Self.storm
        let stop = started + Self.hardStop
        let count = OperationCount()

        let killer = Task.detached {
            while !done.load(ordering: .relaxed) {
                try? await Task.sleep(for: .milliseconds(Int.random(in: 20...150)))
                if let pid = live.random(), kill(pid, SIGKILL) == 0 { killed.add(1, ordering: .relaxed) }
            }
        }
        let results = try await withThrowingTaskGroup(of: [Operation].self) { group in
            for w in 0..<Self.workers {
                group.addTask {
                    var ops: [Operation] = []
                    var i = 0
                    while ContinuousClock.now < stop,
                        ContinuousClock.now < deadline || count.value < Self.minimumOperations
                    {
                        count.add()
                        i += 1
                        let target = targetList.randomElement() ?? targetList[0]
                        let kind: Operation.Kind =
                            [.issue, .issue, .revoke, .deactivate, .export].randomElement() ?? .issue
                        let arguments: [String]
                        var name: String? = nil
                        var guid: String? = target
                        switch kind {
                        case .issue:
                            name = "w\(w)-\(i)"
                            guid = nil
                            arguments = ["--json", "issue", "--name", name!, "--audience", "billing", "--all"]
                        case .revoke: arguments = ["--json", "revoke", "--yes", target]
                        case .deactivate: arguments = ["--json", "deactivate", target]
                        case .export: arguments = ["--json", "revocations", "export"]
                        }
                        let begin = ContinuousClock.now
                        let run = try await Self.run(arguments, home: home.path, live: live)
                        if kind == .issue {
                            guid =
                                (try? JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [String: Any])?[
                                    "guid"]
                                as? String
                        }
                        ops.append(Operation(kind: kind, guid: guid, name: name, run: run, started: begin, ended: .now))
                    }
                    return ops
                }
            }
            var all: [Operation] = []
            for try await part in group { all += part }
            return all
        }
        done.store(true, ordering: .relaxed)
        await killer.value
        let elapsed = ContinuousClock.now - started

        #expect(killed.load(ordering: .relaxed) > 0, "the killer killed nothing")
        #expect(results.contains { $0.succeeded }, "nothing succeeded")
        for op in results where !op.succeeded && !op.run.signaled {
            // A survivor may fail only in the documented way: a revoked target cannot be deactivated.
            #expect(op.kind == .deactivate && op.run.status == 65 && op.run.stderr.contains("revoked"), "\(op.run)")
        }

        // The database is sound.
        let (integrity, dangling) = try Home.withIssuer(home.path) { issuer in
            (
                try issuer.store.db.text("PRAGMA integrity_check"),
                try issuer.store.db.integer("SELECT count(*) FROM pragma_foreign_key_check")
            )
        }
        #expect(integrity == "ok")
        #expect(dangling == 0)

        // Every token once, and every reported change in it.
        let (listRun, listJSON) = try await home.json(["list"])
        #expect(listRun.status == 0, "\(listRun)")
        let tokens = try #require(listJSON as? [[String: Any]], "\(listRun)")
        var byGUID: [String: [String: Any]] = [:]
        for t in tokens {
            let guid = try #require(t["guid"] as? String)
            #expect(byGUID[guid] == nil, "\(guid) is listed twice")
            byGUID[guid] = t
        }
        for op in results where op.succeeded {
            switch op.kind {
            case .issue:
                let guid = try #require(op.guid, "issue reported success without a GUID: \(op.run)")
                #expect(byGUID[guid]?["name"] as? String == op.name, "issued \(guid) is missing")
            case .revoke:
                #expect(
                    byGUID[op.guid ?? ""]?["status"] as? String == "revoked", "revoked \(op.guid ?? "") is not revoked")
            case .deactivate:
                #expect(
                    byGUID[op.guid ?? ""]?["status"] as? String != "active", "deactivated \(op.guid ?? "") is active")
            case .export: break
            }
        }
        // One issue event per issued token, never doubled by a retry or a torn commit.
        let (logRun, logJSON) = try await home.json(["log", "--action", "issue", "--limit", "100000"])
        #expect(logRun.status == 0, "\(logRun)")
        var issueEvents: [String: Int] = [:]
        for event in (logJSON as? [[String: Any]]) ?? [] {
            for guid in event["guids"] as? [String] ?? [] { issueEvents[guid, default: 0] += 1 }
        }
        #expect(
            issueEvents.values.allSatisfy { $0 == 1 },
            "an issue event is doubled: \(issueEvents.filter { $0.value > 1 })")
        for guid in issueEvents.keys {
            #expect(byGUID[guid] != nil, "an issue event names \(guid), which is not in the ledger")
        }
        for op in results where op.succeeded && op.kind == .issue { #expect(issueEvents[op.guid ?? ""] == 1) }

        // Exports: each above every export that had finished before it started; the next above all.
        let exports = results.filter { $0.succeeded && $0.kind == .export }.map {
            (($0.json?["sequence"] as? NSNumber)?.uint64Value ?? 0, $0.started, $0.ended)
        }
        #expect(Set(exports.map(\.0)).count == exports.count, "two exports signed the same sequence")
        for a in exports {
            for b in exports where a.2 < b.1 { #expect(a.0 < b.0, "export #\(b.0) started after #\(a.0) had finished") }
        }
        let listPath = scratch.path("final.sgl")
        let (export, exportJSON) = try await home.json(["revocations", "export", "-o", listPath])
        #expect(export.status == 0, "\(export)")
        let finalSequence = ((exportJSON as? [String: Any])?["sequence"] as? NSNumber)?.uint64Value ?? 0
        #expect(exports.allSatisfy { $0.0 < finalSequence }, "the sequence went backwards after the storm")
        let show = try await home.run(["revocations", "show", listPath])
        #expect(show.status == 0, "\(show)")
        let list = try RevocationList(verifying: readFile(listPath) ?? [], keys: [Known.revocationKey])
        for (guid, token) in byGUID {
            let id = try #require(TokenID(uuidString: guid))
            switch token["status"] as? String {
            case "active": #expect(list.status(of: id) == nil)
            case "inactive": #expect(list.status(of: id) == .deactivated)
            default: #expect(list.status(of: id) == .revoked)
            }
        }
        #expect(elapsed < .seconds(120), "took \(elapsed)")
        print(
            "crash safety: \(results.filter(\.succeeded).count) of \(results.count) succeeded, \(killed.load(ordering: .relaxed)) SIGKILLs, \(exports.count) exports, \(elapsed)"
        )
    }
}
