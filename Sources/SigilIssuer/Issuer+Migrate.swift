import Foundation

/// What ``Issuer/copyLedger(to:by:now:)`` copied.
public struct CopiedLedger: Sendable, Hashable {
    /// The PostgreSQL URL, without its password.
    public let location: String
    /// Token rows, deleted ones included.
    public let tokens: Int
    /// Audit events (the `migrate` event the copy adds is not counted).
    public let events: Int
    /// The last revocation-list sequence, carried over so the next list continues above it.
    public let sequence: UInt64
}

extension Issuer {
    /// Copies this ledger into an empty PostgreSQL database, in one transaction there: every
    /// token (deleted ones and issue order included), event, catalog entry, stored list and the
    /// revocation-list sequence, then records a `migrate` event in the copy. This ledger is
    /// only read.
    ///
    /// ```swift
    /// let copied = try Issuer(home: "keys").copyLedger(to: "postgres://sigil@db.internal/sigil", by: actor)
    /// print(copied.tokens, copied.sequence)
    /// ```
    ///
    /// - Parameters:
    ///   - url: A `postgres://` or `postgresql://` URL; its schema is created if missing.
    ///   - actor: Who the `migrate` event names.
    ///   - now: Unix seconds for that event.
    ///   - progress: Told the rows written as the copy goes (``WorkProgress``).
    /// - Returns: What was copied.
    /// - Throws: ``IssuerError``: `invalid_input` (not a PostgreSQL URL), `conflict` (the target
    ///   already holds a ledger; nothing is copied), `unavailable`, `lock_busy`.
    public func copyLedger(
        to url: String, by actor: Actor, now: Int64 = Issuer.currentTime(), progress: ProgressHandler? = nil
    ) throws(IssuerError) -> CopiedLedger {
        guard DatabaseLocation.isPostgresURL(url) else {
            throw IssuerError(.invalidInput, "the target must be a postgres:// or postgresql:// URL")
        }
        ProgressCounter("reading", total: nil, unit: .rows, progress).begin()
        let snapshot = try transaction(write: false) { try store.snapshot() }
        let sequence = max(
            UInt64(bitPattern: snapshot.state.first { $0.key == "export_sequence" }?.value ?? 0),
            try lastExportSequence())
        let target = try PostgresStore(url: url, busyTimeout: 5)
        defer { target.close() }
        do {
            try target.transaction(write: true) {
                try target.restore(snapshot, progress: progress)
                // The high-water mark beside the keyring may be above the ledger's (a restored backup).
                if sequence > 0 { try target.setState("export_sequence", Int64(bitPattern: sequence)) }
                try target.append(
                    AuditEvent(
                        at: now, actor: actor.name, action: .migrate, guids: [],
                        detailsJSON:
                            #"{"from":"\#(store.engine)","tokens":"\#(snapshot.tokens.count)","sequence":"\#(sequence)"}"#
                    ))
            }
        } catch let error as IssuerError {
            throw error
        } catch {
            throw IssuerError(.badData, "\(target.location): \(error)")
        }
        return CopiedLedger(
            location: target.location, tokens: snapshot.tokens.count, events: snapshot.events.count, sequence: sequence)
    }
}
