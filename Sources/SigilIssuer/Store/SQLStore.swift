import Foundation
package import SigilVerifier

/// A ledger store that speaks SQL: the query text, bindings and row decoding of every
/// ``LedgerStore`` call are written once, here, and each store supplies only its connection
/// (``query(_:_:_:)``, ``run(_:_:)``), its ``SQLDialect`` and how it opens, migrates and
/// runs transactions.
package protocol SQLStore: LedgerStore {
    associatedtype Row: SQLRow
    var dialect: SQLDialect { get }
    /// Statements run through ``query(_:_:_:)`` and ``run(_:_:)`` so far: a test hook that
    /// shows how many round trips a call takes.
    var statements: Int { get }
    /// Runs a query and calls `body` with each row in order, as it arrives.
    func query(_ sql: String, _ values: [SQLValue], _ body: (Row) throws -> Void) throws
    /// Runs a change and returns how many rows it touched.
    @discardableResult func run(_ sql: String, _ values: [SQLValue]) throws -> Int
    /// Runs a change for `ids`, bound after `values` (``SQLDialect/guidIs``): per GUID or at once.
    func run(_ sql: String, _ values: [SQLValue], forEachOf ids: [TokenID]) throws
    /// Whatever a restore leaves to do (identity counters); nothing by default.
    func finishRestore() throws
    /// How deep this connection's transactions nest, and whether a step lost the outer one.
    var nesting: TransactionNesting { get }
    /// Whether the transaction this connection began is still open and usable, known without
    /// a round trip: false after the database rolled it back itself (SQLite after an I/O
    /// error) or doomed it (a PostgreSQL statement failed outside any savepoint).
    var transactionIsOpen: Bool { get }
    /// Waits up to `timeout` seconds for another connection to commit to the ledger; true if
    /// one did since the last call (``changeCounter()`` moved). sigil-server's change watcher
    /// calls it on a connection of its own.
    func waitForChange(timeout: Double) throws(IssuerError) -> Bool
    /// Leaves copying the write-ahead log into the database to another connection's
    /// ``checkpoint()``, so a commit is never also a checkpoint (SQLite; nothing on PostgreSQL).
    func deferCheckpoints() throws(IssuerError)
    /// Keeps the copies of pages a savepoint changed, which undo it, in memory for this
    /// connection (SQLite; nothing on PostgreSQL): for a writer that runs many savepoints in one
    /// transaction (``Issuer/group(_:)``).
    func journalSavepointsInMemory() throws(IssuerError)
    /// Copies what it can of the write-ahead log into the database without blocking writers
    /// (SQLite's passive checkpoint; nothing on PostgreSQL).
    func checkpoint() throws(IssuerError)
    /// Runs `body` (which opens its own transaction) one at a time across every connection to
    /// the ledger: for what must be serial, signing a list with the next sequence. SQLite's
    /// write lock already is; PostgreSQL takes a session advisory lock before the transaction
    /// begins, so its snapshot is taken after the wait. Inside an open transaction it adds nothing.
    func serially<T>(_ body: () throws -> T) throws -> T
}

/// Where a connection is in its transaction.
///
/// A write transaction begun while one is open on the same connection is a `SAVEPOINT` of it:
/// that is how ``Issuer/group(_:)`` applies many requests in one commit, each able to fail alone.
/// A read begun inside an open transaction joins it without a savepoint: it changes nothing a
/// rollback would need to undo, and its error goes up to the step that called it.
///
/// Savepoints cost a round trip each on PostgreSQL, so they are sent lazily and, there, never
/// released (``savepoints``, ``SQLDialect/releasesSavepoints``): a savepoint goes out just
/// before the first statement inside it, one `SAVEPOINT` serves every level begun since the
/// last statement (nothing ran between them, so rolling back to it undoes exactly what each of
/// them did), and the commit releases them all.
/// Each level is named by its depth and a later one of the same name hides an earlier one, so
/// `ROLLBACK TO` always reaches the level that failed, and rolls back the deeper ones with it.
///
/// A step that leaves the whole transaction undone or doomed (SQLite rolled it back after an
/// I/O error, PostgreSQL reported a serialization failure, the connection dropped) sets
/// ``lost``: later steps are refused without running, and the commit fails with that error.
package final class TransactionNesting {
    /// 0 outside a transaction, 1 in one, more in savepoints and joined reads.
    var depth = 0
    /// What undid or doomed the open transaction.
    var lost: IssuerError?
    /// Set by a store's error translation when the failure is one a rerun of the whole
    /// transaction may not meet (PostgreSQL's 40001 and 40P01).
    var mustRetry = false
    /// The open savepoint levels, outermost first: the name of the savepoint that undoes each,
    /// nil for a level no statement has run in yet (nothing to undo, nothing sent).
    var savepoints: [String?] = []
    /// Savepoints sent so far: a test hook, as ``SQLStore/statements`` is.
    package private(set) var savepointsSent = 0

    /// The savepoint the innermost level sent, when it is that level's alone (not shared with
    /// the level around it, which would still need it).
    var innermostOwnSavepoint: String? {
        guard let name = savepoints.last ?? nil, savepoints.dropLast().last != name else { return nil }
        return name
    }

    /// The `SAVEPOINT` to send before the next statement, if a level is still unsent; marks
    /// every unsent level as undone by it.
    func unsentSavepoint() -> String? {
        guard let last = savepoints.last, last == nil else { return nil }
        let first = (savepoints.lastIndex { $0 != nil }).map { $0 + 1 } ?? 0
        let name = "sigil_level\(first)"
        for level in first..<savepoints.count { savepoints[level] = name }
        savepointsSent += 1
        return "SAVEPOINT \(name)"
    }

    package init() {}
}

/// The `tokens` columns every token read selects, in the order ``TokenRecord/init(row:location:)`` reads.
let tokenColumns = """
    guid, name, description, audience, scope_kind, scope_pairs, valid_from, valid_to, kid, status, \
    created_at, updated_at, revoked_at, deleted_at, created_by, parent
    """

/// `?1, ?2, …, ?count`.
private func placeholders(_ count: Int) -> String {
    (1...count).map { "?\($0)" }.joined(separator: ", ")
}

/// `bad_data` for a damaged database, naming what is damaged.
private func corrupt(_ location: String, _ what: String) -> IssuerError {
    IssuerError(.badData, "\(location): \(what)", detail: .databaseCorrupt(path: location))
}

/// Collects bound values while a statement's text is built: `next(v)` returns its placeholder.
private struct Bindings {
    var values: [SQLValue] = []
    mutating func next(_ value: SQLValue) -> String {
        values.append(value)
        return "?\(values.count)"
    }
    mutating func list(_ texts: some Sequence<String>) -> String {
        texts.map { next(.text($0)) }.joined(separator: ", ")
    }
}

extension TokenRecord {
    /// A `tokens` row as a record, refusing any damage instead of reading it as a default: a
    /// NULL in a required column, an unknown status or scope kind, a scope pair that is not one.
    init(row r: some SQLRow, location: String) throws(IssuerError) {
        guard let id = r.tokenID(0) else { throw IssuerError(.badData, "\(location): a token row has a bad GUID") }
        func damaged(_ what: String) -> IssuerError {
            corrupt(location, "token \(id) is damaged (\(what)); restore the database from a backup")
        }
        // name, description, audience, scope_kind, scope_pairs, valid_from, kid, status, created_at,
        // updated_at, created_by: never NULL.
        for column in [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 14] where r.isNull(column) {
            throw damaged("a required column is empty")
        }
        let pairs = r.text(5).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let scope = Scope(kindName: r.text(4), pairs: pairs) else { throw damaged("its scope") }
        guard let status = TokenStatus(rawValue: r.text(9)) else { throw damaged("its status") }
        self.init(
            id: id, name: r.text(1), description: r.text(2), audience: r.text(3), scope: scope,
            validFrom: r.int64(6), validTo: r.optionalInt64(7), keyID: r.text(8), status: status,
            createdAt: r.int64(10), updatedAt: r.int64(11), revokedAt: r.optionalInt64(12),
            createdBy: r.text(14), deletedAt: r.optionalInt64(13), parent: r.tokenID(15))
    }

    /// The values of ``tokenColumns`` and then `name_folded`.
    var columnValues: [SQLValue] {
        return [
            .bytes(id.bytes), .text(name), .text(description), .text(audience), .text(scope.kindName),
            .text(scope.pairs.joined(separator: ",")),
            .int(validFrom), .int(validTo), .text(keyID), .text(status.rawValue), .int(createdAt), .int(updatedAt),
            .int(revokedAt), .int(deletedAt), .text(createdBy), .bytes(parent?.bytes), .text(name.lowercased()),
        ]
    }
}

extension SQLStore {
    /// Runs `body` as the whole of the transaction `begin` opens, or inside the one already
    /// open on this connection: a write as a savepoint of it, a read joining it
    /// (``TransactionNesting``).
    func nest<T, E: Error>(
        write: Bool, begin: () throws -> Void, _ execute: (String) throws -> Void, translate: (E) -> IssuerError,
        _ body: () throws -> T
    ) throws -> T {
        if nesting.depth > 0 {
            return write
                ? try savepoint(execute, translate: translate, body) : try join(translate: translate, body)
        }
        do { try begin() } catch {
            try? execute("ROLLBACK")
            if let error = error as? E { throw translate(error) }
            throw error
        }
        nesting.depth = 1
        nesting.lost = nil
        nesting.savepoints = []
        defer {
            nesting.depth = 0
            nesting.lost = nil
            nesting.savepoints = []
        }
        return try committing(execute, translate: translate) {
            let result = try body()
            if let lost = nesting.lost { throw lost }
            return result
        }
    }

    /// Sends the savepoint of every level begun since the last statement (one `SAVEPOINT` for
    /// all of them); each store calls it before each statement. A savepoint that cannot be
    /// made loses the transaction.
    func sendSavepoints<E: Error>(_ execute: (String) throws -> Void, translate: (E) -> IssuerError) throws {
        guard nesting.depth > 0 else { return }
        try checkStillOpen()
        guard let sql = nesting.unsentSavepoint() else { return }
        do { try execute(sql) } catch {
            let issue = (error as? E).map(translate) ?? (error as? IssuerError) ?? IssuerError(.badData, "\(error)")
            if nesting.lost == nil { nesting.lost = issue }
            throw issue
        }
    }

    /// Marks the transaction lost (and throws) if the database undid or doomed it meanwhile:
    /// what a failing `RELEASE` used to reveal, checked without one.
    private func checkStillOpen() throws {
        if let lost = nesting.lost { throw lost }
        guard !transactionIsOpen else { return }
        let issue = IssuerError(
            .badData, "\(location): the database ended the transaction after an error; nothing of it was kept")
        nesting.lost = issue
        throw issue
    }

    /// A read inside the open transaction: no savepoint, since it changes nothing; its error
    /// is translated here, so a doomed transaction is marked even if a caller drops the error.
    private func join<T, E: Error>(translate: (E) -> IssuerError, _ body: () throws -> T) throws -> T {
        if let lost = nesting.lost { throw lost }
        nesting.depth += 1
        defer { nesting.depth -= 1 }
        do { return try body() } catch let error as E {
            let issue = translate(error)
            if nesting.mustRetry, nesting.lost == nil { nesting.lost = issue }
            throw issue
        }
    }

    /// One step inside the open transaction. Its error rolls back to its savepoint (if a
    /// statement ran in it) and comes out translated; an error that doomed the transaction
    /// (`mustRetry`), or a savepoint that cannot be rolled back to, marks the transaction
    /// ``TransactionNesting/lost``.
    private func savepoint<T, E: Error>(
        _ execute: (String) throws -> Void, translate: (E) -> IssuerError, _ body: () throws -> T
    ) throws -> T {
        if let lost = nesting.lost { throw lost }
        nesting.depth += 1
        nesting.savepoints.append(nil)
        defer {
            nesting.depth -= 1
            nesting.savepoints.removeLast()
        }
        func lose(_ error: any Error) -> IssuerError {
            let issue = (error as? E).map(translate) ?? (error as? IssuerError) ?? IssuerError(.badData, "\(error)")
            if nesting.lost == nil { nesting.lost = issue }
            return issue
        }
        do {
            let result = try body()
            // Where a failing RELEASE used to reveal a step that dropped the database's own
            // rollback; checked without a statement, since PostgreSQL releases nothing.
            try checkStillOpen()
            if dialect.releasesSavepoints, let name = nesting.innermostOwnSavepoint {
                do { try execute("RELEASE \(name)") } catch { throw lose(error) }
            }
            return result
        } catch {
            if nesting.lost != nil { throw error }
            let issue = (error as? E).map(translate)
            if nesting.mustRetry { throw lose(issue ?? error) }
            if let name = nesting.savepoints.last ?? nil {
                do {
                    try execute("ROLLBACK TO \(name)")
                    // The level around a shared savepoint still needs it.
                    if dialect.releasesSavepoints, nesting.innermostOwnSavepoint != nil {
                        try execute("RELEASE \(name)")
                    }
                } catch let undo {
                    _ = lose(undo)
                    throw issue ?? error
                }
            }
            throw issue ?? error
        }
    }

    /// Runs `body`, then `COMMIT`, in the transaction the caller began; any error rolls it back,
    /// and an error of the connection's own type `E` comes out as ``translate``'s answer.
    func committing<T, E: Error>(
        _ execute: (String) throws -> Void, translate: (E) -> IssuerError, _ body: () throws -> T
    ) throws -> T {
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            if let error = error as? E { throw translate(error) }
            throw error
        }
    }

    /// Runs the rest of opening; a failure closes the connection and comes out as an
    /// ``IssuerError`` (an error of the connection's own type `E` through `translate`).
    func opening<E: Error>(
        close: () -> Void, translate: (E) -> IssuerError, _ body: () throws -> Void
    ) throws(IssuerError) {
        do { try body() } catch {
            close()
            if let error = error as? E { throw translate(error) }
            if let error = error as? IssuerError { throw error }
            throw IssuerError(.badData, "\(location): \(error)")
        }
    }

    /// Every row of a query, decoded.
    func rows<T>(_ sql: String, _ values: [SQLValue] = [], _ decode: (Row) throws -> T) throws -> [T] {
        var out: [T] = []
        try query(sql, values) { out.append(try decode($0)) }
        return out
    }

    /// The first column of the first row, as an integer.
    func integer(_ sql: String, _ values: [SQLValue] = []) throws -> Int64? {
        try rows(sql, values) { $0.optionalInt64(0) }.first ?? nil
    }

    private func record(_ row: Row) throws -> TokenRecord { try TokenRecord(row: row, location: location) }

    /// Inserts a row, or updates the columns after the first `keys` of the row those keys name.
    private func upsert(_ table: String, _ columns: [String], keys: Int = 1, _ values: [SQLValue]) throws {
        let updates = columns.dropFirst(keys).map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        try run(
            """
            INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(placeholders(columns.count)))
            ON CONFLICT (\(columns.prefix(keys).joined(separator: ", "))) DO UPDATE SET \(updates)
            """, values)
    }

    package func finishRestore() throws {}

    package var engine: String { dialect.name }

    // MARK: Tokens

    package func insert(_ t: TokenRecord) throws {
        try run("INSERT INTO tokens (\(tokenColumns), name_folded) VALUES (\(placeholders(17)))", t.columnValues)
    }

    /// The token with `id`, deleted or not.
    package func token(_ id: TokenID) throws -> TokenRecord? {
        try rows("SELECT \(tokenColumns) FROM tokens WHERE guid = ?1", [.bytes(id.bytes)], record).first
    }

    /// Live tokens whose GUID starts with `hex` (lowercase hex digits), at most `limit`.
    package func tokens(withPrefix hex: String, limit: Int) throws -> [TokenRecord] {
        let (low, high) = TokenSelector.range(ofPrefix: hex)
        return try rows(
            "SELECT \(tokenColumns) FROM tokens WHERE guid BETWEEN ?1 AND ?2 AND deleted_at IS NULL ORDER BY guid LIMIT ?3",
            [.bytes(low), .bytes(high), .int(Int64(limit))], record)
    }

    /// A token row, deleted or not, an event naming the GUID, or a member with it as its ID:
    /// events are never purged, so a GUID whose tombstone compaction removed still counts, and
    /// tokens and members share the `sessions.guid` column.
    package func guidEverUsed(_ id: TokenID) throws -> Bool {
        try integer(
            """
            SELECT CASE WHEN EXISTS (SELECT 1 FROM tokens WHERE guid = ?1)
                OR EXISTS (SELECT 1 FROM event_tokens WHERE guid = ?1)
                OR EXISTS (SELECT 1 FROM members WHERE id = ?1) THEN 1 ELSE 0 END
            """, [.bytes(id.bytes)]) == 1
    }

    /// Builds the WHERE clause and its bindings for a filter. Values are always bound.
    private func whereClause(_ query: TokenQuery, access: (String) -> Access?) -> (String, Bindings) {
        // In issue order, reading the table in rowid order beats an index on deleted_at (which
        // every live row matches) followed by a sort: SQLite's `+` keeps the planner off that index.
        var parts = ["\(query.sort == .created ? dialect.skipIndex : "")deleted_at IS NULL"]
        var b = Bindings()
        let f = query.filter
        for word in f.nameWords { parts.append(dialect.contains("name_folded", b.next(.text(word)))) }
        if let prefix = f.guidPrefix {
            let (low, high) = TokenSelector.range(ofPrefix: prefix)
            parts.append("guid BETWEEN \(b.next(.bytes(low))) AND \(b.next(.bytes(high)))")
        }
        if let audience = f.audience { parts.append("audience = \(b.next(.text(audience)))") }
        if let status = f.status { parts.append("status = \(b.next(.text(status.rawValue)))") }
        if let scope = f.scope {
            switch scope {
            case .all: parts.append("scope_kind = 'all'")
            case .readOnly: parts.append("scope_kind = 'read-only'")
            case .grants(let pair):
                // Unknown pairs count as write: a read-only token never grants what might write.
                let isRead = access(pair) == .read
                let listed = dialect.contains("',' || scope_pairs || ','", b.next(.text("," + pair + ",")))
                parts.append(
                    "(scope_kind = 'all'\(isRead ? " OR scope_kind = 'read-only'" : "") OR (scope_kind = 'custom' AND \(listed)))"
                )
            }
        }
        if let audiences = query.audiences {
            parts.append(audiences.isEmpty ? "FALSE" : "audience IN (\(b.list(audiences.sorted())))")
        }
        if query.violatingPolicy { parts.append(Self.violatesPolicy) }
        if let creator = query.createdBy { parts.append("created_by = \(b.next(.text(creator)))") }
        return (parts.joined(separator: " AND "), b)
    }

    /// Calls `body` with each live token the query selects, in its order, without building an array.
    package func forEach(_ query: TokenQuery, access: (String) -> Access?, _ body: (TokenRecord) throws -> Void) throws
    {
        var (clause, b) = whereClause(query, access: access)
        let order =
            switch query.sort {
            case .created: "seq"
            case .name: "name_folded, seq"
            case .status: "status, seq"
            case .expires: "valid_to IS NULL, valid_to, seq"
            }
        let limit = b.next(query.limit.map { SQLValue.int(Int64($0)) } ?? dialect.unlimited)
        clause += " ORDER BY \(order) LIMIT \(limit) OFFSET \(b.next(.int(Int64(query.offset))))"
        try self.query("SELECT \(tokenColumns) FROM tokens WHERE \(clause)", b.values) { try body(try record($0)) }
    }

    package func activeTokens(
        expiringAfter after: Int64, through: Int64, resumingAfter resume: (validTo: Int64, seq: Int64)?, limit: Int?
    ) throws -> [(seq: Int64, token: TokenRecord)] {
        let select = "SELECT \(tokenColumns), seq FROM tokens WHERE deleted_at IS NULL AND status = 'active' AND"
        let decode = { (row: Row) in (row.int64(16), try self.record(row)) }
        var found: [(seq: Int64, token: TokenRecord)] = []
        var lower = after
        if let resume {
            // Two ranges of the index (deleted_at, valid_to, seq), each a seek: the rest of the
            // resume point's second, then what follows. SQLite does not seek on a row
            // comparison, `(valid_to, seq) > (?, ?)`: it read every earlier token of that second
            // (a bulk import's hundred thousand) at each resumed pass.
            if resume.validTo > after, resume.validTo <= through {
                found = try rows(
                    "\(select) valid_to = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                    [.int(resume.validTo), .int(resume.seq), limit.map { .int(Int64($0)) } ?? dialect.unlimited],
                    decode)
            }
            lower = max(after, resume.validTo)
        }
        let left = limit.map { $0 - found.count }
        if let left, left <= 0 { return found }
        return try found
            + rows(
                "\(select) valid_to > ?1 AND valid_to <= ?2 ORDER BY valid_to, seq LIMIT ?3",
                [.int(lower), .int(through), left.map { .int(Int64($0)) } ?? dialect.unlimited], decode)
    }

    /// How many live tokens the query's filter selects (ignoring limit and offset).
    package func count(_ query: TokenQuery, access: (String) -> Access?) throws -> Int {
        let (clause, b) = whereClause(query, access: access)
        return Int(try integer("SELECT count(*) FROM tokens WHERE \(clause)", b.values) ?? 0)
    }

    package func tokenRowCount() throws -> Int { Int(try integer("SELECT count(*) FROM tokens") ?? 0) }

    /// Whether any token (deleted ones included) exists.
    package func isEmpty() throws -> Bool { try integer("SELECT NOT EXISTS (SELECT 1 FROM tokens)") == 1 }

    package func updateLabels(_ id: TokenID, name: String?, description: String?, now: Int64) throws {
        try run(
            """
            UPDATE tokens SET name = coalesce(?2, name), name_folded = coalesce(?3, name_folded),
                description = coalesce(?4, description), updated_at = ?5
            WHERE guid = ?1
            """, [.bytes(id.bytes), .text(name), .text(name?.lowercased()), .text(description), .int(now)])
    }

    /// Sets a status; a revoke keeps the first revocation time.
    package func setStatus(_ ids: [TokenID], to status: TokenStatus, now: Int64) throws {
        try run(
            """
            UPDATE tokens SET status = ?1, updated_at = ?2,
                revoked_at = CASE WHEN ?1 = 'revoked' THEN coalesce(revoked_at, ?2) ELSE revoked_at END
            WHERE \(dialect.guidIs("?3"))
            """, [.text(status.rawValue), .int(now)], forEachOf: ids)
    }

    /// Tombstones: deleted tokens leave listings and stay revoked.
    package func markDeleted(_ ids: [TokenID], now: Int64) throws {
        try run(
            """
            UPDATE tokens SET status = 'revoked', deleted_at = coalesce(deleted_at, ?1), updated_at = ?1,
                revoked_at = coalesce(revoked_at, ?1)
            WHERE \(dialect.guidIs("?2"))
            """, [.int(now)], forEachOf: ids)
    }

    /// Removes deleted tokens whose window closed before `cutoff`, unless another token names
    /// them as parent. Returns how many went.
    package func purgeTombstones(before cutoff: Int64) throws -> Int {
        try run(
            """
            DELETE FROM tokens WHERE deleted_at IS NOT NULL AND valid_to IS NOT NULL AND valid_to <= ?1
                AND guid NOT IN (SELECT parent FROM tokens WHERE parent IS NOT NULL)
            """, [.int(cutoff)])
    }

    /// Every token `id` created, and theirs, through `parent` links (not `id` itself).
    package func descendants(of id: TokenID) throws -> [TokenID] {
        try rows(
            """
            WITH RECURSIVE tree(guid) AS (
                SELECT guid FROM tokens WHERE parent = ?1
                UNION SELECT t.guid FROM tokens t JOIN tree ON t.parent = tree.guid
            ) SELECT guid FROM tree
            """, [.bytes(id.bytes)]
        ) { $0.tokenID(0) }.compactMap { $0 }
    }

    /// GUIDs a revocation list must name at `now`: inactive tokens as deactivated, revoked and
    /// deleted ones as revoked, until `valid_to + grace` has passed (services accept a token
    /// up to their leeway after `valid_to`).
    package func revocationEntries(now: Int64, grace: Int64) throws -> [(TokenID, RevocationStatus)] {
        // `IS NOT`: a row whose status was damaged to NULL must stop the export, not drop off it.
        var out = try rows("SELECT guid, status FROM tokens WHERE \(listedCondition)", [.int(now), .int(grace)]) {
            try listEntry($0)
        }
        // Sorted here: walking the GUID index instead would fetch every row by a random lookup.
        out.sort { $0.0 < $1.0 }
        return out
    }

    /// Which rows a list names at `?1` (now) with grace `?2`: written once, for the whole list
    /// and for the few rows an incremental list looks at again.
    private var listedCondition: String {
        // `IS NOT`: a row whose status was damaged to NULL must stop the export, not drop off it.
        "status \(dialect.isNot) 'active' AND (valid_to IS NULL OR valid_to > ?1 - ?2)"
    }

    /// A listed row's entry; a damaged one stops the list.
    private func listEntry(_ r: Row) throws -> (TokenID, RevocationStatus) {
        // A list that silently leaves a revoked token off is worse than no new list.
        guard let id = r.tokenID(0) else {
            throw corrupt(location, "a revoked or inactive token has a damaged GUID; no list was signed")
        }
        switch r.optionalText(1) {
        case "revoked": return (id, .revoked)
        case "inactive": return (id, .deactivated)
        default: throw corrupt(location, "token \(id) has a damaged status; no list was signed")
        }
    }

    /// The newest audit event's ID; 0 when the log is empty.
    package func newestEventID() throws -> Int64 { try integer("SELECT coalesce(max(id), 0) FROM events") ?? 0 }

    /// The actions of the audit events after `cursor` up to `last`, and every GUID they name.
    package func events(after cursor: Int64, through last: Int64) throws -> (actions: Set<String>, guids: [TokenID]) {
        let actions = try rows(
            "SELECT DISTINCT action FROM events WHERE id > ?1 AND id <= ?2", [.int(cursor), .int(last)]
        ) {
            $0.text(0)
        }
        let guids = try rows(
            "SELECT DISTINCT guid FROM event_tokens WHERE event > ?1 AND event <= ?2", [.int(cursor), .int(last)]
        ) { r -> TokenID in
            guard let id = r.tokenID(0) else { throw corrupt(location, "an audit event names a damaged GUID") }
            return id
        }
        return (Set(actions), guids)
    }

    /// Each token's entry on a list at `now` (status nil: not listed, or no such token).
    package func listEntries(of ids: [TokenID], now: Int64, grace: Int64) throws -> [RevocationDelta.Change] {
        try ids.map { id in
            let entry = try rows(
                "SELECT guid, status FROM tokens WHERE guid = ?3 AND \(listedCondition)",
                [.int(now), .int(grace), .bytes(id.bytes)]
            ) { try listEntry($0) }.first
            return RevocationDelta.Change(id: id, status: entry?.1)
        }
    }

    /// Listed tokens whose `valid_to + grace` passed between two lists' times: they leave.
    package func entriesLeaving(after earlier: Int64, through now: Int64, grace: Int64) throws -> [TokenID] {
        // Both status terms: `<>` lets SQLite use the partial index `tokens_listed`, and `IN`
        // seeks each status in it (the schema makes status NOT NULL and one of three).
        try rows(
            """
            SELECT guid FROM tokens WHERE status <> 'active' AND status IN ('inactive', 'revoked')
                AND valid_to > ?1 - ?3 AND valid_to <= ?2 - ?3
            """, [.int(earlier), .int(now), .int(grace)]
        ) { r -> TokenID in
            guard let id = r.tokenID(0) else { throw corrupt(location, "a listed token has a damaged GUID") }
            return id
        }
    }

    // MARK: Lifetime policies

    package func policies() throws -> [LifetimePolicy] {
        try rows("SELECT audience, max_lifetime, allow_never_expires, set_at, set_by FROM policies ORDER BY audience") {
            LifetimePolicy(
                audience: $0.text(0), maxLifetime: $0.int64(1), allowNeverExpires: $0.int64(2) != 0,
                setAt: $0.int64(3), setBy: $0.text(4))
        }
    }

    package func putPolicy(_ policy: LifetimePolicy) throws {
        try upsert(
            "policies", ["audience", "max_lifetime", "allow_never_expires", "set_at", "set_by"],
            [
                .text(policy.audience), .int(policy.maxLifetime), .int(policy.allowNeverExpires ? 1 : 0),
                .int(policy.setAt), .text(policy.setBy),
            ])
    }

    package func removePolicy(audience: String) throws -> Bool {
        try run("DELETE FROM policies WHERE audience = ?1", [.text(audience)]) > 0
    }

    // MARK: Issuer state

    package func state(_ key: String) throws -> Int64? {
        try integer("SELECT value FROM issuer_state WHERE key = ?1", [.text(key)])
    }

    package func setState(_ key: String, _ value: Int64) throws {
        try upsert("issuer_state", ["key", "value"], [.text(key), .int(value)])
    }

    package func incrementState(_ key: String) throws {
        try run(
            "INSERT INTO issuer_state (key, value) VALUES (?1, 1) ON CONFLICT (key) DO UPDATE SET value = issuer_state.value + 1",
            [.text(key)])
    }

    // MARK: Published lists

    /// Stores a signed list and keeps only the four with the highest sequences (`sequence < 0`
    /// first: the column holds the u64's bit pattern, so sequences from 2^63 up read negative).
    package func putList(sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8]) throws {
        try run(
            "\(dialect.insertList) INTO revocation_lists (sequence, issued_at, changes, bytes) VALUES (?1, ?2, ?3, ?4)",
            [.int(Int64(bitPattern: sequence)), .int(issuedAt), .int(changes), .bytes(bytes)])
        try run(
            "DELETE FROM revocation_lists WHERE sequence NOT IN (SELECT sequence FROM revocation_lists ORDER BY sequence < 0 DESC, sequence DESC LIMIT 4)",
            [])
    }

    private func lists(_ order: String) throws -> [(sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8])]
    {
        try rows("SELECT sequence, issued_at, changes, bytes FROM revocation_lists ORDER BY \(order)") {
            (UInt64(bitPattern: $0.int64(0)), $0.int64(1), $0.int64(2), $0.bytes(3))
        }
    }

    /// The stored list with the highest sequence (whatever its issue time): its sequence, issue
    /// time, the change count it reflects and its bytes.
    package func latestList() throws -> (sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8])? {
        try lists("sequence < 0 DESC, sequence DESC LIMIT 1").first
    }

    /// The newest stored list's sequence, without its bytes (17 MB at a million entries).
    package func latestListSequence() throws -> UInt64? {
        try latestListHeader()?.sequence
    }

    /// The newest stored list's sequence, issue time and change count, without its bytes.
    package func latestListHeader() throws -> (sequence: UInt64, issuedAt: Int64, changes: Int64)? {
        try rows(
            "SELECT sequence, issued_at, changes FROM revocation_lists ORDER BY sequence < 0 DESC, sequence DESC LIMIT 1"
        ) { (UInt64(bitPattern: $0.int64(0)), $0.int64(1), $0.int64(2)) }.first
    }

    // MARK: Catalog

    private func catalogEntries() throws -> [(resource: String, action: String, access: Access)] {
        try rows("SELECT resource, action, access FROM catalog ORDER BY resource, action") { r in
            Access(rawValue: r.text(2)).map { (r.text(0), r.text(1), $0) }
        }.compactMap { $0 }
    }

    package func catalog() throws -> Catalog {
        var resources: [String: [String: Access]] = [:]
        for entry in try catalogEntries() { resources[entry.resource, default: [:]][entry.action] = entry.access }
        return Catalog(resources: resources).withIssuerResources()
    }

    /// Whether the catalog table holds any entry of the home's own (the issuer's resources are not stored).
    package func hasCatalogEntries() throws -> Bool {
        try integer("SELECT EXISTS (SELECT 1 FROM catalog)") == 1
    }

    package func putCatalogEntry(resource: String, action: String, access: Access) throws {
        try upsert(
            "catalog", ["resource", "action", "access"], keys: 2,
            [.text(resource), .text(action), .text(access.rawValue)])
    }

    // MARK: Audit

    package func append(_ event: AuditEvent) throws {
        let insert = "INSERT INTO events (at, actor, action, details) VALUES (?1, ?2, ?3, ?4)"
        let values: [SQLValue] = [
            .int(event.at), .text(event.actor), .text(event.action.rawValue), .text(event.detailsJSON),
        ]
        let guids = Self.distinct(event.guids)
        guard !guids.isEmpty else {
            try run(insert, values)
            return
        }
        guard let lastID = dialect.lastID else {
            // One statement, one round trip, for the event and all its links: a bulk revoke of
            // 10k tokens included.
            try run(
                """
                WITH e AS (\(insert) RETURNING id)
                INSERT INTO event_tokens (event, guid) SELECT (SELECT id FROM e), \(dialect.eachGUID("?5"))
                """, values, forEachOf: guids)
            return
        }
        try run(insert, values)
        try link(event: try integer(lastID) ?? 0, guids)
    }

    /// Duplicates are dropped here rather than by `ON CONFLICT`: that clause reads the index
    /// page every new event writes to, and under PostgreSQL's SERIALIZABLE a read there is a
    /// read/write conflict with every concurrent write (DESIGN.md, "Writers in parallel").
    private static func distinct(_ guids: [TokenID]) -> [TokenID] {
        var seen = Set<TokenID>()
        return guids.filter { seen.insert($0).inserted }
    }

    /// Links an event to its GUIDs: one statement for all of them on PostgreSQL.
    private func link(event id: Int64, _ guids: [TokenID]) throws {
        let distinct = Self.distinct(guids)
        guard !distinct.isEmpty else { return }
        try run(
            "INSERT INTO event_tokens (event, guid) SELECT ?1, \(dialect.eachGUID("?2"))", [.int(id)],
            forEachOf: distinct)
    }

    /// Events with their GUIDs, from one query whose rows are `id, at, actor, action, details,
    /// guid` ordered by event (a NULL `guid` for an event without one).
    private func events(_ sql: String, _ values: [SQLValue], checkDetails: Bool) throws -> [(
        id: Int64, event: AuditEvent
    )] {
        var out: [(id: Int64, event: AuditEvent)] = []
        try query(sql, values) { r in
            let id = r.int64(0)
            if out.last?.id != id {
                guard let action = AuditAction(rawValue: r.text(3)) else {
                    throw corrupt(location, "audit event \(id) has an unknown action")
                }
                // Details are passed on as JSON: damaged text must not become other JSON downstream.
                let details = r.text(4)
                if checkDetails, !((try? JSONSerialization.jsonObject(with: Data(details.utf8))) is [String: Any]) {
                    throw corrupt(location, "audit event \(id) has damaged details")
                }
                out.append(
                    (id, AuditEvent(at: r.int64(1), actor: r.text(2), action: action, guids: [], detailsJSON: details)))
            }
            if let guid = r.tokenID(5) { out[out.count - 1].event.guids.append(guid) }
        }
        return out
    }

    /// Events newest first, each with its GUIDs (only those of `query.audiences`' tokens when
    /// set), from one query.
    package func events(_ query: AuditQuery) throws -> [AuditEvent] {
        var parts = ["TRUE"]
        var b = Bindings()
        if let guid = query.guid {
            parts.append("id IN (SELECT event FROM event_tokens WHERE guid = \(b.next(.bytes(guid.bytes))))")
        }
        if let actor = query.actor { parts.append("actor = \(b.next(.text(actor)))") }
        if let action = query.action { parts.append("action = \(b.next(.text(action.rawValue)))") }
        if let since = query.since { parts.append("at >= \(b.next(.int(since)))") }
        // A caller limited to some audiences sees only their tokens' GUIDs in each event.
        var reach = ""
        if let audiences = query.audiences {
            let list = b.list(audiences.sorted())
            let inReach = "IN (SELECT guid FROM tokens WHERE audience IN (\(list)))"
            parts.append(audiences.isEmpty ? "FALSE" : "id IN (SELECT event FROM event_tokens WHERE guid \(inReach))")
            reach = audiences.isEmpty ? "AND FALSE" : "AND et.guid \(inReach)"
        }
        let page = "LIMIT \(b.next(.int(Int64(query.limit)))) OFFSET \(b.next(.int(Int64(query.offset))))"
        return try events(
            """
            SELECT e.id, e.at, e.actor, e.action, e.details, et.guid FROM (SELECT id, at, actor, action, details
                FROM events WHERE \(parts.joined(separator: " AND ")) ORDER BY id DESC \(page)) e
            LEFT JOIN event_tokens et ON et.event = e.id \(reach) ORDER BY e.id DESC, et.guid
            """, b.values, checkDetails: true
        ).map(\.event)
    }

    // MARK: Copying a whole ledger

    package func snapshot() throws -> LedgerSnapshot {
        var out = LedgerSnapshot()
        out.tokens = try rows("SELECT \(tokenColumns), seq FROM tokens ORDER BY seq") { ($0.int64(16), try record($0)) }
        out.events = try events(
            """
            SELECT e.id, e.at, e.actor, e.action, e.details, et.guid FROM events e
            LEFT JOIN event_tokens et ON et.event = e.id ORDER BY e.id, et.guid
            """, [], checkDetails: false)
        out.catalog = try catalogEntries()
        out.policies = try policies()
        out.members = try memberRows()
        out.state = try rows("SELECT key, value FROM issuer_state ORDER BY key") { ($0.text(0), $0.int64(1)) }
        out.lists = try lists("sequence")
        out.webhooks = try webhookTables()
        return out
    }

    /// Copies go only into an empty database. Reports rows written (tokens, then events).
    package func restore(_ snapshot: LedgerSnapshot, progress: ProgressHandler?) throws {
        let tables = ["tokens", "events", "catalog", "issuer_state", "revocation_lists", "policies", "members"]
        guard try integer("SELECT " + tables.map { "NOT EXISTS (SELECT 1 FROM \($0))" }.joined(separator: " AND ")) == 1
        else {
            throw IssuerError(
                .conflict, "\(location) already holds a ledger; copy only into an empty database. Nothing was copied.")
        }
        var written = ProgressCounter(
            "copying", total: Int64(snapshot.tokens.count + snapshot.events.count), unit: .rows, progress)
        for (seq, t) in snapshot.tokens {
            try run(
                "INSERT INTO tokens (\(tokenColumns), name_folded, seq) VALUES (\(placeholders(18)))",
                t.columnValues + [.int(seq)])
            written.add()
        }
        for (id, e) in snapshot.events {
            try run(
                "INSERT INTO events (id, at, actor, action, details) VALUES (?1, ?2, ?3, ?4, ?5)",
                [.int(id), .int(e.at), .text(e.actor), .text(e.action.rawValue), .text(e.detailsJSON)])
            try link(event: id, e.guids)
            written.add()
        }
        written.finish()
        for entry in snapshot.catalog {
            try putCatalogEntry(resource: entry.resource, action: entry.action, access: entry.access)
        }
        for (key, value) in snapshot.state { try setState(key, value) }
        for policy in snapshot.policies { try putPolicy(policy) }
        for member in snapshot.members { try insertMember(member) }
        for list in snapshot.lists {
            try putList(sequence: list.sequence, issuedAt: list.issuedAt, changes: list.changes, bytes: list.bytes)
        }
        try restoreWebhooks(snapshot.webhooks)
        try finishRestore()
    }

    /// Reads every row as the use cases read it (token rows, audit events and their details,
    /// the catalog, policies, the header of each stored list), so a copy holding a row this
    /// ledger could not have written is refused before anything uses it. Reports tokens.
    ///
    /// - Returns: Token rows (deleted ones included) and events.
    /// - Throws: ``IssuerError`` `bad_data` naming the first bad row.
    package func checkEveryRow(progress: ProgressHandler?) throws -> (tokens: Int, events: Int) {
        let total = try integer("SELECT count(*) FROM tokens") ?? 0
        var checked = ProgressCounter("checking rows", total: total, unit: .tokens, progress)
        try query("SELECT \(tokenColumns) FROM tokens ORDER BY seq", []) { row in
            _ = try record(row)
            checked.add()
        }
        checked.finish()
        var events = 0
        try query("SELECT id, action, details FROM events ORDER BY id", []) { r in
            guard AuditAction(rawValue: r.text(1)) != nil else {
                throw corrupt(location, "audit event \(r.int64(0)) has an unknown action")
            }
            guard (try? JSONSerialization.jsonObject(with: Data(r.text(2).utf8))) is [String: Any] else {
                throw corrupt(location, "audit event \(r.int64(0)) has damaged details")
            }
            events += 1
        }
        guard Int64(try catalogEntries().count) == (try integer("SELECT count(*) FROM catalog")) else {
            throw corrupt(location, "a catalog entry has an unknown access")
        }
        _ = try policies()
        _ = try memberRows()
        for list in try lists("sequence") where Issuer.headerSequence(list.bytes) != list.sequence {
            throw corrupt(location, "the stored list \(list.sequence) does not carry its own sequence")
        }
        return (Int(total), events)
    }
}
