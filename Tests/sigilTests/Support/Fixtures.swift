import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
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
        let issuer = try Issuer(home: home, mode: .existing)
        defer { issuer.close() }
        let key = try issuer.keyring().activeKey
        var records: [TokenRecord] = []
        var minted: [(String, TokenID)] = []
        for (index, id) in ids.enumerated() {
            let claims = try TokenClaims(
                keyID: key.keyID, audience: audience, id: id, validFrom: now, validTo: now + validFor, scope: .all)
            minted.append((try TokenMinter.mint(claims, masterSecret: key.secret), id))
            records.append(
                TokenRecord(
                    claims: claims, name: "\(namePrefix)-\(index)", description: "", createdBy: "fixture", now: now))
        }
        try issuer.insertForTesting(records)
        return minted
    }

    /// Every row of the ledger (tokens, events, export state) as one text, read in-process, to
    /// prove a refused command changed nothing.
    static func snapshot(home: String) throws -> String {
        let issuer = try Issuer(home: home, mode: .existing)
        defer { issuer.close() }
        let sql = """
            SELECT (SELECT count(*) FROM events) || '|' ||
              (SELECT ifnull(group_concat(row, ';'), '') FROM (SELECT hex(guid) || ',' || name || ',' ||
                description || ',' || status || ',' || updated_at || ',' || ifnull(revoked_at, '-') || ',' ||
                ifnull(deleted_at, '-') AS row FROM tokens ORDER BY seq)) || '|' ||
              (SELECT ifnull(group_concat(key || '=' || value, ';'), '') FROM issuer_state) || '|' ||
              (SELECT ifnull(group_concat(resource || '.' || action || '=' || access, ';'), '') FROM catalog)
            """
        return try issuer.store.db.text(sql) ?? ""
    }

    /// How many audit events the database holds.
    static func eventCount(home: String) throws -> Int64 {
        let issuer = try Issuer(home: home, mode: .existing)
        defer { issuer.close() }
        return try issuer.store.db.integer("SELECT count(*) FROM events") ?? -1
    }
}

/// A throwaway `python3 -m http.server` on 127.0.0.1 serving one folder, for `revocations pull`.
final class LocalHTTPServer: Sendable {
    let port: Int
    private let process: BackgroundProcess

    static var python: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts the server on a port the kernel picks and waits until it accepts connections.
    init(directory: String) async throws {
        let python = try #require(Self.python, "python3 is needed for the HTTP pull test")
        process = try await BackgroundProcess(
            python, ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory],
            environment: ["PATH": "/usr/bin:/bin"])
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let line = process.firstLine
        guard let range = line.range(of: "port "), let port = Int(line[range.upperBound...].prefix { $0.isNumber })
        else {
            process.stop()
            throw SpawnError(what: "http.server did not say its port (\(line))", code: 0)
        }
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

    /// Stops the server and reaps it.
    func stop() { process.stop() }

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

/// Holds the database's write lock (`BEGIN IMMEDIATE`) the way another sigil process's
/// transaction would; the CLI runs as a separate process, so it sees the lock.
final class HeldLock {
    private var issuer: Issuer?

    init(home: String) throws {
        let issuer = try Issuer(home: home, mode: .existing)
        try issuer.store.db.execute("BEGIN IMMEDIATE")
        self.issuer = issuer
    }

    /// Ends the transaction (it changed nothing) and closes the connection.
    func release() {
        guard let issuer else { return }
        try? issuer.store.db.execute("ROLLBACK")
        issuer.close()
        self.issuer = nil
    }

    deinit { release() }
}
