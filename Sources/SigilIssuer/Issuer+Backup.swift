import Foundation
import SigilIssuerCrypto
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// What ``Issuer/backupLedger(to:progress:)`` wrote, read back from the file.
public struct LedgerBackup: Sendable, Hashable {
    /// The backup file.
    public let path: String
    /// Its size.
    public let bytes: Int64
    /// Token rows, deleted ones included.
    public let tokens: Int
    /// Audit events.
    public let events: Int
    /// The highest revocation-list sequence the backup knows (its `export_sequence` or newest
    /// stored list).
    public let sequence: UInt64
    /// The backup's schema version.
    public let schemaVersion: Int
}

/// What ``Issuer/restoreLedger(from:home:database:seenLists:busyTimeout:by:now:progress:)`` did.
public struct RestoredLedger: Sendable, Hashable {
    /// The new ledger file.
    public let path: String
    /// Token rows, deleted ones included.
    public let tokens: Int
    /// Audit events, the `migrate` event the restore adds included.
    public let events: Int
    /// The highest sequence the backup itself knew.
    public let backupSequence: UInt64
    /// The highest sequence seen anywhere (backup, `revocations.seq`, list files): the next
    /// list carries a higher one.
    public let sequence: UInt64
    /// Whether the home holds a keyring. Without one nothing can be issued, verified or
    /// signed: copy `keyring.json` back from its own backup.
    public let hasKeyring: Bool
    /// What the lists seen (the home's `revocations.sgl` and each list file named) said that
    /// the backup did not know: see ``ListedStatuses``.
    public let listed: ListedStatuses
}

/// Revocations and deactivations made after a backup was taken, carried into the restored
/// ledger from the signed lists services hold, so that a restore never makes a stopped token
/// valid again.
///
/// Every GUID revoked on any list that verifies with the home's keyring is revoked again (a
/// revocation is permanent). GUIDs deactivated on the newest such list are deactivated again
/// only when that list is newer than the ledger's own newest sequence: an older list may
/// predate an activation the ledger holds. A list that does not verify changes nothing and is
/// named in ``unverified``.
public struct ListedStatuses: Sendable, Hashable {
    /// Tokens revoked again in the restored ledger.
    public var revoked: Int = 0
    /// Tokens deactivated again.
    public var deactivated: Int = 0
    /// GUIDs on a list that the backup does not hold: tokens issued after it. They still
    /// verify (their tag needs only the keyring) and the next list no longer names them, so the
    /// token key they were issued under should be rotated (docs/DEPLOY.md, "Restoring").
    public var unknown: Int = 0
    /// List files whose signature did not verify with the home's keyring (or the home has no
    /// keyring): their sequence still raised the floor, their entries were not used.
    public var unverified: [String] = []
    /// Audit events the changes added (one per kind of change).
    public var events: Int = 0

    public init() {}
}

/// What ``Issuer/reconcile(withLists:by:now:details:)`` did: the sequence floor and what the
/// lists stopped again.
public struct Reconciled: Sendable, Hashable {
    /// The highest sequence seen; the next list carries a higher one.
    public let sequence: UInt64
    public let listed: ListedStatuses
}

extension Issuer {
    /// Copies this ledger, as it is when the call begins, into a new file: a backup that
    /// restores with ``restoreLedger(from:home:database:seenLists:busyTimeout:by:now:progress:)``.
    ///
    /// Safe while sigil-server and other commands write: SQLite's online backup runs inside
    /// one read transaction, so the copy holds every change committed before the call and none
    /// after, and writers never wait for it. The file is created `0600`, exclusively (an
    /// existing file or link at `path` is refused, never replaced or followed), fsynced with
    /// its folder, then reopened read-only and checked (`PRAGMA integrity_check`, the schema,
    /// foreign keys). A failure leaves no file behind. The ledger is only read.
    ///
    /// The keyring is not in the backup: the ledger holds no secret, and the keyring is
    /// backed up apart, more closely guarded (docs/DATABASE.md, "Backups").
    ///
    /// ```swift
    /// let issuer = try Issuer(home: "keys")
    /// let backup = try issuer.backupLedger(to: "/backup/sigil-2027-01-15.db")
    /// print(backup.tokens, backup.sequence)
    /// ```
    ///
    /// - Parameters:
    ///   - path: The new file; its folder must exist.
    ///   - progress: Told the pages copied (``WorkProgress``).
    /// - Returns: What the written file holds.
    /// - Throws: ``IssuerError``: `invalid_input` (a PostgreSQL ledger, which PostgreSQL's own
    ///   tools back up), `cannot_write` (the file exists; the folder is missing, not writable
    ///   or full), `bad_data` (the copy does not check out).
    public func backupLedger(to path: String, progress: ProgressHandler? = nil) throws(IssuerError) -> LedgerBackup {
        guard let sqlite = store as? SQLiteStore else {
            throw IssuerError(
                .invalidInput,
                "\(store.location) is a PostgreSQL ledger: back it up with pg_dump and restore it with pg_restore (docs/DATABASE.md, \"Backups\")",
                detail: .invalidLabel(field: "database", problem: "is PostgreSQL: use pg_dump and pg_restore"))
        }
        let contents = try sqlite.backup(to: path, progress: progress)
        return LedgerBackup(
            path: path, bytes: contents.bytes, tokens: contents.tokens, events: contents.events,
            sequence: contents.sequence, schemaVersion: contents.schemaVersion)
    }

    /// Restores a ledger backup into a home that has no ledger, and makes sure the next
    /// revocation list is above every one published before.
    ///
    /// The backup is checked first (a sound SQLite file with exactly a Sigil schema this build
    /// knows), then copied to a temporary file beside the ledger, brought up to the current
    /// schema, and every row is read as the use cases read it. The list sequence is then raised
    /// to the highest one seen: the backup's, the home's `revocations.seq` high-water mark, the
    /// list in `<home>/revocations.sgl` and each file in `seenLists` (lists exported elsewhere, or
    /// the list services hold); the ledger and `revocations.seq` both record it, with a
    /// `migrate` event. Only then is the file linked into place, which fails rather than
    /// replace a ledger that appeared meanwhile. On any failure nothing is left behind.
    ///
    /// A home that already holds a ledger (`sigil.db` or its `-wal`, or a v0.1 `ledger.jsonl`)
    /// is refused: restoring never merges or replaces. The keyring is not part of the backup;
    /// copy `keyring.json` into the home from its own backup (``RestoredLedger/hasKeyring``).
    ///
    /// ```swift
    /// let restored = try Issuer.restoreLedger(
    ///     from: "/backup/sigil-2027-01-15.db", home: "keys", seenLists: ["/srv/www/revocations.sgl"],
    ///     by: try Actor(name: "alice"))
    /// print("the next list is above \(restored.sequence)")
    /// ```
    ///
    /// - Parameters:
    ///   - backup: A file ``backupLedger(to:progress:)`` wrote (or `sqlite3 … ".backup"` made).
    ///   - home: The home folder, created `0700` if missing.
    ///   - database: A SQLite path for the ledger, or nil for `<home>/sigil.db`.
    ///   - seenLists: More revocation-list files whose sequence the next list must pass. Each
    ///     must exist and start like a v1 list; only its header is read, unverified.
    ///   - busyTimeout: Seconds to wait for a lock.
    ///   - actor: Who the `migrate` event names.
    ///   - now: Unix seconds for that event.
    ///   - progress: Told the pages copied, then the rows checked.
    /// - Returns: What was restored and the sequence floor.
    /// - Throws: ``IssuerError``: `conflict` (the home already holds a ledger), `invalid_input`
    ///   (a PostgreSQL `database`; a backup that is a link), `not_found` (no backup, or a list
    ///   file missing), `bad_data` (a damaged, truncated or foreign backup, a newer schema, a
    ///   bad row, a list file that is not a list), `cannot_write`, `permissions`.
    public static func restoreLedger(
        from backup: String, home: String, database: String? = nil, seenLists: [String] = [],
        busyTimeout: Double = 5, by actor: Actor, now: Int64 = Issuer.currentTime(), progress: ProgressHandler? = nil
    ) throws(IssuerError) -> RestoredLedger {
        let target: String
        switch try DatabaseLocation.parse(database) {
        case .postgres(let url):
            throw IssuerError(
                .invalidInput,
                "\(DatabaseLocation.redact(url)) is a PostgreSQL ledger: restore a pg_dump archive with pg_restore into an empty database (docs/DATABASE.md, \"Backups\")",
                detail: .invalidLabel(field: "database", problem: "is PostgreSQL: use pg_restore"))
        case .sqlite(let path): target = path
        case nil: target = home + "/" + SQLiteStore.fileName
        }
        // Every list file named must count: a typo must not lower the floor silently.
        for file in seenLists { _ = try listSequence(in: file) }
        try SecureFile.ensureHome(home)
        try refuseExistingLedger(home: home, target: target)
        let contents = try SQLiteStore.inspectBackup(backup)

        let folder = (target as NSString).deletingLastPathComponent
        let suffix = OpenSSL.randomBytes(count: 6).map { String($0, radix: 16) }.joined()
        let temporary =
            (folder.isEmpty ? "." : folder) + "/.\((target as NSString).lastPathComponent).restore-\(suffix)"
        try SQLiteStore.createExclusively(temporary)
        var linked = false
        defer {
            SQLiteStore.removeDatabaseFiles(temporary)
            if !linked { SecureFile.syncDirectory(folder.isEmpty ? "." : folder) }
        }
        do {
            let source = try SQLiteDatabase(path: backup, create: false, busyTimeoutMilliseconds: 0, immutable: true)
            defer { source.close() }
            try source.execute("PRAGMA trusted_schema=OFF")
            try SQLiteStore.copyPages(from: source, to: temporary, progress: progress)
        } catch let error as IssuerError {
            throw error
        } catch {
            throw IssuerError(.badData, "\(backup): \(error)", detail: .databaseCorrupt(path: backup))
        }

        // The copy is what becomes the ledger, so it is checked again: the backup file may have
        // changed between the first check and the copy.
        _ = try SQLiteStore.inspectBackup(temporary)
        // Opening migrates an older backup to this build's schema.
        let issuer = try Issuer(home: home, database: temporary, busyTimeout: busyTimeout)
        let counted: (tokens: Int, events: Int)
        let floor: UInt64
        let listed: ListedStatuses
        do {
            defer { issuer.close() }
            counted = try issuer.transaction(write: false) { try issuer.store.checkEveryRow(progress: progress) }
            let reconciled = try issuer.reconcile(
                withLists: seenLists, by: actor, now: now,
                details: [("from", "backup"), ("tokens", String(counted.tokens))])
            (floor, listed) = (reconciled.sequence, reconciled.listed)
        }
        try SQLiteStore.syncFile(temporary)
        guard link(temporary, target) == 0 else {
            let code = errno
            if code == EEXIST { throw ledgerExists(target) }
            throw SecureFile.ioError("cannot create \(target)", code, write: true)
        }
        linked = true
        unlink(temporary)
        SecureFile.syncDirectory(folder.isEmpty ? "." : folder)
        return RestoredLedger(
            path: target, tokens: counted.tokens, events: counted.events + 1 + listed.events,
            backupSequence: contents.sequence,
            sequence: floor, hasKeyring: Keyring.exists(home: home), listed: listed)
    }

    /// Brings a ledger put back from a backup (by `restoreLedger`, `pg_restore`, or a copied
    /// file) up to what services already hold: the next list's sequence goes above every one
    /// seen (``raiseSequenceFloor(to:by:now:details:)``), and tokens the lists stopped after
    /// the backup are stopped again (``ListedStatuses``).
    ///
    /// The lists are `files` and the home's `revocations.sgl`; each of `files` must exist and
    /// be a list. Running it again changes nothing more.
    ///
    /// ```swift
    /// let done = try issuer.reconcile(withLists: ["/tmp/held.sgl"], by: try Actor(name: "alice"))
    /// print("next list above \(done.sequence); revoked again: \(done.listed.revoked)")
    /// ```
    ///
    /// - Throws: ``IssuerError``: `not_found` or `bad_data` for a list file that is missing or
    ///   not a list (before anything changes), or from the database.
    public func reconcile(
        withLists files: [String], by actor: Actor, now: Int64 = Issuer.currentTime(),
        details: [(String, String)] = [("from", "lists")]
    ) throws(IssuerError) -> Reconciled {
        var sequences: [UInt64] = []
        for file in files { sequences.append(try Self.listSequence(in: file)) }
        // What the ledger itself knew, before the floor moves: a list above it is newer.
        let known = try transaction(write: false) {
            max(try lastExportSequence(), try store.latestListSequence() ?? 0)
        }
        let floor = try raiseSequenceFloor(to: sequences, by: actor, now: now, details: details)
        let homeList = home + "/revocations.sgl"
        let listed = try reapplyListed(
            from: (Self.sequenceInFile(homeList) != nil ? [homeList] : []) + files, newerThan: known, by: actor,
            now: now)
        return Reconciled(sequence: floor, listed: listed)
    }

    /// Applies what the signed lists in `files` say to this ledger (``ListedStatuses``);
    /// deactivations only from a list above `known`. Each kind of change is one audit event
    /// with `from=restore`.
    func reapplyListed(from files: [String], newerThan known: UInt64, by actor: Actor, now: Int64)
        throws(IssuerError) -> ListedStatuses
    {
        var result = ListedStatuses()
        let keys = try Keyring.loadIfPresent(home: home)?.revocationPublicKeys() ?? []
        var newest: RevocationList?
        var revoked = Set<TokenID>()
        for file in files {
            guard !keys.isEmpty, let list = Self.verifiedList(at: file, keys: keys) else {
                result.unverified.append(file)
                continue
            }
            for entry in list.entries where entry.status == .revoked { revoked.insert(entry.id) }
            if list.sequence >= newest?.sequence ?? 0 { newest = list }
        }
        let current = newest.map { $0.sequence > known } ?? false
        let deactivated = (current ? newest?.entries ?? [] : []).filter {
            $0.status == .deactivated && !revoked.contains($0.id)
        }
        var toRevoke: [TokenID] = []
        var toDeactivate: [TokenID] = []
        try transaction(write: false) {
            for id in revoked.sorted() {
                guard let t = try store.token(id) else {
                    result.unknown += 1
                    continue
                }
                if t.status != .revoked && !t.isDeleted { toRevoke.append(id) }
            }
            for (id, _) in deactivated {
                guard let t = try store.token(id) else {
                    result.unknown += 1
                    continue
                }
                if t.status == .active { toDeactivate.append(id) }
            }
        }
        let details = [("from", "restore")]
        if !toRevoke.isEmpty {
            result.revoked = try change(.revoke, toRevoke, by: actor, details: details, now: now).changed.count
            result.events += 1
        }
        if !toDeactivate.isEmpty {
            result.deactivated = try change(.deactivate, toDeactivate, by: actor, details: details, now: now)
                .changed.count
            result.events += 1
        }
        return result
    }

    /// The list in `path` if it is a regular file (not a link), at most the largest list size,
    /// and verifies with `keys`; nil otherwise.
    private static func verifiedList(at path: String, keys: [RevocationKey]) -> RevocationList? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        guard
            let bytes = try? FileBytes.read(
                descriptor: fd, path: path, maxBytes: RevocationList.defaultMaxBytes + RevocationList.signatureSize)
        else { return nil }
        return try? RevocationList(verifying: bytes, keys: keys)
    }

    /// Raises the revocation-list sequence to the highest one seen, so the next list is above
    /// it: the ledger's `export_sequence` and newest stored list, the home's `revocations.seq`,
    /// the list in `<home>/revocations.sgl`, and `sequences` read from other list files. The
    /// ledger (with a `migrate` event) and `revocations.seq` both record it, and the list counts
    /// as changed, so a publisher signs the next one without waiting.
    ///
    /// The one place this rule lives: list signing starts above the same floor, so a list
    /// sequence services already hold is never signed again.
    ///
    /// - Returns: The floor.
    func raiseSequenceFloor(to sequences: [UInt64], by actor: Actor, now: Int64, details: [(String, String)])
        throws(IssuerError) -> UInt64
    {
        try serialTransaction {
            let home = self.home
            var floor = max(try lastExportSequence(), try store.latestListSequence() ?? 0)
            if let inHome = Self.sequenceInFile(home + "/revocations.sgl") { floor = max(floor, inHome) }
            floor = sequences.reduce(floor, max)
            try store.setState("export_sequence", Int64(bitPattern: floor))
            // Counted as a change to the list: sigil-server signs one above the floor at once,
            // instead of serving the backup's older list (which followers refuse) for an hour.
            try store.incrementState(Self.listChangesKey)
            try record(.migrate, by: actor, at: now, guids: [], details: details + [("sequence", String(floor))])
            // Before the commit, as when a list is signed: a higher mark is always safe.
            if floor > 0 { try SecureFile.writeAtomically(Array("\(floor)\n".utf8), to: highWaterMarkPath) }
            return floor
        }
    }

    /// The sequence in the header of the list file at `path`, which must exist and be a list.
    static func listSequence(in path: String) throws(IssuerError) -> UInt64 {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw IssuerError(.notFound, "no revocation list at \(path): \(String(cString: strerror(errno)))")
        }
        guard let sequence = sequenceInFile(path) else {
            throw IssuerError(
                .badData,
                "\(path) is not a Sigil revocation list (no v1 header, or a symbolic link); nothing was restored")
        }
        return sequence
    }

    /// Refuses a home whose ledger already exists, or holds a v0.1 journal not yet imported.
    private static func refuseExistingLedger(home: String, target: String) throws(IssuerError) {
        for path in [target, target + "-wal", target + "-shm", home + "/ledger.jsonl"]
        where SQLiteStore.fileExists(path) {
            throw ledgerExists(path)
        }
    }

    private static func ledgerExists(_ path: String) -> IssuerError {
        IssuerError(
            .conflict,
            "\(path) exists: a restore goes only into a home without a ledger, and never merges or replaces one. Move it (and its -wal and -shm files) aside, or restore into a new home; nothing was restored"
        )
    }
}
