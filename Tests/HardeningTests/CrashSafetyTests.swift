import Foundation
import SigilIssuer
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

/// What one worker operation did.
struct Operation: Sendable {
    enum Kind: String, Sendable { case issue, edit, revoke, deactivate }
    let kind: Kind
    let guid: String?
    let name: String?
    let run: Run
    var succeeded: Bool { !run.signaled && run.status == 0 }
}

@Suite("Crash safety", .serialized)
struct CrashSafetyTests {
    static let workers = 8
    static let operations = 500

    static func run(_ arguments: [String], home: String, live: LiveProcesses) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Sigil.path)
                process.arguments = arguments
                process.environment = Sigil.environment(home: home, ["SIGIL_LOCK_TIMEOUT": "60"])
                let output = Pipe(), error = Pipe()
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = output
                process.standardError = error
                do { try process.run() } catch {
                    continuation.resume(throwing: error)
                    return
                }
                live.add(process.processIdentifier)
                let errData = Mutex(Data())
                let group = DispatchGroup()
                DispatchQueue.global().async(group: group) {
                    let data = (try? error.fileHandleForReading.readToEnd()) ?? Data()
                    errData.withLock { $0 = data }
                }
                let outData = (try? output.fileHandleForReading.readToEnd()) ?? Data()
                group.wait()
                process.waitUntilExit()
                live.remove(process.processIdentifier)
                continuation.resume(returning: Run(
                    arguments: arguments, status: process.terminationStatus,
                    signaled: process.terminationReason == .uncaughtSignal, stdout: Array(outData),
                    stderr: Array(errData.withLock { $0 })))
            }.start()
        }
    }

    @Test("8 processes, 500 mixed writes, random SIGKILLs: every reported change is in the ledger once")
    func concurrentKills() async throws {
        let scratch = try Scratch("crash")
        let home = try Home(in: scratch)
        // Targets for edit/revoke/deactivate, issued with the library.
        var targets: [String] = [home.guid.description]
        var records: [JournalRecord] = []
        for _ in 0..<15 {
            let claims = try Known.claims(id: TokenMinter.newTokenID())
            records.append(JournalRecord(op: .issue, at: Sigil.now, token: TokenRecord(claims: claims, name: "target", description: "", createdBy: "t", now: Sigil.now)))
            targets.append(claims.id.description)
        }
        try Ledger(home: home.path).append(records)
        let live = LiveProcesses()
        let targetList = targets
        let done = Atomic<Bool>(false)
        let killed = Atomic<Int>(0)
        let started = ContinuousClock.now

        let killer = Task.detached {
            while !done.load(ordering: .relaxed) {
                try? await Task.sleep(for: .milliseconds(Int.random(in: 40...200)))
                if let pid = live.random(), kill(pid, SIGKILL) == 0 { killed.add(1, ordering: .relaxed) }
            }
        }
        let results = try await withThrowingTaskGroup(of: [Operation].self) { group in
            for w in 0..<Self.workers {
                group.addTask {
                    var ops: [Operation] = []
                    let count = Self.operations / Self.workers + (w < Self.operations % Self.workers ? 1 : 0)
                    for i in 0..<count {
                        let target = targetList.randomElement() ?? targetList[0]
                        let kind: Operation.Kind = [.issue, .issue, .edit, .revoke, .deactivate].randomElement() ?? .issue
                        switch kind {
                        case .issue:
                            let name = "w\(w)-\(i)"
                            let run = try await Self.run(
                                ["--json", "issue", "--name", name, "--audience", "billing", "--all"], home: home.path, live: live)
                            let guid = (try? JSONSerialization.jsonObject(with: Data(run.stdout)) as? [String: Any])?["guid"] as? String
                            ops.append(Operation(kind: kind, guid: guid, name: name, run: run))
                        case .edit:
                            let name = "edit-w\(w)-\(i)"
                            let run = try await Self.run(["edit", target, "--name", name], home: home.path, live: live)
                            ops.append(Operation(kind: kind, guid: target, name: name, run: run))
                        case .revoke:
                            let run = try await Self.run(["revoke", "--yes", target], home: home.path, live: live)
                            ops.append(Operation(kind: kind, guid: target, name: nil, run: run))
                        case .deactivate:
                            let run = try await Self.run(["deactivate", target], home: home.path, live: live)
                            ops.append(Operation(kind: kind, guid: target, name: nil, run: run))
                        }
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

        #expect(results.count == Self.operations)
        #expect(killed.load(ordering: .relaxed) > 0, "the killer killed nothing")
        for op in results where !op.succeeded && !op.run.signaled {
            // A survivor may fail only in the documented ways (a revoked target cannot be deactivated).
            #expect(op.run.status == 65 && op.run.err.contains("revoked"), "\(op.run)")
        }

        // The ledger loads, and holds every reported change exactly once.
        let state = try Ledger(home: home.path).load()
        let bytes = FileManager.default.contents(atPath: home.path + "/ledger.jsonl").map(Array.init) ?? []
        var journal: [JournalRecord] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0a {
            let line = Array(bytes[start..<i])
            let record = line.withUnsafeBufferPointer { JournalCodec.decode($0) }
            if let record { journal.append(record) }
            start = i + 1
        }
        var issued: [String: Int] = [:]
        var editNames: [String: Int] = [:]
        for record in journal {
            if record.op == .issue, let t = record.token { issued[t.id.description, default: 0] += 1 }
            if record.op == .edit, let name = record.name { editNames[name, default: 0] += 1 }
        }
        #expect(issued.values.allSatisfy { $0 == 1 }, "an issue record is duplicated")
        #expect(editNames.values.allSatisfy { $0 == 1 }, "an edit record is duplicated")
        for op in results where op.succeeded {
            switch op.kind {
            case .issue:
                let guid = try #require(op.guid, "\(op.run)")
                let id = try #require(TokenID(uuidString: guid))
                #expect(issued[guid] == 1 && state.tokens[id]?.name == op.name, "issued \(guid) is missing")
            case .edit:
                #expect(editNames[op.name ?? ""] == 1, "edit \(op.name ?? "") is missing")
            case .revoke:
                let id = try #require(TokenID(uuidString: op.guid ?? ""))
                #expect(state.tokens[id]?.status == .revoked, "revoked \(id) is not revoked")
            case .deactivate:
                let id = try #require(TokenID(uuidString: op.guid ?? ""))
                #expect(state.tokens[id]?.status != .active, "deactivated \(id) is active")
            }
        }

        // The exported list verifies and names every revoked and deactivated token.
        let export = try await home.run(["revocations", "export", "-o", scratch.path("list.sgl")])
        #expect(export.status == 0, "\(export)")
        let list = try RevocationList(
            verifying: FileManager.default.contents(atPath: scratch.path("list.sgl")).map(Array.init) ?? [],
            keys: [Known.revocationKey])
        for token in state.tokens.values {
            switch token.status {
            case .active: #expect(list.status(of: token.id) == nil)
            case .inactive: #expect(list.status(of: token.id) == .deactivated)
            case .revoked: #expect(list.status(of: token.id) == .revoked)
            }
        }
        #expect(elapsed < .seconds(120), "took \(elapsed)")
        print("crash safety: \(results.filter(\.succeeded).count) of \(results.count) succeeded, \(killed.load(ordering: .relaxed)) SIGKILLs, \(elapsed)")
    }
}
