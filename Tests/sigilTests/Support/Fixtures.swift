import Foundation
import SigilIssuer
import SigilVerifier
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Token texts changed in a way a checker must notice.
enum Tamper {
    /// Changes one character near the middle of `token` so the text stays canonical base64url
    /// and the layout, key ID and audience still parse: only the MAC can catch it.
    ///
    /// Prefers replacing an `A` by a `B`, as a copy-and-paste slip would. The library's
    /// unverified decoder checks that the change kept the layout (a flipped byte in the
    /// validity window can otherwise make the token merely malformed).
    static func flipMiddle(_ token: String) throws -> String {
        let original = try TokenClaims.decodeUnverified(token)
        var chars = Array(token)
        let middle = chars.count / 2
        // Never the last two characters: their low bits may be padding.
        let forward = Array(middle..<(chars.count - 2))
        let backward = Array((4..<middle).reversed())
        for preferA in [true, false] {
            for i in forward + backward {
                let old = chars[i]
                if preferA && old != "A" { continue }
                let new: Character = old == "A" ? "B" : "A"
                chars[i] = new
                let candidate = String(chars)
                chars[i] = old
                guard let claims = try? TokenClaims.decodeUnverified(candidate) else { continue }
                if claims.keyID == original.keyID, claims.audience == original.audience, candidate != token {
                    return candidate
                }
            }
        }
        throw CocoaError(.featureUnsupported)
    }
}

/// Writes tokens straight into a home's ledger with the issuer library, for fixtures the CLI
/// cannot make quickly (1,000 tokens) or at all (GUIDs that share a prefix).
enum LedgerFixture {
    static func addTokens(
        home: String, ids: [TokenID], namePrefix: String, audience: String = "billing", now: Int64,
        validFor: Int64 = 30 * 86_400
    ) throws -> [(token: String, id: TokenID)] {
        let ring = try Keyring.load(home: home)
        let key = ring.activeKey
        let lock = try HomeLock(home: home, timeout: 30, command: "test fixture")
        defer { lock.unlock() }
        var records: [JournalRecord] = []
        var minted: [(String, TokenID)] = []
        for (index, id) in ids.enumerated() {
            let claims = try TokenClaims(
                keyID: key.keyID, audience: audience, id: id, validFrom: now, validTo: now + validFor, scope: .all)
            minted.append((try TokenMinter.mint(claims, masterSecret: key.secret), id))
            let record = TokenRecord(
                claims: claims, name: "\(namePrefix)-\(index)", description: "", createdBy: "fixture", now: now)
            records.append(JournalRecord(op: .issue, at: now, token: record))
        }
        try Ledger(home: home).append(records)
        return minted
    }
}

/// A throwaway `python3 -m http.server` on 127.0.0.1 serving one folder, for `revocations pull`.
final class LocalHTTPServer: Sendable {
    let port: Int
    private let pid: pid_t
    private let stopped = Mutex(false)

    static var python: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts the server on a port the kernel picks and waits until it accepts connections.
    init(directory: String) async throws {
        let python = try #require(Self.python, "python3 is needed for the HTTP pull test")
        let (output, pid) = try spawnLock.withLock { _ in
            let output = try makePipe()
            let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
            defer { close(devNull) }
            do {
                let pid = try spawn(
                    python, ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory],
                    environment: ["PATH": "/usr/bin:/bin"], stdin: devNull, stdout: output.write, stderr: devNull)
                return (output, pid)
            } catch {
                close(output.read)
                close(output.write)
                throw error
            }
        }
        close(output.write)
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let line: String = await withCheckedContinuation { continuation in
            Thread {
                var data: [UInt8] = []
                var byte: UInt8 = 0
                while data.last != UInt8(ascii: "\n") {
                    let n = read(output.read, &byte, 1)
                    if n == 1 { data.append(byte) } else if n == 0 || errno != EINTR { break }
                }
                close(output.read)
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }.start()
        }
        guard let range = line.range(of: "port "), let port = Int(line[range.upperBound...].prefix { $0.isNumber })
        else {
            kill(pid, SIGKILL)
            _ = waitForExit(pid)
            throw SpawnError(what: "http.server did not say its port (\(line))", code: 0)
        }
        self.pid = pid
        self.port = port
        // It printed after listen(2), so this answers at once; the loop only guards slow hosts.
        var answered = Self.answers(port: port)
        for _ in 0..<250 where !answered {
            usleep(20_000)
            answered = Self.answers(port: port)
        }
        try #require(answered, "http.server on port \(port) does not answer")
    }

    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)" }

    /// Stops the server (SIGTERM to this one process id) and reaps it.
    func stop() {
        let already = stopped.withLock { done in
            defer { done = true }
            return done
        }
        guard !already else { return }
        kill(pid, SIGTERM)
        _ = waitForExit(pid)
    }

    deinit { stop() }

    private static func answers(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}

/// Holds `<home>/sigil.lock` the way another sigil process would (flock LOCK_EX).
final class HeldLock {
    private var fd: Int32

    init(home: String) throws {
        fd = open(home + "/sigil.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0, "cannot open the lock file")
        try #require(flock(fd, LOCK_EX | LOCK_NB) == 0, "cannot take the lock")
        let note = Array("pid \(getpid()): sigil test-holder\n".utf8)
        _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
