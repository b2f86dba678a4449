import Foundation
package import SigilVerifier

/// The ledger in PostgreSQL, for several issuer hosts (`sigil-server` replicas, CLIs) on one
/// shared database: the same tables and rules as ``SQLiteStore``.
///
/// - A write transaction is `SERIALIZABLE` and takes no global lock, so writers on several hosts
///   run in parallel and PostgreSQL refuses any interleaving that would break a rule; refused
///   ones run again (``transaction(write:_:)``). A row lock is waited for at most the busy
///   timeout (`lock_timeout`), then `lock_busy`. Readers take a `REPEATABLE READ` snapshot.
/// - A write that changed something sends `NOTIFY sigil_ledger` with the ledger's schema and this
///   store's random ID before it commits; ``changeCounter()`` counts other stores' notes on the
///   same schema: how every replica learns of a new list and wakes its long polls.
/// - The schema version is one row in `schema_version`; migrations run under an advisory lock,
///   so two hosts starting at once do not both migrate.
/// - The database holds no secret: keyrings stay files in each host's home.
package final class PostgresStore: SQLStore {
    /// The `LISTEN`/`NOTIFY` channel every change is announced on.
    package static let channel = "sigil_ledger"
    /// The advisory lock key ("SIGILL" as a number, the low 16 bits the ledger's: ``ledgerKey(_:schema:)``)
    /// that signing a list takes (``serially(_:)``).
    static let listLock: Int64 = 0x5349_4749_4C4C_0000
    /// The advisory lock key ("SIGILMG" as a number) that migrations take.
    static let migrationLock: Int64 = 0x5349_4749_4C4D_4700
    /// The advisory lock key ("SIGILW" as a number, the low 16 bits the ledger's: ``ledgerKey(_:schema:)``)
    /// every write transaction holds shared, and one refused ``aloneAfter`` times holds
    /// exclusive, to run alone.
    package static let writersLock: Int64 = 0x5349_4749_4C57_0000

    /// `base` with its low 16 bits from the schema's name (FNV-1a): advisory locks are
    /// database-wide, and a ledger's writers must not wait for another ledger's (two ledgers
    /// in one database, each its own `search_path`). Two schemas that collide only share
    /// the lock's contention, never a rule.
    package static func ledgerKey(_ base: Int64, schema: String) -> Int64 {
        var hash: UInt32 = 0x811c_9dc5
        for byte in schema.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return base | Int64((hash ^ (hash >> 16)) & 0xffff)
    }
    /// Serialization failures after which a write waits for the writers in flight and runs
    /// alone: in a small ledger every create reads the index page the others insert into, and
    /// two replicas could keep refusing each other until the attempts ran out.
    static let aloneAfter = 2

    private let connection: PostgresConnection
    private let url: String
    private var listener: PostgresConnection?
    private var foreignChanges: Int64 = 0
    private var changed = false
    private let instanceID = TokenMinter.newTokenID().hexString
    /// The ledger's schema: two ledgers in one database (each its own `search_path`) share the
    /// channel, so a note names its schema and a store counts only its own ledger's notes.
    private var schema = ""
    private var writersKey: Int64 { Self.ledgerKey(Self.writersLock, schema: schema) }
    private var listKey: Int64 { Self.ledgerKey(Self.listLock, schema: schema) }
    private var notePayload: String { schema + " " + instanceID }
    /// The URL without its password: what messages name.
    package let location: String
    private let busySeconds: Double
    package var queryTimeLimit: Double?
    package let nesting = TransactionNesting()

    /// Connects, checks the schema and brings it up to date.
    ///
    /// - Throws: ``IssuerError``: `unavailable` (a bad URL, a database that is down or
    ///   refuses the credentials), `bad_data` (a newer schema), `lock_busy`.
    package init(url: String, busyTimeout seconds: Double) throws(IssuerError) {
        self.url = url
        location = DatabaseLocation.redact(url)
        busySeconds = seconds
        do {
            connection = try PostgresConnection(url: url)
        } catch {
            throw Self.unavailable(error, location: DatabaseLocation.redact(url))
        }
        try opening(close: connection.close, translate: translate) {
            let milliseconds = Int64(min(max(seconds, 0), 3_600) * 1000)
            // lock_timeout 0 would mean "wait for ever": 1 ms is the closest to "do not wait".
            try connection.executeScript(
                "SET lock_timeout = \(max(milliseconds, 1)); SET client_min_messages = warning; SET TIME ZONE 'UTC'")
            try migrate()
            schema = try connection.execute("SELECT current_schema()").text(0, 0)
        }
    }

    package func close() {
        connection.close()
        listener?.close()
        listener = nil
    }

    private static func unavailable(_ error: PostgresError, location: String) -> IssuerError {
        var reason = error.message
        while let last = reason.last, ".?; ".contains(last) { reason.removeLast() }
        return IssuerError(
            .unavailable,
            "cannot reach the ledger database \(location): \(reason). Check the URL, that the server is up and the credentials; nothing was changed",
            detail: .databaseUnavailable(location: location))
    }

    /// Maps SQLSTATEs to the issuer's reasons, with messages that say what to do.
    package func translate(_ error: PostgresError) -> IssuerError {
        if error.isConnectionFailure || error.sqlState.hasPrefix("28") || error.sqlState == "3D000" {
            return Self.unavailable(error, location: location)
        }
        switch error.sqlState {
        case "57014" where queryTimeLimit != nil:  // query_canceled: statement_timeout
            return IssuerError.queryTimedOut(queryTimeLimit ?? 0)
        case "40001", "40P01":
            // The transaction is doomed; a rerun of it may pass (``transaction(write:_:)``).
            nesting.mustRetry = true
            return IssuerError(
                .lockBusy,
                "the ledger database \(location) kept refusing this change as it collided with others; try again",
                detail: .databaseBusy(path: location, seconds: busySeconds))
        case "55P03":
            return IssuerError(
                .lockBusy, "another sigil process holds the ledger database \(location) (waited \(busySeconds) s)",
                detail: .databaseBusy(path: location, seconds: busySeconds))
        case "53100", "25006":
            return IssuerError(.cannotWrite, "cannot write \(location): \(error.message); nothing was changed")
        default:
            if error.sqlState.hasPrefix("23") { return IssuerError(.conflict, "\(location): \(error.message)") }
            return IssuerError(.badData, "\(location): \(error.description)")
        }
    }

    // MARK: Schema

    private func schemaVersionNow() throws -> Int? {
        let exists = try connection.execute("SELECT to_regclass('schema_version') IS NOT NULL")
        guard exists.int64(0, 0) == 1 else { return nil }
        let row = try connection.execute("SELECT version FROM schema_version")
        return row.rowCount == 0 ? nil : Int(row.int64(0, 0))
    }

    private func migrate() throws {
        // Readers must not wait: only a database that needs migrating takes the lock.
        if let version = try schemaVersionNow() {
            if version == SQLSchema.version { return }
            if version > SQLSchema.version { throw SQLSchema.tooNew(location: location, version: version) }
        }
        try connection.executeScript("BEGIN")
        try committing(connection.executeScript, translate: translate) {
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [.int(Self.migrationLock)])
            try connection.executeScript("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            let found = try schemaVersionNow()
            if found == nil { try connection.executeScript("INSERT INTO schema_version (version) VALUES (0)") }
            try SQLSchema.upgrade(from: found ?? 0, .postgres, location: location, run: connection.executeScript) {
                try connection.execute("UPDATE schema_version SET version = $1", [.int(Int64($0))])
            }
        }
    }

    // MARK: Transactions and the change signal

    /// The most times a write transaction is run again after a serialization failure.
    static let maxAttempts = 12

    /// Writes run `SERIALIZABLE`, so a rule checked in the transaction still holds at commit
    /// whatever other hosts commit meanwhile; PostgreSQL refuses a transaction that would
    /// break that (40001, or 40P01 for a deadlock), and it is run again from the start, after
    /// a short random pause, up to ``maxAttempts`` times; from the third attempt on, alone
    /// (``writersLock``). Reads take a `REPEATABLE READ` snapshot. Inside an open transaction
    /// it is a savepoint or joins it instead (``TransactionNesting``).
    package func transaction<T>(write: Bool, _ body: () throws -> T) throws -> T {
        if nesting.depth > 0 {
            return try nest(write: write, begin: {}, connection.executeScript, translate: translate, body)
        }
        if connection.isBroken, !connection.reset() {
            throw Self.unavailable(
                PostgresError(sqlState: "", message: "the connection was lost", isConnectionFailure: true),
                location: location)
        }
        var attempt = 1
        while true {
            nesting.mustRetry = false
            do {
                if write, attempt > Self.aloneAfter {
                    return try holding(writersKey) { try once(write: true, shared: false, body) }
                }
                return try once(write: write, shared: write, body)
            } catch {
                guard write, nesting.mustRetry, attempt < Self.maxAttempts else { throw error }
            }
            // Up to 1, 2, 4 … 32 ms: two hosts that collided rarely collide again.
            usleep(UInt32.random(in: 0...(1_000 << min(attempt, 5))))
            attempt += 1
        }
    }

    /// One attempt; `shared`: holding ``writersLock`` shared, taken with the BEGIN (one round trip).
    private func once<T>(write: Bool, shared: Bool, _ body: () throws -> T) throws -> T {
        try nest(
            write: write,
            begin: {
                if write {
                    try connection.executeScript(
                        "BEGIN ISOLATION LEVEL SERIALIZABLE"
                            + (shared ? "; SELECT pg_advisory_xact_lock_shared(\(writersKey))" : ""))
                    changed = false
                } else {
                    var begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                    if let limit = queryTimeLimit {
                        // SET LOCAL: for this transaction only; 0 would mean no limit. Sent with
                        // the BEGIN: one round trip.
                        let milliseconds = max(1, Int64(min(max(limit, 0), 3_600) * 1000))
                        begin += "; SET LOCAL statement_timeout = \(milliseconds)"
                    }
                    try connection.executeScript(begin)
                }
            }, connection.executeScript, translate: translate
        ) {
            let result = try body()
            // A step that doomed the transaction (a serialization failure in a group's savepoint)
            // leaves it refusing every statement: the NOTIFY would fail as 25P02 and hide the
            // retryable error, so the group is run again instead.
            if let lost = nesting.lost { throw lost }
            if write, changed {
                // Delivered to listeners only if the transaction commits.
                try connection.execute("SELECT pg_notify($1, $2)", [.text(Self.channel), .text(notePayload)])
            }
            return result
        }
    }

    /// Counts notifications from other stores on a second connection that `LISTEN`s; after a
    /// lost connection it reconnects and counts one change, since some may have been missed.
    package func changeCounter() throws(IssuerError) -> Int64 {
        do {
            if let listener, listener.isBroken {
                listener.close()
                self.listener = nil
            }
            if listener == nil {
                let fresh = try PostgresConnection(url: url)
                try fresh.executeScript("LISTEN \(Self.channel)")
                if foreignChanges > 0 { foreignChanges += 1 }
                listener = fresh
            }
            if let listener {
                let ours = schema + " "
                for note in try listener.notifications()
                where note.payload.hasPrefix(ours) && note.payload != notePayload {
                    foreignChanges += 1
                }
            }
            return foreignChanges
        } catch {
            listener?.close()
            listener = nil
            throw translate(error)
        }
    }

    /// A session lock, waited for at most the busy timeout (`lock_timeout`), then `lock_busy`;
    /// released after the commit, or by the server if the connection drops.
    package func serially<T>(_ body: () throws -> T) throws -> T {
        guard nesting.depth == 0 else { return try body() }
        return try holding(listKey, body)
    }

    /// Runs `body` holding the session advisory lock `key` exclusive, taken before `body`
    /// begins its transaction, so its snapshot comes after every holder it waited for; waits
    /// at most the busy timeout (`lock_timeout`), then `lock_busy`.
    private func holding<T>(_ key: Int64, _ body: () throws -> T) throws -> T {
        do { try connection.execute("SELECT pg_advisory_lock($1)", [.int(key)]) } catch { throw translate(error) }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [.int(key)]) }
        return try body()
    }

    private var watchedChanges: Int64?

    /// Blocks on the listening connection's socket until another store's `NOTIFY` arrives or
    /// `timeout` passes: no polling.
    /// The server's own checkpointer does this work.
    package func deferCheckpoints() throws(IssuerError) {}
    /// PostgreSQL keeps its own subtransactions.
    package func journalSavepointsInMemory() throws(IssuerError) {}
    package func checkpoint() throws(IssuerError) {}

    package func waitForChange(timeout: Double) throws(IssuerError) -> Bool {
        let before = try changeCounter()
        defer { watchedChanges = foreignChanges }
        if let watchedChanges, watchedChanges != before { return true }
        if watchedChanges == nil { watchedChanges = before }
        guard let listener, listener.waitForInput(timeout: timeout) else { return false }
        return try changeCounter() != before
    }

    /// Nothing to give back by hand: autovacuum reclaims the purged rows.
    package func compact() throws(IssuerError) {}

    /// Durability is the server's (`fsync`, `synchronous_commit`), not this connection's.
    package func durabilitySettings() throws(IssuerError) -> (synchronous: Int, journalMode: String) {
        (synchronous: -1, journalMode: "postgres")
    }

    // MARK: Statements

    package var dialect: SQLDialect { .postgres }

    /// The shared SQL's `?N` placeholders as PostgreSQL's `$N` (no shared statement holds a `?`
    /// otherwise; values are always bound).
    private static func dollars(_ sql: String) -> String { sql.replacing("?", with: "$") }

    package private(set) var statements = 0

    package var transactionIsOpen: Bool { connection.isInHealthyTransaction }

    /// Streams rows (single-row mode): a listing or an export holds one row at a time.
    package func query(_ sql: String, _ values: [SQLValue], _ body: (PostgresRow) throws -> Void) throws {
        try sendSavepoints(connection.executeScript, translate: translate)
        statements += 1
        try connection.stream(Self.dollars(sql), values, body)
    }

    @discardableResult
    package func run(_ sql: String, _ values: [SQLValue]) throws -> Int {
        try sendSavepoints(connection.executeScript, translate: translate)
        statements += 1
        let touched = try connection.execute(Self.dollars(sql), values).affectedRows
        if touched > 0 { changed = true }
        return touched
    }

    /// One statement for all of `ids`, bound as one `bytea[]`.
    package func run(_ sql: String, _ values: [SQLValue], forEachOf ids: [TokenID]) throws {
        try run(sql, values + [.byteArrays(ids.map(\.bytes))])
    }

    /// Identity columns continue above the copied rows.
    package func finishRestore() throws {
        changed = true
        try connection.executeScript(
            """
            SELECT setval(pg_get_serial_sequence('tokens', 'seq'), coalesce((SELECT max(seq) FROM tokens), 0) + 1, false);
            SELECT setval(pg_get_serial_sequence('events', 'id'), coalesce((SELECT max(id) FROM events), 0) + 1, false);
            """)
    }
}
