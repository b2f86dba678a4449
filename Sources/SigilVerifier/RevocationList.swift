/// Whether a listed GUID was deactivated (reversible) or revoked/deleted (permanent).
public enum RevocationStatus: UInt8, Sendable, Hashable {
    case deactivated = 1
    case revoked = 2
}

/// Why a revocation list was refused.
public struct RevocationListError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, CaseIterable {
        case tooLarge = "too_large"
        case malformed
        case unsupportedVersion = "unsupported_version"
        case unknownKey = "unknown_key"
        case badSignature = "bad_signature"
        case rollback
        case equivocation
        case io
        /// A delta (docs/FORMAT.md §4.3) for another list than the one in force.
        case deltaBaseMismatch = "delta_base_mismatch"
    }
    public let reason: Reason
    public let detail: String

    public init(_ reason: Reason, _ detail: String = "") {
        self.reason = reason
        self.detail = detail
    }

    public var description: String {
        let help =
            switch reason {
            case .tooLarge: "The list is larger than the loader's limit. Raise the limit if the list is genuine."
            case .malformed: "The file is not a well-formed Sigil v1 revocation list (truncated or corrupted?)."
            case .unsupportedVersion: "The list uses a format version this library does not read. Upgrade Sigil."
            case .unknownKey: "The list is signed by a key that is not in the keyset. Export the current keyset."
            case .badSignature: "The signature does not match: the list was altered or forged. Keep the old list."
            case .rollback: "The list is older (lower sequence) than the one in force: refused as a rollback."
            case .equivocation: "The list has the same sequence as the one in force but different contents."
            case .io: "The list could not be read."
            case .deltaBaseMismatch: "The delta applies to another list than the one in force. Fetch the full list."
            }
        return "[\(reason.rawValue)] \(help)" + (detail.isEmpty ? "" : " (\(detail))")
    }
}

/// A signed list of deactivated and revoked token GUIDs (format v1, docs/FORMAT.md).
///
/// A value is only ever created from bytes whose Ed25519 signature checked out (or, via
/// ``parseUnverified(_:)``, for display). Lookups are a binary search over the sorted entries
/// in the list's own bytes: O(log n), no allocation.
///
/// ```swift
/// let list = try RevocationList(verifying: try FileBytes.read(path: "revocations.sgl"),
///                               keys: keyset.revocationKeys)
/// if list.status(of: id) == .revoked { print("revoked") }
/// ```
public struct RevocationList: Sendable {
    public static let magic: [UInt8] = Array("SGLR".utf8)
    public static let version: UInt8 = 1
    /// Domain separation: what the signature covers starts with these bytes.
    public static let signingContext: [UInt8] = Array("sigil/v1/revocations".utf8) + [0]
    /// The default size limit: 64 MiB, about 3.9 million entries.
    public static let defaultMaxBytes = 64 << 20
    public static let entrySize = 17
    public static let signatureSize = 64

    public let keyID: String
    public let sequence: UInt64
    public let issuedAt: Int64
    /// Nil when the issuer promised no next update.
    public let nextUpdate: Int64?
    public let count: Int
    /// Whether the signature was checked (false only for ``parseUnverified(_:)``).
    public let isVerified: Bool

    private let storage: Storage
    private let entriesOffset: Int

    /// Holds `context || file bytes`, so the signature check needs no second copy.
    final class Storage: Sendable {
        let bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    /// An empty, unsigned list: nothing revoked. The starting point of a store before the
    /// first file is loaded.
    public static let empty = RevocationList()

    private init() {
        keyID = ""
        sequence = 0
        issuedAt = 0
        nextUpdate = nil
        count = 0
        isVerified = false
        storage = Storage(Self.signingContext)
        entriesOffset = Self.signingContext.count
    }

    /// Parses `bytes` and checks the signature against `keys` (by the list's key ID).
    ///
    /// - Throws: ``RevocationListError``: `too_large`, `malformed`, `unsupported_version`,
    ///   `unknown_key` or `bad_signature`.
    public init(verifying bytes: [UInt8], keys: [RevocationKey], maxBytes: Int = RevocationList.defaultMaxBytes)
        throws(RevocationListError)
    {
        try self.init(bytes: bytes, maxBytes: maxBytes, keys: keys)
    }

    /// Parses a list without checking its signature, for display only (`sigil revocations show`).
    public static func parseUnverified(_ bytes: [UInt8], maxBytes: Int = RevocationList.defaultMaxBytes)
        throws(RevocationListError) -> RevocationList
    {
        try RevocationList(bytes: bytes, maxBytes: maxBytes, keys: nil)
    }

    private init(bytes: [UInt8], maxBytes: Int, keys: [RevocationKey]?) throws(RevocationListError) {
        guard bytes.count <= maxBytes else {
            throw RevocationListError(.tooLarge, "\(bytes.count) bytes, limit \(maxBytes)")
        }
        var combined = Self.signingContext
        combined.reserveCapacity(Self.signingContext.count + bytes.count)
        combined.append(contentsOf: bytes)
        try self.init(combined: combined, keys: keys)
    }

    /// Checks a list given as `signingContext || list bytes`, the buffer a delta rebuilds, so
    /// applying a delta copies the resulting list once.
    init(signedMessage combined: [UInt8], keys: [RevocationKey], maxBytes: Int) throws(RevocationListError) {
        let size = combined.count - Self.signingContext.count
        guard size <= maxBytes else { throw RevocationListError(.tooLarge, "\(size) bytes, limit \(maxBytes)") }
        try self.init(combined: combined, keys: keys)
    }

    private init(combined: [UInt8], keys: [RevocationKey]?) throws(RevocationListError) {
        let context = Self.signingContext.count
        let header = try Self.parseHeader(combined, from: context)
        keyID = header.keyID
        sequence = header.sequence
        issuedAt = header.issuedAt
        nextUpdate = header.nextUpdate == 0 ? nil : header.nextUpdate
        count = header.count

        entriesOffset = context + header.entriesOffset

        // Sorted, unique, known statuses: one pass over the entries.
        let sorted = combined.withUnsafeBytes { raw -> Bool in
            var previous: TokenID? = nil
            for i in 0..<header.count {
                let at = context + header.entriesOffset + i * Self.entrySize
                let id = TokenID(reading: raw, at: at)
                let status = raw[at + 16]
                guard status == 1 || status == 2 else { return false }
                if let previous, !(previous < id) { return false }
                previous = id
            }
            return true
        }
        guard sorted else {
            throw RevocationListError(.malformed, "entries must be strictly ascending GUIDs with status 1 or 2")
        }
        if let keys {
            guard let key = keys.first(where: { $0.keyID == header.keyID }) else {
                throw RevocationListError(.unknownKey, "signed by key \(header.keyID)")
            }
            let signedLength = combined.count - Self.signatureSize
            let ok = combined.withUnsafeBytes { raw in
                key.publicKey.withUnsafeBytes { pub in
                    OpenSSL.ed25519Verify(
                        publicKey: pub, message: UnsafeRawBufferPointer(rebasing: raw[0..<signedLength]),
                        signature: UnsafeRawBufferPointer(rebasing: raw[signedLength...]))
                }
            }
            guard ok else { throw RevocationListError(.badSignature, "key \(header.keyID)") }
            isVerified = true
        } else {
            isVerified = false
        }
        storage = Storage(combined)
    }

    struct Header {
        var keyID: String
        var sequence: UInt64
        var issuedAt: Int64
        var nextUpdate: Int64
        var count: Int
        var entriesOffset: Int
    }

    /// Parses the header of the list in `b[base...]` and checks the list's total length;
    /// `entriesOffset` is relative to `base`.
    static func parseHeader(_ b: [UInt8], from base: Int = 0) throws(RevocationListError) -> Header {
        let length = b.count - base
        guard length >= 4 + 1 + 1, b[base..<(base + 4)].elementsEqual(magic) else {
            throw RevocationListError(.malformed, "missing the SGLR magic")
        }
        guard b[base + 4] == version else { throw RevocationListError(.unsupportedVersion, "version \(b[base + 4])") }
        let kidLength = Int(b[base + 5])
        var i = 6
        guard kidLength >= 1, kidLength <= 32, length >= i + kidLength else {
            throw RevocationListError(.malformed, "bad key id length")
        }
        let kid = b[(base + i)..<(base + i + kidLength)]
        guard kid.withContiguousStorageIfAvailable({ TokenLayout.isKeyID($0) }) == true else {
            throw RevocationListError(.malformed, "bad key id")
        }
        i += kidLength
        guard length >= i + 8 + 8 + 8 + 4 else { throw RevocationListError(.malformed, "truncated header") }
        func u64(_ at: Int) -> UInt64 { b[(base + at)..<(base + at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        let sequence = u64(i)
        let issuedAt = Int64(bitPattern: u64(i + 8))
        let nextUpdate = Int64(bitPattern: u64(i + 16))
        i += 24
        let count = Int(b[(base + i)..<(base + i + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        i += 4
        let (entryBytes, o1) = count.multipliedReportingOverflow(by: entrySize)
        let (expected, o2) = (i + signatureSize).addingReportingOverflow(entryBytes)
        guard !o1, !o2, length == expected else {
            throw RevocationListError(
                .malformed, "length \(length) does not match \(count) entries (expected \(o1 || o2 ? -1 : expected))")
        }
        return Header(
            keyID: String(decoding: kid, as: UTF8.self), sequence: sequence, issuedAt: issuedAt,
            nextUpdate: nextUpdate, count: count, entriesOffset: i)
    }

    /// Calls `body` with the entries' bytes: `count` × 17 (16-byte GUID, status byte), ascending
    /// by GUID, as on the wire; for merging and comparing lists without copying them.
    ///
    /// ```swift
    /// let revoked = list.withEntryBytes { entries in
    ///     stride(from: 16, to: entries.count, by: RevocationList.entrySize).filter { entries[$0] == 2 }.count
    /// }
    /// ```
    public func withEntryBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let range = entriesOffset..<(entriesOffset + count * Self.entrySize)
        let result = storage.bytes.withUnsafeBytes { raw -> Result<R, E> in
            do throws(E) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: raw[range])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The header of a list (§4.1: magic to count), appended to `out`: the one encoder the issuer's
    /// builder and a delta's rebuild share, so a rebuilt list cannot differ from a signed one in
    /// how its header is written.
    package static func appendHeader(
        keyID: String, sequence: UInt64, issuedAt: Int64, nextUpdate: Int64?, count: Int, to out: inout [UInt8]
    ) {
        out.append(contentsOf: magic)
        out.append(version)
        out.append(UInt8(keyID.utf8.count))
        out.append(contentsOf: keyID.utf8)
        appendBigEndian(sequence, 8, &out)
        appendBigEndian(UInt64(bitPattern: issuedAt), 8, &out)
        appendBigEndian(UInt64(bitPattern: nextUpdate ?? 0), 8, &out)
        appendBigEndian(UInt64(count), 4, &out)
    }

    /// Appends `entries` (a list's entry bytes, ascending by GUID) with `changes` (ascending by
    /// GUID) applied: a change with a status sets it, adding the GUID if it is not listed; one
    /// without removes the GUID. The one merge walk behind a delta's rebuild
    /// (``RevocationDelta/applied(to:keys:maxBytes:)``) and the issuer's next list, which is its
    /// last one plus what changed since. Unchanged runs are copied whole; each change costs a
    /// binary search.
    ///
    /// - Parameters:
    ///   - changes: Ascending by GUID; a nil status removes the GUID.
    ///   - entries: A list's entry bytes, ascending by GUID.
    ///   - strict: A delta must not carry a change that changes nothing: when true, the first
    ///     such change is returned and the walk stops there (`out` is then incomplete).
    ///   - out: Where the resulting entries are appended.
    /// - Returns: The change that changes nothing, in strict mode; otherwise nil.
    package static func appendApplying(
        _ changes: [RevocationDelta.Change], to entries: UnsafeRawBufferPointer, strict: Bool, into out: inout [UInt8]
    ) -> RevocationDelta.Change? {
        let size = entrySize
        let total = entries.count / size
        var next = 0  // the next entry not yet copied
        func copy(upTo end: Int) {
            if end > next {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: entries[(next * size)..<(end * size)]))
            }
            next = max(next, end)
        }
        for change in changes {
            // The first entry from `next` whose GUID is not below the change's.
            var low = next
            var high = total
            while low < high {
                let mid = (low + high) >> 1
                if TokenID(reading: entries, at: mid * size) < change.id { low = mid + 1 } else { high = mid }
            }
            copy(upTo: low)
            let listed = low < total && TokenID(reading: entries, at: low * size) == change.id
            let current = listed ? RevocationStatus(rawValue: entries[low * size + 16]) : nil
            if strict, current == change.status { return change }
            if listed { next = low + 1 }
            if let status = change.status {
                change.id.append(to: &out)
                out.append(status.rawValue)
            }
        }
        copy(upTo: total)
        return nil
    }

    /// The low `width` bytes of `value`, big-endian.
    package static func appendBigEndian(_ value: UInt64, _ width: Int, _ out: inout [UInt8]) {
        for i in stride(from: width - 1, through: 0, by: -1) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i)))
        }
    }

    /// The file bytes this list was parsed from.
    public var bytes: ArraySlice<UInt8> { storage.bytes[Self.signingContext.count...] }

    /// The status of `id`, or nil if it is not listed. Binary search; allocates nothing.
    public func status(of id: TokenID) -> RevocationStatus? {
        storage.bytes.withUnsafeBytes { raw -> RevocationStatus? in
            var low = 0
            var high = count
            while low < high {
                let mid = (low + high) >> 1
                let entry = entriesOffset + mid * Self.entrySize
                let candidate = TokenID(reading: raw, at: entry)
                if candidate == id { return RevocationStatus(rawValue: raw[entry + 16]) }
                if candidate < id { low = mid + 1 } else { high = mid }
            }
            return nil
        }
    }

    /// Every entry in ascending GUID order.
    public var entries: [(id: TokenID, status: RevocationStatus)] {
        storage.bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                let entry = entriesOffset + i * Self.entrySize
                return (TokenID(reading: raw, at: entry), RevocationStatus(rawValue: raw[entry + 16]) ?? .revoked)
            }
        }
    }

    /// Whether `next_update` has passed at `now`.
    public func isStale(at now: Int64) -> Bool {
        guard let nextUpdate else { return false }
        return now >= nextUpdate
    }

    /// Whether this list and `other` hold the same signed bytes.
    public func hasSameBytes(as other: RevocationList) -> Bool { storage.bytes == other.storage.bytes }
}
