internal import CSQLite

#if canImport(Glibc)
    import Glibc
#endif

/// An error from SQLite: its primary result code, the extended code and its message.
///
/// The message comes from `sqlite3_errmsg` and names tables or constraints, never bound values,
/// so it is safe to show (bound values are the only place token metadata enters SQL).
package struct SQLiteError: Error, Sendable, CustomStringConvertible {
    package let code: Int32
    package let extendedCode: Int32
    package let message: String
    /// The `errno` of the system call that failed below SQLite, if one did (`sqlite3_system_errno`).
    package var systemErrno: Int32 = 0

    package var description: String { "SQLite error \(extendedCode): \(message)" }

    /// Another connection holds the write lock past the busy timeout.
    package var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    /// The file is damaged or is not a database at all.
    package var isCorrupt: Bool { code == SQLITE_CORRUPT || code == SQLITE_NOTADB }
    /// The file, its folder or the file system cannot be written.
    package var isReadOnly: Bool { code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM }
    /// The disk is full (SQLite reports a failed WAL or shm growth as an I/O error).
    package var isFull: Bool { code == SQLITE_FULL || systemErrno == ENOSPC || systemErrno == EDQUOT }
    /// An I/O error below SQLite.
    package var isIO: Bool { code == SQLITE_IOERR }
    /// A UNIQUE or foreign-key constraint failed.
    package var isConstraint: Bool { code == SQLITE_CONSTRAINT }
    /// The statement was stopped: its deadline (``SQLiteDatabase/armDeadline(after:)``) passed.
    package var isInterrupted: Bool { code == SQLITE_INTERRUPT }
}

/// The monotonic instant after which ``SQLiteDatabase``'s progress handler stops a statement.
private final class SQLiteDeadline {
    /// Monotonic nanoseconds; `UInt64.max` while disarmed.
    var nanoseconds = UInt64.max

    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}

/// One connection to a SQLite database. The only Swift code in Sigil that calls SQLite.
///
/// Not thread-safe: one connection belongs to one caller at a time (a CLI command, or one
/// server request under the store's lock). Statements are prepared once per SQL text and
/// cached, always with bound parameters.
///
/// ```swift
/// let db = try SQLiteDatabase(path: "keys/sigil.db", create: true, busyTimeoutMilliseconds: 5_000)
/// let statement = try db.statement("SELECT count(*) FROM tokens WHERE audience = ?1")
/// try statement.bind(1, "billing")
/// _ = try statement.step()
/// ```
package final class SQLiteDatabase {
    // fileprivate: ``SQLiteBackup`` in this file passes it to `sqlite3_backup_init`.
    fileprivate var handle: OpaquePointer?
    private var cache: [String: SQLiteStatement] = [:]
    private let deadline = SQLiteDeadline()
    package let path: String

    /// Opens (or creates) the database at `path` without following a symbolic link.
    ///
    /// Calls `sqlite3_open_v2` with `SQLITE_OPEN_NOFOLLOW`, then `sqlite3_busy_timeout`.
    ///
    /// With `immutable`, opens read-only and tells SQLite nobody changes the file (the URI
    /// parameter `immutable=1`): for a database on a read-only file system, where the WAL's
    /// shared-memory file cannot be made.
    package init(path: String, create: Bool, busyTimeoutMilliseconds: Int32, immutable: Bool = false)
        throws(SQLiteError)
    {
        self.path = path
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX
        var name = path
        if immutable {
            flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI
            // A file: URI needs %, ? and # escaped; a relative path stays relative.
            var escaped = ""
            for c in path.unicodeScalars {
                switch c {
                case "%": escaped += "%25"
                case "?": escaped += "%3f"
                case "#": escaped += "%23"
                default: escaped.unicodeScalars.append(c)
                }
            }
            name = "file:\(escaped)?immutable=1"
        } else {
            flags |= SQLITE_OPEN_READWRITE
            if create { flags |= SQLITE_OPEN_CREATE }
        }
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let error = SQLiteError(
                code: rc & 0xff, extendedCode: rc,
                message: db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory")
            sqlite3_close_v2(db)
            throw error
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
    }

    deinit { close() }

    /// Stops any statement still running `seconds` from now with `SQLITE_INTERRUPT`, until
    /// ``disarmDeadline()``: a progress handler (`sqlite3_progress_handler`, every 1,000
    /// virtual-machine steps) compares the monotonic clock with the deadline.
    package func armDeadline(after seconds: Double) {
        deadline.nanoseconds = SQLiteDeadline.now() + UInt64(max(0, seconds) * 1e9)
        // The context is this connection's own deadline object, which lives as long as it.
        sqlite3_progress_handler(
            handle, 1_000,
            { context in
                guard let context else { return 0 }
                let deadline = Unmanaged<SQLiteDeadline>.fromOpaque(context).takeUnretainedValue()
                return SQLiteDeadline.now() >= deadline.nanoseconds ? 1 : 0
            }, Unmanaged.passUnretained(deadline).toOpaque())
    }

    /// Removes the deadline ``armDeadline(after:)`` set.
    package func disarmDeadline() {
        sqlite3_progress_handler(handle, 0, nil, nil)
        deadline.nanoseconds = .max
    }

    /// Finalizes every statement and closes the connection (`sqlite3_close_v2`).
    package func close() {
        for statement in cache.values { statement.finalize() }
        cache.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private func failure(_ rc: Int32) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "the database is closed"
        var error = SQLiteError(code: rc & 0xff, extendedCode: rc, message: message)
        error.systemErrno = handle.map { sqlite3_system_errno($0) } ?? 0
        return error
    }

    /// Whether SQLite opened the file read-only (it falls back silently when it cannot write,
    /// e.g. on a read-only file system): `sqlite3_db_readonly`.
    package var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    /// Runs SQL without parameters, possibly several statements (`sqlite3_exec`). For schema
    /// and pragmas only: values always go through ``statement(_:)`` and `bind`.
    package func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw failure(rc) }
    }

    /// A prepared statement for `sql`, reset and with its bindings cleared (`sqlite3_prepare_v3`).
    package func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = cache[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw failure(rc) }
        let statement = SQLiteStatement(raw, database: self)
        cache[sql] = statement
        return statement
    }

    /// The first column of the first row of a query without parameters, as an integer.
    package func integer(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try statement(sql)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.optionalInt64(0)
    }

    /// The first column of the first row of a query without parameters, as text.
    package func text(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try statement(sql)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.optionalText(0)
    }

    /// What `PRAGMA integrity_check` finds wrong, at most `limit` lines; empty for a sound
    /// database. A damaged file may also make the check itself fail (thrown).
    package func integrityProblems(limit: Int = 20) throws(SQLiteError) -> [String] {
        let statement = try statement("PRAGMA integrity_check(\(max(1, limit)))")
        defer { statement.reset() }
        var problems: [String] = []
        while try statement.step() { problems.append(statement.text(0)) }
        return problems == ["ok"] ? [] : problems
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE (`sqlite3_changes64`).
    package var changes: Int { Int(sqlite3_changes64(handle)) }

    /// Whether a transaction is open (`sqlite3_get_autocommit`).
    package var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    fileprivate func check(_ rc: Int32) throws(SQLiteError) {
        guard rc == SQLITE_OK else { throw failure(rc) }
    }

    fileprivate func stepFailure(_ rc: Int32) -> SQLiteError { failure(rc) }
}

/// An online backup: copies a database page by page into another while other connections
/// keep writing to it (`sqlite3_backup_init`, `_step`, `_finish`).
///
/// What is copied is the source as one snapshot if the source connection holds a read
/// transaction for the whole copy; without one, a write by another connection between two
/// steps makes SQLite start the copy again.
///
/// ```swift
/// let backup = try SQLiteBackup(from: source, to: destination)
/// while try !backup.step(pages: 1_024) { print(backup.pageCount - backup.remaining, backup.pageCount) }
/// try backup.finish()
/// ```
package final class SQLiteBackup {
    private var raw: OpaquePointer?
    private let destination: SQLiteDatabase

    /// Starts a backup of `source`'s main database into `destination`'s (`sqlite3_backup_init`).
    /// Neither connection may be used for anything else until ``finish()``.
    package init(from source: SQLiteDatabase, to destination: SQLiteDatabase) throws(SQLiteError) {
        self.destination = destination
        guard let raw = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            // The error is recorded on the destination connection.
            throw destination.stepFailure(sqlite3_errcode(destination.handle))
        }
        self.raw = raw
    }

    deinit { if let raw { sqlite3_backup_finish(raw) } }

    /// Copies up to `pages` more pages (`sqlite3_backup_step`); true once everything is copied.
    /// A source or destination lock held by another connection throws `SQLITE_BUSY` or
    /// `SQLITE_LOCKED`; the backup may be stepped again.
    package func step(pages: Int32) throws(SQLiteError) -> Bool {
        let rc = sqlite3_backup_step(raw, pages)
        switch rc {
        case SQLITE_DONE: return true
        case SQLITE_OK: return false
        case SQLITE_BUSY, SQLITE_LOCKED:
            throw SQLiteError(code: rc & 0xff, extendedCode: rc, message: "the database is locked")
        default:
            // A fatal error: `finish` reports it and frees the backup.
            let finished = sqlite3_backup_finish(raw)
            raw = nil
            throw destination.stepFailure(finished == SQLITE_OK ? rc : finished)
        }
    }

    /// Pages still to copy, as of the last ``step(pages:)`` (`sqlite3_backup_remaining`).
    package var remaining: Int { raw.map { Int(sqlite3_backup_remaining($0)) } ?? 0 }

    /// The source's size in pages, as of the last ``step(pages:)`` (`sqlite3_backup_pagecount`).
    package var pageCount: Int { raw.map { Int(sqlite3_backup_pagecount($0)) } ?? 0 }

    /// Ends the backup and frees it (`sqlite3_backup_finish`), reporting an error any step met.
    package func finish() throws(SQLiteError) {
        guard let raw else { return }
        self.raw = nil
        let rc = sqlite3_backup_finish(raw)
        guard rc == SQLITE_OK else { throw destination.stepFailure(rc) }
    }
}

/// A prepared statement: bind parameters (1-based), step, read columns (0-based).
package final class SQLiteStatement {
    private var raw: OpaquePointer?
    private unowned let database: SQLiteDatabase

    fileprivate init(_ raw: OpaquePointer, database: SQLiteDatabase) {
        self.raw = raw
        self.database = database
    }

    fileprivate func finalize() {
        sqlite3_finalize(raw)
        raw = nil
    }

    /// Resets the statement and clears its bindings (`sqlite3_reset`, `sqlite3_clear_bindings`).
    package func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    package func bind(_ index: Int32, _ value: Int64?) throws(SQLiteError) {
        guard let value else { return try database.check(sqlite3_bind_null(raw, index)) }
        try database.check(sqlite3_bind_int64(raw, index, value))
    }

    package func bind(_ index: Int32, _ value: Int) throws(SQLiteError) { try bind(index, Int64(value)) }

    /// Binds text, copied by SQLite before this returns (`SQLITE_TRANSIENT`).
    package func bind(_ index: Int32, _ value: String?) throws(SQLiteError) {
        guard let value else { return try database.check(sqlite3_bind_null(raw, index)) }
        // withCString always gives a valid pointer, also for '' (which SQLite must not bind as NULL).
        let count = Int32(value.utf8.count)
        let rc = value.withCString { sigil_sqlite3_bind_text(raw, index, $0, count) }
        try database.check(rc)
    }

    /// Binds a blob, copied by SQLite before this returns.
    package func bind(_ index: Int32, bytes: [UInt8]?) throws(SQLiteError) {
        guard let bytes else { return try database.check(sqlite3_bind_null(raw, index)) }
        let rc = bytes.withUnsafeBytes { buffer in
            // A zero-length blob still needs a non-NULL pointer, or SQLite binds NULL.
            sigil_sqlite3_bind_blob(
                raw, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count))
        }
        try database.check(rc)
    }

    /// Binds `values` to parameters 1, 2, … in order: the one bind helper of the SQLite store.
    package func bind(_ values: [SQLValue]) throws(SQLiteError) {
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .int(let n): try bind(index, n)
            case .text(let t): try bind(index, t)
            case .bytes(let b): try bind(index, bytes: b)
            case .byteArrays: preconditionFailure("SQLite has no array parameters")
            }
        }
    }

    /// Advances to the next row: true for a row, false when done (`sqlite3_step`).
    @discardableResult
    package func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(raw)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let error = database.stepFailure(rc)
        sqlite3_reset(raw)
        throw error
    }

    /// Steps a statement that returns no rows.
    package func run() throws(SQLiteError) {
        _ = try step()
        reset()
    }

    package func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    package func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    package func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    package func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(raw, column) else { return "" }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    package func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// Calls `body` with the column's bytes, valid only during the call.
    package func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard let base = sqlite3_column_blob(raw, column), count > 0 else {
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return body(UnsafeRawBufferPointer(start: base, count: count))
    }

    package func blob(_ column: Int32) -> [UInt8] { withBlob(column) { Array($0) } }
}

/// The row a statement stands on, for the shared decoding (``SQLRow``).
package struct SQLiteRow: SQLRow {
    let statement: SQLiteStatement

    package func isNull(_ column: Int) -> Bool { statement.isNull(Int32(column)) }
    package func int64(_ column: Int) -> Int64 { statement.int64(Int32(column)) }
    package func text(_ column: Int) -> String { statement.text(Int32(column)) }
    package func withBytes<T>(_ column: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        statement.withBlob(Int32(column), body)
    }
}
