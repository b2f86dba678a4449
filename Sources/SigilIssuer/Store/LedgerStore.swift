package import SigilVerifier

/// What ``Issuer`` needs from a ledger database: the only code that speaks SQL implements it.
///
/// Two stores conform: ``SQLiteStore`` (`<home>/sigil.db`, the embedded default) and
/// ``PostgresStore`` (a shared database for several issuer hosts). Both keep the same tables
/// (docs/DATABASE.md), run forward-only migrations and refuse a newer schema.
///
/// Every call except ``transaction(write:_:)``, ``close()``, ``changeCounter()`` and
/// ``compact()`` runs inside a transaction the caller opened. A write transaction excludes
/// every other writer on the same database, in any process or on any host, until it ends:
/// SQLite takes its write lock (`BEGIN IMMEDIATE`), PostgreSQL a transaction-level advisory
/// lock. The issuer's rules (a revoked token stays revoked; a list sequence is used once) rest
/// on that.
///
/// ```swift
/// let store: any LedgerStore = try SQLiteStore(path: "keys/sigil.db", busyTimeout: 5)
/// let empty = try store.transaction(write: false) { try store.isEmpty() }
/// ```
package protocol LedgerStore: AnyObject {
    /// Where the ledger lives, for messages: a file path, or a URL without its password.
    var location: String { get }

    /// Which database this is, `sqlite` or `postgres`, as the audit log names it.
    var engine: String { get }

    /// Closes the connection(s) now instead of at deinit.
    func close()

    /// Seconds a read transaction may run before it is stopped and fails with `unavailable`
    /// (``IssuerError/Detail/queryTimedOut(seconds:)``); nil, the default, for no limit.
    /// Write transactions are never stopped.
    var queryTimeLimit: Double? { get set }

    /// Runs `body` in one transaction: everything lands or nothing does. Errors come out as
    /// ``IssuerError`` where the database said what went wrong.
    func transaction<T>(write: Bool, _ body: () throws -> T) throws -> T

    /// A number that changes whenever another process (or host) committed a change to the
    /// ledger. Cheap: meant to be polled a few times a second. Runs outside transactions.
    func changeCounter() throws(IssuerError) -> Int64

    // Tokens
    func insert(_ t: TokenRecord) throws
    func token(_ id: TokenID) throws -> TokenRecord?
    func tokens(withPrefix hex: String, limit: Int) throws -> [TokenRecord]
    /// Whether this ledger ever used `id`: a token row (deleted ones included) or an audit
    /// event naming it (which outlives a purged tombstone). ``ChosenGUID``'s rule.
    func guidEverUsed(_ id: TokenID) throws -> Bool
    func forEach(_ query: TokenQuery, access: (String) -> Access?, _ body: (TokenRecord) throws -> Void) throws
    func count(_ query: TokenQuery, access: (String) -> Access?) throws -> Int
    /// Live active tokens with `after < valid_to <= through`, by `valid_to` then issue order
    /// (`seq`), each with its `seq`: ranges of the expiry index, however many tokens expire
    /// later. `resumingAfter` starts past that place in the order; `limit` caps the rows.
    func activeTokens(
        expiringAfter after: Int64, through: Int64, resumingAfter: (validTo: Int64, seq: Int64)?, limit: Int?
    ) throws -> [(seq: Int64, token: TokenRecord)]
    func isEmpty() throws -> Bool
    /// Every token row, deleted ones included.
    func tokenRowCount() throws -> Int
    func updateLabels(_ id: TokenID, name: String?, description: String?, now: Int64) throws
    func setStatus(_ ids: [TokenID], to status: TokenStatus, now: Int64) throws
    func markDeleted(_ ids: [TokenID], now: Int64) throws
    func purgeTombstones(before cutoff: Int64) throws -> Int
    func descendants(of id: TokenID) throws -> [TokenID]
    func revocationEntries(now: Int64, grace: Int64) throws -> [(TokenID, RevocationStatus)]

    // Issuer state
    func state(_ key: String) throws -> Int64?
    func setState(_ key: String, _ value: Int64) throws
    /// Adds one to a counter in the database itself, so two writers never lose an increment.
    func incrementState(_ key: String) throws

    // Published lists. The newest list is the one with the highest sequence (compared as
    // unsigned: the column holds the u64's bit pattern), never the latest `issued_at`, which is
    // only the signing host's clock. Stores keep the four highest sequences.
    func putList(sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8]) throws
    func latestList() throws -> (sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8])?

    // Catalog
    func catalog() throws -> Catalog
    func hasCatalogEntries() throws -> Bool
    func putCatalogEntry(resource: String, action: String, access: Access) throws

    // Lifetime policies
    func policies() throws -> [LifetimePolicy]
    /// Sets an audience's policy, replacing the one it had.
    func putPolicy(_ policy: LifetimePolicy) throws
    /// Whether there was a policy to remove.
    func removePolicy(audience: String) throws -> Bool

    // Audit
    func append(_ event: AuditEvent) throws
    func events(_ query: AuditQuery) throws -> [AuditEvent]

    /// Gives freed space back after a purge (SQLite: checkpoint and VACUUM). Outside transactions.
    func compact() throws(IssuerError)

    /// What durability rests on, as this connection runs it: SQLite's `PRAGMA synchronous`
    /// (2 = FULL) and `journal_mode`; `(-1, "postgres")` for PostgreSQL, where it is the server's.
    func durabilitySettings() throws(IssuerError) -> (synchronous: Int, journalMode: String)

    /// Every row of every table, for copying a ledger to another store (`ledger migrate`).
    func snapshot() throws -> LedgerSnapshot
    /// Writes a snapshot into this store, which must hold no token, event or list yet,
    /// reporting the rows it writes to `progress`.
    func restore(_ snapshot: LedgerSnapshot, progress: ProgressHandler?) throws

    // MARK: Console sessions (sigil-server; Issuer+Sessions.swift). Rows hold a hash of the
    // session ID and the token's GUID, never the ID or the token. They are not part of a
    // snapshot: `ledger migrate` signs every console out.

    /// Adds a session row.
    func insertSession(_ session: SessionRecord) throws
    /// The session whose ID hashes to `idHash`, expired or not.
    func session(idHash: [UInt8]) throws -> SessionRecord?
    /// Removes the session whose ID hashes to `idHash`; whether there was one.
    func deleteSession(idHash: [UInt8]) throws -> Bool
    /// Removes every session whose `expires_at` is `now` or earlier; how many went.
    func deleteSessions(expiredAt now: Int64) throws -> Int
    /// The sessions of token `id`, or of member `id` when `member` is true, oldest first: a
    /// token's and a member's sessions never count for each other, even under one GUID.
    func sessions(of id: TokenID, member: Bool) throws -> [SessionRecord]
    /// How many session rows there are.
    func sessionCount() throws -> Int
    // MARK: End of console sessions

    // MARK: Members (Issuer+Members.swift; docs/MEMBERS.md)

    /// Adds a member row; a taken email or ID fails as the database's unique constraint says.
    func insertMember(_ member: Member) throws
    /// Writes every column of the member whose ID is `member.id`.
    func updateMember(_ member: Member) throws
    /// The member with this ID.
    func member(_ id: TokenID) throws -> Member?
    /// The member with this email (already lower-cased).
    func member(email: String) throws -> Member?
    /// Members in the order they were added, optionally of one status and of some audiences
    /// (nil for every audience).
    func members(status: MemberStatus?, audiences: Set<String>?, limit: Int, offset: Int) throws -> [Member]
    /// Removes a member row; whether there was one.
    func deleteMember(_ id: TokenID) throws -> Bool
    /// How many members there are.
    func memberCount() throws -> Int
}

/// A whole ledger as plain values: what `ledger migrate` copies, identity columns included.
package struct LedgerSnapshot: Sendable {
    /// Tokens in issue order (`seq`).
    package var tokens: [(seq: Int64, record: TokenRecord)] = []
    /// Audit events in order, each with the GUIDs it touched.
    package var events: [(id: Int64, event: AuditEvent)] = []
    package var catalog: [(resource: String, action: String, access: Access)] = []
    package var state: [(key: String, value: Int64)] = []
    package var lists: [(sequence: UInt64, issuedAt: Int64, changes: Int64, bytes: [UInt8])] = []
    package var policies: [LifetimePolicy] = []
    /// Members in the order they were added.
    package var members: [Member] = []
    /// Webhook cursors and queued deliveries (not the sender's lease).
    package var webhooks = WebhookTables()

    package init() {}
}

extension LedgerStore {
    /// ``restore(_:progress:)`` with nobody told.
    package func restore(_ snapshot: LedgerSnapshot) throws { try restore(snapshot, progress: nil) }

    /// The `violatingPolicy` filter in SQL both dialects read alike: a policy for the token's
    /// audience that its window breaks (a NULL difference, for a never-expiring token, is false).
    static var violatesPolicy: String {
        """
        EXISTS (SELECT 1 FROM policies p WHERE p.audience = tokens.audience AND \
        ((tokens.valid_to IS NULL AND p.allow_never_expires = 0) OR tokens.valid_to - tokens.valid_from > p.max_lifetime))
        """
    }
}
