import Foundation
import SigilServer
import Testing

/// Waits (yielding, bounded) until `condition` holds: the broadcaster's waiters register from
/// other tasks, and its count is the event to await.
func eventually(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition(), ContinuousClock.now < deadline { await Task.yield() }
    #expect(condition(), "the condition did not hold within 10 s", sourceLocation: sourceLocation)
}

@Suite("The revocation broadcaster wakes exactly the long polls a new list answers")
struct BroadcasterTests {
    static let long = Duration.seconds(600)

    func list(_ sequence: UInt64) -> PublishedList { PublishedList(sequence: sequence, bytes: [UInt8(sequence)]) }

    @Test("A publish wakes waiters holding older sequences only; an equal or older one wakes nobody")
    func publishWakesOlder() async throws {
        let broadcaster = RevocationBroadcaster()
        broadcaster.publish(list(1))
        let old = Task { await broadcaster.wait(newerThan: 1, timeout: Self.long) }
        let ahead = Task { await broadcaster.wait(newerThan: 5, timeout: Self.long) }
        await eventually { broadcaster.waiterCount == 2 }
        broadcaster.publish(list(1))
        broadcaster.publish(list(0))
        #expect(broadcaster.waiterCount == 2, "an equal or older sequence wakes nobody")
        #expect(broadcaster.sequence == 1)
        broadcaster.publish(list(3))
        await old.value
        #expect(broadcaster.waiterCount == 1, "the waiter holding 5 still waits")
        #expect(broadcaster.current?.sequence == 3)
        broadcaster.publish(list(6))
        await ahead.value
        #expect(broadcaster.waiterCount == 0)
    }

    @Test("A wait for a sequence older than the current returns at once")
    func alreadyNewer() async {
        let broadcaster = RevocationBroadcaster()
        broadcaster.publish(list(4))
        await broadcaster.wait(newerThan: 3, timeout: Self.long)
        #expect(broadcaster.waiterCount == 0)
    }

    @Test("Close wakes every waiter, counts them, and later waits return at once")
    func closeWakesAll() async {
        let broadcaster = RevocationBroadcaster()
        broadcaster.publish(list(2))
        let waiters = (0..<3).map { n in Task { await broadcaster.wait(newerThan: UInt64(2 + n), timeout: Self.long) } }
        await eventually { broadcaster.waiterCount == 3 }
        broadcaster.close()
        for waiter in waiters { await waiter.value }
        #expect(broadcaster.waiterCount == 0)
        #expect(broadcaster.waitingAtClose == 3)
        await broadcaster.wait(newerThan: 9, timeout: Self.long)
        #expect(broadcaster.waitingAtClose == 3, "counted once")
    }

    @Test("Cancelling a wait removes its waiter; the others keep waiting")
    func cancellationRemoves() async {
        let broadcaster = RevocationBroadcaster()
        broadcaster.publish(list(1))
        let cancelled = Task { await broadcaster.wait(newerThan: 1, timeout: Self.long) }
        let kept = Task { await broadcaster.wait(newerThan: 1, timeout: Self.long) }
        await eventually { broadcaster.waiterCount == 2 }
        cancelled.cancel()
        await cancelled.value
        #expect(broadcaster.waiterCount == 1)
        broadcaster.publish(list(2))
        await kept.value
        #expect(broadcaster.waiterCount == 0)
    }

    @Test("A wait ends at its timeout")
    func timeout() async {
        let broadcaster = RevocationBroadcaster()
        broadcaster.publish(list(1))
        await broadcaster.wait(newerThan: 1, timeout: .milliseconds(10))
        #expect(broadcaster.waiterCount == 0)
    }
}
