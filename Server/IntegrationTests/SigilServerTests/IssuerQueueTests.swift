import Foundation
import SigilIssuer
import SigilServer
import SigilVerifier
import Synchronization
import Testing

/// The server's connections (issue #22 items 1, 2 and 8): one writer that commits waiting
/// writes together, a pool of readers, and waits that end when their task is cancelled.
@Suite("The issuer queue")
struct IssuerQueueTests {
    let root: String
    let home: String
    let org: Caller

    init() throws {
        root = FileManager.default.temporaryDirectory.path + "/sigil-queue-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        home = root + "/home"
        let issuer = try Issuer(home: home, mode: .createIfMissing)
        let token = try issuer.issue(
            IssueRequest(name: "organization", audience: "sigil", scope: .all, expiry: .after(86_400)),
            by: try Actor(name: "tests")
        ).token
        org = try issuer.authenticate(token)
    }

    func request(_ name: String) -> IssueRequest {
        IssueRequest(name: name, audience: "billing", scope: .all, expiry: .after(3_600))
    }

    /// Holds the writer until `release` is called, and says when it has it.
    final class Gate: Sendable {
        let entered = Atomic(false)
        let open = Atomic(false)
        func hold() {
            entered.store(true, ordering: .releasing)
            while !open.load(ordering: .acquiring) { usleep(1_000) }
        }
        func waitUntilHeld() async {
            while !entered.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(5)) }
        }
    }

    final class Flag: Sendable {
        private let raised = Atomic(false)
        var isRaised: Bool { raised.load(ordering: .acquiring) }
        func raise() { raised.store(true, ordering: .releasing) }
    }

    @Test("Writes that wait for the writer commit in one transaction, each answered after it")
    func grouped() async throws {
        let queue = try IssuerQueue(home: home, readers: 2)
        let gate = Gate()
        let caller = org
        async let first: Void = queue.write { _ in gate.hold() }
        await gate.waitUntilHeld()
        let before = queue.writerCounts
        let ids = try await withThrowingTaskGroup(of: TokenID.self) { group in
            for i in 0..<20 {
                group.addTask { try await queue.write { try $0.issue(self.request("t\(i)"), as: caller).record.id } }
            }
            // Every write is waiting behind the gate before it opens.
            try await Task.sleep(for: .milliseconds(300))
            gate.open.store(true, ordering: .releasing)
            var ids: [TokenID] = []
            for try await id in group { ids.append(id) }
            return ids
        }
        try await first
        let after = queue.writerCounts
        #expect(Set(ids).count == 20)
        #expect(after.writes - before.writes == 20)
        #expect(
            after.transactions - before.transactions == 1,
            "20 waiting writes took \(after.transactions - before.transactions) commits")
        let stored = try await queue.read { issuer in try ids.map { try issuer.token($0.description, as: caller).id } }
        #expect(Set(stored) == Set(ids))
    }

    @Test("A refused write in a group is refused alone; the others are kept")
    func refusedAlone() async throws {
        let queue = try IssuerQueue(home: home, readers: 2)
        let gate = Gate()
        let caller = org
        async let first: Void = queue.write { _ in gate.hold() }
        await gate.waitUntilHeld()
        async let good = queue.write { try $0.issue(self.request("good"), as: caller).record.id }
        let bad = Task {
            try await queue.write {
                try $0.issue(IssueRequest(name: "bad", audience: "Not An Audience", scope: .all), as: caller)
            }
        }
        async let alsoGood = queue.write { try $0.issue(self.request("also good"), as: caller).record.id }
        try await Task.sleep(for: .milliseconds(200))
        gate.open.store(true, ordering: .releasing)
        try await first
        let kept = [try await good, try await alsoGood]
        await #expect(throws: IssuerError.self) { _ = try await bad.value }
        let names = try await queue.read { issuer in try kept.map { try issuer.token($0.description, as: caller).name }
        }
        #expect(names == ["good", "also good"])
    }

    @Test("A write cancelled while it waits is answered at once and never runs")
    func cancelledWrite() async throws {
        let queue = try IssuerQueue(home: home, readers: 2)
        let gate = Gate()
        let ran = Flag()
        async let first: Void = queue.write { _ in gate.hold() }
        await gate.waitUntilHeld()
        let waiting = Task { try await queue.write { _ in ran.raise() } }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        gate.open.store(true, ordering: .releasing)
        try await first
        // The writer has drained; the cancelled write was taken out before it.
        try await queue.write { _ in }
        #expect(!ran.isRaised)
    }

    @Test("Listings never take the last free reader: a read passes while they queue")
    func lastReaderIsForReads() async throws {
        let queue = try IssuerQueue(home: home, readers: 2, maxQueriesPerCaller: 10)
        let gate = Gate()
        let caller = org
        let slow = Task { try await queue.query(as: caller) { _ in gate.hold() } }
        await gate.waitUntilHeld()
        // One reader is free: a second listing must wait for it, a read must not.
        let order = Mutex<[String]>([])
        let listing = Task {
            try await queue.query(as: caller) { _ in order.withLock { $0.append("listing") } }
        }
        try await Task.sleep(for: .milliseconds(100))
        try await queue.read { _ in order.withLock { $0.append("read") } }
        #expect(order.withLock { $0 } == ["read"])
        // A waiting listing is cancellable.
        listing.cancel()
        await #expect(throws: CancellationError.self) { try await listing.value }
        gate.open.store(true, ordering: .releasing)
        try await slow.value
        try await queue.query(as: caller) { _ in order.withLock { $0.append("after") } }
        #expect(order.withLock { $0 } == ["read", "after"])
    }

    final class Counts: Sendable {
        let state = Mutex((inside: 0, most: 0))
    }

    @Test("Reads run at once on separate connections")
    func readsInParallel() async throws {
        let queue = try IssuerQueue(home: home, readers: 4)
        let counts = Counts()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await queue.read { _ in
                        counts.state.withLock {
                            $0.inside += 1
                            $0.most = max($0.most, $0.inside)
                        }
                        usleep(200_000)
                        counts.state.withLock { $0.inside -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(counts.state.withLock { $0.most } >= 2)
    }
}
