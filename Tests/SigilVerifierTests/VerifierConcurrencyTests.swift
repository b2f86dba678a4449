import Foundation
import SigilIssuer
import SigilVerifier
import Synchronization
import Testing

/// One shared ``Verifier`` (its ``KeyedHMAC`` states are read-only, copied per call) and the
/// ``ThreadSlots`` behind the revocation store, used from more threads than there are slots.
///
/// Swift tasks run on as many threads as there are cores (2 here), so the task test checks
/// correctness under interleaving; the thread tests put 32 or 48 OS threads on the same
/// state, so with 16 slots several threads share each home slot (the overflow path).
@Suite("Verifier under concurrency")
struct VerifierConcurrencyTests {
    static let taskCount = 64
    static let threadCount = 32
    static let iterations = 200

    struct Fixture: Sendable {
        let verifier: Verifier
        let tokens: [(token: String, id: TokenID)]
        let forged: String

        init() throws {
            verifier = try TestKeys.verifier(keys: [("k1", TestKeys.masterSecret), ("k2", TestKeys.otherMasterSecret)])
            let ids = [TestKeys.id1, TestKeys.id2, TestKeys.id3]
            var tokens: [(String, TokenID)] = []
            for (i, id) in ids.enumerated() {
                let kid = i % 2 == 0 ? "k1" : "k2"
                let secret = i % 2 == 0 ? TestKeys.masterSecret : TestKeys.otherMasterSecret
                let scope: Scope = i == 2 ? .custom(TestKeys.pairs256) : .all
                tokens.append(
                    (try TestKeys.mint(try TestKeys.claims(keyID: kid, id: id, scope: scope), secret: secret), id))
            }
            self.tokens = tokens
            forged = try TestKeys.mint(try TestKeys.claims(keyID: "k1"), secret: TestKeys.otherMasterSecret)
        }

        /// Runs `iterations` verifies of every token and returns how many gave a wrong answer.
        func run(_ seed: Int) -> Int {
            var wrong = 0
            for i in 0..<VerifierConcurrencyTests.iterations {
                let (token, id) = tokens[(seed + i) % tokens.count]
                do {
                    if try verifier.verify(token, at: TestKeys.now).id != id { wrong += 1 }
                } catch {
                    wrong += 1
                }
                do {
                    _ = try verifier.verify(forged, at: TestKeys.now)
                    wrong += 1
                } catch {
                    if error.reason != .badSignature { wrong += 1 }
                }
            }
            return wrong
        }
    }

    @Test("64 tasks verifying with one verifier all get the right answers")
    func tasks() async throws {
        let fixture = try Fixture()
        let wrong = await withTaskGroup(of: Int.self) { group in
            for seed in 0..<Self.taskCount { group.addTask { fixture.run(seed) } }
            return await group.reduce(0, +)
        }
        #expect(wrong == 0)
    }

    @Test("32 OS threads verifying with one verifier all get the right answers")
    func threads() throws {
        let fixture = try Fixture()
        let finished = DispatchGroup()
        let wrongBox = Counter()
        for seed in 0..<Self.threadCount {
            finished.enter()
            let thread = Thread {
                wrongBox.add(fixture.run(seed))
                finished.leave()
            }
            thread.start()
        }
        finished.wait()
        #expect(wrongBox.value == 0)
    }

    @Test("KeyedHMAC from 32 threads matches one-shot HMAC for every message")
    func keyedHMACThreads() throws {
        let key = try TestKeys.audienceKey()
        let mac = try #require(KeyedHMAC(key: key))
        let messages: [[UInt8]] = (0..<64).map { n in (0..<(n * 7)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) } }
        let expected = try messages.map { try #require(hmacSHA256(key: key, message: $0)) }
        let box = Counter()
        let finished = DispatchGroup()
        for t in 0..<Self.threadCount {
            finished.enter()
            Thread {
                var wrong = 0
                for i in 0..<2_000 {
                    let n = (t &* 7 &+ i) % messages.count
                    var out = [UInt8](repeating: 0, count: 32)
                    let ok = messages[n].withUnsafeBytes { m in
                        out.withUnsafeMutableBytes { mac.authenticate(m, into: $0) }
                    }
                    if !ok || out != expected[n] { wrong += 1 }
                }
                box.add(wrong)
                finished.leave()
            }.start()
        }
        finished.wait()
        #expect(box.value == 0)
    }

    @Test("48 OS threads on 16 slots: homes are shared and every update is kept")
    func slotsOverflow() throws {
        let threads = 3 * ThreadSlots<Int>.count
        let slots = ThreadSlots<Int> { _ in 0 }
        let finished = DispatchGroup()
        for _ in 0..<threads {
            finished.enter()
            Thread {
                // A read-modify-write that loses updates unless the slot's mutex is held.
                for _ in 0..<1_000 { slots.withHome { $0 = $0 &+ 1 } }
                finished.leave()
            }.start()
        }
        finished.wait()
        var total = 0
        var used = 0
        slots.forEach { value in
            total += value
            if value > 0 { used += 1 }
        }
        #expect(total == threads * 1_000)
        #expect(used > 1)  // homes are handed out round-robin, so threads spread out
    }

    @Test("48 OS threads verifying while lists are swapped never see a list go backwards")
    func storeOverflowWhileReloading() throws {
        let store = RevocationStore(keys: [try TestKeys.revocationKey()])
        let verifier = try TestKeys.verifier(revocations: store)
        let token = try TestKeys.mint(try TestKeys.claims(id: TestKeys.id1))
        // Odd sequences revoke id1, even ones do not.
        let lists = try (1...40).map { n in
            try buildList(n % 2 == 1 ? [(TestKeys.id1, .revoked)] : [], sequence: UInt64(n))
        }
        let threads = 3 * ThreadSlots<Int>.count
        let wrong = Counter()
        let started = DispatchGroup()
        let finished = DispatchGroup()
        let done = Atomic<Bool>(false)
        for _ in 0..<threads {
            started.enter()
            finished.enter()
            Thread {
                started.leave()
                var last: UInt64 = 0
                var bad = 0
                repeat {
                    let sequence = store.list.sequence
                    if sequence < last { bad += 1 }
                    last = sequence
                    do throws(VerificationError) {
                        _ = try verifier.verify(token, at: TestKeys.now)
                    } catch {
                        if error.reason != .revoked { bad += 1 }
                    }
                } while !done.load(ordering: .relaxed)
                wrong.add(bad)
                finished.leave()
            }.start()
        }
        started.wait()
        for list in lists { try store.load(bytes: list) }
        done.store(true, ordering: .relaxed)
        finished.wait()
        #expect(wrong.value == 0)
        #expect(store.list.sequence == 40)
    }

    final class Counter: Sendable {
        private let wrong = Atomic<Int>(0)
        func add(_ n: Int) { wrong.add(n, ordering: .relaxed) }
        var value: Int { wrong.load(ordering: .relaxed) }
    }
}
