import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One keep-alive HTTP/1.1 connection to 127.0.0.1 over a blocking POSIX socket.
///
/// Just enough HTTP for the benchmark: one request at a time (no pipelining), responses framed
/// by `Content-Length` or `chunked`, the connection reopened if the server closes it.
final class HTTPConnection {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
        }
    }

    let port: UInt16
    /// Seconds a read waits for the server (`SO_RCVTIMEO`); ``LoadGenerator`` holds its waits to it too.
    static let receiveTimeout = 30
    private var fd: Int32 = -1
    /// Bytes read past the end of the last response.
    private var buffer: [UInt8] = []
    /// How many times a connection was (re)opened: 1 if keep-alive held throughout.
    private(set) var connects = 0

    init(port: UInt16) { self.port = port }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        buffer.removeAll(keepingCapacity: true)
    }

    private func connect() throws {
        close()
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(socket)
            throw BenchError("cannot connect to 127.0.0.1:\(port): errno \(code)")
        }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        // A server that stops answering must not hang the benchmark.
        var timeout = timeval(tv_sec: Self.receiveTimeout, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        fd = socket
        connects += 1
    }

    /// Builds a request's bytes once, so a load loop only sends them.
    static func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) -> [UInt8] {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }

    /// Sends `request` and reads its response; reconnects once if a kept-alive connection was closed.
    func send(_ request: [UInt8]) throws -> Response {
        try begin(request)
        return try finish(request)
    }

    /// The socket, for `poll`: readable once the answer to ``begin(_:)``'s request starts.
    var descriptor: Int32 { fd }

    /// Sends `request` without waiting for the answer (``finish(_:)`` reads it).
    func begin(_ request: [UInt8]) throws {
        if fd < 0 { try connect() }
        do {
            try write(request)
        } catch is ConnectionClosed {
            try connect()
            try write(request)
        }
    }

    /// Reads the answer to `request`, sent by ``begin(_:)``; if the server had closed the kept-alive
    /// connection meanwhile, sends it once more on a new one.
    func finish(_ request: [UInt8]) throws -> Response {
        do {
            return try readResponse()
        } catch is ConnectionClosed {
            // The server closed an idle keep-alive connection: retry once on a new one.
            try connect()
            try write(request)
            return try readResponse()
        }
    }

    private struct ConnectionClosed: Error {}

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { all in
                Glibc.send(fd, all.baseAddress.map { $0 + offset }, all.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                if errno == EPIPE || errno == ECONNRESET { throw ConnectionClosed() }
                throw BenchError("send failed: errno \(errno)")
            }
            offset += n
        }
    }

    /// One read's landing place, reused so a read does not allocate.
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    /// Reads more bytes into `buffer`; false at end of stream.
    private func fill() throws -> Bool {
        while true {
            let n = scratch.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n < 0 {
                if errno == ECONNRESET { return false }
                throw BenchError("recv failed: errno \(errno) (timeout after 30 s?)")
            }
            buffer.append(contentsOf: scratch[..<n])
            return n > 0
        }
    }

    private func index(of pattern: [UInt8], from start: Int = 0) -> Int? {
        guard buffer.count >= pattern.count + start else { return nil }
        var i = start
        while i <= buffer.count - pattern.count {
            if buffer[i] == pattern[0], buffer[i..<(i + pattern.count)].elementsEqual(pattern) { return i }
            i += 1
        }
        return nil
    }

    private static let crlf: [UInt8] = [13, 10]
    private static let headerEnd: [UInt8] = [13, 10, 13, 10]

    private func readResponse() throws -> Response {
        var end = index(of: Self.headerEnd)
        while end == nil {
            guard try fill() else {
                if buffer.isEmpty { throw ConnectionClosed() }
                throw BenchError("the server closed the connection inside a response header")
            }
            end = index(of: Self.headerEnd)
        }
        guard let end else { throw BenchError("no header end") }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).makeIterator()
        guard let statusLine = lines.next(), statusLine.hasPrefix("HTTP/1."),
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw BenchError("not an HTTP/1.x status line") }
        var headers: [(String, String)] = []
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = Response(status: status, headers: headers, body: [])
        if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            while buffer.count < length {
                guard try fill() else { throw BenchError("the server closed the connection inside a body") }
            }
            response.body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while true {
                var lineEnd = index(of: Self.crlf)
                while lineEnd == nil {
                    guard try fill() else { throw BenchError("closed inside a chunk size") }
                    lineEnd = index(of: Self.crlf)
                }
                guard let lineEnd else { break }
                let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw BenchError("bad chunk size")
                }
                buffer.removeFirst(lineEnd + 2)
                while buffer.count < size + 2 {
                    guard try fill() else { throw BenchError("closed inside a chunk") }
                }
                response.body += buffer[..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { break }  // no trailers are sent by the server
            }
        } else if status != 304, status != 204 {
            // Neither length nor chunked: the body runs to the end of the connection.
            while try fill() {}
            response.body = buffer
            close()
        }
        if response.header("Connection")?.lowercased() == "close" { close() }
        return response
    }
}

/// A closed-loop load generator: `connections` keep-alive connections, each sending its next
/// request as soon as the previous response is read, until `duration` ends or `requests` have
/// been sent in all. The connections are shared out over one thread per core, each waiting on
/// its own with `poll` (as `wrk` does): a thread per connection spent the cores the server is
/// measured on switching between 32 threads.
enum LoadGenerator {
    /// How long a request may wait for its answer before it counts as failed.
    static let answerTimeout = Duration.seconds(HTTPConnection.receiveTimeout)

    struct Result {
        /// Requests answered with the expected status.
        var completed = 0
        /// Requests answered otherwise, or failed at the socket level.
        var failures = 0
        var firstFailure: String?
        /// Wall time from start to the last thread's last response.
        var elapsed: Duration = .zero
        /// Latency of each completed request, in milliseconds.
        var latencies: [Double] = []
        /// Bodies of the first few completed responses of each connection (`keepBodies`).
        var bodies: [[UInt8]] = []
        /// Connections opened in all: equals `connections` when keep-alive held.
        var connects = 0

        var perSecond: Double { Double(completed) / max(elapsed.nanoseconds / 1e9, 1e-9) }

        func percentile(_ p: Double) -> Double? {
            guard !latencies.isEmpty else { return nil }
            let sorted = latencies.sorted()
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1  // nearest-rank
            return sorted[min(max(rank, 0), sorted.count - 1)]
        }
    }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// One thread's share, written by that thread only and read after `pthread_join`.
    private final class Worker: @unchecked Sendable {
        var result = Result()
    }

    /// Runs the load.
    ///
    /// - Parameters:
    ///   - port: The server's port on 127.0.0.1.
    ///   - connections: Concurrent connections (over one thread per core).
    ///   - duration: Stop sending after this long (measured from the start).
    ///   - requests: Stop after this many requests in all (nil: only `duration` counts).
    ///   - expect: The status that counts as completed.
    ///   - keepBodies: Keep the bodies of this many completed responses per connection (counted per
    ///     thread: its first `keepBodies` × its connections).
    ///   - request: The request bytes for connection `c`'s `n`th request.
    /// - Returns: The counts, latencies and kept bodies of all connections together.
    static func run(
        port: UInt16, connections: Int, duration: Duration, requests: Int? = nil, expect: Int,
        keepBodies: Int = 0, request: @escaping @Sendable (_ connection: Int, _ n: Int) -> [UInt8]
    ) -> Result {
        run(
            ports: [port], connections: connections, duration: duration, requests: requests, expect: expect,
            keepBodies: keepBodies, request: request)
    }

    /// Runs the load spread over several servers: connection `c` goes to `ports[c % ports.count]`.
    static func run(
        ports: [UInt16], connections: Int, duration: Duration, requests: Int? = nil, expect: Int,
        keepBodies: Int = 0, request: @escaping @Sendable (_ connection: Int, _ n: Int) -> [UInt8]
    ) -> Result {
        precondition(!ports.isEmpty, "no port to load")
        let issued = Counter()
        let threads = min(connections, max(1, ProcessInfo.processInfo.activeProcessorCount))
        let workers = (0..<threads).map { _ in Worker() }
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        _ = Threads.run(
            workers.enumerated().map { (t, worker) -> @Sendable () -> Threads.Timing in
                {
                    /// One connection's request in flight.
                    struct Flight {
                        let c: Int
                        let connection: HTTPConnection
                        var n = 0
                        var bytes: [UInt8] = []
                        var sent = ContinuousClock.now
                        var busy = false
                    }
                    func failed(_ message: @autoclosure () -> String) {
                        worker.result.failures += 1
                        if worker.result.firstFailure == nil { worker.result.firstFailure = message() }
                    }
                    /// Sends flight's next request unless the run is over; false when it is.
                    func next(_ flight: inout Flight) -> Bool {
                        while clock.now < deadline {
                            if let requests, issued.value.add(1, ordering: .relaxed).newValue > requests { break }
                            flight.bytes = request(flight.c, flight.n)
                            flight.n += 1
                            flight.sent = clock.now
                            do {
                                try flight.connection.begin(flight.bytes)
                                return true
                            } catch {
                                failed("\(error)")
                                flight.connection.close()
                                usleep(10_000)
                            }
                        }
                        return false
                    }
                    var flights = stride(from: t, to: connections, by: threads).map {
                        Flight(c: $0, connection: HTTPConnection(port: ports[$0 % ports.count]))
                    }
                    for i in flights.indices { flights[i].busy = next(&flights[i]) }
                    var polled: [pollfd] = []
                    var owners: [Int] = []
                    while true {
                        polled.removeAll(keepingCapacity: true)
                        owners.removeAll(keepingCapacity: true)
                        for (i, flight) in flights.enumerated() where flight.busy {
                            polled.append(pollfd(fd: flight.connection.descriptor, events: Int16(POLLIN), revents: 0))
                            owners.append(i)
                        }
                        if polled.isEmpty { break }
                        guard poll(&polled, nfds_t(polled.count), 1_000) >= 0 || errno == EINTR else {
                            fatalError("poll failed: errno \(errno)")
                        }
                        for (k, entry) in polled.enumerated() {
                            let i = owners[k]
                            if entry.revents == 0 {
                                // poll never reads, so the sockets' receive timeout cannot end the
                                // wait for a silent server: the same bound, kept here.
                                guard clock.now - flights[i].sent > Self.answerTimeout else { continue }
                                failed("no answer within \(Self.answerTimeout)")
                                flights[i].connection.close()
                                flights[i].busy = next(&flights[i])
                                continue
                            }
                            do {
                                let response = try flights[i].connection.finish(flights[i].bytes)
                                if response.status == expect {
                                    worker.result.completed += 1
                                    worker.result.latencies.append((clock.now - flights[i].sent).milliseconds)
                                    if worker.result.bodies.count < keepBodies * flights.count {
                                        worker.result.bodies.append(response.body)
                                    }
                                } else {
                                    // Error bodies are {"error","message"}: never a token.
                                    failed(
                                        "HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))"
                                    )
                                }
                            } catch {
                                failed("\(error)")
                                flights[i].connection.close()
                                usleep(10_000)
                            }
                            flights[i].busy = next(&flights[i])
                        }
                    }
                    for flight in flights {
                        worker.result.connects += flight.connection.connects
                        flight.connection.close()
                    }
                    return Threads.Timing()
                }
            })
        var total = Result()
        total.elapsed = clock.now - start
        for worker in workers {
            total.completed += worker.result.completed
            total.failures += worker.result.failures
            total.firstFailure = total.firstFailure ?? worker.result.firstFailure
            total.latencies += worker.result.latencies
            total.bodies += worker.result.bodies
            total.connects += worker.result.connects
        }
        return total
    }
}
