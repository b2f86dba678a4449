/// The checks an incoming revocation list must pass before it replaces the one held: what
/// `sigil revocations pull` and SigilHummingbird's `RevocationFollower` both apply, so a
/// sidecar and an in-process follower accept and refuse exactly the same lists.
///
/// Checking happens in two steps. The incoming bytes must first verify
/// (``RevocationList/init(verifying:keys:maxBytes:)``: size bound, format, known key,
/// Ed25519 signature); then ``decide(_:over:force:)`` compares the verified list with what is
/// held: a lower sequence is a rollback, the same sequence with other bytes an equivocation.
/// A held list that does not verify still protects its sequence (read from its header), and
/// one whose header cannot be read refuses everything unless `force` is set.
///
/// ```swift
/// let held = RevocationListUpdate.Held(bytes: try FileBytes.read(path: "revocations.sgl"),
///                                      keys: keyset.revocationKeys)
/// let incoming = try RevocationList(verifying: downloaded, keys: keyset.revocationKeys)
/// switch RevocationListUpdate.decide(incoming, over: held) {
/// case .install, .replaceUnverified, .replaceForced: print("install #\(incoming.sequence)")
/// case .unchanged: break
/// default: print("refused")
/// }
/// ```
///
/// Pure values: no I/O, no locks, safe from any thread.
public enum RevocationListUpdate {
    /// What the caller holds now, as far as the rollback and equivocation checks go.
    public enum Held: Sendable {
        /// Nothing yet: any verified list is accepted.
        case none
        /// A list that verifies under the same keys.
        case verified(RevocationList)
        /// A list that does not verify (damaged, or another issuer's), whose header still
        /// names its sequence; `why` says why it did not verify.
        case unverified(sequence: UInt64, why: String)
        /// Bytes whose header does not parse: no sequence is known.
        case unknown(why: String)

        /// Classifies held bytes: verified, unverified with a readable sequence, or unknown.
        ///
        /// - Parameters:
        ///   - bytes: The held file's bytes.
        ///   - keys: The revocation keys incoming lists are checked with.
        ///   - maxBytes: The size bound for the held list (a list in force may be larger than
        ///     the limit for new ones; pass the larger of the two).
        public init(bytes: [UInt8], keys: [RevocationKey], maxBytes: Int = RevocationList.defaultMaxBytes) {
            let why: String
            do {
                self = .verified(try RevocationList(verifying: bytes, keys: keys, maxBytes: maxBytes))
                return
            } catch {
                why = error.reason.rawValue + (error.detail.isEmpty ? "" : ": \(error.detail)")
            }
            if let list = try? RevocationList.parseUnverified(bytes, maxBytes: maxBytes) {
                self = .unverified(sequence: list.sequence, why: why)
            } else if let sequence = RevocationListUpdate.headerSequence(bytes) {
                self = .unverified(sequence: sequence, why: why)
            } else {
                self = .unknown(why: "its header does not parse: \(why)")
            }
        }
    }

    /// What to do with a verified incoming list.
    public enum Decision: Sendable, Hashable {
        /// Nothing is held, or the incoming sequence is higher: install it.
        case install
        /// The held list has the same sequence and the same bytes: nothing to do.
        case unchanged
        /// The held list does not verify and its sequence is not higher (or `force`): install,
        /// and say why the held one was set aside.
        case replaceUnverified(why: String)
        /// The held bytes cannot be read as a list, and `force` was given: install anyway.
        case replaceForced(why: String)
        /// Refused: the held list verifies and has a higher sequence.
        case refuseRollback(held: UInt64)
        /// Refused: the held list verifies, has the same sequence and other bytes.
        case refuseEquivocation
        /// Refused: the held list does not verify but its header names a higher sequence.
        case refuseUnverifiedRollback(held: UInt64, why: String)
        /// Refused: the held bytes' sequence is unknown, so a rollback cannot be ruled out.
        case refuseUnknown(why: String)

        /// Whether the incoming list should replace the held one.
        public var installs: Bool {
            switch self {
            case .install, .replaceUnverified, .replaceForced: true
            default: false
            }
        }

        /// The refusal as a ``RevocationListError`` (`rollback` or `equivocation`), or nil if
        /// this decision is not a refusal. The detail holds sequences only.
        public var refusal: RevocationListError? {
            switch self {
            case .refuseRollback(let held): RevocationListError(.rollback, "a list with sequence \(held) is held")
            case .refuseUnverifiedRollback(let held, _):
                RevocationListError(.rollback, "the held list does not verify but names sequence \(held)")
            case .refuseUnknown:
                RevocationListError(.rollback, "the held list's sequence is unknown")
            case .refuseEquivocation: RevocationListError(.equivocation, "same sequence as the held list")
            default: nil
            }
        }
    }

    /// Compares a verified `incoming` list with what is held.
    ///
    /// ```swift
    /// let decision = RevocationListUpdate.decide(incoming, over: .verified(inForce))
    /// if let refusal = decision.refusal { throw refusal }
    /// ```
    ///
    /// - Parameters:
    ///   - incoming: A list that verified under the keys in use.
    ///   - held: What is held now.
    ///   - force: Replace a held list that does not verify even if its sequence is higher
    ///     or unknown. Never overrides the checks against a held list that verifies.
    /// - Returns: What to do; see ``Decision``.
    public static func decide(_ incoming: RevocationList, over held: Held, force: Bool = false) -> Decision {
        switch held {
        case .none:
            return .install
        case .verified(let existing):
            if incoming.sequence < existing.sequence { return .refuseRollback(held: existing.sequence) }
            if incoming.sequence == existing.sequence {
                return incoming.hasSameBytes(as: existing) ? .unchanged : .refuseEquivocation
            }
            return .install
        case .unverified(let sequence, let why):
            if incoming.sequence < sequence && !force { return .refuseUnverifiedRollback(held: sequence, why: why) }
            return .replaceUnverified(why: why)
        case .unknown(let why):
            return force ? .replaceForced(why: why) : .refuseUnknown(why: why)
        }
    }

    /// Verifies downloaded bytes, a full list or a delta (docs/FORMAT.md §4.3), and returns the
    /// list they make; ``decide(_:over:force:)`` then compares it with what is held.
    ///
    /// ```swift
    /// let incoming = try RevocationListUpdate.verify(downloaded, over: held, keys: keyset.revocationKeys)
    /// ```
    ///
    /// - Throws: ``RevocationListError``; a delta whose base is not the held, verified list is
    ///   `delta_base_mismatch` (fetch the full list).
    public static func verify(
        _ bytes: [UInt8], over held: Held, keys: [RevocationKey], maxBytes: Int = RevocationList.defaultMaxBytes
    ) throws(RevocationListError) -> RevocationList {
        guard RevocationDelta.isDelta(bytes) else {
            return try RevocationList(verifying: bytes, keys: keys, maxBytes: maxBytes)
        }
        let delta = try RevocationDelta(parsing: bytes, maxBytes: maxBytes)
        guard case .verified(let base) = held else {
            throw RevocationListError(
                .deltaBaseMismatch, "the delta applies to list \(delta.baseSequence), and no verified list is held")
        }
        return try delta.applied(to: base, keys: keys, maxBytes: maxBytes)
    }

    /// The sequence from the fixed start of a v1 list (magic, version, key ID, sequence;
    /// docs/FORMAT.md §4.1), unverified: for a file damaged further on.
    static func headerSequence(_ b: [UInt8]) -> UInt64? {
        guard b.count >= 6, Array(b[0..<4]) == RevocationList.magic, b[4] == RevocationList.version else { return nil }
        let kidLength = Int(b[5])
        let start = 6 + kidLength
        guard (1...32).contains(kidLength), b.count >= start + 8 else { return nil }
        return b[start..<(start + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
