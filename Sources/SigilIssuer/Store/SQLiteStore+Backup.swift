import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a ledger backup file holds, as read back from the file itself.
package struct BackupContents: Sendable, Hashable {
    /// The file's schema version (``SQLSchema/version`` or lower).
    package var schemaVersion: Int
    /// Token rows, deleted ones included.
    package var tokens: Int
    /// Audit events.
    package var events: Int
    /// The highest revocation-list sequence the backup knows: its `export_sequence` or its
    /// newest stored list, whichever is higher.
    package var sequence: UInt64
    /// The file's size.
    package var bytes: Int64
}

extension SQLiteStore {
    /// Pages copied per backup step: 4 MiB at the default page size, a few milliseconds of
    /// work between two progress reports.
    static let pagesPerStep: Int32 = 1_024

    /// Writes a copy of this ledger, as it is when the call begins, to a new file at `path`.
    ///
    /// The copy is SQLite's online backup over this connection, inside one read transaction:
    /// it holds every change committed before the call and none after, while other
    /// connections and processes keep writing (WAL mode never makes them wait for a reader).
    /// `path` is created `0600` and exclusively, so an existing file or link there is never
    /// replaced or followed; the copy is switched to a rollback journal (one file, no `-wal`),
    /// fsynced with its folder, then opened again read-only and checked as
    /// ``inspectBackup(_:)`` checks a file to restore. A failure removes what was written.
    ///
    /// - Parameters:
    ///   - path: The new file.
    ///   - pagesPerStep: Pages copied between two progress reports (tests make it small, so
    ///     other connections' writes land in the middle of a copy).
    ///   - progress: Told the pages copied.
    /// - Returns: What the written file holds.
    /// - Throws: ``IssuerError``: `cannot_write` (the file exists, its folder is missing or not
    ///   writable, the disk is full), `bad_data` (the written copy does not check out).
    package func backup(to path: String, pagesPerStep: Int32 = pagesPerStep, progress: ProgressHandler?)
        throws(IssuerError) -> BackupContents
    {
        try Self.createExclusively(path)
        var kept = false
        defer { if !kept { Self.removeDatabaseFiles(path) } }
        do {
            try transaction(write: false) {
                // The first read fixes the snapshot the whole copy is taken from.
                _ = try db.integer("SELECT count(*) FROM sqlite_schema")
                try Self.copyPages(from: db, to: path, pagesPerStep: pagesPerStep, progress: progress)
            }
        } catch let error as IssuerError {
            throw error
        } catch {
            throw IssuerError(.badData, "\(path): \(error)")
        }
        try Self.syncFile(path)
        let contents = try Self.inspectBackup(path, progress: progress)
        kept = true
        return contents
    }

    /// Copies `source`'s database into the empty database file at `path` with the online
    /// backup API, reporting pages, and leaves it in rollback-journal mode: one file. SQLite
    /// reports a failure on either side through the destination, so errors name `path`.
    static func copyPages(
        from source: SQLiteDatabase, to path: String, pagesPerStep: Int32 = pagesPerStep, progress: ProgressHandler?
    ) throws(IssuerError) {
        do { try copyPagesOrFail(from: source, to: path, pagesPerStep: pagesPerStep, progress: progress) } catch {
            throw translate(error, path: path, seconds: 0)
        }
    }

    private static func copyPagesOrFail(
        from source: SQLiteDatabase, to path: String, pagesPerStep: Int32, progress: ProgressHandler?
    ) throws(SQLiteError) {
        let destination = try SQLiteDatabase(path: path, create: false, busyTimeoutMilliseconds: 5_000)
        defer { destination.close() }
        let backup = try SQLiteBackup(from: source, to: destination)
        var counter: ProgressCounter?
        while try !backup.step(pages: max(1, pagesPerStep)) {
            if counter == nil {
                counter = ProgressCounter("copying", total: Int64(backup.pageCount), unit: .pages, progress)
            }
            counter?.set(Int64(backup.pageCount - backup.remaining))
        }
        let total = Int64(backup.pageCount)
        try backup.finish()
        (counter ?? ProgressCounter("copying", total: total, unit: .pages, progress)).finish()
        // The copied header says WAL when the source was in WAL mode; a backup is one file.
        let mode = try destination.text("PRAGMA journal_mode=DELETE")
        guard mode == "delete" else {
            // 8 is SQLITE_READONLY, which comes out as cannot_write.
            throw SQLiteError(code: 8, extendedCode: 8, message: "the copy stayed in journal mode \(mode ?? "none")")
        }
    }

    /// Checks a backup file without changing it, and says what it holds.
    ///
    /// The file must be a regular file (not a link), a sound SQLite database (`PRAGMA
    /// integrity_check`, `foreign_key_check`), carry a Sigil schema version this build knows,
    /// and hold exactly the tables and indexes that version's migrations make: a file with a
    /// trigger, a view or a table of its own is refused, as is one from a newer Sigil. It is
    /// opened read-only as immutable, so no `-wal` or `-shm` file is made beside it.
    ///
    /// - Throws: ``IssuerError``: `not_found`, `invalid_input` (a link), `bad_data`.
    package static func inspectBackup(_ path: String, progress: ProgressHandler? = nil) throws(IssuerError)
        -> BackupContents
    {
        let bytes = try backupFileSize(path)
        let db: SQLiteDatabase
        do { db = try SQLiteDatabase(path: path, create: false, busyTimeoutMilliseconds: 0, immutable: true) } catch {
            throw notABackup(path, error.message)
        }
        defer { db.close() }
        do {
            // A file from elsewhere: its schema's functions must not run with any trust.
            try db.execute("PRAGMA trusted_schema=OFF")
            ProgressCounter("checking", total: nil, unit: .pages, progress).begin()
            let problems = try db.integrityProblems(limit: 5)
            guard problems.isEmpty else { throw notABackup(path, "damaged: " + problems.joined(separator: "; ")) }
            let version = Int(try db.integer("PRAGMA user_version") ?? 0)
            guard version > 0 else { throw notABackup(path, "it has no Sigil schema") }
            if version > SQLSchema.version { throw SQLSchema.tooNew(location: path, version: version) }
            try checkSchema(db, version: version, path: path)
            let orphans = try db.statement("PRAGMA foreign_key_check")
            defer { orphans.reset() }
            if try orphans.step() { throw notABackup(path, "a row of \(orphans.text(0)) points at a missing row") }
            var sequence = UInt64(
                bitPattern: try db.integer("SELECT value FROM issuer_state WHERE key = 'export_sequence'") ?? 0)
            if version >= 2 {
                let lists = try db.statement("SELECT sequence FROM revocation_lists")
                defer { lists.reset() }
                while try lists.step() { sequence = max(sequence, UInt64(bitPattern: lists.int64(0))) }
            }
            return BackupContents(
                schemaVersion: version, tokens: Int(try db.integer("SELECT count(*) FROM tokens") ?? 0),
                events: Int(try db.integer("SELECT count(*) FROM events") ?? 0), sequence: sequence, bytes: bytes)
        } catch let error as IssuerError {
            throw error
        } catch let error as SQLiteError {
            throw notABackup(path, error.message)
        } catch {
            throw notABackup(path, "\(error)")
        }
    }

    /// Refuses a schema other than the one `version`'s migrations make. Names are compared, not
    /// the SQL text, so a ledger made by an older build whose statements were only reformatted
    /// still passes; `sqlite_stat*` tables (left by an operator's ANALYZE) are allowed.
    private static func checkSchema(_ db: SQLiteDatabase, version: Int, path: String) throws {
        func objects(_ db: SQLiteDatabase) throws -> Set<String> {
            let statement = try db.statement("SELECT type, name, tbl_name FROM sqlite_schema")
            defer { statement.reset() }
            var out = Set<String>()
            while try statement.step() {
                if statement.text(1).hasPrefix("sqlite_stat") { continue }
                out.insert("\(statement.text(0)) \(statement.text(1)) on \(statement.text(2))")
            }
            return out
        }
        let expected = try SQLiteDatabase(path: ":memory:", create: true, busyTimeoutMilliseconds: 0)
        defer { expected.close() }
        for migration in SQLSchema.migrations(.sqlite).prefix(version) { try expected.execute(migration) }
        let found = try objects(db)
        let wanted = try objects(expected)
        guard found == wanted else {
            let extra = found.subtracting(wanted).sorted().prefix(3)
            let missing = wanted.subtracting(found).sorted().prefix(3)
            throw notABackup(
                path,
                "its schema is not version \(version)'s"
                    + (extra.isEmpty ? "" : "; not Sigil's: \(extra.joined(separator: ", "))")
                    + (missing.isEmpty ? "" : "; missing: \(missing.joined(separator: ", "))"))
        }
    }

    private static func notABackup(_ path: String, _ why: String) -> IssuerError {
        IssuerError(
            .badData, "\(path) is not a usable Sigil ledger backup (\(why)); nothing was restored",
            detail: .databaseCorrupt(path: path))
    }

    /// The size of the regular file at `path`; a link, a folder or an empty file is refused.
    private static func backupFileSize(_ path: String) throws(IssuerError) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            let code = errno
            if code == ENOENT { throw IssuerError(.notFound, "no backup file at \(path)") }
            throw SecureFile.ioError("cannot read \(path)", code, write: false)
        }
        if st.st_mode & S_IFMT == S_IFLNK {
            throw IssuerError(
                .invalidInput, "\(path) is a symbolic link; give the backup file itself",
                detail: .invalidLabel(field: "from", problem: "is a symbolic link"))
        }
        guard st.st_mode & S_IFMT == S_IFREG else { throw notABackup(path, "not a regular file") }
        guard st.st_size > 0 else { throw notABackup(path, "the file is empty") }
        return Int64(st.st_size)
    }

    /// Creates an empty `0600` file at `path`; anything already there (a link included) is
    /// refused, never replaced or followed.
    static func createExclusively(_ path: String) throws(IssuerError) {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw IssuerError(
                    .cannotWrite,
                    "\(path) already exists: a backup never replaces a file or follows a link there; give a new file name"
                )
            }
            throw SecureFile.ioError("cannot create \(path)", code, write: true)
        }
        // A umask cannot take the owner's bits away, nor leave others any.
        fchmod(fd, 0o600)
        Glibc.close(fd)
    }

    /// fsyncs the file at `path` and its folder, so the copy survives a power cut.
    static func syncFile(_ path: String) throws(IssuerError) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, fsync(fd) == 0 else {
            let code = errno
            if fd >= 0 { Glibc.close(fd) }
            throw SecureFile.ioError("cannot flush \(path)", code, write: true)
        }
        Glibc.close(fd)
        let folder = (path as NSString).deletingLastPathComponent
        SecureFile.syncDirectory(folder.isEmpty ? "." : folder)
    }

    /// Removes a database file this process made, with the journal files SQLite keeps beside it.
    static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { unlink(path + suffix) }
    }
}
