package import SigilIssuer

extension LedgerStore {
    /// The SQLite connection under a ``SQLiteStore``: a test hook for suites that inspect the
    /// file itself (integrity checks, damaged rows). Calling it on another store is a
    /// programmer error.
    package var db: SQLiteDatabase {
        guard let sqlite = self as? SQLiteStore else { preconditionFailure("db is only for a SQLiteStore") }
        return sqlite.db
    }
}
