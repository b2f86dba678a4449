import Foundation
import SigilIssuer
import SigilVerifier
import Synchronization
import Testing

/// One shared ``Verifier`` (and its ``KeyedHMAC`` pool of 16 contexts) used from more callers
/// than the pool has slots.
///
/// Swift tasks run on as many threads as there are cores (2 here), so the task test checks
/// correctness under interleaving, and the thread test puts 32 OS threads on the same
/// contexts so that slots are claimed concurrently. Whether all 16 slots are ever busy at
/// once (the overflow path) depends on the scheduler; no test hook forces it.
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
        #expect(KeyedHMAC.slotCount == 16)
    }

    final class Counter: Sendable {
        private let wrong = Atomic<Int>(0)
        func add(_ n: Int) { wrong.add(n, ordering: .relaxed) }
        var value: Int { wrong.load(ordering: .relaxed) }
    }
}
