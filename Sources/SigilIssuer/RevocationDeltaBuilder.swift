public import SigilVerifier

/// Encodes revocation deltas (docs/FORMAT.md §4.3): the changes from one signed list to the
/// next, carrying the next list's own signature, so building one signs nothing.
///
/// ```swift
/// let delta = RevocationDeltaBuilder.build(from: previous, to: newest)
/// ```
public enum RevocationDeltaBuilder {
    /// A GUID whose status differs between two lists: `old` in the base, `new` in the target
    /// (nil = not listed).
    public struct Difference: Sendable, Hashable {
        public let id: TokenID
        public let old: RevocationStatus?
        public let new: RevocationStatus?
    }

    /// Every GUID whose status differs between `base` and `target`, ascending: one merge walk
    /// over both lists' bytes.
    public static func differences(from base: RevocationList, to target: RevocationList) -> [Difference] {
        base.withEntryBytes { a in
            target.withEntryBytes { b in
                let size = RevocationList.entrySize
                var out: [Difference] = []
                var i = 0
                var j = 0
                while i < a.count || j < b.count {
                    let x = i < a.count ? TokenID(reading: a, at: i) : nil
                    let y = j < b.count ? TokenID(reading: b, at: j) : nil
                    if let x, y.map({ x < $0 }) ?? true {
                        out.append(Difference(id: x, old: RevocationStatus(rawValue: a[i + 16]), new: nil))
                        i += size
                    } else if let y, x.map({ y < $0 }) ?? true {
                        out.append(Difference(id: y, old: nil, new: RevocationStatus(rawValue: b[j + 16])))
                        j += size
                    } else if let y {
                        if a[i + 16] != b[j + 16] {
                            out.append(
                                Difference(
                                    id: y, old: RevocationStatus(rawValue: a[i + 16]),
                                    new: RevocationStatus(rawValue: b[j + 16])))
                        }
                        i += size
                        j += size
                    }
                }
                return out
            }
        }
    }

    /// The delta from the list with sequence `baseSequence` to `target`, given the changes
    /// (ascending by GUID, each one a real change).
    public static func encode(baseSequence: UInt64, changes: [RevocationDelta.Change], target: RevocationList)
        -> [UInt8]
    {
        var out = RevocationDelta.magic
        out.reserveCapacity(64 + changes.count * RevocationDelta.changeSize + RevocationList.signatureSize)
        out.append(RevocationDelta.version)
        out.append(UInt8(target.keyID.utf8.count))
        out.append(contentsOf: target.keyID.utf8)
        for (value, width) in [
            (baseSequence, 8), (target.sequence, 8), (UInt64(bitPattern: target.issuedAt), 8),
            (UInt64(bitPattern: target.nextUpdate ?? 0), 8), (UInt64(target.count), 4), (UInt64(changes.count), 4),
        ] {
            RevocationList.appendBigEndian(value, width, &out)
        }
        for change in changes {
            out.append(contentsOf: change.id.bytes)
            out.append(change.status?.rawValue ?? 0)
        }
        out.append(contentsOf: target.bytes.suffix(RevocationList.signatureSize))
        return out
    }

    /// The delta from `base` to `target`.
    public static func build(from base: RevocationList, to target: RevocationList) -> [UInt8] {
        encode(
            baseSequence: base.sequence,
            changes: differences(from: base, to: target).map { RevocationDelta.Change(id: $0.id, status: $0.new) },
            target: target)
    }
}
