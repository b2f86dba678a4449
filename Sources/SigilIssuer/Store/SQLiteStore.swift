import Foundation
package import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// The ledger in SQLite: `<home>/sigil.db`. The only code that speaks SQL to it.
///
/// Opened in WAL mode with `synchronous=FULL` (a change that was reported survives a power
/// cut), foreign keys on and a busy timeout. Every statement binds its values. The schema is
/// versioned with `PRAGMA user_version`; migrations are numbered and only go forward.
package final class SQLiteStore: SQLStore {
    /// The schema version this build writes. A database with a higher one is refused.
    package static let schemaVersion = SQLSchema.version
    package static let fileName = "sigil.db"

    package let db: SQLiteDatabase
    package let path: String
    private let busySeconds: Double
    package var queryTimeLimit: Double?
    package let nesting = TransactionNesting()

    /// Opens or creates the database and brings its schema up to date.
    ///
    /// - Throws: ``IssuerError``: `bad_data` for a corrupt or newer database, `lock_busy`,
    ///   `cannot_write`.
    package init(path: String, busyTimeout seconds: Double) throws(IssuerError) {
        self.path = path
        busySeconds = seconds
        let timeout = Int32(clamping: Int64(seconds * 1000))
        do {
            let writable = try SQLiteDatabase(path: path, create: true, busyTimeoutMilliseconds: timeout)
            if writable.isReadOnly {
                // A read-only file system: reads still work on an immutable view; writes say 73.
                writable.close()
                db = try SQLiteDatabase(path: path, create: false, busyTimeoutMilliseconds: timeout, immutable: true)
            } else {
                db = writable
            }
        } catch {
            throw Self.translate(error, path: path, seconds: seconds)
        }
        try opening(close: db.close, translate: translate) {
            if !db.isReadOnly {
                // Fails on a file that is not a database: the header is read here for the first time.
                let mode = try db.text("PRAGMA journal_mode=WAL")
                guard mode == "wal" else {
                    throw IssuerError(.cannotWrite, "\(path): SQLite would not switch to WAL mode (\(mode ?? "none"))")
                }
                // A bulk change of 10k random rows dirties more pages than the default cache holds;
                // 32 MiB keeps them in memory until the commit.
                try db.execute("PRAGMA synchronous=FULL; PRAGMA cache_size=-32768")
            }
            try db.execute("PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF")
            try migrate()
        }
    }

    /// Opens the home's own database file like ``init(path:busyTimeout:)``, first creating it
    /// `0600` if missing (never through a link) and refusing it, or a `-wal` or `-shm`
    /// companion, if it is a link or readable by others. A second connection in a process that
    /// holds this file open must use ``init(path:busyTimeout:)``: closing any other descriptor of
    /// these files drops the process's POSIX locks on them.
    ///
    /// - Throws: ``IssuerError``: `permissions`, `cannot_write`, and what opening throws.
    package convenience init(securing path: String, busyTimeout seconds: Double) throws(IssuerError) {
        if !Self.fileExists(path) {
            // SQLite would create the file 0644; make it 0600 first, never through a link.
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                Glibc.close(fd)
            } else if errno != EEXIST {
                throw SecureFile.ioError("cannot create \(path)", errno, write: true)
            }
        }
        try SecureFile.checkPrivate(path)
        // SQLite opens these by name too: a link planted in their place is refused like the database.
        for companion in [path + "-wal", path + "-shm"] where Self.fileExists(companion) {
            try SecureFile.checkCompanion(companion)
        }
        try self.init(path: path, busyTimeout: seconds)
    }

    /// Whether anything (a link included) is at `path`.
    package static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Closes the database and removes its file and companions: a half-made import leaves nothing.
    package func closeAndRemoveFiles() {
        db.close()
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    package func close() { db.close() }

    package var location: String { path }

    /// `PRAGMA data_version`: changes whenever another connection commits.
    package func changeCounter() throws(IssuerError) -> Int64 {
        do { return try db.integer("PRAGMA data_version") ?? 0 } catch { throw translate(error) }
    }

    /// `BEGIN IMMEDIATE` already makes every write one at a time.
    package func serially<T>(_ body: () throws -> T) throws -> T { try body() }

    private var watchedVersion: Int64?

    /// SQLite has no notification: `data_version` is read every 20 ms (a read of the shared
    /// memory header, no disk access) until it moves or `timeout` passes.
    package func waitForChange(timeout: Double) throws(IssuerError) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(max(timeout, 0) * 1000))
        var seen = watchedVersion ?? 0
        if watchedVersion == nil { seen = try changeCounter() }
        while true {
            let version = try changeCounter()
            watchedVersion = version
            if version != seen { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(20_000)
        }
    }

    /// A commit that takes the log past `wal_autocheckpoint` pages copies it into the file and
    /// syncs it before it returns: at a million entries a list is 17 MB, so every publish paid
    /// for that copy. sigil-server's writer raises the threshold to a backstop (64 MiB of
    /// pages), and its change watcher checkpoints passively after every change it sees.
    package func deferCheckpoints() throws(IssuerError) {
        do { try db.execute("PRAGMA wal_autocheckpoint=16384") } catch { throw translate(error) }
    }

    /// SQLite keeps a savepoint's undo copies in memory up to 64 KiB, then moves them to a temp
    /// file that stays until the commit: one create changes about 16 pages, so in a server's
    /// group every later savepoint wrote each page it touched to that file (two `pwrite`s a
    /// page, three of every four `pwrite`s the writer made, and a temp file made and unlinked
    /// per group). In memory they take one create's pages at a time: a released savepoint's
    /// copies are dropped. `temp_store` also keeps this connection's temporary tables in memory:
    /// the writer's are small (the distinct GUIDs named since the last list; a list's entries are
    /// sorted in Swift, not by SQLite).
    package func journalSavepointsInMemory() throws(IssuerError) {
        do { try db.execute("PRAGMA temp_store=MEMORY") } catch { throw translate(error) }
    }

    package func checkpoint() throws(IssuerError) {
        do { try db.execute("PRAGMA wal_checkpoint(PASSIVE)") } catch { throw translate(error) }
    }

    /// Checkpoints the write-ahead log into the file and rewrites it compactly (`VACUUM`).
    package func compact() throws(IssuerError) {
        do { try db.execute("PRAGMA wal_checkpoint(TRUNCATE); VACUUM") } catch { throw translate(error) }
    }

    /// Maps SQLite's codes to the issuer's reasons, with messages that say what to do.
    package static func translate(_ error: SQLiteError, path: String, seconds: Double) -> IssuerError {
        if error.isBusy {
            return IssuerError(
                .lockBusy,
                "another sigil process holds the database \(path) (waited \(seconds) s)",
                detail: .databaseBusy(path: path, seconds: seconds))
        }
        if error.isCorrupt {
            return IssuerError(
                .badData,
                "\(path) is damaged or is not a Sigil database (\(error.message)); nothing was changed",
                detail: .databaseCorrupt(path: path))
        }
        if error.isFull {
            return IssuerError(
                .cannotWrite, "cannot write \(path): the disk is full. Free space and retry; nothing was changed.")
        }
        if error.isReadOnly || error.isIO {
            return IssuerError(
                .cannotWrite,
                "cannot write \(path) (\(error.message)): the folder or file system is read-only or not writable; nothing was changed",
                detail: .readOnly(path: path))
        }
        if error.isConstraint { return IssuerError(.conflict, "\(path): \(error.message)") }
        return IssuerError(.badData, "\(path): \(error.message)")
    }

    private func translate(_ error: SQLiteError) -> IssuerError {
        if error.isInterrupted, let limit = queryTimeLimit { return IssuerError.queryTimedOut(limit) }
        return Self.translate(error, path: path, seconds: busySeconds)
    }

    // MARK: Schema

    private func migrate() throws {
        // Readers must not wait for a writer: only a database that needs migrating takes the lock.
        // On a read-only view this is where a file that is not a database fails.
        let current = Int(try db.integer("PRAGMA user_version") ?? 0)
        if current == Self.schemaVersion { return }
        if current > Self.schemaVersion { throw SQLSchema.tooNew(location: path, version: current) }
        guard !db.isReadOnly else {
            throw IssuerError(
                .cannotWrite,
                "\(path) needs its schema upgraded (version \(current) to \(Self.schemaVersion)) but is on a read-only file system",
                detail: .readOnly(path: path))
        }
        // IMMEDIATE: two first commands racing on a new home must not both create tables; the
        // version is read again under the lock.
        try db.execute("BEGIN IMMEDIATE")
        try committing(db.execute, translate: translate) {
            try SQLSchema.upgrade(
                from: Int(try db.integer("PRAGMA user_version") ?? 0), .sqlite, location: path, run: db.execute
            ) { try db.execute("PRAGMA user_version = \($0)") }
        }
    }

    /// `PRAGMA synchronous` (2 = FULL) and `journal_mode`: what durability rests on.
    package func durabilitySettings() throws(IssuerError) -> (synchronous: Int, journalMode: String) {
        do {
            return (Int(try db.integer("PRAGMA synchronous") ?? -1), try db.text("PRAGMA journal_mode") ?? "")
        } catch { throw translate(error) }
    }

    // MARK: Transactions

    /// Runs `body` in one transaction: a write takes the write lock first (`BEGIN IMMEDIATE`),
    /// so the busy timeout applies before any work, and everything lands or nothing does.
    /// Inside an open transaction it is a savepoint instead (``TransactionNesting``).
    package func transaction<T>(write: Bool, _ body: () throws -> T) throws -> T {
        let limit = write || nesting.depth > 0 ? nil : queryTimeLimit
        if let limit { db.armDeadline(after: limit) }
        defer { if limit != nil { db.disarmDeadline() } }
        return try nest(
            write: write, begin: { try db.execute(write ? "BEGIN IMMEDIATE" : "BEGIN") }, db.execute,
            translate: translate, body)
    }

    // MARK: Statements

    package var dialect: SQLDialect { .sqlite }

    package private(set) var statements = 0

    package var transactionIsOpen: Bool { db.isInTransaction }

    package func query(_ sql: String, _ values: [SQLValue], _ body: (SQLiteRow) throws -> Void) throws {
        try sendSavepoints(db.execute, translate: translate)
        statements += 1
        let s = try db.statement(sql)
        defer { s.reset() }
        try s.bind(values)
        while try s.step() { try body(SQLiteRow(statement: s)) }
    }

    @discardableResult
    package func run(_ sql: String, _ values: [SQLValue]) throws -> Int {
        try sendSavepoints(db.execute, translate: translate)
        statements += 1
        let s = try db.statement(sql)
        try s.bind(values)
        try s.run()
        return db.changes
    }

    /// Runs the statement once per GUID: SQLite has no array parameter, and a prepared
    /// statement rerun costs no parsing.
    package func run(_ sql: String, _ values: [SQLValue], forEachOf ids: [TokenID]) throws {
        for id in ids { try run(sql, values + [.bytes(id.bytes)]) }
    }
}
