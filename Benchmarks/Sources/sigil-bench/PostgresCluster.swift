import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster for the server figures on PostgreSQL: `initdb` into a folder
/// of its own, `pg_ctl start` on 127.0.0.1 and a free port, one empty database, and
/// `pg_ctl stop -m immediate` plus removal in ``stop()``.
///
/// Unlike scripts/postgres-test.sh's cluster, this one keeps `fsync` and `synchronous_commit`
/// on: `server_issue_rps_postgres` counts durable creates, as the SQLite figure does with
/// `synchronous=FULL`. PostgreSQL refuses to run as root, so as root the cluster belongs to the
/// `postgres` user (Debian's package creates it) and its tools run through `runuser`.
struct PostgresCluster {
    let folder: String
    let url: String
    private let bin: String
    private let asRoot: Bool

    /// The newest `/usr/lib/postgresql/*/bin` with `initdb`, or `$PG_BIN`.
    static func binaries() -> String? {
        if let explicit = ProcessInfo.processInfo.environment["PG_BIN"] {
            return access(explicit + "/initdb", X_OK) == 0 ? explicit : nil
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted()
        return versions.reversed().map { "\(root)/\($0)/bin" }.first { access($0 + "/initdb", X_OK) == 0 }
    }

    /// Creates and starts the cluster and its `sigil_bench` database.
    ///
    /// - Throws: ``BenchError`` naming the step that failed (with the tool's last output lines).
    init(scratch: String) throws {
        guard let bin = Self.binaries() else {
            throw BenchError("no PostgreSQL server binaries (install postgresql, or set PG_BIN)")
        }
        self.bin = bin
        asRoot = geteuid() == 0
        // Not under the scratch folder: that one is 0700, and the cluster's owner may be `postgres`.
        var template = Array("/tmp/sigil-bench-pg-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap(mkdtemp) }) else {
            throw BenchError("cannot create a folder for the PostgreSQL cluster in /tmp")
        }
        folder = String(cString: made)
        let port = try Self.freePort()
        url = "postgres://postgres@127.0.0.1:\(port)/sigil_bench"
        if asRoot {
            chmod(folder, 0o755)
            let status = try Spawn.run("chown", ["postgres", folder], scratch: scratch, searchPath: true)
            guard status.succeeded else {
                try? FileManager.default.removeItem(atPath: folder)
                throw BenchError("cannot give \(folder) to the postgres user: \(status.stderr())")
            }
        }
        do {
            try tool(
                "initdb", ["-D", folder + "/data", "-A", "trust", "-U", "postgres", "--no-sync"], scratch: scratch)
            try tool(
                "pg_ctl",
                [
                    "-D", folder + "/data", "-l", folder + "/server.log", "-w", "-o",
                    "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c max_connections=100", "start",
                ], scratch: scratch)
            try tool(
                "createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "sigil_bench"], scratch: scratch)
        } catch {
            let log = (try? String(contentsOfFile: folder + "/server.log", encoding: .utf8)) ?? ""
            stop(scratch: scratch)
            throw BenchError("\(error)\(log.isEmpty ? "" : "; server log: " + log.suffix(300))")
        }
    }

    /// Stops the server at once (nothing in it is worth a checkpoint) and removes the folder.
    func stop(scratch: String) {
        _ = try? tool("pg_ctl", ["-D", folder + "/data", "-m", "immediate", "stop"], scratch: scratch)
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func tool(_ name: String, _ arguments: [String], scratch: String) throws {
        let outcome =
            asRoot
            ? try Spawn.run(
                "runuser", ["-u", "postgres", "--", bin + "/" + name] + arguments, scratch: scratch, searchPath: true)
            : try Spawn.run(bin + "/" + name, arguments, scratch: scratch)
        guard outcome.succeeded else {
            let tail = (outcome.stderr() + outcome.stdout()).split(separator: "\n").suffix(2).joined(separator: "; ")
            throw BenchError("\(name) exited \(outcome.status): \(tail)")
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw BenchError("cannot find a free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
