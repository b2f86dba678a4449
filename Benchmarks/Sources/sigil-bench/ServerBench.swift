import Foundation
import SigilIssuer

#if canImport(Glibc)
    import Glibc
#endif

/// The server figures: a real `sigil-server` process on 127.0.0.1, loaded by ``LoadGenerator``
/// from this process, and revocation propagation through `sigil revocations pull --follow` to a
/// watcher process (``Propagation``). Every process started here is stopped before returning.
enum ServerBench {
    /// How much each phase does: the full run's counts, or --quick's (under ~60 s on 2 cores
    /// with debug builds).
    struct Counts {
        var ledgerSize: Int
        var listRequests: Int
        /// The list phase stops here even if `listRequests` are not done (a debug server is slow).
        var listDuration: Duration
        var notModifiedDuration: Duration
        var issueDuration: Duration
        var revocations: Int
        /// Connections for the 304 phase.
        var connections: Int
        /// Connections for the list phase, each with its own org token (the server lets one
        /// token have 2 listings at once: `--max-listings-per-token`).
        var listConnections: Int
        /// Connections for the create phases (issue #22: 32).
        var issueConnections: Int
        /// Long polls held at once on the large list.
        var longPollWaiters: Int

        static let full = Counts(
            ledgerSize: 100_000, listRequests: 500, listDuration: .seconds(60), notModifiedDuration: .seconds(10),
            issueDuration: .seconds(10),
            revocations: 100, connections: 8, listConnections: 8, issueConnections: 32, longPollWaiters: 1_000)
        static let quick = Counts(
            ledgerSize: 20_000, listRequests: 40, listDuration: .seconds(10), notModifiedDuration: .seconds(2),
            issueDuration: .seconds(3),
            revocations: 10, connections: 8, listConnections: 8, issueConnections: 32, longPollWaiters: 1_000)
    }

    struct Results {
        /// "debug" or "release": which build of sigil-server was measured (nil if none ran).
        var build: String?
        var counts: Counts
        var issueRPS: Double?
        var listP99: Double?
        var listP50: Double?
        var listCount = 0
        var notModifiedRPS: Double?
        var propagationP50: Double?
        var propagationP99: Double?
        var propagationCount = 0
        /// The same issue and propagation figures with the ledger in PostgreSQL.
        var postgres = PostgresResults()
        /// Long polls on the large list (``LongPollBench``), and that list's size.
        var longPoll = LongPollBench.Results()
        var longPollListSize = 0
        var notes: [String] = []
    }

    struct PostgresResults {
        var issueRPS: Double?
        var propagationP50: Double?
        var propagationP99: Double?
        var propagationCount = 0
    }

    // MARK: Binaries

    /// Guesses the build configuration from a SwiftPM bin path (`…/debug/…`, `…/release/…`).
    static func configuration(of path: String) -> String {
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? path
        for candidate in [path, resolved] {
            if candidate.contains("/release/") { return "release" }
            if candidate.contains("/debug/") { return "debug" }
        }
        return "unknown"
    }

    /// Builds `product` of the package at `packagePath` and returns its path.
    static func build(product: String, packagePath: String, release: Bool, scratch: String) throws -> String {
        let configuration = ["-c", release ? "release" : "debug"]
        SigilBench.progress(
            "server: building \(product) (\(release ? "release" : "debug")) in \(packagePath); this can take minutes")
        let build = try Spawn.run(
            "swift", ["build"] + configuration + ["--package-path", packagePath, "--product", product],
            scratch: scratch,
            searchPath: true)
        guard build.succeeded else {
            let tail = (build.stdout() + build.stderr()).split(separator: "\n").filter { $0.contains("error") }
                .prefix(3).joined(separator: " | ")
            throw BenchError("\(product) does not build in \(packagePath) (exit \(build.status)): \(tail)")
        }
        let bin = try Spawn.run(
            "swift", ["build"] + configuration + ["--package-path", packagePath, "--show-bin-path"], scratch: scratch,
            searchPath: true)
        let path = bin.stdout().trimmingCharacters(in: .whitespacesAndNewlines) + "/" + product
        guard bin.succeeded, access(path, X_OK) == 0 else { throw BenchError("no \(product) binary at \(path)") }
        return path
    }

    /// The sigil-server to measure: `$SIGIL_SERVER_BIN`; else under --quick the debug build the
    /// server's tests leave (built if missing); else a release build made now.
    static func serverBinary(quick: Bool, repoRoot: String, scratch: String) throws -> (path: String, build: String) {
        let server = repoRoot + "/Server"
        if let explicit = ProcessInfo.processInfo.environment["SIGIL_SERVER_BIN"], !explicit.isEmpty {
            guard access(explicit, X_OK) == 0 else {
                throw BenchError("SIGIL_SERVER_BIN \(explicit) is not executable")
            }
            return (explicit, configuration(of: explicit))
        }
        if quick {
            let debug = server + "/.build/debug/sigil-server"
            if access(debug, X_OK) == 0 { return (debug, "debug") }
            return (try build(product: "sigil-server", packagePath: server, release: false, scratch: scratch), "debug")
        }
        return (try build(product: "sigil-server", packagePath: server, release: true, scratch: scratch), "release")
    }

    /// The sigil CLI that seeds the home and runs `pull --follow`: `--sigil`/`$SIGIL_BIN`; else under
    /// --quick the debug build at .build/debug/sigil (built if missing); else the release CLI the
    /// CLI figures timed, or a release build made now.
    static func cliBinary(options: SigilBench.Options, timedCLI: String?, repoRoot: String, scratch: String) throws
        -> String
    {
        if let explicit = options.sigil {
            guard access(explicit, X_OK) == 0 else { throw BenchError("sigil \(explicit) is not executable") }
            return explicit
        }
        if options.quick {
            let debug = repoRoot + "/.build/debug/sigil"
            if access(debug, X_OK) == 0 { return debug }
            return try build(product: "sigil", packagePath: repoRoot, release: false, scratch: scratch)
        }
        if let timedCLI { return timedCLI }
        return try build(product: "sigil", packagePath: repoRoot, release: true, scratch: scratch)
    }

    // MARK: Run

    /// Runs every server phase; a failure ends the run with null figures and a note, never a crash.
    /// The long polls serve `largeHome`, whose ledger already names `largeSize` revoked tokens
    /// (the CLI figures' large home); when it is nil they seed one here.
    static func run(
        options: SigilBench.Options, timedCLI: String?, repoRoot: String, largeHome: String?, largeSize: Int
    ) -> Results {
        var results = Results(counts: options.quick ? .quick : .full)
        let scratch: String
        do {
            scratch = try SigilBench.makeScratch()
        } catch {
            results.notes.append("server: \(error)")
            return results
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            let server = try serverBinary(quick: options.quick, repoRoot: repoRoot, scratch: scratch)
            let sigil = try cliBinary(options: options, timedCLI: timedCLI, repoRoot: repoRoot, scratch: scratch)
            results.build = server.build
            results.notes.append(
                "server: measured \(server.path) (\(server.build) build), seeded and pulled with \(sigil) "
                    + "(\(configuration(of: sigil)) build)")
            do {
                try measure(server: server.path, sigil: sigil, scratch: scratch, results: &results)
            } catch {
                results.notes.append("server: \(error)")
            }
            do {
                let size =
                    largeHome == nil
                    ? (options.quick ? CLIBench.quickLargeLedgerSize : CLIBench.largeLedgerSize) : largeSize
                let home = try largeHome ?? seedLargeHome(sigil: sigil, size: size, scratch: scratch, results: &results)
                results.longPollListSize = size
                SigilBench.progress(
                    "server long polls: \(results.counts.longPollWaiters) waiters on a \(size)-entry list")
                results.longPoll = try LongPollBench.measure(
                    server: server.path, sigil: sigil, home: home, waiters: results.counts.longPollWaiters,
                    scratch: scratch)
                results.notes += results.longPoll.notes
            } catch {
                results.notes.append("server long polls: \(error)")
            }
            if options.skipPostgres {
                results.notes.append("server on PostgreSQL: skipped (--no-postgres)")
            } else {
                do {
                    try measurePostgres(server: server.path, sigil: sigil, scratch: scratch, results: &results)
                } catch {
                    results.notes.append("server on PostgreSQL: \(error)")
                }
            }
        } catch {
            results.notes.append("server: \(error)")
        }
        return results
    }

    /// Seeds a home of `size` revoked tokens as the CLI figures do (a v0.1 journal, imported by
    /// the next command): only when the CLI figures did not leave one (`--no-cli`).
    static func seedLargeHome(sigil sigilPath: String, size: Int, scratch: String, results: inout Results) throws
        -> String
    {
        let home = scratch + "/large"
        SigilBench.progress("server long polls: seeding and importing a \(size)-token home (the CLI figures left none)")
        try sigil(sigilPath, ["--home", home, "init"], scratch: scratch)
        _ = try CLIBench.writeLedger(home: home, count: size, status: "revoked", needleEvery: nil)
        try sigil(sigilPath, ["--home", home, "list", "--status", "active"], scratch: scratch)
        results.notes.append("server long polls: seeded their own \(size)-token home (no CLI large home)")
        return home
    }

    /// Runs `sigil` with `arguments`, failing with its first stderr line.
    @discardableResult
    static func sigil(_ sigil: String, _ arguments: [String], scratch: String) throws -> Spawn.Outcome {
        let outcome = try Spawn.run(sigil, arguments, scratch: scratch)
        guard outcome.succeeded else {
            let message = outcome.stderr().split(separator: "\n").first.map(String.init) ?? ""
            throw BenchError(
                "`sigil \(arguments.prefix(3).joined(separator: " ")) …` exited \(outcome.status): \(message)")
        }
        return outcome
    }

    static func measure(server serverPath: String, sigil sigilPath: String, scratch: String, results: inout Results)
        throws
    {
        let counts = results.counts
        let home = scratch + "/home"
        let keyset = scratch + "/billing-keyset.json"

        // The ledger is seeded as the CLI figures seed theirs: a v0.1 journal the first command imports.
        SigilBench.progress("server: seeding a \(counts.ledgerSize)-token ledger")
        try sigil(sigilPath, ["--home", home, "init"], scratch: scratch)
        _ = try CLIBench.writeLedger(home: home, count: counts.ledgerSize, status: "active", needleEvery: nil)
        try sigil(sigilPath, ["--home", home, "list", "--status", "inactive"], scratch: scratch)
        let issued = try sigil(
            sigilPath, ["--home", home, "issue", "--json", "--name", "bench org", "--audience", "sigil", "--all"],
            scratch: scratch)
        guard let object = try? JSONSerialization.jsonObject(with: Data(issued.stdout().utf8)) as? [String: Any],
            let orgToken = object["token"] as? String
        else { throw BenchError("`sigil issue --json` printed no token") }
        unlink(issued.stdoutPath)  // it held the org token
        try sigil(
            sigilPath, ["--home", home, "keys", "export", "--audience", Fixture.audience, "-o", keyset],
            scratch: scratch)

        SigilBench.progress("server: starting sigil-server")
        let (server, port) = try startServer(serverPath, home: home, scratch: scratch, name: "server")
        defer {
            let code = server.stop()
            if code != 0 { SigilBench.progress("server: sigil-server exited \(code) on SIGTERM") }
        }
        let auth = ("Authorization", "Bearer \(orgToken)")

        // MARK: GET /v1/tokens?limit=100 on the seeded ledger, 8 connections, each its own org token
        // (one token may have only 2 listings at once), as 8 clients of the console would.
        var listTokens = [orgToken]
        let setup = HTTPConnection(port: port)
        while listTokens.count < counts.listConnections {
            let response = try setup.send(
                HTTPConnection.request(
                    "POST", "/v1/tokens", headers: [auth, ("Content-Type", "application/json")],
                    body: Array(#"{"name":"bench lister \#(listTokens.count)","audience":"sigil","scope":"all"}"#.utf8))
            )
            guard response.status == 201,
                let row = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                let token = row["token"] as? String
            else { throw BenchError("POST /v1/tokens (an org token for listing) answered \(response.status)") }
            listTokens.append(token)
        }
        setup.close()
        SigilBench.progress(
            "server: list a page of 100 from \(counts.ledgerSize) tokens, \(counts.listRequests) times on "
                + "\(counts.listConnections) connections")
        let listRequests = listTokens.map {
            HTTPConnection.request("GET", "/v1/tokens?limit=100", headers: [("Authorization", "Bearer \($0)")])
        }
        let listRequest = listRequests[0]
        let warmList = LoadGenerator.run(
            port: port, connections: 1, duration: .seconds(60), requests: 3, expect: 200, keepBodies: 1
        ) { _, _ in listRequest }
        guard warmList.failures == 0, let page = warmList.bodies.first,
            let listed = try? JSONSerialization.jsonObject(with: Data(page)) as? [String: Any],
            let rows = listed["tokens"] as? [Any], rows.count == 100
        else {
            throw BenchError("GET /v1/tokens?limit=100 did not answer a page of 100: \(warmList.firstFailure ?? "")")
        }
        let list = LoadGenerator.run(
            port: port, connections: counts.listConnections, duration: counts.listDuration,
            requests: counts.listRequests, expect: 200
        ) { connection, _ in listRequests[connection % listRequests.count] }
        results.listP99 = list.percentile(99)
        results.listP50 = list.percentile(50)
        results.listCount = list.completed
        note(list, "list", into: &results)

        // MARK: GET /v1/revocations with a matching If-None-Match: 304
        let first = try HTTPConnection(port: port).send(HTTPConnection.request("GET", "/v1/revocations"))
        guard first.status == 200, let etag = first.header("ETag") else {
            throw BenchError("GET /v1/revocations answered \(first.status) without an ETag")
        }
        SigilBench.progress("server: conditional GET /v1/revocations for \(counts.notModifiedDuration)")
        let notModifiedRequest = HTTPConnection.request("GET", "/v1/revocations", headers: [("If-None-Match", etag)])
        let notModified = LoadGenerator.run(
            port: port, connections: counts.connections, duration: counts.notModifiedDuration, expect: 304
        ) { _, _ in notModifiedRequest }
        results.notModifiedRPS = notModified.perSecond
        note(notModified, "304", into: &results)

        // MARK: POST /v1/tokens: durable creates
        let (issue, tokens) = try issuePhase(
            ports: [port], auth: auth, counts: counts, results: &results, phase: "issue")
        results.issueRPS = issue.perSecond

        SigilBench.progress("server: revocation propagation over \(counts.revocations) revocations")
        let propagation = try Propagation.measure(
            tokens: Array(tokens.prefix(counts.revocations)), revokePort: port, pullPort: port, orgToken: orgToken,
            sigil: sigilPath, keyset: keyset, scratch: scratch)
        results.propagationCount = propagation.samples.count
        let samples = LoadGenerator.Result(latencies: propagation.samples)
        results.propagationP50 = samples.percentile(50)
        results.propagationP99 = samples.percentile(99)
        results.notes += propagation.notes
        if propagation.early > 0 {
            results.notes.append(
                "propagation: \(propagation.early) refusals were seen before the revoke call returned (counted as 0 ms)"
            )
        }
        if server.hasExited { throw BenchError("sigil-server exited during the run: \(server.stderrTail())") }
    }

    /// The issue and propagation figures with the ledger in a throwaway PostgreSQL cluster: two
    /// replicas (homes holding copies of one keyring) on one database; creates go to replica A,
    /// revocations go to A while `pull --follow` long-polls replica B, so each list reaches the
    /// watcher through the database's change signal (LISTEN/NOTIFY), as it would across hosts.
    static func measurePostgres(
        server serverPath: String, sigil sigilPath: String, scratch: String, results: inout Results
    )
        throws
    {
        let counts = results.counts
        SigilBench.progress("server on PostgreSQL: starting a throwaway cluster")
        let cluster = try PostgresCluster(scratch: scratch)
        defer { cluster.stop(scratch: scratch) }
        let homeA = scratch + "/pg-home-a"
        let homeB = scratch + "/pg-home-b"
        let keyset = scratch + "/pg-billing-keyset.json"
        let issued = try sigil(
            sigilPath,
            [
                "--home", homeA, "--database", cluster.url, "issue", "--json", "--name", "bench org", "--audience",
                "sigil",
                "--all",
            ],
            scratch: scratch)
        guard let object = try? JSONSerialization.jsonObject(with: Data(issued.stdout().utf8)) as? [String: Any],
            let orgToken = object["token"] as? String
        else { throw BenchError("`sigil --database … issue --json` printed no token") }
        unlink(issued.stdoutPath)  // it held the org token
        try sigil(
            sigilPath,
            [
                "--home", homeA, "--database", cluster.url, "keys", "export", "--audience", Fixture.audience, "-o",
                keyset,
            ],
            scratch: scratch)
        // The operator's step for a second host: the same keyring; the database holds no secret.
        try FileManager.default.createDirectory(
            atPath: homeB, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.copyItem(atPath: homeA + "/keyring.json", toPath: homeB + "/keyring.json")
        chmod(homeB + "/keyring.json", 0o600)

        SigilBench.progress("server on PostgreSQL: starting two sigil-server replicas")
        let database = ["--database", cluster.url]
        let (replicaA, portA) = try startServer(
            serverPath, home: homeA, extra: database, scratch: scratch, name: "pg-a")
        defer { _ = replicaA.stop() }
        let (replicaB, portB) = try startServer(
            serverPath, home: homeB, extra: database, scratch: scratch, name: "pg-b")
        defer { _ = replicaB.stop() }
        let auth = ("Authorization", "Bearer \(orgToken)")

        // Both replicas take creates (half the connections each), as behind a load balancer.
        let (issue, tokens) = try issuePhase(
            ports: [portA, portB], auth: auth, counts: counts, results: &results, phase: "issue on PostgreSQL")
        results.postgres.issueRPS = issue.perSecond

        SigilBench.progress("server on PostgreSQL: propagation over \(counts.revocations) revocations, A to B")
        let propagation = try Propagation.measure(
            tokens: Array(tokens.prefix(counts.revocations)), revokePort: portA, pullPort: portB, orgToken: orgToken,
            sigil: sigilPath, keyset: keyset, scratch: scratch)
        results.postgres.propagationCount = propagation.samples.count
        let samples = LoadGenerator.Result(latencies: propagation.samples)
        results.postgres.propagationP50 = samples.percentile(50)
        results.postgres.propagationP99 = samples.percentile(99)
        results.notes += propagation.notes.map { "PostgreSQL " + $0 }
        for (name, replica) in [("A", replicaA), ("B", replicaB)] where replica.hasExited {
            throw BenchError("replica \(name) exited during the run: \(replica.stderrTail())")
        }
    }

    /// Starts `sigil-server` on `home` and a free port (with `extra` arguments) and waits for it
    /// to log that port.
    static func startServer(
        _ serverPath: String, home: String, extra: [String] = [], scratch: String, name: String,
        timeout: Duration = .seconds(30)
    ) throws -> (ChildProcess, UInt16) {
        let server = try ChildProcess(
            "sigil-server", program: serverPath,
            // Text logs: the port is read from the "listening on" line (JSON is the default off a terminal).
            arguments: ["--home", home, "--port", "0", "--failed-auth-burst", "1000000", "--log-format", "text"]
                + extra,
            stdoutPath: scratch + "/\(name).stdout", stderrPath: scratch + "/\(name).log")
        var port: UInt16?
        _ = ChildProcess.wait(timeout: timeout, interval: .milliseconds(20)) {
            port = listeningPort(server.stderr())
            return port != nil || server.hasExited
        }
        guard let port, !server.hasExited else {
            let tail = server.stderrTail()
            _ = server.stop()
            throw BenchError("sigil-server did not log its port: \(tail)")
        }
        return (server, port)
    }

    /// `POST /v1/tokens` on `counts.issueConnections` connections (spread over `ports`) for
    /// `counts.issueDuration`; then tops the created tokens up to `counts.revocations` for the
    /// propagation phase.
    static func issuePhase(
        ports: [UInt16], auth: (String, String), counts: Counts, results: inout Results, phase: String
    ) throws -> (LoadGenerator.Result, [(token: String, guid: String)]) {
        SigilBench.progress(
            "server \(phase): POST /v1/tokens on \(counts.issueConnections) connections to \(ports.count) "
                + "server(s) for \(counts.issueDuration)")
        let perConnection = (counts.revocations + counts.issueConnections - 1) / counts.issueConnections + 1
        let issue = LoadGenerator.run(
            ports: ports, connections: counts.issueConnections, duration: counts.issueDuration, expect: 201,
            keepBodies: perConnection
        ) { connection, n in
            HTTPConnection.request(
                "POST", "/v1/tokens", headers: [auth, ("Content-Type", "application/json")],
                body: Array(
                    #"{"name":"bench-\#(connection)-\#(n)","audience":"\#(Fixture.audience)","scope":"all"}"#.utf8))
        }
        note(issue, phase, into: &results)
        var tokens: [(token: String, guid: String)] = issue.bodies.compactMap { body in
            guard let row = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let token = row["token"] as? String, let guid = row["guid"] as? String
            else { return nil }
            return (token, guid)
        }
        let connection = HTTPConnection(port: ports[0])
        defer { connection.close() }
        while tokens.count < counts.revocations {
            let response = try connection.send(
                HTTPConnection.request(
                    "POST", "/v1/tokens", headers: [auth, ("Content-Type", "application/json")],
                    body: Array(#"{"name":"bench-propagation","audience":"\#(Fixture.audience)","scope":"all"}"#.utf8)))
            guard response.status == 201,
                let row = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                let token = row["token"] as? String, let guid = row["guid"] as? String
            else { throw BenchError("POST /v1/tokens answered \(response.status)") }
            tokens.append((token, guid))
        }
        return (issue, tokens)
    }

    /// The port in `sigil-server: listening on http://127.0.0.1:PORT`.
    static func listeningPort(_ log: String) -> UInt16? {
        guard let range = log.range(of: "sigil-server: listening on http://") else { return nil }
        let rest = log[range.upperBound...].prefix { $0 != "\n" }
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        return UInt16(rest[rest.index(after: colon)...].prefix { $0.isNumber })
    }

    /// Notes a phase's failures and reopened connections, which make its figure suspect.
    static func note(_ result: LoadGenerator.Result, _ phase: String, into results: inout Results) {
        if result.failures > 0 {
            results.notes.append(
                "server \(phase): \(result.failures) of \(result.failures + result.completed) requests failed; "
                    + "first: \(result.firstFailure ?? "?")")
        }
        if result.completed == 0 { results.notes.append("server \(phase): no request completed") }
    }

    // MARK: Report

    static func record(_ results: Results, fsyncPerSecond: Double?, into report: inout Report) {
        let counts = results.counts
        let ledger = counts.ledgerSize == Counts.full.ledgerSize ? "100k" : "\(counts.ledgerSize) (--quick)"
        let connections = "\(counts.connections) keep-alive connections"
        report.add(
            "server_issue_rps", results.issueRPS, "/s",
            "POST /v1/tokens (durable creates) per second, \(counts.issueConnections) keep-alive connections, "
                + "\(counts.issueDuration)")
        report.add(
            "server_list_p99_ms", results.listP99, "ms", decimals: 2,
            "p99 of GET /v1/tokens?limit=100 on a \(ledger)-token ledger, \(results.listCount) requests, "
                + "\(counts.listConnections) connections")
        report.add(
            "server_list_p50_ms", results.listP50, "ms", decimals: 2, "p50 of the same requests")
        report.add(
            "server_revocations_304_rps", results.notModifiedRPS, "/s",
            "GET /v1/revocations with a matching If-None-Match (304) per second, \(connections)")
        let over = "over \(results.propagationCount) revocations"
        report.add(
            "revocation_propagation_p50_ms", results.propagationP50, "ms",
            "revoke API call returned -> RevocationStore in another process refuses the token, \(over)")
        report.add(
            "revocation_propagation_p99_ms", results.propagationP99, "ms", "p99 of the same, \(over)")
        report.target(
            "revocation_propagation_p99_ms", "<= 1000 ms", value: results.propagationP99
        ) { $0 <= 1000 }
        let pg = results.postgres
        let overPG = "over \(pg.propagationCount) revocations"
        report.add(
            "server_issue_rps_postgres", pg.issueRPS, "/s",
            "server_issue_rps with the ledger in PostgreSQL (a throwaway local cluster, fsync on), "
                + "the connections split over both replicas")
        report.add(
            "revocation_propagation_p50_ms_postgres", pg.propagationP50, "ms",
            "revoke sent to replica A -> a watcher pulling from replica B refuses the token, \(overPG)")
        report.add(
            "revocation_propagation_p99_ms_postgres", pg.propagationP99, "ms", "p99 of the same, \(overPG)")
        report.target(
            "revocation_propagation_p99_ms_postgres", "<= 1000 ms", value: pg.propagationP99
        ) { $0 <= 1000 }
        let large =
            results.longPollListSize == CLIBench.largeLedgerSize ? "1M" : "\(results.longPollListSize) (--quick)"
        let poll = results.longPoll
        report.add(
            "server_longpoll_1000_p99_ms", poll.p99, "ms",
            "\(counts.longPollWaiters) long polls (?since=SEQ&wait=60) on a \(large)-entry list: p99 from a revoke's "
                + "200 to each waiter's whole answer (\(poll.answered) answered, \(poll.deltas) as deltas)")
        report.add("server_longpoll_1000_p50_ms", poll.p50, "ms", "p50 of the same")
        report.add(
            "server_rss_mb", poll.peakRSSMB, "MiB",
            "sigil-server's peak resident set (VmHWM) serving that list and those polls"
                + (poll.waitingRSSMB.map { String(format: "; %.1f MiB (VmRSS) while they waited", $0) } ?? ""))

        let issueGoal = fsyncPerSecond.map { max(2000, 0.35 * $0) }
        report.target(
            "server_issue_rps",
            ">= 2000 and >= 0.35 x fsync_per_s"
                + (issueGoal.map { String(format: " (here %.0f)", $0) } ?? ""),
            value: results.issueRPS
        ) { rps in issueGoal.map { rps >= $0 } ?? (rps >= 2000) }
        report.target("server_issue_rps_postgres", ">= 1000 /s", value: pg.issueRPS) { $0 >= 1000 }
        report.target("server_list_p99_ms", "<= 10 ms", value: results.listP99) { $0 <= 10 }
        report.target("server_longpoll_1000_p99_ms", "<= 1000 ms", value: poll.p99) { $0 <= 1000 }
        report.target("server_rss_mb", "<= 300 MiB", value: poll.peakRSSMB) { $0 <= 300 }
        report.header.append(("server_build", results.build.map(Report.Value.text) ?? .integer(nil)))
        report.notes += results.notes
    }
}
