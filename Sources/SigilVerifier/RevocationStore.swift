import Synchronization

/// The revocation list in force for a service, swapped atomically by reloads while
/// verifiers read it from any thread.
///
/// A new list is parsed and its signature checked **before** any lock is taken; locks cover
/// only a lookup or a swap, so a reload never makes readers wait on crypto or I/O.
///
/// The list in force is copied into the slots of a ``ThreadSlots`` (one reference each), and
/// each thread reads through its own slot's `pthread` mutex, so two threads verifying at once
/// do not contend on one lock's cache line; a swap locks each slot in turn, and a reader sees
/// the old list or the new one, never a mix. A list that is forged, malformed, older (rollback)
/// or a different list with the same sequence (equivocation) is refused, the old list stays in
/// force, and `onEvent` is told.
///
/// ```swift
/// let store = RevocationStore(keys: keyset.revocationKeys) { event in print("revocations: \(event)") }
/// try store.load(path: "/etc/billing/revocations.sgl")
/// let verifier = try Verifier(keyset: keyset, revocations: store)
/// ```
public final class RevocationStore: RevocationSource, @unchecked Sendable {
    /// What to do when the list in force is past its `next_update`.
    public enum StalePolicy: Sendable, Hashable {
        /// Keep using the list and report ``Event/stale(sequence:nextUpdate:)`` once (default).
        case keepServing
        /// Refuse every token with `revocations_stale` until a fresher list is loaded.
        case failClosed
    }

    /// What to do while no list has been loaded yet (the service started before its first
    /// list arrived). There is no default in ``VerifierService``: a service says which it means.
    public enum NoListPolicy: Sendable, Hashable {
        /// Accept tokens whose MAC and window check out, as if nothing were revoked.
        case failOpen
        /// Refuse every token with `revocations_stale` until the first list is loaded.
        case failClosed
    }

    /// What happened to the store, for logs and metrics.
    public enum Event: Sendable {
        case loaded(sequence: UInt64, count: Int)
        case unchanged(sequence: UInt64)
        case refused(RevocationListError)
        case stale(sequence: UInt64, nextUpdate: Int64)
    }

    public let keys: [RevocationKey]
    public let stalePolicy: StalePolicy
    public let maxBytes: Int
    public let noListPolicy: NoListPolicy
    // @unchecked: `current` is touched only through ThreadSlots (its invariants are stated
    // there); `installLock` serialises installs. Everything else is immutable or Atomic.
    private let current: ThreadSlots<RevocationList>
    private let installLock = Mutex<Void>(())
    private let staleReported = Atomic<Bool>(false)
    private let onEvent: @Sendable (Event) -> Void

    /// - Parameters:
    ///   - keys: The Ed25519 keys lists must be signed with (from the keyset).
    ///   - initial: The list in force until the first load; empty by default.
    ///   - stalePolicy: See ``StalePolicy``.
    ///   - maxBytes: The size limit for a list (default 64 MiB).
    ///   - noListPolicy: See ``NoListPolicy``; applies while the list in force is unsigned
    ///     (`initial` is ``RevocationList/empty`` and nothing was loaded yet).
    ///   - onEvent: Called after each load attempt and the first time staleness is seen.
    public init(
        keys: [RevocationKey], initial: RevocationList = .empty, stalePolicy: StalePolicy = .keepServing,
        maxBytes: Int = RevocationList.defaultMaxBytes, noListPolicy: NoListPolicy = .failOpen,
        onEvent: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        self.keys = keys
        self.stalePolicy = stalePolicy
        self.maxBytes = maxBytes
        self.noListPolicy = noListPolicy
        self.current = ThreadSlots { _ in initial }
        self.onEvent = onEvent
    }

    /// The list in force.
    public var list: RevocationList { current.withHome { $0 } }

    /// The status of `id` in the list in force.
    public func status(of id: TokenID) -> RevocationStatus? { list.status(of: id) }

    /// ``RevocationSource`` conformance: allocation-free, never blocks on a reload.
    public func check(_ id: TokenID, at now: Int64) -> RevocationCheck {
        let (status, nextUpdate, sequence, isVerified) = current.withHome { list in
            (list.status(of: id), list.nextUpdate, list.sequence, list.isVerified)
        }
        if !isVerified, noListPolicy == .failClosed { return .stale }
        if let next = nextUpdate, now >= next {
            if stalePolicy == .failClosed { return .stale }
            if !staleReported.load(ordering: .relaxed), !staleReported.exchange(true, ordering: .relaxed) {
                onEvent(.stale(sequence: sequence, nextUpdate: next))
            }
        }
        switch status {
        case nil: return .clear
        case .deactivated: return .deactivated
        case .revoked: return .revoked
        }
    }

    /// Verifies `bytes`, a full list or a delta (docs/FORMAT.md §4.3), and, if the list it
    /// makes is newer than the list in force, makes that current.
    ///
    /// A delta is applied to the list in force while installs are held off (readers are not),
    /// so the base it was checked against is the list it replaces.
    ///
    /// - Returns: The list now in force.
    /// - Throws: ``RevocationListError`` (for a delta also `delta_base_mismatch`); the old list
    ///   stays in force.
    @discardableResult
    public func load(bytes: [UInt8]) throws(RevocationListError) -> RevocationList {
        do {
            if RevocationDelta.isDelta(bytes) {
                let delta = try RevocationDelta(parsing: bytes, maxBytes: maxBytes)
                return try install { [keys, maxBytes] inForce throws(RevocationListError) in
                    try delta.applied(to: inForce, keys: keys, maxBytes: maxBytes)
                }
            }
            let candidate = try RevocationList(verifying: bytes, keys: keys, maxBytes: maxBytes)
            return try install { _ in candidate }
        } catch {
            onEvent(.refused(error))
            throw error
        }
    }

    /// Reads and loads the list at `path`; see ``load(bytes:)``.
    @discardableResult
    public func load(path: String) throws(RevocationListError) -> RevocationList {
        let bytes: [UInt8]
        do {
            bytes = try FileBytes.read(path: path, maxBytes: maxBytes)
        } catch {
            let refusal =
                error.errno == 27 /* EFBIG */
                ? RevocationListError(.tooLarge, error.description) : RevocationListError(.io, error.description)
            onEvent(.refused(refusal))
            throw refusal
        }
        return try load(bytes: bytes)
    }

    /// Installs the list `make` returns from the list in force; refusals are reported by the caller.
    private func install(_ make: (RevocationList) throws(RevocationListError) -> RevocationList)
        throws(RevocationListError) -> RevocationList
    {
        enum Outcome { case installed, unchanged, rollback(UInt64), equivocation, failed(RevocationListError) }
        // Installs are serialised so the sequence check and the swap are one step.
        var made: RevocationList? = nil
        let outcome = installLock.withLock { _ -> Outcome in
            let list = current.withHome { $0 }
            let candidate: RevocationList
            do throws(RevocationListError) {
                candidate = try make(list)
            } catch {
                return .failed(error)
            }
            made = candidate
            if candidate.sequence < list.sequence { return .rollback(list.sequence) }
            if candidate.sequence == list.sequence, list.isVerified {
                return candidate.hasSameBytes(as: list) ? .unchanged : .equivocation
            }
            // The old value is released after the swap, outside every slot lock: freeing a
            // multi-megabyte list must not stall a reader.
            var old: RevocationList? = nil
            current.forEach { slot in
                if old == nil { old = slot }
                slot = candidate
            }
            withExtendedLifetime(old) {}
            return .installed
        }
        guard let candidate = made else {
            if case .failed(let error) = outcome { throw error }
            preconditionFailure("an install without a candidate failed")
        }
        switch outcome {
        case .failed(let error):
            throw error
        case .installed:
            staleReported.store(false, ordering: .relaxed)
            onEvent(.loaded(sequence: candidate.sequence, count: candidate.count))
            return candidate
        case .unchanged:
            onEvent(.unchanged(sequence: candidate.sequence))
            return candidate
        case .rollback(let inForce):
            throw RevocationListError(.rollback, "sequence \(candidate.sequence) < \(inForce) in force")
        case .equivocation:
            throw RevocationListError(.equivocation, "sequence \(candidate.sequence)")
        }
    }
}
