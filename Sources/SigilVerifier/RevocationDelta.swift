/// The changes that turn one signed revocation list into the next (format v1,
/// docs/FORMAT.md §4.3), so a follower of a list of a million entries downloads a few dozen
/// bytes for one revoke instead of 17 MB.
///
/// A delta carries no signature of its own: it carries the **resulting list's** signature. A
/// follower applies the changes to the list it holds, rebuilds the resulting list's exact
/// bytes and verifies them as a full list (``RevocationList/init(verifying:keys:maxBytes:)``),
/// so a delta is trusted exactly as far as the list it produces, under the same keys.
///
/// ```swift
/// let delta = try RevocationDelta(parsing: downloaded)
/// let next = try delta.applied(to: inForce, keys: keyset.revocationKeys)
/// print("list \(next.sequence): \(delta.changes.count) changes")
/// ```
public struct RevocationDelta: Sendable {
    public static let magic: [UInt8] = Array("SGLD".utf8)
    public static let version: UInt8 = 1
    /// The HTTP media type sigil-server answers a delta with.
    public static let mediaType = "application/vnd.sigil.revocation-delta"
    public static let changeSize = 17

    /// One change: the GUID's status in the resulting list, or nil when it leaves the list
    /// (wire status 0).
    public struct Change: Sendable, Hashable {
        public let id: TokenID
        public let status: RevocationStatus?

        public init(id: TokenID, status: RevocationStatus?) {
            self.id = id
            self.status = status
        }
    }

    public let keyID: String
    /// The sequence of the list the changes apply to.
    public let baseSequence: UInt64
    /// The resulting list's sequence, issued_at, next_update (nil for 0) and entry count.
    public let sequence: UInt64
    public let issuedAt: Int64
    public let nextUpdate: Int64?
    public let count: Int
    /// Strictly ascending by GUID.
    public let changes: [Change]
    /// The resulting list's Ed25519 signature.
    public let signature: [UInt8]

    /// Whether `bytes` start like a delta (`SGLD`) rather than a full list (`SGLR`).
    public static func isDelta(_ bytes: some Collection<UInt8>) -> Bool { bytes.starts(with: magic) }

    /// Parses a delta's structure; nothing is trusted until ``applied(to:keys:maxBytes:)``.
    ///
    /// - Throws: ``RevocationListError``: `too_large` (more than `maxBytes`), `malformed`,
    ///   `unsupported_version`.
    public init(parsing b: [UInt8], maxBytes: Int = RevocationList.defaultMaxBytes) throws(RevocationListError) {
        guard b.count <= maxBytes else { throw RevocationListError(.tooLarge, "\(b.count) bytes, limit \(maxBytes)") }
        guard b.starts(with: Self.magic) else { throw RevocationListError(.malformed, "missing the SGLD magic") }
        guard b.count >= 6 else { throw RevocationListError(.malformed, "a delta cut short after \(b.count) bytes") }
        guard b[4] == Self.version else { throw RevocationListError(.unsupportedVersion, "delta version \(b[4])") }
        let kidLength = Int(b[5])
        var i = 6
        guard kidLength >= 1, kidLength <= 32, b.count >= i + kidLength,
            b[i..<(i + kidLength)].withContiguousStorageIfAvailable({ TokenLayout.isKeyID($0) }) == true
        else { throw RevocationListError(.malformed, "bad key id") }
        keyID = String(decoding: b[i..<(i + kidLength)], as: UTF8.self)
        i += kidLength
        guard b.count >= i + 8 * 4 + 4 + 4 else { throw RevocationListError(.malformed, "truncated delta header") }
        func u64(_ at: Int) -> UInt64 { b[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        func u32(_ at: Int) -> Int { Int(b[at..<(at + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) }
        baseSequence = u64(i)
        sequence = u64(i + 8)
        issuedAt = Int64(bitPattern: u64(i + 16))
        let next = Int64(bitPattern: u64(i + 24))
        nextUpdate = next == 0 ? nil : next
        count = u32(i + 32)
        let changeCount = u32(i + 36)
        i += 40
        guard b.count == i + changeCount * Self.changeSize + RevocationList.signatureSize else {
            throw RevocationListError(.malformed, "length \(b.count) does not match \(changeCount) changes")
        }
        var changes: [Change] = []
        changes.reserveCapacity(changeCount)
        for at in stride(from: i, to: i + changeCount * Self.changeSize, by: Self.changeSize) {
            let id = TokenID(rawValue: b[at..<(at + 16)].reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
            let wire = b[at + 16]
            guard wire <= 2 else { throw RevocationListError(.malformed, "a change's status must be 0, 1 or 2") }
            if let last = changes.last, !(last.id < id) {
                throw RevocationListError(.malformed, "changes must be strictly ascending GUIDs")
            }
            changes.append(Change(id: id, status: RevocationStatus(rawValue: wire)))
        }
        self.changes = changes
        signature = Array(b[(b.count - RevocationList.signatureSize)...])
    }

    /// Applies the changes to `base`, the list in force, and verifies the resulting list as a
    /// full list (key, signature). Rollback and equivocation are the caller's check, as for a
    /// full list (``RevocationListUpdate/decide(_:over:force:)``, ``RevocationStore``).
    ///
    /// - Throws: ``RevocationListError``: `delta_base_mismatch` when `base` is not verified or
    ///   its sequence is not ``baseSequence``; `malformed` when a change changes nothing (a GUID
    ///   leaving that is not listed, a status it already has) or the result does not hold
    ///   ``count`` entries; `too_large` when the result exceeds `maxBytes`; `unknown_key` or
    ///   `bad_signature` from the resulting list's check.
    public func applied(to base: RevocationList, keys: [RevocationKey], maxBytes: Int = RevocationList.defaultMaxBytes)
        throws(RevocationListError) -> RevocationList
    {
        guard base.isVerified, base.sequence == baseSequence else {
            throw RevocationListError(
                .deltaBaseMismatch,
                base.isVerified
                    ? "the delta applies to list \(baseSequence), the list in force is \(base.sequence)"
                    : "the delta applies to list \(baseSequence), and no list is in force")
        }
        let headerSize = 4 + 1 + 1 + keyID.utf8.count + 8 * 3 + 4
        let (entryBytes, o1) = count.multipliedReportingOverflow(by: RevocationList.entrySize)
        let (size, o2) = entryBytes.addingReportingOverflow(headerSize + RevocationList.signatureSize)
        guard !o1, !o2, size <= maxBytes else {
            throw RevocationListError(.tooLarge, "the resulting list of \(count) entries exceeds \(maxBytes) bytes")
        }
        var out = RevocationList.signingContext
        out.reserveCapacity(out.count + size)
        RevocationList.appendHeader(
            keyID: keyID, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, count: count, to: &out)
        let entriesStart = out.count
        let refused = base.withEntryBytes { RevocationList.appendApplying(changes, to: $0, strict: true, into: &out) }
        if let refused {
            throw RevocationListError(
                .malformed,
                refused.status == nil
                    ? "a change removes a GUID the base list does not hold"
                    : "a change sets the status a GUID already has")
        }
        guard (out.count - entriesStart) == entryBytes else {
            throw RevocationListError(
                .malformed,
                "the changes leave \((out.count - entriesStart) / RevocationList.entrySize) entries, the delta says \(count)"
            )
        }
        out.append(contentsOf: signature)
        return try RevocationList(signedMessage: out, keys: keys, maxBytes: maxBytes)
    }
}
