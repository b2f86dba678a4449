import Foundation
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// The issuer's use cases over one home: every rule lives here, and the CLI, the server and
/// the console only translate to and from it.
///
/// Each call that changes something is one database transaction that also records an
/// ``AuditEvent`` with its ``Actor``: it lands whole or not at all. Not thread-safe: give each
/// thread or request its own `Issuer`, or serialise calls.
///
/// ```swift
/// let issuer = try Issuer(home: "keys", mode: .createIfMissing)
/// let actor = try Actor(name: "alice")
/// let issued = try issuer.issue(
///     IssueRequest(name: "CI deploy", audience: "billing", scope: .custom(["devices.*"])), by: actor)
/// print(issued.token)   // shown once, never stored
/// try issuer.change(.revoke, [issued.record.id], by: actor)
/// ```
public final class Issuer {
    /// How ``init(home:mode:busyTimeout:)`` treats a home without a keyring.
    public enum OpenMode: Sendable {
        /// The home must already hold a keyring or a ledger.
        case existing
        /// Create the home, a development keyring and the example catalog if missing.
        case createIfMissing
        /// Create them, and fail if a keyring is already there.
        case initialize
    }

    /// What opening the home did on the way, for the front end to tell the user.
    public enum SetupNote: Sendable, Hashable {
        case tightenedHome(String)
        case createdKeyring(path: String, tokenKeyID: String, revocationKeyID: String)
        case wroteExampleCatalog(resources: [String])
        case importedLedger(tokens: Int, sequence: UInt64, renamed: [String], skippedTornLine: Bool)
    }

    /// Services accept a token up to their leeway (at most a day) after `valid_to`: revoked and
    /// deactivated entries stay on the list that long.
    public static let maxLeeway: Int64 = 86_400

    /// The default `next_update` promise of an exported list.
    public static let defaultNextUpdate: Int64 = 86_400

    public let home: String
    package let store: any SQLStore
    public private(set) var setupNotes: [SetupNote] = []
    /// The entries of the last list signed through this issuer, for the next one.
    var signedEntries: SignedEntries?
    /// Whether the last list signed here was made from the one before (tests and the benchmark
    /// check that the fast way is the one taken).
    package internal(set) var lastListWasIncremental = false

    /// Where the ledger lives: the SQLite file's path, or the PostgreSQL URL without its password.
    public var databasePath: String { store.location }

    /// Seconds any read may run before it is stopped with `unavailable`
    /// (``IssuerError/Detail/queryTimedOut(seconds:)``); nil, the default, for no limit.
    /// Changes are never stopped. sigil-server sets it on the connection that serves listings.
    public var queryTimeLimit: Double? {
        get { store.queryTimeLimit }
        set { store.queryTimeLimit = newValue }
    }

    /// Opens the home's ledger database, creating or importing what `mode` allows.
    ///
    /// ```swift
    /// let local = try Issuer(home: "keys")   // keys/sigil.db
    /// let shared = try Issuer(home: "keys", database: "postgres://sigil@db.internal/sigil?sslmode=verify-full")
    /// ```
    ///
    /// - Parameters:
    ///   - home: The home folder (keyring, and the SQLite database unless `database` says otherwise).
    ///   - database: A `postgres://` or `postgresql://` URL for a shared PostgreSQL ledger, a
    ///     path to a SQLite file, or nil (or empty) for `<home>/sigil.db`, as
    ///     ``DatabaseLocation`` parses it (a libpq keyword string is refused). The keyring
    ///     stays in `home` either way: the database holds no secret.
    ///   - mode: Whether a missing home may be created.
    ///   - busyTimeout: Seconds to wait for another process's write lock.
    ///   - now: Unix seconds for anything opening creates (the keyring's key IDs, setup events).
    ///   - progress: Told how the v0.1 import opening may run goes (``WorkProgress``).
    /// - Throws: ``IssuerError``: `invalid_input` (a `database` that ``DatabaseLocation``
    ///   refuses; nothing is created), `not_found` (no home), `permissions`, `bad_data` (damaged or
    ///   newer database), `lock_busy`, `cannot_write`, `unavailable` (a PostgreSQL URL that is
    ///   malformed, or a database that is down or refuses the credentials).
    public init(
        home: String, database: String? = nil, mode: OpenMode = .existing, busyTimeout: Double = 5,
        now: Int64 = Issuer.currentTime(), progress: ProgressHandler? = nil
    ) throws(IssuerError) {
        self.home = home
        // Parsed before anything is touched: a keyword string must not become a file.
        let location = try DatabaseLocation.parse(database)
        if case .postgres(let url) = location {
            var st = stat()
            if mode == .existing, stat(home, &st) != 0 {
                throw IssuerError(.notFound, "no Sigil home at \(home) (no keyring there)", detail: .noHome(home))
            }
            let tightened = try SecureFile.ensureHome(home)
            store = try PostgresStore(url: url, busyTimeout: busyTimeout)
            setupNotes = tightened ? [.tightenedHome(home)] : []
            try finishOpening(mode: mode, now: now)
            return
        }
        let dbPath: String
        if case .sqlite(let path) = location { dbPath = path } else { dbPath = home + "/" + SQLiteStore.fileName }
        let ledgerPath = home + "/ledger.jsonl"
        let catalogPath = home + "/" + Catalog.fileName
        var st = stat()
        let homeExists = stat(home, &st) == 0
        if mode == .existing {
            let hasSomething =
                homeExists
                && (Keyring.exists(home: home) || SQLiteStore.fileExists(dbPath) || lstat(ledgerPath, &st) == 0)
            guard hasSomething else {
                throw IssuerError(
                    .notFound, "no Sigil home at \(home) (no keyring or ledger there)", detail: .noHome(home))
            }
        }
        var notes: [SetupNote] = []
        if try SecureFile.ensureHome(home) { notes.append(.tightenedHome(home)) }

        // A v0.1 home: read its journal before the database exists, so a damaged journal
        // stops here with nothing created.
        let isNewDatabase = !SQLiteStore.fileExists(dbPath)
        var legacy: LegacyImport.Result?
        var legacyCatalog: Catalog?
        if isNewDatabase {
            if lstat(ledgerPath, &st) == 0 {
                try SecureFile.checkPrivate(ledgerPath)
                legacy = try LegacyImport.readLedger(ledgerPath, progress: progress)
            }
            if lstat(catalogPath, &st) == 0 { legacyCatalog = try LegacyImport.readCatalog(catalogPath) }
        }
        let sqlite = try SQLiteStore(securing: dbPath, busyTimeout: busyTimeout)
        store = sqlite

        if legacy != nil || legacyCatalog != nil {
            do {
                notes.append(
                    try importLegacy(
                        legacy, catalog: legacyCatalog, ledgerPath: ledgerPath, catalogPath: catalogPath, now: now,
                        progress: progress))
            } catch {
                // Leave no half-made database behind: the next run imports again.
                sqlite.closeAndRemoveFiles()
                throw error
            }
        }
        setupNotes = notes
        try finishOpening(mode: mode, now: now)
    }

    /// Opens one more connection to the ledger of a home this process already opened with
    /// ``init(home:database:mode:busyTimeout:now:)`` and still holds open (sigil-server's second lane).
    ///
    /// Touches no file but through the store: the home was checked when it was first opened,
    /// and closing any other descriptor of `sigil.db`, its `-wal` or `-shm` drops every POSIX
    /// lock this process holds on it, after which another process closing the database takes
    /// itself for the last connection and deletes the WAL, with this process's commits in it.
    ///
    /// ```swift
    /// let first = try Issuer(home: "keys")
    /// let second = try Issuer(anotherConnectionTo: "keys")
    /// ```
    ///
    /// - Throws: ``IssuerError`` from opening the store.
    public init(anotherConnectionTo home: String, database: String? = nil, busyTimeout: Double = 5)
        throws(IssuerError)
    {
        self.home = home
        switch try DatabaseLocation.parse(database) {
        case .postgres(let url): store = try PostgresStore(url: url, busyTimeout: busyTimeout)
        case .sqlite(let path): store = try SQLiteStore(path: path, busyTimeout: busyTimeout)
        case nil: store = try SQLiteStore(path: home + "/" + SQLiteStore.fileName, busyTimeout: busyTimeout)
        }
    }

    /// Creates the development keyring (and example catalog) when `mode` allows and none exists.
    private func finishOpening(mode: OpenMode, now: Int64) throws(IssuerError) {
        guard mode != .existing else { return }
        let hadKeyring = Keyring.exists(home: home)
        if hadKeyring, mode == .initialize {
            let ring = try Keyring.load(home: home)
            throw IssuerError(
                .conflict, "a keyring already exists at \(Keyring.path(home: home)); nothing changed",
                detail: .keyringExists(path: Keyring.path(home: home), keyID: ring.activeKey.keyID))
        }
        if !hadKeyring { setupNotes += try createDevelopmentKeyring(mode: mode, now: now) }
    }

    /// Closes the database now instead of at deinit.
    public func close() { store.close() }

    /// Unix seconds.
    public static func currentTime() -> Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: Transactions and errors

    /// One transaction; every error comes out as an ``IssuerError``.
    func transaction<T>(write: Bool, _ body: () throws -> T) throws(IssuerError) -> T {
        do {
            return try store.transaction(write: write, body)
        } catch let error as IssuerError {
            throw error
        } catch {
            throw IssuerError(.badData, "\(error)")
        }
    }

    /// Runs `steps` in one write transaction, each in its own savepoint, and commits once:
    /// on SQLite one fsync for all of them. sigil-server applies the writes waiting for its
    /// one writer this way.
    ///
    /// A step that throws is undone alone; the others still commit. A step that undoes or
    /// dooms the whole transaction (an I/O error, a lost connection, a PostgreSQL
    /// serialization failure) makes the group throw, and nothing of it is committed. On
    /// PostgreSQL a group refused for a serialization failure is run again from its first
    /// step, so a step keeps its result by assigning it, never by appending.
    ///
    /// ```swift
    /// let issuer = try Issuer(home: "keys", mode: .createIfMissing)
    /// let actor = try Actor(name: "alice")
    /// var outcomes: [Result<IssuedToken, any Error>?] = [nil, nil]
    /// try issuer.group([
    ///     { outcomes[0] = Result { try issuer.issue(IssueRequest(name: "a", audience: "billing", scope: .all), by: actor) } },
    ///     { outcomes[1] = Result { try issuer.issue(IssueRequest(name: "b", audience: "billing", scope: .all), by: actor) } },
    /// ])
    /// ```
    ///
    /// - Throws: ``IssuerError`` when the transaction could not begin or commit, or a step lost
    ///   it; then no step's change was kept.
    public func group(_ steps: [() throws -> Void]) throws(IssuerError) {
        try transaction(write: true) {
            // A step's own error is its own (it undid only its savepoint); one that lost the
            // transaction is thrown by the commit.
            for step in steps { try? store.transaction(write: true, step) }
        }
    }

    /// One write transaction, run one at a time across every host (``SQLStore/serially(_:)``).
    func serialTransaction<T>(_ body: () throws -> T) throws(IssuerError) -> T {
        do {
            return try store.serially { () throws -> T in try transaction(write: true, body) }
        } catch let error as IssuerError {
            throw error
        } catch {
            throw IssuerError(.badData, "\(error)")
        }
    }

    func record(_ action: AuditAction, by actor: Actor, at now: Int64, guids: [TokenID], details: [(String, String)])
        throws
    {
        var w = JSONWriter(capacity: 64)
        w.byte(0x7b)
        for (i, (key, value)) in details.enumerated() {
            if i > 0 { w.byte(0x2c) }
            w.string(key)
            w.byte(0x3a)
            w.string(value)
        }
        w.byte(0x7d)
        try store.append(
            AuditEvent(
                at: now, actor: actor.name, action: action, guids: guids,
                detailsJSON: String(decoding: w.bytes, as: UTF8.self)))
    }

    // MARK: First use and import

    private func createDevelopmentKeyring(mode: OpenMode, now: Int64) throws(IssuerError) -> [SetupNote] {
        try transaction(write: true) {
            // Re-checked under the write lock: two first commands must not make two keyrings.
            guard !Keyring.exists(home: home) else { return [] }
            // A lost keyring (a restore without it, a second host of a PostgreSQL ledger) is not
            // a first use: a new one would verify none of the tokens already out, and make the
            // loss look like success. Only an explicit `init` starts over.
            if mode != .initialize, try !store.isEmpty() { throw Self.keyringMissing(home: home) }
            let ring = Keyring.generate(now: now)
            try ring.save(home: home)
            var notes: [SetupNote] = [
                .createdKeyring(
                    path: Keyring.path(home: home), tokenKeyID: ring.activeKey.keyID,
                    revocationKeyID: ring.signingKey.keyID)
            ]
            if try !store.hasCatalogEntries() {
                for (resource, actions) in Catalog.example.resources {
                    for (action, access) in actions {
                        try store.putCatalogEntry(resource: resource, action: action, access: access)
                    }
                }
                notes.append(.wroteExampleCatalog(resources: Catalog.example.resources.keys.sorted()))
            }
            let system = Actor(trusted: "sigil")
            try record(.keys, by: system, at: now, guids: [], details: [("created", ring.activeKey.keyID)])
            return notes
        }
    }

    static func keyringMissing(home: String) -> IssuerError {
        IssuerError(
            .notFound,
            "no keyring at \(Keyring.path(home: home)), but the ledger holds tokens signed with one: put keyring.json back from your backup or from another host of this ledger (mode 0600; docs/DEPLOY.md, \"What to back up\")",
            detail: .keyringMissing(home: home))
    }

    private func importLegacy(
        _ ledger: LegacyImport.Result?, catalog: Catalog?, ledgerPath: String, catalogPath: String, now: Int64,
        progress: ProgressHandler?
    ) throws(IssuerError) -> SetupNote {
        try transaction(write: true) {
            if let ledger {
                try ledger.insert(into: store, progress: progress)
                if ledger.sequence > 0 { try store.setState("export_sequence", Int64(bitPattern: ledger.sequence)) }
            }
            if let catalog {
                for (resource, actions) in catalog.resources {
                    for (action, access) in actions {
                        try store.putCatalogEntry(resource: resource, action: action, access: access)
                    }
                }
            }
            try record(
                .migrate, by: Actor(trusted: "sigil"), at: now, guids: [],
                details: [
                    ("tokens", String(ledger?.order.count ?? 0)), ("sequence", String(ledger?.sequence ?? 0)),
                ])
        }
        var renamed: [String] = []
        var imported: [String] = []
        if ledger != nil { imported.append(ledgerPath) }
        if catalog != nil { imported.append(catalogPath) }
        for path in imported where rename(path, path + ".imported") == 0 { renamed.append(path + ".imported") }
        SecureFile.syncDirectory(home)
        return .importedLedger(
            tokens: ledger?.order.count ?? 0, sequence: ledger?.sequence ?? 0, renamed: renamed,
            skippedTornLine: ledger?.skippedTornLine ?? false)
    }

    // MARK: Keyring

    /// The keyring (master secrets). Load it only when a secret is needed.
    public func keyring() throws(IssuerError) -> Keyring {
        guard let ring = try Keyring.loadIfPresent(home: home) else {
            if (try? store.isEmpty()) == false { throw Self.keyringMissing(home: home) }
            throw IssuerError(.notFound, "no keyring in \(home)", detail: .noHome(home))
        }
        return ring
    }
}

extension Actor {
    /// Sigil itself, for setup events.
    init(trusted name: String) {
        // Only called with literals that pass the charset check.
        guard let actor = try? Actor(name: name) else { preconditionFailure("bad built-in actor name") }
        self = actor
    }
}

// MARK: Test hooks

extension Issuer {
    /// Inserts ledger rows as they are, in one transaction, with no rule applied: for fixtures
    /// a use case cannot make quickly (100k tokens) or at all (GUIDs sharing a prefix).
    /// Runs `body` in one write transaction of the caller's (rolled back if it throws).
    package func transactionForTesting<T>(_ body: () throws -> T) throws(IssuerError) -> T {
        try transaction(write: true, body)
    }

    package func insertForTesting(_ records: [TokenRecord]) throws(IssuerError) {
        // Rows without audit events: the next list cannot be made from the last one.
        signedEntries = nil
        try transaction(write: true) { for record in records { try store.insert(record) } }
    }

    /// `PRAGMA synchronous` (2 = FULL) and `journal_mode` as the connection runs them
    /// (``LedgerStore/durabilitySettings()``).
    package func durabilitySettings() throws(IssuerError) -> (synchronous: Int, journalMode: String) {
        try store.durabilitySettings()
    }
}
