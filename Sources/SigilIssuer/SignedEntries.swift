import SigilVerifier

/// The entries of the last list an ``Issuer`` signed and the ledger position they reflect, so
/// the next list is that one plus what changed since. At a million entries, reading every
/// listed row, sorting and encoding them was most of a publish (docs/DESIGN.md, "Signing a
/// large list").
///
/// Sound only where audit event IDs follow commit order (SQLite: one writer at a time), and
/// only while every event since ``cursor`` names each token it changed. Any other event (a
/// migration, a compaction that purged rows, an action this build does not know), a clock that
/// went back, a transaction that is not the outermost, and every ``maxIncrements``-th list or
/// ``maxAge`` make the next list a whole rebuild: a skipped change must not survive long even
/// if a rule here is wrong.
struct SignedEntries {
    /// The newest audit event the entries reflect.
    var cursor: Int64
    /// The time they were chosen at: an entry leaves `grace` after its `valid_to`.
    var now: Int64
    /// The entries, 17 bytes each, ascending by GUID: a list's entry bytes.
    var body: [UInt8]
    /// When the last whole rebuild ran, and how many lists were made from it since.
    var rebuiltAt: ContinuousClock.Instant
    var increments: Int

    static let maxIncrements = 64
    static let maxAge: Duration = .seconds(600)
    /// Past this many GUIDs to look up again, one pass over the table is the cheaper way.
    static let maxLookups = 50_000

    var count: Int { body.count / RevocationList.entrySize }

    /// Whether the next list may start from these entries.
    func canContinue(at now: Int64, cursor: Int64) -> Bool {
        increments < Self.maxIncrements && ContinuousClock.now - rebuiltAt < Self.maxAge && now >= self.now
            && cursor >= self.cursor
    }

    /// These entries with `changes` (ascending by GUID) applied, as of `cursor` and `now`.
    func applying(_ changes: [RevocationDelta.Change], cursor: Int64, now: Int64) -> SignedEntries {
        var next: [UInt8] = []
        next.reserveCapacity(body.count + changes.count * RevocationList.entrySize)
        _ = body.withUnsafeBytes { RevocationList.appendApplying(changes, to: $0, strict: false, into: &next) }
        return SignedEntries(cursor: cursor, now: now, body: next, rebuiltAt: rebuiltAt, increments: increments + 1)
    }
}

extension AuditAction {
    /// Whether an event of this action changes list entries only of the tokens it names: what
    /// lets a list be made from the last one (``SignedEntries``). A new action must decide here.
    var changesOnlyNamedTokens: Bool {
        switch self {
        case .issue, .edit, .deactivate, .activate, .revoke, .delete: true
        case .export, .keys, .catalog, .policy: true
        // Members and sign-ins touch no token (a cascade records its own `deactivate`).
        case .member, .signIn, .signInRefused: true
        // Imports name no token; a compaction removes rows, which a lookup cannot see.
        case .migrate, .compact: false
        }
    }
}
