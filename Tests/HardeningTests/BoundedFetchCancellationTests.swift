import Foundation
import SigilFetch
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A fetch whose task is cancelled ends at once, not at its deadline (issue #22 item 8): a
/// follower or webhook sender stopping at a graceful shutdown does not hold it up.
@Suite("Bounded fetches end when their task is cancelled")
struct BoundedFetchCancellationTests {
    /// A listening socket that never accepts: a connection completes into its backlog and
    /// then hears nothing, like a server that hangs.
    struct SocketFailed: Error {}

    final class SilentServer {
        let descriptor: Int32
        let port: UInt16

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            descriptor = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    bind(fd, raw, length) == 0 && listen(fd, 16) == 0
                        && getsockname(fd, raw, &length) == 0
                }
            }
            guard fd >= 0, bound else { throw SocketFailed() }
            port = UInt16(bigEndian: address.sin_port)
        }

        deinit { close(descriptor) }
    }

    @Test("Cancelling the task ends a fetch stuck on a silent server, long before its deadline")
    func cancelledWhileWaiting() async throws {
        let server = try SilentServer()
        let url = try #require(URL(string: "http://127.0.0.1:\(server.port)/v1/revocations"))
        let http = BoundedHTTP(maxBytes: 1 << 20, timeout: 600)
        let start = ContinuousClock.now
        let fetch = Task { await http.run(URLRequest(url: url)) }
        try await Task.sleep(for: .milliseconds(300))
        fetch.cancel()
        let outcome = await fetch.value
        // Far below the 600 s deadline even when parallel suites keep every thread busy.
        #expect(ContinuousClock.now - start < .seconds(120), "it waited for the deadline")
        guard case .failed(let why) = outcome else {
            Issue.record("a cancelled fetch ended as \(outcome)")
            return
        }
        #expect(why == BoundedHTTP.cancelled)
    }

    @Test("A fetch started by a task already cancelled does not wait at all")
    func cancelledBeforeStart() async throws {
        let server = try SilentServer()
        let url = try #require(URL(string: "http://127.0.0.1:\(server.port)/"))
        let http = BoundedHTTP(maxBytes: 1024, timeout: 600)
        let start = ContinuousClock.now
        let fetch = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await http.run(URLRequest(url: url))
        }
        let outcome = await fetch.value
        #expect(ContinuousClock.now - start < .seconds(120))
        guard case .failed(let why) = outcome else {
            Issue.record("a cancelled fetch ended as \(outcome)")
            return
        }
        #expect(why == BoundedHTTP.cancelled)
    }
}
