import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// What only the PostgreSQL store has: connection errors, the schema row, the writers' lock
/// across connections, the change signal, and copying a SQLite ledger in.
@Suite(
    "The PostgreSQL store",
    .enabled(
        if: StoreUnderTest.postgresURL != nil,
        "SIGIL_TEST_DATABASE_URL is unset; run scripts/postgres-test.sh for the PostgreSQL store tests"))
struct PostgresStoreTests {
    let temp: TempHome
    let url: String
    let alice: Actor

    init() throws {
        temp = try StoreUnderTest.$current.withValue(.postgres) { try TempHome() }
        url = try #require(temp.databaseURL)
        alice = try Actor(name: "alice")
    }

    /// A TCP port on 127.0.0.1 nothing listens on (bound, read, released).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static let password = "s3cret-Pw-never-shown"

    @Test(
        "A bad URL, a database that is down, an unknown user or database: unavailable, password never shown",
        arguments: [
            "postgres://sigil:\(password)@127.0.0.1:notaport/sigil",
            "postgresql://sigil:\(password)@[::1/sigil",
            "postgres://sigil:\(password)@127.0.0.1:\(closedPort())/sigil?connect_timeout=2",
            "DOWN_USER", "DOWN_DATABASE",
        ])
    func unreachable(_ template: String) throws {
        let base = try #require(StoreUnderTest.postgresURL)
        let at = try #require(base.firstIndex(of: "@"))
        let rest = String(base[at...])  // "@127.0.0.1:port/db"
        let url =
            switch template {
            case "DOWN_USER": "postgres://nobody:\(Self.password)\(rest)"
            case "DOWN_DATABASE":
                "postgres://postgres:\(Self.password)\(rest.replacingOccurrences(of: "/sigil_test", with: "/no_such_db"))"
            default: template
            }
        let error = expectIssuerError(.unavailable, hiding: [Self.password]) {
            try Issuer(home: temp.home, database: url, mode: .createIfMissing)
        }
        #expect(error?.message.contains("***") == true || error?.message.contains("cannot reach") == true)
        if case .databaseUnavailable(let location) = error?.detail {
            #expect(!location.contains(Self.password))
        } else {
            Issue.record("detail is \(String(describing: error?.detail))")
        }
    }

    @Test("The schema version is one row; a newer one is refused and left alone")
    func schemaVersion() throws {
        let issuer = try temp.issuer()
        _ = try issuer.issue(request(), by: alice, now: t0)
        let connection = try PostgresConnection(url: url)
        #expect(
            try connection.execute("SELECT version FROM schema_version").int64(0, 0) == Int64(SQLiteStore.schemaVersion)
        )
        try connection.executeScript("UPDATE schema_version SET version = 99")
        let error = expectIssuerError(.badData) { try temp.issuer(.existing) }
        #expect(
            error?.detail == .databaseTooNew(path: issuer.databasePath, found: 99, supported: SQLiteStore.schemaVersion)
        )
        #expect(try connection.execute("SELECT count(*) FROM tokens").int64(0, 0) == 1)
    }

    @Test("A version 2 database (before lifetime policies) is upgraded in place, its tokens kept")
    func upgradesFromVersion2() throws {
        let issued = try temp.issuer().issue(request(), by: alice, now: t0)
        let connection = try PostgresConnection(url: url)
        try connection.executeScript(
            "DROP TABLE members; DROP TABLE webhook_deliveries; DROP TABLE webhook_endpoints; DROP TABLE webhook_lease; "
                + "DROP TABLE sessions; DROP TABLE policies; UPDATE schema_version SET version = 2")
        let reopened = try temp.issuer(.existing)
        #expect(
            try connection.execute("SELECT version FROM schema_version").int64(0, 0) == Int64(SQLiteStore.schemaVersion)
        )
        #expect(try reopened.tokens().map(\.id) == [issued.record.id])
        _ = try reopened.setPolicy(audience: "billing", maxLifetime: day, allowNeverExpires: false, by: alice, now: t0)
        #expect(try reopened.tokens(TokenQuery(violatingPolicy: true)).map(\.id) == [issued.record.id])
    }

    @Test(
        "Writers on two connections do not take turns: no global lock, only the rows they change",
        .bug(id: "22", "item 3: every writer on every host took one advisory lock"))
    func writersRunTogether() throws {
        let issuer = try temp.issuer()
        let target = try issuer.issue(request(), by: alice, now: t0).record.id
        let holder = try PostgresConnection(url: url)
        // What every writer took before: holding it now delays nobody.
        try holder.executeScript("BEGIN ISOLATION LEVEL SERIALIZABLE")
        try holder.execute("SELECT pg_advisory_xact_lock($1)", [.int(0x5349_4749_4C57_5200)])
        try holder.execute("SELECT 1 FROM tokens WHERE guid = $1 FOR UPDATE", [.bytes(target.bytes)])
        let waiter = try temp.issuer(.existing, busyTimeout: 0.3)
        var started = ContinuousClock.now
        _ = try waiter.issue(request(), by: alice, now: t0)
        #expect(ContinuousClock.now - started < .milliseconds(250))
        // The row the holder locked is waited for, up to the busy timeout.
        started = ContinuousClock.now
        expectIssuerError(.lockBusy) { try waiter.change(.revoke, [target], by: alice, now: t0) }
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        try holder.executeScript("COMMIT")
        _ = try waiter.change(.revoke, [target], by: alice, now: t0)
        #expect(try issuer.count(TokenQuery()) == 2)
        #expect(try issuer.stored(target)?.status == .revoked)
    }

    @Test(
        "A group whose step is refused for a serialization failure runs again whole, and each step commits once",
        .bug(id: "22", "the NOTIFY after a doomed group failed as 25P02: every request of the group got a 500"))
    func groupRunsAgainAfterASerializationFailure() throws {
        let issuer = try temp.issuer()
        let target = try issuer.issue(request(), by: alice, now: t0).record.id
        let other = try temp.issuer(.existing)
        var interfered = false
        var issued: Result<IssuedToken, IssuerError>?
        var revoked: Result<ChangeResult, IssuerError>?
        try issuer.group([
            { issued = Result { () throws(IssuerError) in try issuer.issue(request(), by: alice, now: t0) } },
            {
                if !interfered {
                    interfered = true
                    // Committed after the group's snapshot was taken (by the first step), so the
                    // revoke below updates a row changed since: PostgreSQL refuses it (40001).
                    _ = try other.change(.deactivate, [target], by: alice, now: t0)
                }
                revoked = Result { () throws(IssuerError) in try issuer.change(.revoke, [target], by: alice, now: t0) }
            },
        ])
        #expect(try issued?.get() != nil)
        #expect(try revoked?.get().changed == [target])
        #expect(try issuer.stored(target)?.status == .revoked)
        // The first attempt's token was rolled back with its group: one token besides the target.
        #expect(try issuer.tokens(TokenQuery()).count == 2)
    }

    @Test("Lists made at once from many connections never share a sequence")
    func listsSerialised() async throws {
        let home = temp.home
        _ = try temp.issuer()
        let url = self.url
        let made = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let issuer = try Issuer(home: home, database: url, busyTimeout: 30)
                    let actor = try Actor(name: "w\(worker)")
                    var sequences: [UInt64] = []
                    for i in 0..<8 {
                        let issued = try issuer.issue(request(), by: actor, now: t0)
                        _ = try issuer.change(.revoke, [issued.record.id], by: actor, now: t0)
                        if let list = try issuer.publishRevocationList(maxAge: 0, by: actor, now: t0 + Int64(i)) {
                            sequences.append(list.sequence)
                        }
                    }
                    return sequences
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(made.count == 32)
        #expect(Set(made).count == made.count, "a sequence was used twice: \(made.sorted())")
        let issuer = try temp.issuer(.existing)
        let newest = try #require(try issuer.latestRevocationList())
        #expect(newest.sequence == made.max())
        let key = try issuer.keyring().signingKey
        let list = try RevocationList(
            verifying: newest.bytes, keys: [try RevocationKey(keyID: key.keyID, publicKey: key.publicKey)])
        #expect(list.count == 32)
    }

    @Test("Another store's commit moves the change counter; the store's own does not")
    func changeSignal() throws {
        let mine = try temp.issuer()
        let other = try temp.issuer(.existing)
        let start = try mine.dataVersion()
        _ = try mine.issue(request(), by: alice, now: t0)
        #expect(try mine.dataVersion() == start)
        _ = try other.issue(request(), by: alice, now: t0)
        var seen = try mine.dataVersion()
        for _ in 0..<50 where seen == start {
            usleep(20_000)  // a NOTIFY crosses a socket: give it up to a second
            seen = try mine.dataVersion()
        }
        #expect(seen > start)
        // A read changes nothing, so it says nothing.
        _ = try other.tokens()
        // Nor does a commit to another ledger (another schema) in the same database.
        let neighbour = try StoreUnderTest.$current.withValue(.postgres) { try TempHome() }
        _ = try neighbour.issuer().issue(request(), by: alice, now: t0)
        usleep(200_000)
        #expect(try mine.dataVersion() == seen)
    }

    @Test("Every write holds the writers' lock shared; one holder of it exclusive (a write run alone) is waited for")
    func writersLockShared() throws {
        let issuer = try temp.issuer()
        let watcher = try PostgresConnection(url: url)
        // The ledger's own key: other tests' ledgers (other schemas) write in parallel.
        let schema = try watcher.execute("SELECT current_schema()").text(0, 0)
        let key = PostgresStore.ledgerKey(PostgresStore.writersLock, schema: schema)
        #expect(key & ~0xffff == PostgresStore.writersLock)
        #expect(
            PostgresStore.ledgerKey(PostgresStore.writersLock, schema: "ledger_a")
                != PostgresStore.ledgerKey(PostgresStore.writersLock, schema: "ledger_b"))
        func modes() throws -> [String] {
            let rows = try watcher.execute(
                """
                SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND granted
                AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1
                """, [.int(key >> 32), .int(key & 0xffff_ffff)])
            return (0..<rows.rowCount).map { rows.text($0, 0) }
        }
        var during: [String] = []
        try issuer.group([
            {
                _ = try issuer.issue(request(), by: alice, now: t0)
                during = try modes()
            }
        ])
        #expect(during == ["ShareLock"])
        #expect(try modes().isEmpty)
        // A write running alone holds it exclusive: others wait for it, up to the busy timeout.
        try watcher.execute("SELECT pg_advisory_lock($1)", [.int(key)])
        let waiter = try temp.issuer(.existing, busyTimeout: 0.3)
        let started = ContinuousClock.now
        expectIssuerError(.lockBusy) { _ = try waiter.issue(request(), by: alice, now: t0) }
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        try watcher.execute("SELECT pg_advisory_unlock($1)", [.int(key)])
        _ = try waiter.issue(request(), by: alice, now: t0)
        #expect(try issuer.count(TokenQuery()) == 2)
    }

    @Test("Statements are prepared once per connection, survive a rollback, and past the cap run unprepared")
    func preparedStatements() throws {
        let connection = try PostgresConnection(url: url)
        for n: Int64 in 1...3 {
            #expect(try connection.execute("SELECT $1::bigint + 1", [.int(n)]).int64(0, 0) == n + 1)
        }
        #expect(connection.preparedCount == 1)
        // The same text with other parameter types is another statement.
        #expect(try connection.execute("SELECT $1::bigint + 1", [.text("41")]).int64(0, 0) == 42)
        #expect(connection.preparedCount == 2)
        // Prepared inside a transaction that rolls back, it is still there afterwards.
        try connection.executeScript("BEGIN")
        _ = try connection.execute("SELECT $1::bigint * 2", [.int(2)])
        try connection.executeScript("ROLLBACK")
        #expect(try connection.execute("SELECT $1::bigint * 2", [.int(4)]).int64(0, 0) == 8)
        // In an aborted transaction preparing fails as the statement would, and nothing is kept.
        try connection.executeScript("BEGIN")
        #expect(throws: PostgresError.self) { try connection.execute("SELECT 1 / $1::bigint", [.int(0)]) }
        let aborted = #expect(throws: PostgresError.self) { try connection.execute("SELECT $1::bigint - 1", [.int(1)]) }
        #expect(aborted?.sqlState == "25P02")
        try connection.executeScript("ROLLBACK")
        let kept = connection.preparedCount
        for n in 0..<(PostgresConnection.maxPrepared + 10) {
            let sum = try connection.execute("SELECT $1::bigint + \(n)", [.int(1)]).int64(0, 0)
            #expect(sum == Int64(n) + 1)
        }
        #expect(kept <= connection.preparedCount)
        #expect(connection.preparedCount == PostgresConnection.maxPrepared)
        // Streamed queries use the same statements.
        var rows: [Int64] = []
        try connection.stream("SELECT $1::bigint + 1", [.int(9)]) { rows.append($0.int64(0)) }
        #expect(rows == [10])
    }

    @Test("A lost connection is re-established on the next call")
    func reconnects() throws {
        // The schemas of tests running at once share one database: end only this issuer's
        // connection, named for the purpose, never another test's.
        let name = "sigil-reconnect-" + UUID().uuidString.prefix(8).lowercased()
        let issuer = try Issuer(home: temp.home, database: url + "&application_name=" + name, mode: .createIfMissing)
        _ = try issuer.issue(request(), by: alice, now: t0)
        let admin = try PostgresConnection(url: url)
        let ended = try admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", [.text(name)])
        #expect(try ended.int64(0, 0) >= 1)
        // The call that finds the connection dead may fail as unavailable; the next one works.
        _ = try? issuer.tokens()
        #expect(try issuer.tokens().count == 1)
    }

    @Test("A SQLite ledger copies into an empty PostgreSQL database whole, sequence included; never into a full one")
    func migrateFromSQLite() throws {
        let source = try StoreUnderTest.$current.withValue(.sqlite) { try TempHome() }
        let sqlite = try source.issuer()
        let parent = try sqlite.issue(request("parent"), by: alice, now: t0)
        let child = try sqlite.issue(request("child"), by: alice, parent: parent.record.id, now: t0 + 1)
        _ = try sqlite.change(.revoke, [child.record.id], by: alice, now: t0 + 2)
        _ = try sqlite.exportRevocationList(by: alice, now: t0 + 3)
        _ = try sqlite.exportRevocationList(by: alice, now: t0 + 4)

        _ = try sqlite.setPolicy(
            audience: "billing", maxLifetime: 400 * day, allowNeverExpires: true, by: alice, now: t0 + 4)
        let ada = try sqlite.addMember(
            MemberRequest(email: "ada@example.com", name: "Ada", audience: "sigil", scope: .custom(["tokens.list"])),
            by: alice, now: t0 + 4)
        _ = try sqlite.addMember(
            MemberRequest(email: "grace@example.com", name: "Grace", audience: "billing", scope: .readOnly), by: alice,
            now: t0 + 4)
        _ = try sqlite.suspendMember("grace@example.com", by: alice, now: t0 + 4)
        let copied = try sqlite.copyLedger(to: url, by: alice, now: t0 + 5)
        #expect(copied.tokens == 2)
        #expect(copied.sequence == 2)
        let postgres = try Issuer(home: source.home, database: url, mode: .existing)
        #expect(try postgres.tokens() == sqlite.tokens())
        #expect(try postgres.lastExportSequence() == 2)
        #expect(try postgres.latestRevocationList()?.bytes == sqlite.latestRevocationList()?.bytes)
        #expect(try postgres.catalog() == sqlite.catalog())
        #expect(try postgres.policies() == sqlite.policies())
        #expect(try postgres.policies().count == 1)
        let members = try postgres.members(page: PageRequest())
        #expect(members.items == (try sqlite.members(page: PageRequest())).items && members.items.count == 2)
        #expect(try postgres.member("ADA@example.com") == ada)
        let events = try postgres.events(AuditQuery(limit: 1_000))
        #expect(Array(events.dropFirst()) == (try sqlite.events(AuditQuery(limit: 1_000))))
        #expect(events.first?.action == .migrate)
        // Identity columns continue above the copy: a new token sorts last.
        let next = try postgres.issue(request("after"), by: alice, now: t0 + 6)
        #expect(try postgres.tokens().last?.id == next.record.id)
        #expect(try postgres.exportRevocationList(by: alice, now: t0 + 7).list.sequence == 3)

        let error = expectIssuerError(.conflict) { try sqlite.copyLedger(to: url, by: alice, now: t0 + 8) }
        #expect(error?.message.contains("empty") == true)
        #expect(try postgres.count(TokenQuery()) == 3)
    }
}
