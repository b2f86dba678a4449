import Foundation
import SigilIssuer
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Revocation watcher")
struct RevocationWatcherTests {
    /// A fresh temporary directory, removed when the test ends.
    final class TemporaryDirectory {
        let path: String

        init() throws {
            var template = Array((NSTemporaryDirectory() + "/sigil-test-only-XXXXXX").utf8CString)
            let made = template.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress.flatMap { mkdtemp($0) } != nil
            }
            try #require(made)
            path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Writes `bytes` to a temporary name, then renames it over `name` (an atomic replace).
        func replace(_ name: String, with bytes: [UInt8]) throws {
            let temporary = path + "/." + name + ".tmp"
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            try #require(rename(temporary, path + "/" + name) == 0)
        }
    }

    @Test("poll() picks up atomic replacements, ignores unchanged files and keeps the old list on bad ones")
    func poll() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/revocations.sgl"
        let log = EventLog()
        let store = RevocationStore(keys: [try TestKeys.revocationKey()], onEvent: log.handler)
        let watcher = RevocationWatcher(path: path, store: store, interval: .seconds(3600))
        #expect(watcher.path == path)

        // No file yet: nothing happens.
        #expect(!watcher.poll())
        #expect(log.all.isEmpty)

        let first = try buildList([(TestKeys.id1, .revoked)], sequence: 1)
        try directory.replace("revocations.sgl", with: first)
        #expect(watcher.poll())
        #expect(store.list.sequence == 1)
        #expect(store.status(of: TestKeys.id1) == .revoked)

        // Unchanged file: not even read (no event).
        #expect(!watcher.poll())
        #expect(!watcher.poll())
        #expect(log.all == ["loaded(1,1)"])

        let second = try buildList([(TestKeys.id2, .deactivated)], sequence: 2)
        try directory.replace("revocations.sgl", with: second)
        #expect(watcher.poll())
        #expect(store.list.sequence == 2)
        #expect(store.status(of: TestKeys.id1) == nil)
        #expect(store.status(of: TestKeys.id2) == .deactivated)

        // A corrupted replacement is refused once and the old list stays in force.
        var corrupted = try buildList([], sequence: 3)
        corrupted[40] ^= 0x01
        try directory.replace("revocations.sgl", with: corrupted)
        #expect(!watcher.poll())
        #expect(!watcher.poll())
        #expect(store.list.sequence == 2)
        #expect(store.status(of: TestKeys.id2) == .deactivated)
        #expect(log.all == ["loaded(1,1)", "loaded(2,1)", "refused(bad_signature)"])

        // The same list rewritten is unchanged; an older one is a rollback.
        try directory.replace("revocations.sgl", with: second)
        #expect(!watcher.poll())
        try directory.replace("revocations.sgl", with: first)
        #expect(!watcher.poll())
        #expect(store.list.sequence == 2)
        #expect(
            log.all == [
                "loaded(1,1)", "loaded(2,1)", "refused(bad_signature)", "unchanged(2)", "refused(rollback)",
            ])

        // A removed file changes nothing; a fresh one is picked up again.
        try FileManager.default.removeItem(atPath: path)
        #expect(!watcher.poll())
        try directory.replace("revocations.sgl", with: try buildList([], sequence: 4))
        #expect(watcher.poll())
        #expect(store.list.sequence == 4)
    }

    @Test("A file larger than the store's limit is refused as too_large")
    func tooLargeFile() throws {
        let directory = try TemporaryDirectory()
        let bytes = try buildList([(TestKeys.id1, .revoked)], sequence: 1)
        try directory.replace("revocations.sgl", with: bytes)
        let log = EventLog()
        let store = RevocationStore(
            keys: [try TestKeys.revocationKey()], maxBytes: bytes.count - 1, onEvent: log.handler)
        let watcher = RevocationWatcher(path: directory.path + "/revocations.sgl", store: store)
        #expect(!watcher.poll())
        #expect(log.all == ["refused(too_large)"])
        #expect(store.list.sequence == 0)
    }

    @Test("run() stops when its task is cancelled")
    func runStops() async throws {
        let directory = try TemporaryDirectory()
        try directory.replace("revocations.sgl", with: try buildList([], sequence: 1))
        let store = RevocationStore(keys: [try TestKeys.revocationKey()])
        let watcher = RevocationWatcher(
            path: directory.path + "/revocations.sgl", store: store, interval: .seconds(3600))
        let task = Task { await watcher.run() }
        task.cancel()
        await task.value
    }
}
