import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `server_longpoll_1000_p99_ms` and `server_rss_mb`: many followers long-polling one server
/// that holds a large list, and how long after a revoke each of them has its answer.
///
/// The server serves a home whose ledger already names `listSize` revoked tokens (the CLI
/// figures' large home, or one seeded here the same way). Each waiter is one keep-alive
/// connection with `GET /v1/revocations?since=SEQ&wait=60` and `If-None-Match: "SEQ"` sent; one
/// thread reads them all with `poll`, so a waiter's time is when its whole answer was read, not
/// when a thread of its own was scheduled.
enum LongPollBench {
    struct Results {
        var p50: Double?
        var p99: Double?
        /// Waiters answered 200 after the revoke.
        var answered = 0
        /// Of those, answers that were a delta (`SGLD`), not the whole list.
        var deltas = 0
        /// The server's peak resident set (VmHWM) at the end, and its resident set (VmRSS)
        /// while the waiters were held, in MiB.
        var peakRSSMB: Double?
        var waitingRSSMB: Double?
        var notes: [String] = []
    }

    /// One waiter's connection and what it has read.
    private struct Waiter {
        var fd: Int32
        var buffer: [UInt8] = []
        var answeredAt: UInt64? = nil
        var status = 0
        var isDelta = false
    }

    static func measure(
        server serverPath: String, sigil sigilPath: String, home: String, waiters count: Int, scratch: String
    ) throws -> Results {
        var results = Results()
        let issued = try ServerBench.sigil(
            sigilPath,
            ["--home", home, "issue", "--json", "--name", "bench longpoll org", "--audience", "sigil", "--all"],
            scratch: scratch)
        guard let object = try? JSONSerialization.jsonObject(with: Data(issued.stdout().utf8)) as? [String: Any],
            let orgToken = object["token"] as? String
        else { throw BenchError("`sigil issue --json` printed no token") }
        unlink(issued.stdoutPath)  // it held the org token

        SigilBench.progress("server long polls: starting sigil-server on the large home")
        let (server, port) = try ServerBench.startServer(
            serverPath, home: home, scratch: scratch, name: "longpoll", timeout: .seconds(180))
        defer { _ = server.stop() }
        let auth = ("Authorization", "Bearer \(orgToken)")
        let connection = HTTPConnection(port: port)
        defer { connection.close() }

        // The token the revoke names, created before the waiters so its creation cannot answer them.
        let created = try connection.send(
            HTTPConnection.request(
                "POST", "/v1/tokens", headers: [auth, ("Content-Type", "application/json")],
                body: Array(#"{"name":"bench-longpoll","audience":"\#(Fixture.audience)","scope":"all"}"#.utf8)))
        guard created.status == 201,
            let row = try? JSONSerialization.jsonObject(with: Data(created.body)) as? [String: Any],
            let guid = row["guid"] as? String
        else { throw BenchError("POST /v1/tokens answered \(created.status)") }

        // The newest list's sequence, once no publication is pending (the debounce is ~0.7 s).
        var etag = ""
        for _ in 0..<10 {
            usleep(1_000_000)
            let answer = try connection.send(
                HTTPConnection.request("GET", "/v1/revocations", headers: etag.isEmpty ? [] : [("If-None-Match", etag)])
            )
            if answer.status == 304 { break }
            guard answer.status == 200, let tag = answer.header("ETag") else {
                throw BenchError("GET /v1/revocations answered \(answer.status) without an ETag")
            }
            etag = tag
        }
        let sequence = etag.filter(\.isNumber)
        guard !sequence.isEmpty else { throw BenchError("no list sequence in ETag \(etag)") }

        SigilBench.progress("server long polls: \(count) waiters on list \(sequence)")
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < rlim_t(count + 256) {
            limit.rlim_cur = min(limit.rlim_max, rlim_t(count + 256))
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let request = HTTPConnection.request(
            "GET", "/v1/revocations?since=\(sequence)&wait=60", headers: [("If-None-Match", etag)])
        var waiters: [Waiter] = []
        defer { for waiter in waiters { close(waiter.fd) } }
        for _ in 0..<count {
            let fd = try openWaiter(port: port, request: request)
            waiters.append(Waiter(fd: fd))
        }
        // Let the server take in every request, then check that none was answered early.
        usleep(UInt32(min(10_000_000, 1_000_000 + count * 1_000)))
        results.waitingRSSMB = rss(pid: server.pid).current
        readAvailable(&waiters, at: 0)
        let early = waiters.filter { !$0.buffer.isEmpty }.count
        if early > 0 {
            results.notes.append("server long polls: \(early) of \(count) waiters were answered before the revoke")
        }

        let revoked = try connection.send(
            HTTPConnection.request(
                "POST", "/v1/tokens/\(guid)/revoke", headers: [auth, ("Content-Type", "application/json")],
                body: Array("{}".utf8)))
        let returned = monotonicNanoseconds()
        guard revoked.status == 200 else { throw BenchError("revoke answered HTTP \(revoked.status), expected 200") }

        let deadline = returned + 20_000_000_000
        var pending = waiters.filter { $0.answeredAt == nil }.count
        var descriptors = waiters.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        while pending > 0, monotonicNanoseconds() < deadline {
            for i in descriptors.indices { descriptors[i].revents = 0 }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 100)
            if ready < 0, errno != EINTR { throw BenchError("poll failed: errno \(errno)") }
            guard ready > 0 else { continue }
            for i in descriptors.indices where descriptors[i].revents != 0 && waiters[i].answeredAt == nil {
                readOne(&waiters[i], at: monotonicNanoseconds())
                if waiters[i].answeredAt != nil {
                    descriptors[i].events = 0
                    pending -= 1
                }
            }
        }
        let peak = rss(pid: server.pid).peak
        results.peakRSSMB = peak

        // Unanswered or wrongly answered waiters count at the deadline: the p99 must not hide them.
        var latencies: [Double] = []
        var failed = 0
        for waiter in waiters {
            if let at = waiter.answeredAt, waiter.status == 200, at >= returned {
                latencies.append(Double(at - returned) / 1e6)
                results.answered += 1
                if waiter.isDelta { results.deltas += 1 }
            } else {
                failed += 1
                latencies.append(Double(deadline - returned) / 1e6)
            }
        }
        if failed > 0 {
            results.notes.append(
                "server long polls: \(failed) of \(count) waiters had no 200 within 20 s of the revoke "
                    + "(counted at 20 s)")
        }
        let sample = LoadGenerator.Result(latencies: latencies)
        results.p50 = sample.percentile(50)
        results.p99 = sample.percentile(99)
        if server.hasExited { throw BenchError("sigil-server exited during the long polls: \(server.stderrTail())") }
        return results
    }

    /// Connects to 127.0.0.1:`port`, sends `request` and leaves the socket non-blocking.
    private static func openWaiter(port: UInt16, request: [UInt8]) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port): errno \(code)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else {
            close(fd)
            throw BenchError("could not send a long poll: errno \(errno)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    private static func readAvailable(_ waiters: inout [Waiter], at now: UInt64) {
        for i in waiters.indices where waiters[i].answeredAt == nil { readOne(&waiters[i], at: now) }
    }

    /// Reads what `waiter`'s socket holds; marks it answered at `now` once a whole response is in.
    private static func readOne(_ waiter: inout Waiter, at now: UInt64) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(waiter.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                waiter.buffer += chunk[..<n]
                continue
            }
            if n == 0 { break }  // closed: judge what arrived
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { break }
            break
        }
        guard let end = headerEnd(waiter.buffer) else { return }
        let head = String(decoding: waiter.buffer[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        var length: Int? = nil
        var chunked = false
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].lowercased()
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { length = Int(value) }
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
        }
        let bodyStart = end + 4
        let complete: Bool
        if let length {
            complete = waiter.buffer.count >= bodyStart + length
        } else if chunked {
            complete = waiter.buffer.suffix(5).elementsEqual([48, 13, 10, 13, 10])  // "0\r\n\r\n"
        } else {
            complete = status == 304 || status == 204
        }
        guard complete else { return }
        waiter.status = status
        waiter.answeredAt = now
        // A delta's body starts with SGLD (after a chunk-size line when chunked).
        let magic = Array("SGLD".utf8)
        let body = waiter.buffer[bodyStart...]
        waiter.isDelta = body.starts(with: magic) || (chunked && body.prefix(16).firstRange(of: magic) != nil)
    }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        bytes.firstRange(of: [13, 10, 13, 10])?.lowerBound
    }

    /// The server's resident set now (VmRSS) and at its peak (VmHWM), in MiB, from /proc/PID/status.
    static func rss(pid: pid_t) -> (current: Double?, peak: Double?) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (nil, nil) }
        func field(_ name: String) -> Double? {
            for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
                let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first
                return kilobytes.map { $0 / 1024 }
            }
            return nil
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}
