import SigilIssuerCrypto
public import SigilVerifier

/// Builds and signs revocation lists (format v1, docs/FORMAT.md).
///
/// ```swift
/// let bytes = try RevocationListBuilder.build(
///     entries: [(id, .revoked)], sequence: 7, issuedAt: now, nextUpdate: now + 3600,
///     keyID: "r1", seed: signingSeed)
/// ```
public enum RevocationListBuilder {
    /// Encodes and signs a list. Entries are sorted here; duplicates keep the strongest status.
    ///
    /// - Throws: ``IssuerError`` for an invalid key ID or seed, or if signing fails.
    public static func build(
        entries: [(TokenID, RevocationStatus)], sequence: UInt64, issuedAt: Int64, nextUpdate: Int64?,
        keyID: String, seed: [UInt8]
    ) throws(IssuerError) -> [UInt8] {
        try sign(
            body: body(entries), sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, keyID: keyID,
            seed: seed)
    }

    /// The entries encoded as a list holds them (17 bytes each, ascending by GUID); duplicates
    /// keep the strongest status.
    package static func body(_ entries: [(TokenID, RevocationStatus)]) -> [UInt8] {
        // The ledger hands over entries already sorted and unique (a million of them): only
        // other callers pay for merging duplicates and sorting.
        let isSortedUnique = zip(entries, entries.dropFirst()).allSatisfy { $0.0 < $1.0 }
        var body: [UInt8] = []
        func encode(_ id: TokenID, _ status: RevocationStatus) {
            id.append(to: &body)
            body.append(status.rawValue)
        }
        if isSortedUnique {
            body.reserveCapacity(entries.count * RevocationList.entrySize)
            for (id, status) in entries { encode(id, status) }
        } else {
            var merged: [TokenID: RevocationStatus] = [:]
            for (id, status) in entries {
                if let old = merged[id], old == .revoked { continue }
                merged[id] = status
            }
            body.reserveCapacity(merged.count * RevocationList.entrySize)
            for (id, status) in merged.sorted(by: { $0.key < $1.key }) { encode(id, status) }
        }
        return body
    }

    /// Encodes and signs a list whose entries are already encoded: `body` holds them in list
    /// order (17 bytes each, ascending by GUID, unique), as ``RevocationList/withEntryBytes(_:)``
    /// reads them.
    package static func sign(
        body: [UInt8], sequence: UInt64, issuedAt: Int64, nextUpdate: Int64?, keyID: String, seed: [UInt8]
    ) throws(IssuerError) -> [UInt8] {
        guard TokenClaims.isValidKeyID(keyID) else { throw IssuerError(.badData, "revocation key id is invalid") }
        guard seed.count == 32 else { throw IssuerError(.badData, "a revocation signing seed must be 32 bytes") }
        let count = body.count / RevocationList.entrySize
        guard body.count % RevocationList.entrySize == 0, count <= Int(UInt32.max) else {
            throw IssuerError(.invalidInput, "too many entries")
        }
        // The signed message is the context followed by the list: built once, in place.
        let context = RevocationList.signingContext.count
        var out = RevocationList.signingContext
        out.reserveCapacity(context + 64 + body.count + RevocationList.signatureSize)
        RevocationList.appendHeader(
            keyID: keyID, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, count: count, to: &out)
        out.append(contentsOf: body)
        guard let signature = out.withUnsafeBytes({ OpenSSL.ed25519Sign(seed: seed, message: $0) }) else {
            throw IssuerError(.badData, "OpenSSL Ed25519 signing failed")
        }
        out.removeFirst(context)
        out.append(contentsOf: signature)
        return out
    }
}
