import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import SigilHummingbird
import SigilIssuer
import SigilVerifier
import Synchronization
import Testing

/// A stand-in for sigil-server's `GET /v1/revocations` with the contract of docs/API.md:
/// the list's bytes with `ETag: "<sequence>"`, 304 for a matching `If-None-Match`, and a
/// request with `?wait=S` and a matching `If-None-Match` held until a new list is published
/// or S seconds pass. Served over real HTTP on 127.0.0.1 by HummingbirdTesting's live mode.
/// With `deltas`, `?since=S` is answered with a delta from a ``RevocationHistory``, as
/// sigil-server does; `forcedDelta` answers every `since` with given bytes instead.
final class ListServer: Sendable {
    private let current = Mutex<(bytes: [UInt8], etag: String)>(([], #""0""#))
    /// How many requests are being held right now.
    let waiting = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let history: RevocationHistory?
    let forcedDelta = Mutex<[UInt8]?>(nil)
    /// The `since` of every request, and how many deltas were sent.
    let sinceAsked = Mutex<[UInt64]>([])
    let deltasSent = Atomic<Int>(0)

    init(deltas: Bool = false) { history = deltas ? RevocationHistory() : nil }

    func publish(_ bytes: [UInt8], etag: String) {
        if let history, let list = try? RevocationList.parseUnverified(bytes) { history.record(list) }
        current.withLock { $0 = (bytes, etag) }
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("v1/revocations") { request, _ -> Response in
            self.requests.add(1, ordering: .relaxed)
            let wait = min(request.uri.queryParameters.get("wait", as: Int.self) ?? 0, 60)
            let asked = request.headers[.ifNoneMatch]
            var list = self.current.withLock { $0 }
            if wait > 0, asked == list.etag {
                self.waiting.add(1, ordering: .relaxed)
                let deadline = ContinuousClock.now + .seconds(wait)
                while ContinuousClock.now < deadline, list.etag == asked {
                    try await Task.sleep(for: .milliseconds(20))
                    list = self.current.withLock { $0 }
                }
                self.waiting.subtract(1, ordering: .relaxed)
            }
            var headers = HTTPFields()
            headers[.eTag] = list.etag
            if asked == list.etag { return Response(status: .notModified, headers: headers) }
            var body = list.bytes
            headers[.contentType] = "application/vnd.sigil.revocations"
            if let since = request.uri.queryParameters.get("since", as: UInt64.self) {
                self.sinceAsked.withLock { $0.append(since) }
                let sequence = UInt64(list.etag.dropFirst().dropLast())
                if let delta = self.forcedDelta.withLock({ $0 }) ?? self.history?.delta(since: since, to: sequence) {
                    self.deltasSent.add(1, ordering: .relaxed)
                    headers[.contentType] = RevocationDelta.mediaType
                    body = delta
                }
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        return Application(router: router)
    }
}

@Suite("Revocation follower")
struct RevocationFollowerTests {
    let fixture: Fixture
    let capture = LogCapture()

    init() throws { fixture = try Fixture() }

    /// Runs `body` with a list server on 127.0.0.1 and a follower of it running.
    func following(
        store: RevocationStore, server: ListServer, wait: Int = 5,
        _ body: @Sendable (RevocationFollower) async throws -> Void
    ) async throws {
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            let follower = RevocationFollower(
                server: "http://127.0.0.1:\(port)/v1/revocations", store: store, wait: wait,
                logger: capture.logger("follower"))
            let task = Task { try await follower.run() }
            defer { task.cancel() }
            try await body(follower)
        }
    }

    func refusals(_ reason: String) -> Int {
        capture.all.filter { $0.message.hasPrefix("revocations refused") && $0.metadata["reason"] == reason }.count
    }

    @Test("A revocation published on the server is enforced within a second")
    func followsServer() async throws {
        let store = RevocationStore(keys: fixture.keyset.revocationKeys, noListPolicy: .failClosed)
        let verifier = try Verifier(keyset: fixture.keyset, revocations: store)
        let id = TokenMinter.newTokenID()
        let token = try fixture.token(id: id)
        let server = ListServer()
        server.publish(try fixture.list([], sequence: 1), etag: #""1""#)
        try await following(store: store, server: server) { _ in
            #expect(try await eventually { store.list.sequence == 1 } != nil)
            #expect(throws: Never.self) { try verifier.verify(token) }
            // The follower's next request is held by the server (a long poll), not repeated.
            #expect(try await eventually { server.waiting.load(ordering: .relaxed) == 1 } != nil)
            let before = server.requests.load(ordering: .relaxed)

            server.publish(try fixture.list([(id, .revoked)], sequence: 2), etag: #""2""#)
            let took = try await eventually {
                do throws(VerificationError) {
                    _ = try verifier.verify(token)
                    return false
                } catch { return error.reason == .revoked }
            }
            let elapsed = try #require(took, "the revocation was not enforced within 5 s")
            #expect(elapsed < .seconds(1), "revocation enforced after \(elapsed)")
            print("revocation enforced \(elapsed) after the server published it")
            #expect(server.requests.load(ordering: .relaxed) - before <= 2)
        }
        #expect(capture.all.contains { $0.message == "revocations installed" && $0.metadata["sequence"] == "2" })
    }

    @Test("It asks with since, installs the server's deltas, and recovers from a delta for another list")
    func followsDeltas() async throws {
        let store = RevocationStore(keys: fixture.keyset.revocationKeys, noListPolicy: .failClosed)
        let a = TokenMinter.newTokenID()
        let b = TokenMinter.newTokenID()
        let server = ListServer(deltas: true)
        // Other entries, so a change or two is smaller as a delta than as the list (else the
        // server sends the list, as sigil-server does).
        let others = (0..<8).map { _ in (TokenMinter.newTokenID(), RevocationStatus.revoked) }
        let first = try fixture.list(others + [(a, .deactivated)], sequence: 1)
        server.publish(first, etag: #""1""#)
        try await following(store: store, server: server, wait: 2) { _ in
            #expect(try await eventually { store.list.sequence == 1 } != nil)
            server.publish(try fixture.list(others + [(a, .revoked), (b, .revoked)], sequence: 2), etag: #""2""#)
            #expect(try await eventually { store.list.sequence == 2 } != nil)
            #expect(store.status(of: a) == .revoked && store.status(of: b) == .revoked)
            #expect(server.deltasSent.load(ordering: .relaxed) == 1, "list 2 came as a delta")
            #expect(server.sinceAsked.withLock { $0.contains(1) })

            // A delta built from another list 2 does not apply: refused, and the whole list follows.
            let c = TokenMinter.newTokenID()
            let stranger = try RevocationList.parseUnverified(
                try fixture.list(others + [(a, .revoked), (c, .revoked)], sequence: 2))
            let three = try fixture.list(others + [(b, .deactivated)], sequence: 3)
            server.forcedDelta.withLock {
                $0 = RevocationDeltaBuilder.build(from: stranger, to: try! RevocationList.parseUnverified(three))
            }
            server.publish(three, etag: #""3""#)
            #expect(try await eventually { refusals("malformed") >= 1 } != nil, "c is not in the list in force")
            #expect(store.list.sequence == 2, "a delta that does not fit changes nothing")
            server.forcedDelta.withLock { $0 = nil }
            #expect(try await eventually { store.list.sequence == 3 } != nil)
            #expect(store.status(of: a) == nil && store.status(of: b) == .deactivated)
        }
        #expect(capture.all.contains { $0.message == "revocations installed from a delta" })
    }

    enum Bad: String, CaseIterable, CustomTestStringConvertible {
        case forged, older, equivocation, oversized
        var testDescription: String { rawValue }
        var reason: String {
            switch self {
            case .forged: "bad_signature"
            case .older: "rollback"
            case .equivocation: "equivocation"
            case .oversized: "too_large"
            }
        }
    }

    @Test("A list that fails a pull check is refused and the list in force stays", arguments: Bad.allCases)
    func refuses(_ bad: Bad) async throws {
        let revoked = TokenMinter.newTokenID()
        let store = RevocationStore(keys: fixture.keyset.revocationKeys, maxBytes: 400)
        let verifier = try Verifier(keyset: fixture.keyset, revocations: store)
        let inForce = try fixture.list([(revoked, .revoked)], sequence: 5)
        let server = ListServer()
        server.publish(inForce, etag: #""5""#)
        try await following(store: store, server: server) { _ in
            #expect(try await eventually { store.list.sequence == 5 } != nil)
            let bytes: [UInt8] =
                switch bad {
                case .forged: try fixture.list([], sequence: 6, byStranger: true)
                case .older: try fixture.list([], sequence: 4)
                case .equivocation: try fixture.list([], sequence: 5)
                case .oversized:
                    try fixture.list((0..<40).map { _ in (TokenMinter.newTokenID(), .revoked) }, sequence: 6)
                }
            server.publish(bytes, etag: #""x""#)
            #expect(try await eventually { refusals(bad.reason) > 0 } != nil, "no \(bad.reason) refusal logged")
        }
        #expect(Array(store.list.bytes) == inForce)
        let error = #expect(throws: VerificationError.self) { try verifier.verify(try fixture.token(id: revoked)) }
        #expect(error?.reason == .revoked)
    }

    @Test("A server that cannot be reached is retried with backoff and logged")
    func unreachable() async throws {
        let store = RevocationStore(keys: fixture.keyset.revocationKeys)
        // A port nothing listens on: bind one, note it, close it.
        let port = try await ListServer().application().test(.live) { client in try #require(client.port) }
        let follower = RevocationFollower(
            server: "http://127.0.0.1:\(port)/v1/revocations", store: store, wait: 1,
            logger: capture.logger("follower"))
        let task = Task { try await follower.run() }
        #expect(
            try await eventually { capture.all.contains { $0.message.hasPrefix("revocations fetch failed") } } != nil)
        // Backoff: 1 s before the second attempt, so at most two failures in the first 1.5 s.
        try await Task.sleep(for: .milliseconds(1_500))
        let failures = capture.all.filter { $0.message.hasPrefix("revocations fetch failed") }
        #expect((1...2).contains(failures.count))
        #expect(failures.first?.metadata["retry_in_seconds"] == "1")
        task.cancel()
        #expect(store.list.sequence == 0)
    }

    @Test("Following a file: newer lists install, older and damaged ones are refused")
    func followsFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-follow-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("revocations.sgl").path
        func write(_ bytes: [UInt8]) throws {
            let temporary = path + ".tmp"
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            _ = rename(temporary, path)
        }
        let store = RevocationStore(keys: fixture.keyset.revocationKeys)
        let follower = RevocationFollower(
            file: path, store: store, interval: .milliseconds(20), logger: capture.logger("follower"))
        let task = Task { try await follower.run() }
        defer { task.cancel() }

        try write(try fixture.list([], sequence: 3))
        #expect(try await eventually { store.list.sequence == 3 } != nil)
        try write(try fixture.list([], sequence: 2))
        #expect(try await eventually { refusals("rollback") == 1 } != nil)
        try write(Array("not a list".utf8))
        #expect(try await eventually { refusals("malformed") == 1 } != nil)
        try write(try fixture.list([], sequence: 4))
        #expect(try await eventually { store.list.sequence == 4 } != nil)
    }

    @Test("VerifierService's lifecycleService reloads the list file until cancelled")
    func lifecycleService() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-lifecycle-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let keysetPath = directory.appendingPathComponent("keyset.json").path
        let listPath = directory.appendingPathComponent("revocations.sgl").path
        try Data(fixture.keyset.json()).write(to: URL(fileURLWithPath: keysetPath))
        try Data(try fixture.list([], sequence: 1)).write(to: URL(fileURLWithPath: listPath))
        let sigil = try VerifierService(
            keysetPath: keysetPath, revocationsPath: listPath, whenNoList: .failClosed, pollInterval: .milliseconds(20))
        #expect(sigil.revocations.list.sequence == 1)
        let service = sigil.lifecycleService
        let task = Task { try await service.run() }
        let id = TokenMinter.newTokenID()
        try Data(try fixture.list([(id, .revoked)], sequence: 2)).write(to: URL(fileURLWithPath: listPath + ".tmp"))
        _ = rename(listPath + ".tmp", listPath)
        #expect(try await eventually { sigil.revocations.status(of: id) == .revoked } != nil)
        task.cancel()
        try await task.value
    }

    @Test("offer applies the pull checks in order: signature, then sequence")
    func offer() throws {
        let store = RevocationStore(keys: fixture.keyset.revocationKeys)
        let follower = RevocationFollower(file: "/nonexistent", store: store, logger: capture.logger())
        #expect(follower.offer(try fixture.list([], sequence: 2)) == .installed(sequence: 2))
        #expect(follower.offer(try fixture.list([], sequence: 2)) == .unchanged(sequence: 2))
        let forged = follower.offer(try fixture.list([], sequence: 1, byStranger: true))
        #expect(forged == .refused(RevocationListError(.badSignature, "key \(fixture.ring.revocationKeys[0].keyID)")))
        guard case .refused(let older) = follower.offer(try fixture.list([], sequence: 1)) else {
            Issue.record("an older list was not refused")
            return
        }
        #expect(older.reason == .rollback)
        #expect(store.list.sequence == 2)
    }
}
