import Foundation
package import SigilVerifier

/// The ledger in SQLite: `<home>/sigil.db`. The only code that speaks SQL to it.
///
/// Opened in WAL mode with `synchronous=FULL` (a change that was reported survives a power
/// cut), foreign keys on and a busy timeout. Every statement binds its values. The schema is
/// versioned with `PRAGMA user_version`; migrations are numbered and only go forward.
package final class SQLiteStore: LedgerStore {
    /// The schema version this build writes. A database with a higher one is refused.
    package static let schemaVersion = 3
    package static let fileName = "sigil.db"

    package let db: SQLiteDatabase
    package let path: String
    private let busySeconds: Double
    package var queryTimeLimit: Double?

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
        do {
            if db.isReadOnly {
                // Fails on a file that is not a database: the header is read here for the first time.
                let version = Int(try db.integer("PRAGMA user_version") ?? 0)
                guard version == Self.schemaVersion else {
                    if version > Self.schemaVersion { throw Self.tooNew(path: path, version: version) }
                    throw IssuerError(
                        .cannotWrite,
                        "\(path) needs its schema upgraded (version \(version) to \(Self.schemaVersion)) but is on a read-only file system",
                        detail: .readOnly(path: path))
                }
                try db.execute("PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF")
                return
            }
            // Fails on a file that is not a database: the header is read here for the first time.
            let mode = try db.text("PRAGMA journal_mode=WAL")
            guard mode == "wal" else {
                throw IssuerError(.cannotWrite, "\(path): SQLite would not switch to WAL mode (\(mode ?? "none"))")
            }
            // A bulk change of 10k random rows dirties more pages than the default cache holds;
            // 32 MiB keeps them in memory until the commit.
            try db.execute(
                "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF; PRAGMA cache_size=-32768")
            try migrate()
        } catch let error as SQLiteError {
            db.close()
            throw Self.translate(error, path: path, seconds: seconds)
        } catch let error as IssuerError {
            db.close()
            throw error
        } catch {
            db.close()
            throw IssuerError(.badData, "\(path): \(error)")
        }
    }

    package func close() { db.close() }

    package var location: String { path }

    /// `PRAGMA data_version`: changes whenever another connection commits.
    package func changeCounter() throws(IssuerError) -> Int64 {
        do { return try db.integer("PRAGMA data_version") ?? 0 } catch { throw translate(error) }
    }

    /// Checkpoints the write-ahead log into the file and rewrites it compactly (`VACUUM`).
    package func compact() throws(IssuerError) {
        do { try db.execute("PRAGMA wal_checkpoint(TRUNCATE); VACUUM") } catch { throw translate(error) }
    }

    private static func tooNew(path: String, version: Int) -> IssuerError {
        IssuerError(
            .badData,
            "\(path) has schema version \(version), made by a newer Sigil; this one understands up to version \(Self.schemaVersion). Nothing was changed.",
            detail: .databaseTooNew(path: path, found: version, supported: Self.schemaVersion))
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

    /// Forward-only migrations: index i brings version i to i + 1.
    private static let migrations: [String] = [
        """
        CREATE TABLE tokens (
            seq          INTEGER PRIMARY KEY,
            guid         BLOB NOT NULL UNIQUE CHECK (length(guid) = 16),
            name         TEXT NOT NULL,
            name_folded  TEXT NOT NULL,
            description  TEXT NOT NULL DEFAULT '',
            audience     TEXT NOT NULL,
            scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('all', 'read-only', 'custom')),
            scope_pairs  TEXT NOT NULL DEFAULT '',
            valid_from   INTEGER NOT NULL,
            valid_to     INTEGER,
            kid          TEXT NOT NULL,
            status       TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'revoked')),
            created_at   INTEGER NOT NULL,
            updated_at   INTEGER NOT NULL,
            revoked_at   INTEGER,
            deleted_at   INTEGER,
            created_by   TEXT NOT NULL,
            parent       BLOB REFERENCES tokens (guid)
        );
        CREATE INDEX tokens_live_name ON tokens (deleted_at, name_folded, seq);
        CREATE INDEX tokens_live_status ON tokens (deleted_at, status, seq);
        CREATE INDEX tokens_live_expires ON tokens (deleted_at, valid_to, seq);
        CREATE INDEX tokens_audience ON tokens (audience, seq);
        CREATE INDEX tokens_listed ON tokens (status, valid_to) WHERE status <> 'active';
        CREATE INDEX tokens_parent ON tokens (parent) WHERE parent IS NOT NULL;
        CREATE TABLE events (
            id       INTEGER PRIMARY KEY,
            at       INTEGER NOT NULL,
            actor    TEXT NOT NULL,
            action   TEXT NOT NULL,
            details  TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_actor ON events (actor, id);
        CREATE INDEX events_action ON events (action, id);
        CREATE TABLE event_tokens (
            event  INTEGER NOT NULL REFERENCES events (id),
            guid   BLOB NOT NULL,
            PRIMARY KEY (event, guid)
        ) WITHOUT ROWID;
        CREATE INDEX event_tokens_guid ON event_tokens (guid, event);
        CREATE TABLE catalog (
            resource  TEXT NOT NULL,
            action    TEXT NOT NULL,
            access    TEXT NOT NULL CHECK (access IN ('read', 'write')),
            PRIMARY KEY (resource, action)
        ) WITHOUT ROWID;
        CREATE TABLE issuer_state (
            key    TEXT PRIMARY KEY,
            value  INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // 2: signed lists kept for sigil-server, which serves the newest.
        """
        CREATE TABLE revocation_lists (
            sequence   INTEGER PRIMARY KEY,
            issued_at  INTEGER NOT NULL,
            changes    INTEGER NOT NULL,
            bytes      BLOB NOT NULL
        );
        """,
        // 3: lifetime policies, one per audience (`sigil policy set`).
        """
        CREATE TABLE policies (
            audience            TEXT PRIMARY KEY,
            max_lifetime        INTEGER NOT NULL CHECK (max_lifetime > 0),
            allow_never_expires INTEGER NOT NULL CHECK (allow_never_expires IN (0, 1)),
            set_at              INTEGER NOT NULL,
            set_by              TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ]

    private func migrate() throws {
        // Readers must not wait for a writer: only a database that needs migrating takes the lock.
        let current = Int(try db.integer("PRAGMA user_version") ?? 0)
        if current == Self.schemaVersion { return }
        if current > Self.schemaVersion { throw Self.tooNew(path: path, version: current) }
        // IMMEDIATE: two first commands racing on a new home must not both create tables; the
        // version is read again under the lock.
        try db.execute("BEGIN IMMEDIATE")
        do {
            let version = Int(try db.integer("PRAGMA user_version") ?? 0)
            guard version <= Self.schemaVersion else { throw Self.tooNew(path: path, version: version) }
            for next in version..<Self.schemaVersion {
                try db.execute(Self.migrations[next])
                try db.execute("PRAGMA user_version = \(next + 1)")
            }
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
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
    package func transaction<T>(write: Bool, _ body: () throws -> T) throws -> T {
        do {
            try db.execute(write ? "BEGIN IMMEDIATE" : "BEGIN")
        } catch {
            throw translate(error)
        }
        if !write, let limit = queryTimeLimit {
            db.armDeadline(after: limit)
        }
        defer { if !write, queryTimeLimit != nil { db.disarmDeadline() } }
        do {
            let result = try body()
            do { try db.execute("COMMIT") } catch { throw translate(error) }
            return result
        } catch let error as SQLiteError {
            try? db.execute("ROLLBACK")
            throw translate(error)
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    // MARK: Tokens

    private static let columns = """
        guid, name, description, audience, scope_kind, scope_pairs, valid_from, valid_to, kid, status, \
        created_at, updated_at, revoked_at, deleted_at, created_by, parent
        """

    private static func bindID(_ s: SQLiteStatement, _ index: Int32, _ id: TokenID?) throws(SQLiteError) {
        try s.bind(index, bytes: id?.bytes)
    }

    private static func tokenID(_ s: SQLiteStatement, _ column: Int32) -> TokenID? {
        s.withBlob(column) { raw -> TokenID? in
            guard raw.count == 16 else { return nil }
            var value: UInt128 = 0
            for byte in raw { value = value << 8 | UInt128(byte) }
            return TokenID(rawValue: value)
        }
    }

    /// A row as a record, refusing any damage instead of reading it as a default: a NULL in a
    /// required column, an unknown status or scope kind, a scope pair that is not one.
    private func record(_ s: SQLiteStatement) throws -> TokenRecord {
        guard let id = Self.tokenID(s, 0) else { throw IssuerError(.badData, "\(path): a token row has a bad GUID") }
        func damaged(_ what: String) -> IssuerError {
            IssuerError(
                .badData, "\(path): token \(id) is damaged (\(what)); restore the database from a backup",
                detail: .databaseCorrupt(path: path))
        }
        // name, description, audience, scope_kind, scope_pairs, valid_from, kid, status, created_at,
        // updated_at, created_by: never NULL.
        for column: Int32 in [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 14] where s.isNull(column) {
            throw damaged("a required column is empty")
        }
        let scope: Scope
        switch s.text(4) {
        case "all": scope = .all
        case "read-only": scope = .readOnly
        case "custom":
            let pairs = s.text(5).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard !pairs.isEmpty, pairs.allSatisfy({ Scope.isValidPair($0) }) else { throw damaged("its scope") }
            scope = .custom(pairs)
        default: throw damaged("its scope kind")
        }
        guard let status = TokenStatus(rawValue: s.text(9)) else { throw damaged("its status") }
        return TokenRecord(
            id: id, name: s.text(1), description: s.text(2), audience: s.text(3), scope: scope,
            validFrom: s.int64(6), validTo: s.optionalInt64(7), keyID: s.text(8), status: status,
            createdAt: s.int64(10), updatedAt: s.int64(11), revokedAt: s.optionalInt64(12),
            createdBy: s.text(14), deletedAt: s.optionalInt64(13), parent: Self.tokenID(s, 15))
    }

    package func insert(_ t: TokenRecord) throws {
        let s = try db.statement(
            "INSERT INTO tokens (\(Self.columns), name_folded) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        )
        try Self.bindID(s, 1, t.id)
        try s.bind(2, t.name)
        try s.bind(3, t.description)
        try s.bind(4, t.audience)
        switch t.scope {
        case .all:
            try s.bind(5, "all")
            try s.bind(6, "")
        case .readOnly:
            try s.bind(5, "read-only")
            try s.bind(6, "")
        case .custom(let pairs):
            try s.bind(5, "custom")
            try s.bind(6, pairs.joined(separator: ","))
        }
        try s.bind(7, t.validFrom)
        try s.bind(8, t.validTo)
        try s.bind(9, t.keyID)
        try s.bind(10, t.status.rawValue)
        try s.bind(11, t.createdAt)
        try s.bind(12, t.updatedAt)
        try s.bind(13, t.revokedAt)
        try s.bind(14, t.deletedAt)
        try s.bind(15, t.createdBy)
        try Self.bindID(s, 16, t.parent)
        try s.bind(17, t.name.lowercased())
        try s.run()
    }

    /// The token with `id`, deleted or not.
    package func token(_ id: TokenID) throws -> TokenRecord? {
        let s = try db.statement("SELECT \(Self.columns) FROM tokens WHERE guid = ?1")
        defer { s.reset() }
        try Self.bindID(s, 1, id)
        return try s.step() ? try record(s) : nil
    }

    /// Live tokens whose GUID starts with `hex` (lowercase hex digits), at most `limit`.
    package func tokens(withPrefix hex: String, limit: Int) throws -> [TokenRecord] {
        let (low, high) = Self.range(ofPrefix: hex)
        let s = try db.statement(
            "SELECT \(Self.columns) FROM tokens WHERE guid BETWEEN ?1 AND ?2 AND deleted_at IS NULL ORDER BY guid LIMIT ?3"
        )
        defer { s.reset() }
        try s.bind(1, bytes: low)
        try s.bind(2, bytes: high)
        try s.bind(3, limit)
        var out: [TokenRecord] = []
        while try s.step() { out.append(try record(s)) }
        return out
    }

    /// The smallest and largest 16-byte GUIDs that start with `hex`: a range the primary
    /// index answers without reading other rows.
    static func range(ofPrefix hex: String) -> ([UInt8], [UInt8]) {
        let digits = hex.utf8.map { c -> UInt8 in
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            default: c - 0x41 + 10
            }
        }
        var low = [UInt8](repeating: 0, count: 16)
        var high = [UInt8](repeating: 0xff, count: 16)
        for (i, d) in digits.prefix(32).enumerated() {
            if i % 2 == 0 {
                low[i / 2] = d << 4
                high[i / 2] = d << 4 | 0x0f
            } else {
                low[i / 2] |= d
                high[i / 2] = high[i / 2] & 0xf0 | d
            }
        }
        return (low, high)
    }

    /// Builds the WHERE clause and its bindings for a filter. Values are always bound.
    private func whereClause(_ query: TokenQuery, access: (String) -> Access?) -> (String, [Binding]) {
        // In issue order, reading the table in rowid order beats an index on deleted_at (which
        // every live row matches) followed by a sort: `+` keeps the planner off that index.
        var parts = [query.sort == .created ? "+deleted_at IS NULL" : "deleted_at IS NULL"]
        var values: [Binding] = []
        func next(_ value: Binding) -> String {
            values.append(value)
            return "?\(values.count)"
        }
        let f = query.filter
        for word in f.nameWords { parts.append("instr(name_folded, \(next(.text(word)))) > 0") }
        if let prefix = f.guidPrefix {
            let (low, high) = Self.range(ofPrefix: prefix)
            parts.append("guid BETWEEN \(next(.blob(low))) AND \(next(.blob(high)))")
        }
        if let audience = f.audience { parts.append("audience = \(next(.text(audience)))") }
        if let status = f.status { parts.append("status = \(next(.text(status.rawValue)))") }
        if let scope = f.scope {
            switch scope {
            case .all: parts.append("scope_kind = 'all'")
            case .readOnly: parts.append("scope_kind = 'read-only'")
            case .grants(let pair):
                // Unknown pairs count as write: a read-only token never grants what might write.
                let isRead = access(pair) == .read
                parts.append(
                    "(scope_kind = 'all'\(isRead ? " OR scope_kind = 'read-only'" : "") OR (scope_kind = 'custom' AND instr(',' || scope_pairs || ',', \(next(.text("," + pair + ",")))) > 0))"
                )
            }
        }
        if let audiences = query.audiences {
            let list = audiences.sorted().map { next(.text($0)) }.joined(separator: ", ")
            parts.append(list.isEmpty ? "0" : "audience IN (\(list))")
        }
        if query.violatingPolicy { parts.append(Self.violatesPolicy) }
        return (parts.joined(separator: " AND "), values)
    }

    private enum Binding {
        case text(String)
        case blob([UInt8])
        case int(Int64)
    }

    private func bind(_ s: SQLiteStatement, _ values: [Binding]) throws {
        for (i, value) in values.enumerated() {
            switch value {
            case .text(let t): try s.bind(Int32(i + 1), t)
            case .blob(let b): try s.bind(Int32(i + 1), bytes: b)
            case .int(let n): try s.bind(Int32(i + 1), n)
            }
        }
    }

    /// Calls `body` with each live token the query selects, in its order, without building an array.
    package func forEach(_ query: TokenQuery, access: (String) -> Access?, _ body: (TokenRecord) throws -> Void) throws
    {
        var (clause, values) = whereClause(query, access: access)
        let order =
            switch query.sort {
            case .created: "seq"
            case .name: "name_folded, seq"
            case .status: "status, seq"
            case .expires: "valid_to IS NULL, valid_to, seq"
            }
        values.append(.int(Int64(query.limit ?? -1)))
        let limitIndex = values.count
        values.append(.int(Int64(query.offset)))
        clause += " ORDER BY \(order) LIMIT ?\(limitIndex) OFFSET ?\(values.count)"
        let s = try db.statement("SELECT \(Self.columns) FROM tokens WHERE \(clause)")
        defer { s.reset() }
        try bind(s, values)
        while try s.step() { try body(try record(s)) }
    }

    /// How many live tokens the query's filter selects (ignoring limit and offset).
    package func count(_ query: TokenQuery, access: (String) -> Access?) throws -> Int {
        let (clause, values) = whereClause(query, access: access)
        let s = try db.statement("SELECT count(*) FROM tokens WHERE \(clause)")
        defer { s.reset() }
        try bind(s, values)
        _ = try s.step()
        return Int(s.int64(0))
    }

    package func tokenRowCount() throws -> Int { Int(try db.integer("SELECT count(*) FROM tokens") ?? 0) }

    /// Whether any token (deleted ones included) exists.
    package func isEmpty() throws -> Bool { try db.integer("SELECT NOT EXISTS (SELECT 1 FROM tokens)") == 1 }

    package func updateLabels(_ id: TokenID, name: String?, description: String?, now: Int64) throws {
        let s = try db.statement(
            """
            UPDATE tokens SET name = coalesce(?2, name), name_folded = coalesce(?3, name_folded),
                description = coalesce(?4, description), updated_at = ?5
            WHERE guid = ?1
            """)
        try Self.bindID(s, 1, id)
        try s.bind(2, name)
        try s.bind(3, name?.lowercased())
        try s.bind(4, description)
        try s.bind(5, now)
        try s.run()
    }

    /// Sets a status; a revoke keeps the first revocation time.
    package func setStatus(_ ids: [TokenID], to status: TokenStatus, now: Int64) throws {
        let s = try db.statement(
            """
            UPDATE tokens SET status = ?2, updated_at = ?3,
                revoked_at = CASE WHEN ?2 = 'revoked' THEN coalesce(revoked_at, ?3) ELSE revoked_at END
            WHERE guid = ?1
            """)
        for id in ids {
            try Self.bindID(s, 1, id)
            try s.bind(2, status.rawValue)
            try s.bind(3, now)
            try s.run()
        }
    }

    /// Tombstones: deleted tokens leave listings and stay revoked.
    package func markDeleted(_ ids: [TokenID], now: Int64) throws {
        let s = try db.statement(
            """
            UPDATE tokens SET status = 'revoked', deleted_at = coalesce(deleted_at, ?2), updated_at = ?2,
                revoked_at = coalesce(revoked_at, ?2)
            WHERE guid = ?1
            """)
        for id in ids {
            try Self.bindID(s, 1, id)
            try s.bind(2, now)
            try s.run()
        }
    }

    /// Removes deleted tokens whose window closed before `cutoff`, unless another token names
    /// them as parent. Returns how many went.
    package func purgeTombstones(before cutoff: Int64) throws -> Int {
        let s = try db.statement(
            """
            DELETE FROM tokens WHERE deleted_at IS NOT NULL AND valid_to IS NOT NULL AND valid_to <= ?1
                AND guid NOT IN (SELECT parent FROM tokens WHERE parent IS NOT NULL)
            """)
        try s.bind(1, cutoff)
        try s.run()
        return db.changes
    }

    /// Every token `id` created, and theirs, through `parent` links (not `id` itself).
    package func descendants(of id: TokenID) throws -> [TokenID] {
        let s = try db.statement(
            """
            WITH RECURSIVE tree(guid) AS (
                SELECT guid FROM tokens WHERE parent = ?1
                UNION SELECT t.guid FROM tokens t JOIN tree ON t.parent = tree.guid
            ) SELECT guid FROM tree
            """)
        defer { s.reset() }
        try Self.bindID(s, 1, id)
        var out: [TokenID] = []
        while try s.step() { if let child = Self.tokenID(s, 0) { out.append(child) } }
        return out
    }

    /// GUIDs a revocation list must name at `now`: inactive tokens as deactivated, revoked and
    /// deleted ones as revoked, until `valid_to + grace` has passed (services accept a token
    /// up to their leeway after `valid_to`).
    package func revocationEntries(now: Int64, grace: Int64) throws -> [(TokenID, RevocationStatus)] {
        // `IS NOT`: a row whose status was damaged to NULL must stop the export, not drop off it.
        let s = try db.statement(
            "SELECT guid, status FROM tokens WHERE status IS NOT 'active' AND (valid_to IS NULL OR valid_to > ?1 - ?2)")
        defer { s.reset() }
        try s.bind(1, now)
        try s.bind(2, grace)
        var out: [(TokenID, RevocationStatus)] = []
        while try s.step() {
            // A list that silently leaves a revoked token off is worse than no new list.
            guard let id = Self.tokenID(s, 0) else {
                throw IssuerError(
                    .badData, "\(path): a revoked or inactive token has a damaged GUID; no list was signed",
                    detail: .databaseCorrupt(path: path))
            }
            switch s.optionalText(1) {
            case "revoked": out.append((id, .revoked))
            case "inactive": out.append((id, .deactivated))
            default:
                throw IssuerError(
                    .badData, "\(path): token \(id) has a damaged status; no list was signed",
                    detail: .databaseCorrupt(path: path))
            }
        }
        // Sorted here: walking the GUID index instead would fetch every row by a random lookup.
        out.sort { $0.0 < $1.0 }
        return out
    }

    // MARK: Lifetime policies

    package func policies() throws -> [LifetimePolicy] {
        let s = try db.statement(
            "SELECT audience, max_lifetime, allow_never_expires, set_at, set_by FROM policies ORDER BY audience")
        defer { s.reset() }
        var out: [LifetimePolicy] = []
        while try s.step() {
            out.append(
                LifetimePolicy(
                    audience: s.text(0), maxLifetime: s.int64(1), allowNeverExpires: s.int64(2) != 0,
                    setAt: s.int64(3), setBy: s.text(4)))
        }
        return out
    }

    package func putPolicy(_ policy: LifetimePolicy) throws {
        let s = try db.statement(
            """
            INSERT INTO policies (audience, max_lifetime, allow_never_expires, set_at, set_by)
            VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (audience) DO UPDATE SET max_lifetime = excluded.max_lifetime,
            allow_never_expires = excluded.allow_never_expires, set_at = excluded.set_at, set_by = excluded.set_by
            """)
        try s.bind(1, policy.audience)
        try s.bind(2, policy.maxLifetime)
        try s.bind(3, Int64(policy.allowNeverExpires ? 1 : 0))
        try s.bind(4, policy.setAt)
        try s.bind(5, policy.setBy)
        try s.run()
    }

    package func removePolicy(audience: String) throws -> Bool {
        let s = try db.statement("DELETE FROM policies WHERE audience = ?1")
        try s.bind(1, audience)
        try s.run()
        return try db.integer("SELECT changes()") == 1
    }

    // MARK: Issuer state

    package func state(_ key: String) throws -> Int64? {
        let s = try db.statement("SELECT value FROM issuer_state WHERE key = ?1")
        defer { s.reset() }
        try s.bind(1, key)
        return try s.step() ? s.int64(0) : nil
    }

    package func incrementState(_ key: String) throws {
        let s = try db.statement(
            "INSERT INTO issuer_state (key, value) VALUES (?1, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1")
        try s.bind(1, key)
        try s.run()
    }

    package func setState(_ key: String, _ value: Int64) throws {
        let s = try db.statement(
            "INSERT INTO issuer_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        try s.bind(1, key)
        try s.bind(2, value)
        try s.run()
    }

    // MARK: Published lists

    /// Stores a signed list and keeps only the four with the highest sequences (`sequence < 0`
    /// first: the column holds the u64's bit pattern, so sequences from 2^63 up read negative).
    package func putList(sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8]) throws {
        let s = try db.statement(
            "INSERT OR REPLACE INTO revocation_lists (sequence, issued_at, changes, bytes) VALUES (?1, ?2, ?3, ?4)")
        try s.bind(1, Int64(bitPattern: sequence))
        try s.bind(2, issuedAt)
        try s.bind(3, changes)
        try s.bind(4, bytes: bytes)
        try s.run()
        let prune = try db.statement(
            "DELETE FROM revocation_lists WHERE sequence NOT IN (SELECT sequence FROM revocation_lists ORDER BY sequence < 0 DESC, sequence DESC LIMIT 4)"
        )
        try prune.run()
    }

    /// The stored list with the highest sequence (whatever its issue time): its sequence, issue
    /// time, the change count it reflects and its bytes.
    package func latestList() throws -> (sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8])? {
        let s = try db.statement(
            "SELECT sequence, issued_at, changes, bytes FROM revocation_lists ORDER BY sequence < 0 DESC, sequence DESC LIMIT 1"
        )
        defer { s.reset() }
        guard try s.step() else { return nil }
        return (UInt64(bitPattern: s.int64(0)), s.int64(1), s.int64(2), s.blob(3))
    }

    // MARK: Catalog

    package func catalog() throws -> Catalog {
        let s = try db.statement("SELECT resource, action, access FROM catalog")
        defer { s.reset() }
        var resources: [String: [String: Access]] = [:]
        while try s.step() {
            guard let access = Access(rawValue: s.text(2)) else { continue }
            resources[s.text(0), default: [:]][s.text(1)] = access
        }
        return Catalog(resources: resources).withIssuerResources()
    }

    /// Whether the catalog table holds any entry of the home's own (the issuer's resources are not stored).
    package func hasCatalogEntries() throws -> Bool { try db.integer("SELECT EXISTS (SELECT 1 FROM catalog)") == 1 }

    package func putCatalogEntry(resource: String, action: String, access: Access) throws {
        let s = try db.statement(
            """
            INSERT INTO catalog (resource, action, access) VALUES (?1, ?2, ?3)
            ON CONFLICT (resource, action) DO UPDATE SET access = excluded.access
            """)
        try s.bind(1, resource)
        try s.bind(2, action)
        try s.bind(3, access.rawValue)
        try s.run()
    }

    // MARK: Audit

    package func append(_ event: AuditEvent) throws {
        let s = try db.statement("INSERT INTO events (at, actor, action, details) VALUES (?1, ?2, ?3, ?4)")
        try s.bind(1, event.at)
        try s.bind(2, event.actor)
        try s.bind(3, event.action.rawValue)
        try s.bind(4, event.detailsJSON)
        try s.run()
        let id = try db.integer("SELECT last_insert_rowid()") ?? 0
        let link = try db.statement("INSERT OR IGNORE INTO event_tokens (event, guid) VALUES (?1, ?2)")
        for guid in event.guids {
            try link.bind(1, id)
            try Self.bindID(link, 2, guid)
            try link.run()
        }
    }

    package func events(_ query: AuditQuery) throws -> [AuditEvent] {
        var parts: [String] = ["1"]
        var values: [Binding] = []
        func next(_ value: Binding) -> String {
            values.append(value)
            return "?\(values.count)"
        }
        if let guid = query.guid {
            parts.append("id IN (SELECT event FROM event_tokens WHERE guid = \(next(.blob(guid.bytes))))")
        }
        if let actor = query.actor { parts.append("actor = \(next(.text(actor)))") }
        if let action = query.action { parts.append("action = \(next(.text(action.rawValue)))") }
        if let since = query.since { parts.append("at >= \(next(.int(since)))") }
        if let audiences = query.audiences {
            let list = audiences.sorted().map { next(.text($0)) }.joined(separator: ", ")
            parts.append(
                list.isEmpty
                    ? "0"
                    : "id IN (SELECT et.event FROM event_tokens et JOIN tokens t ON t.guid = et.guid WHERE t.audience IN (\(list)))"
            )
        }
        let limit = next(.int(Int64(query.limit)))
        let offset = next(.int(Int64(query.offset)))
        let s = try db.statement(
            "SELECT id, at, actor, action, details FROM events WHERE \(parts.joined(separator: " AND ")) ORDER BY id DESC LIMIT \(limit) OFFSET \(offset)"
        )
        defer { s.reset() }
        try bind(s, values)
        var rows: [(Int64, AuditEvent)] = []
        while try s.step() {
            guard let action = AuditAction(rawValue: s.text(3)) else {
                throw IssuerError(
                    .badData, "\(path): audit event \(s.int64(0)) has an unknown action",
                    detail: .databaseCorrupt(path: path))
            }
            // Details are passed on as JSON: damaged text must not become other JSON downstream.
            let details = s.text(4)
            guard (try? JSONSerialization.jsonObject(with: Data(details.utf8))) is [String: Any] else {
                throw IssuerError(
                    .badData, "\(path): audit event \(s.int64(0)) has damaged details",
                    detail: .databaseCorrupt(path: path))
            }
            rows.append(
                (
                    s.int64(0),
                    AuditEvent(at: s.int64(1), actor: s.text(2), action: action, guids: [], detailsJSON: details)
                )
            )
        }
        // A caller limited to some audiences sees only their tokens' GUIDs in each event.
        let reach = query.audiences.map { $0.sorted() } ?? []
        let links = try db.statement(
            query.audiences == nil
                ? "SELECT guid FROM event_tokens WHERE event = ?1 ORDER BY guid"
                : "SELECT et.guid FROM event_tokens et JOIN tokens t ON t.guid = et.guid WHERE et.event = ?1 AND t.audience IN (\((0..<reach.count).map { "?\($0 + 2)" }.joined(separator: ", "))) ORDER BY et.guid"
        )
        return try rows.map { id, event in
            var event = event
            try links.bind(1, id)
            for (i, audience) in reach.enumerated() { try links.bind(Int32(i + 2), audience) }
            while try links.step() { if let guid = Self.tokenID(links, 0) { event.guids.append(guid) } }
            links.reset()
            return event
        }
    }
}

// MARK: Copying a whole ledger

extension SQLiteStore {
    package func snapshot() throws -> LedgerSnapshot {
        var out = LedgerSnapshot()
        let tokens = try db.statement("SELECT \(Self.columns), seq FROM tokens ORDER BY seq")
        defer { tokens.reset() }
        while try tokens.step() { out.tokens.append((tokens.int64(16), try record(tokens))) }
        let events = try db.statement("SELECT id, at, actor, action, details FROM events ORDER BY id")
        defer { events.reset() }
        var index: [Int64: Int] = [:]
        while try events.step() {
            guard let action = AuditAction(rawValue: events.text(3)) else {
                throw IssuerError(
                    .badData, "\(path): audit event \(events.int64(0)) has an unknown action",
                    detail: .databaseCorrupt(path: path))
            }
            index[events.int64(0)] = out.events.count
            out.events.append(
                (
                    events.int64(0),
                    AuditEvent(
                        at: events.int64(1), actor: events.text(2), action: action, guids: [],
                        detailsJSON: events.text(4))
                ))
        }
        let links = try db.statement("SELECT event, guid FROM event_tokens ORDER BY event, guid")
        defer { links.reset() }
        while try links.step() {
            guard let i = index[links.int64(0)], let guid = Self.tokenID(links, 1) else { continue }
            out.events[i].event.guids.append(guid)
        }
        let catalog = try db.statement("SELECT resource, action, access FROM catalog ORDER BY resource, action")
        defer { catalog.reset() }
        while try catalog.step() {
            guard let access = Access(rawValue: catalog.text(2)) else { continue }
            out.catalog.append((catalog.text(0), catalog.text(1), access))
        }
        out.policies = try policies()
        let state = try db.statement("SELECT key, value FROM issuer_state ORDER BY key")
        defer { state.reset() }
        while try state.step() { out.state.append((state.text(0), state.int64(1))) }
        let lists = try db.statement(
            "SELECT sequence, issued_at, changes, bytes FROM revocation_lists ORDER BY sequence")
        defer { lists.reset() }
        while try lists.step() {
            out.lists.append((UInt64(bitPattern: lists.int64(0)), lists.int64(1), lists.int64(2), lists.blob(3)))
        }
        return out
    }

    package func restore(_ snapshot: LedgerSnapshot) throws {
        guard try isEmpty(), try db.integer("SELECT NOT EXISTS (SELECT 1 FROM events)") == 1 else {
            throw IssuerError(.conflict, "\(path) already holds a ledger; nothing was copied")
        }
        try db.execute("DELETE FROM catalog; DELETE FROM issuer_state; DELETE FROM revocation_lists")
        for (seq, t) in snapshot.tokens {
            try insert(t)
            let s = try db.statement("UPDATE tokens SET seq = ?1 WHERE guid = ?2")
            try s.bind(1, seq)
            try Self.bindID(s, 2, t.id)
            try s.run()
        }
        let event = try db.statement("INSERT INTO events (id, at, actor, action, details) VALUES (?1, ?2, ?3, ?4, ?5)")
        let link = try db.statement("INSERT OR IGNORE INTO event_tokens (event, guid) VALUES (?1, ?2)")
        for (id, e) in snapshot.events {
            try event.bind(1, id)
            try event.bind(2, e.at)
            try event.bind(3, e.actor)
            try event.bind(4, e.action.rawValue)
            try event.bind(5, e.detailsJSON)
            try event.run()
            for guid in e.guids {
                try link.bind(1, id)
                try Self.bindID(link, 2, guid)
                try link.run()
            }
        }
        for entry in snapshot.catalog {
            try putCatalogEntry(resource: entry.resource, action: entry.action, access: entry.access)
        }
        for (key, value) in snapshot.state { try setState(key, value) }
        for policy in snapshot.policies { try putPolicy(policy) }
        for list in snapshot.lists {
            try putList(sequence: list.sequence, issuedAt: list.issuedAt, changes: list.changes, bytes: list.bytes)
        }
    }
}

extension LedgerStore {
    /// The SQLite connection under a ``SQLiteStore``: a test hook for suites that inspect the
    /// file itself (integrity checks, damaged rows). Calling it on another store is a
    /// programmer error.
    package var db: SQLiteDatabase {
        guard let sqlite = self as? SQLiteStore else { preconditionFailure("db is only for a SQLiteStore") }
        return sqlite.db
    }
}
