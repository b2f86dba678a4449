import Foundation
public import SigilVerifier
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What an exported revocation list holds.
public struct ExportedList: Sendable {
    public let path: String
    public let bytes: Int
    public let list: RevocationList
}

extension Issuer {
    // MARK: Keys

    /// Changes the keyring under the database's write lock, so two processes never both
    /// rewrite it, and records a `keys` event.
    private func changeKeyring<T>(
        by actor: Actor, now: Int64, _ change: (inout Keyring) throws(IssuerError) -> (T, [(String, String)])
    ) throws(IssuerError) -> (Keyring, T) {
        try transaction(write: true) {
            var ring = try keyring()
            let (value, details) = try change(&ring)
            try ring.save(home: home)
            try record(.keys, by: actor, at: now, guids: [], details: details)
            return (ring, value)
        }
    }

    /// Adds a pending token key (or, with `revocation`, a pending revocation-list key): in
    /// exported keysets at once, issuing or signing nothing until promoted. Returns its ID.
    public func addKey(revocation: Bool = false, by actor: Actor, now: Int64 = Issuer.currentTime()) throws(IssuerError)
        -> String
    {
        try changeKeyring(by: actor, now: now) { ring throws(IssuerError) in
            let keyID = revocation ? ring.addRevocationKey(now: now).keyID : ring.addTokenKey(now: now).keyID
            return (keyID, [("added", keyID)])
        }.1
    }

    /// Makes `keyID` the issuing key (or the list-signing key, for a revocation key). Returns the
    /// previous one's ID, or nil if `keyID` already is (nothing changed).
    public func promoteKey(_ keyID: String, by actor: Actor, now: Int64 = Issuer.currentTime()) throws(IssuerError)
        -> String?
    {
        let ring = try keyring()
        let isRevocation = ring.revocationKeys.contains { $0.keyID == keyID }
        let current = isRevocation ? ring.signingKey.keyID : ring.activeKey.keyID
        if current == keyID { return nil }
        return try changeKeyring(by: actor, now: now) { ring throws(IssuerError) in
            let previous = isRevocation ? ring.signingKey.keyID : ring.activeKey.keyID
            try ring.promote(keyID)
            return (previous, [("promoted", keyID), ("previous", previous)])
        }.1
    }

    /// Retires a key and destroys its secret: its tokens stop verifying once services load the
    /// next keyset. Irreversible.
    public func retireKey(_ keyID: String, by actor: Actor, now: Int64 = Issuer.currentTime()) throws(IssuerError) {
        _ = try changeKeyring(by: actor, now: now) { ring throws(IssuerError) in
            try ring.retire(keyID)
            return ((), [("retired", keyID)])
        }
    }

    /// Adds a key and promotes it at once (a token key, or a revocation-list key). Returns
    /// (new, previous) key IDs.
    public func rotateKey(revocation: Bool = false, by actor: Actor, now: Int64 = Issuer.currentTime())
        throws(IssuerError) -> (String, String)
    {
        try changeKeyring(by: actor, now: now) { ring throws(IssuerError) in
            let previous = revocation ? ring.signingKey.keyID : ring.activeKey.keyID
            let keyID = revocation ? ring.addRevocationKey(now: now).keyID : ring.addTokenKey(now: now).keyID
            try ring.promote(keyID)
            return ((keyID, previous), [("promoted", keyID), ("previous", previous)])
        }.1
    }

    /// The keyset a service of `audience` needs: never a master secret.
    public func keyset(audience: String) throws(IssuerError) -> Keyset {
        _ = try Audience(audience)
        return try keyring().keyset(audience: audience)
    }

    // MARK: Revocation lists

    /// The high-water mark beside the keyring: the highest sequence this home ever signed.
    ///
    /// A ledger restored from a backup forgets later exports; this file does not, so the next
    /// sequence never repeats one that services already hold.
    var highWaterMarkPath: String { home + "/revocations.seq" }

    private func readHighWaterMark() -> UInt64 {
        guard let bytes = try? FileBytes.read(path: highWaterMarkPath, maxBytes: 32) else { return 0 }
        return UInt64(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// The sequence in a list file's fixed header (docs/FORMAT.md §4.1), reading only the header:
    /// a list of a million entries is 17 MB, and only 8 of its bytes matter here.
    static func sequenceInFile(_ path: String) -> UInt64? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var header = [UInt8](repeating: 0, count: 6 + 32 + 8)
        let got = header.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return headerSequence(Array(header.prefix(max(got, 0))))
    }

    /// The sequence from the fixed start of a v1 list (magic, version, key ID, sequence;
    /// docs/FORMAT.md §4.1), unverified: for a file damaged further on, or read only in part.
    package static func headerSequence(_ b: [UInt8]) -> UInt64? {
        guard b.count >= 6, Array(b[0..<4]) == RevocationList.magic, b[4] == RevocationList.version else { return nil }
        let kidLength = Int(b[5])
        let start = 6 + kidLength
        guard (1...32).contains(kidLength), b.count >= start + 8 else { return nil }
        return b[start..<(start + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// Counts the changes that alter the revocation list, so a publisher knows when to sign again.
    static let listChangesKey = "list_changes"

    /// Signs the current list with the next sequence and stores it, inside the caller's
    /// transaction. Also returns the entries it signed, for the next list, when that
    /// transaction is the outermost one (the caller keeps them once it has committed).
    private func signList(nextUpdate: Int64?, now: Int64, floor extra: UInt64, ring: Keyring) throws -> (
        sequence: UInt64, bytes: [UInt8], count: Int, entries: SignedEntries?
    ) {
        var promise: Int64?
        if let nextUpdate {
            let (sum, overflow) = now.addingReportingOverflow(nextUpdate)
            guard nextUpdate > 0, !overflow else {
                throw IssuerError(.invalidInput, "next_update must be a positive number of seconds from now")
            }
            promise = sum
        }
        let entries = try currentEntries(now: now)
        let last = UInt64(bitPattern: try store.state("export_sequence") ?? 0)
        let stored = try store.latestListSequence() ?? 0
        let floor = max(last, readHighWaterMark(), stored, extra)
        guard floor < UInt64.max else { throw IssuerError.sequenceExhausted(floor) }
        let sequence = floor + 1
        let signer = ring.signingKey
        let bytes = try RevocationListBuilder.sign(
            body: entries.body, sequence: sequence, issuedAt: now, nextUpdate: promise, keyID: signer.keyID,
            seed: signer.seed)
        try store.setState("export_sequence", Int64(bitPattern: sequence))
        try store.putList(
            sequence: sequence, issuedAt: now, changes: try store.state(Self.listChangesKey) ?? 0, bytes: bytes)
        // Before the commit: if the write fails the ledger keeps the old sequence; if the commit
        // then fails, this higher sequence is the next floor.
        try SecureFile.writeAtomically(Array("\(sequence)\n".utf8), to: highWaterMarkPath)
        return (sequence, bytes, entries.count, store.nesting.depth == 1 ? entries : nil)
    }

    /// The entries a list made now must name: the last signed entries plus what the audit
    /// events after them changed, when that is sound (``SignedEntries``), else every listed row.
    private func currentEntries(now: Int64) throws -> SignedEntries {
        let grace = Self.maxLeeway
        let cursor = try store.newestEventID()
        if store.dialect.eventIDsFollowCommits, store.nesting.depth == 1, let last = signedEntries,
            last.canContinue(at: now, cursor: cursor)
        {
            let (actions, guids) = try store.events(after: last.cursor, through: cursor)
            if guids.count <= SignedEntries.maxLookups,
                actions.allSatisfy({ AuditAction(rawValue: $0)?.changesOnlyNamedTokens ?? false })
            {
                var changes: [TokenID: RevocationStatus?] = [:]
                for id in try store.entriesLeaving(after: last.now, through: now, grace: grace) {
                    changes[id] = .some(nil)
                }
                for change in try store.listEntries(of: guids, now: now, grace: grace) {
                    changes[change.id] = change.status
                }
                let sorted = changes.map { RevocationDelta.Change(id: $0.key, status: $0.value) }.sorted {
                    $0.id < $1.id
                }
                lastListWasIncremental = true
                return last.applying(sorted, cursor: cursor, now: now)
            }
        }
        let body = RevocationListBuilder.body(try store.revocationEntries(now: now, grace: grace))
        lastListWasIncremental = false
        return SignedEntries(cursor: cursor, now: now, body: body, rebuiltAt: .now, increments: 0)
    }

    /// Signs the current revocation list and writes it atomically to `path` (default
    /// `<home>/revocations.sgl`).
    ///
    /// Names every inactive token (deactivated) and every revoked or deleted one (revoked) until
    /// `valid_to + maxLeeway` has passed. The sequence is above the ledger's last one, the
    /// high-water mark and the sequence already in `path`, so it never goes backwards; it is
    /// recorded in the same transaction, and the list is also kept for sigil-server to serve.
    ///
    /// - Parameters:
    ///   - path: Where to write the list (default `<home>/revocations.sgl`).
    ///   - nextUpdate: Seconds until the promised next list; nil for none.
    ///   - actor: Who the audit log names.
    ///   - now: Unix seconds: the list's issue time.
    /// - Returns: Where the list went, its size and the list itself.
    /// - Throws: ``IssuerError``: `not_found` (no keyring), `bad_data` (a damaged row),
    ///   `lock_busy`, `cannot_write`.
    public func exportRevocationList(
        to path: String? = nil, nextUpdate: Int64? = Issuer.defaultNextUpdate, by actor: Actor,
        now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> ExportedList {
        let output = path ?? home + "/revocations.sgl"
        let ring = try keyring()
        let made = try serialTransaction { () throws -> (ExportedList, SignedEntries?) in
            var inFile: UInt64 = 0
            if let sequence = Self.sequenceInFile(output) { inFile = sequence }
            let (sequence, bytes, count, entries) = try signList(
                nextUpdate: nextUpdate, now: now, floor: inFile, ring: ring)
            try record(
                .export, by: actor, at: now, guids: [],
                details: [("entries", String(count)), ("path", output), ("sequence", String(sequence))])
            try SecureFile.writeAtomically(bytes, to: output, mode: 0o644)
            let list = try RevocationList.parseUnverified(bytes)
            return (ExportedList(path: output, bytes: bytes.count, list: list), entries)
        }
        // Kept only once committed: entries of a list rolled back would reflect nothing real.
        if let entries = made.1 { signedEntries = entries }
        return made.0
    }

    /// Signs and stores a new list if the ledger changed since the newest stored one, or if that
    /// one has been the newest for `maxAge` seconds (entries expire; `next_update` must be kept).
    ///
    /// Meant for sigil-server's publisher, which calls it after changes (a burst makes one list)
    /// and on a timer. The newest list is the one with the highest sequence, whoever signed it
    /// and whatever its `issued_at`. Whether it is current never compares this host's clock with
    /// the signer's: a change is seen through the ledger's change count, and the age comes from
    /// `clock` (this process's monotonic clock, see ``ListClock``), so a list stamped in the
    /// future by a host whose clock runs ahead neither blocks publishing nor makes every other
    /// host sign again. Without a clock the age is `now - issued_at`, and a list from the future
    /// counts as new (age 0).
    ///
    /// ```swift
    /// let clock = ListClock()
    /// if let made = try issuer.publishRevocationList(clock: clock, by: actor) { serve(made.bytes) }
    /// ```
    ///
    /// - Parameters:
    ///   - nextUpdate: Seconds until the promised next list; nil for none.
    ///   - maxAge: Seconds a list may stay the newest before it is signed again.
    ///   - clock: How long this process has seen the newest list as the newest; nil: use its `issued_at`.
    ///   - actor: Who the audit log names.
    ///   - now: Unix seconds: the new list's `issued_at`.
    /// - Returns: The new list, or nil when the newest is current.
    /// - Throws: ``IssuerError``: `conflict` with ``IssuerError/Detail/sequenceExhausted(last:)``
    ///   when the sequence cannot go higher; `lock_busy`; `not_found` (no keyring).
    public func publishRevocationList(
        nextUpdate: Int64? = Issuer.defaultNextUpdate, maxAge: Int64 = 3_600, clock: ListClock? = nil, by actor: Actor,
        now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> (sequence: UInt64, bytes: [UInt8])? {
        let ring = try keyring()
        let made = try serialTransaction { () -> (sequence: UInt64, bytes: [UInt8], entries: SignedEntries?)? in
            let changes = try store.state(Self.listChangesKey) ?? 0
            // The header only: the bytes (17 MB at a million entries) are not needed to decide.
            if let latest = try store.latestListHeader(), latest.changes == changes {
                let age =
                    clock?.age(of: latest.sequence, issuedAt: latest.issuedAt, now: now)
                    ?? ListClock.age(issuedAt: latest.issuedAt, now: now)
                if age < maxAge { return nil }
            }
            let (sequence, bytes, count, entries) = try signList(nextUpdate: nextUpdate, now: now, floor: 0, ring: ring)
            try record(
                .export, by: actor, at: now, guids: [],
                details: [("entries", String(count)), ("path", "database"), ("sequence", String(sequence))])
            return (sequence, bytes, entries)
        }
        // After the commit: a list whose commit failed must not reset the age of the one in
        // force, nor become the start of the next.
        guard let made else { return nil }
        clock?.signed(made.sequence)
        if let entries = made.entries { signedEntries = entries }
        return (made.sequence, made.bytes)
    }

    /// The newest signed list in the database (exported or published), if any.
    public func latestRevocationList() throws(IssuerError) -> (sequence: UInt64, bytes: [UInt8])? {
        try transaction(write: false) { try store.latestList().map { ($0.sequence, $0.bytes) } }
    }

    /// The newest stored list's sequence, reading none of its bytes.
    public func latestRevocationSequence() throws(IssuerError) -> UInt64? {
        try transaction(write: false) { try store.latestListSequence() }
    }

    /// Waits up to `timeout` seconds for another connection, process or host to commit to the
    /// ledger; true if one did since the last call. Give it a connection of its own: it blocks.
    ///
    /// ```swift
    /// let watcher = try Issuer(anotherConnectionTo: "keys")
    /// if try watcher.waitForChange(timeout: 1) { print("the ledger changed") }
    /// ```
    public func waitForChange(timeout: Double) throws(IssuerError) -> Bool {
        try store.waitForChange(timeout: timeout)
    }

    /// Makes this connection's commits leave the copy of SQLite's write-ahead log into the
    /// database to ``checkpoint()`` on another connection (up to a 64 MiB backstop): for a
    /// server's one writer, whose commits then cost the log's write and sync alone. Durability
    /// is unchanged: a commit is durable once its log frames are synced. Nothing on PostgreSQL.
    ///
    /// ```swift
    /// let writer = try Issuer(home: "keys")
    /// try writer.deferCheckpoints()
    /// let watcher = try Issuer(anotherConnectionTo: "keys")
    /// if try watcher.waitForChange(timeout: 1) { try watcher.checkpoint() }
    /// ```
    public func deferCheckpoints() throws(IssuerError) { try store.deferCheckpoints() }

    /// Keeps SQLite's undo copies of the pages a savepoint changes in memory on this
    /// connection instead of a temp file: for a writer that applies many requests in one
    /// transaction, a savepoint each (``group(_:)``). Nothing on PostgreSQL.
    ///
    /// ```swift
    /// let writer = try Issuer(home: "keys")
    /// try writer.journalSavepointsInMemory()
    /// try writer.group([{ _ = try writer.change(.revoke, [id], as: caller) }])
    /// ```
    public func journalSavepointsInMemory() throws(IssuerError) { try store.journalSavepointsInMemory() }

    /// Copies what it can of SQLite's write-ahead log into the database without blocking
    /// writers (a passive checkpoint). Nothing on PostgreSQL.
    public func checkpoint() throws(IssuerError) { try store.checkpoint() }

    /// A number that changes whenever another process or host commits to the ledger (SQLite's
    /// `PRAGMA data_version`; PostgreSQL's `NOTIFY` from other connections): cheap to poll for
    /// "did anything change?".
    public func dataVersion() throws(IssuerError) -> Int64 {
        try store.changeCounter()
    }

    /// The sequence of the last list this home signed.
    public func lastExportSequence() throws(IssuerError) -> UInt64 {
        let last = try transaction(write: false) { UInt64(bitPattern: try store.state("export_sequence") ?? 0) }
        return max(last, readHighWaterMark())
    }
}

extension Issuer {
    /// Drops the tombstones of deleted tokens that no list needs any more (past
    /// `valid_to + maxLeeway`), then rewrites the database file compactly.
    ///
    /// - Returns: Token rows before and after.
    public func compactLedger(by actor: Actor, now: Int64 = Issuer.currentTime()) throws(IssuerError) -> (Int, Int) {
        let counts = try transaction(write: true) {
            let before = try store.tokenRowCount()
            let removed = try store.purgeTombstones(before: now - Self.maxLeeway)
            try record(.compact, by: actor, at: now, guids: [], details: [("purged_tombstones", String(removed))])
            return (before, before - removed)
        }
        try store.compact()
        return counts
    }
}

/// How long the newest stored revocation list has been the newest, on this process's monotonic
/// clock: the age ``Issuer/publishRevocationList(nextUpdate:maxAge:clock:by:now:)`` compares with
/// `maxAge`.
///
/// Lists on a shared ledger are signed by several hosts, and their `issued_at` is each signer's
/// wall clock. Comparing it with this host's clock made replicas whose clocks differ re-sign each
/// other's lists in a loop. So the age of a list is the time since this process first saw its
/// sequence as the newest (or signed it), never another host's timestamp. The one exception is
/// the first list a process sees: it may have been the newest for days while no server ran, so
/// its age is `now - issued_at` once, with a list stamped in the future counted as new. That
/// read happens once per process and cannot loop.
///
/// Thread-safe: one lock around a few integers, no I/O inside it.
public final class ListClock: Sendable {
    private struct Seen {
        var sequence: UInt64
        var since: ContinuousClock.Instant
        /// Seconds the list was already old when first seen (nonzero only for a process's first list).
        var ageWhenSeen: Int64
    }

    private let seen = Mutex<Seen?>(nil)
    private let elapsed: @Sendable () -> ContinuousClock.Instant

    /// A clock on ``ContinuousClock``; tests pass `elapsed` to move time without sleeping.
    public init(elapsed: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.elapsed = elapsed
    }

    /// Seconds the list `sequence` has been the newest, starting its count if it is new.
    func age(of sequence: UInt64, issuedAt: Int64, now: Int64) -> Int64 {
        let instant = elapsed()
        return seen.withLock { seen in
            if let current = seen, current.sequence == sequence {
                return current.ageWhenSeen + (instant - current.since).components.seconds
            }
            let first = seen == nil ? Self.age(issuedAt: issuedAt, now: now) : 0
            seen = Seen(sequence: sequence, since: instant, ageWhenSeen: first)
            return first
        }
    }

    /// `now - issuedAt` by the wall clock, never negative: a list stamped in the future is new.
    static func age(issuedAt: Int64, now: Int64) -> Int64 {
        let (difference, overflow) = now.subtractingReportingOverflow(issuedAt)
        if overflow { return issuedAt < 0 ? Int64.max : 0 }
        return max(0, difference)
    }

    /// Records that this process just signed `sequence`: its age starts at zero.
    func signed(_ sequence: UInt64) {
        let instant = elapsed()
        seen.withLock { $0 = Seen(sequence: sequence, since: instant, ageWhenSeen: 0) }
    }
}
