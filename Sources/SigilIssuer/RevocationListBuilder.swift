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
        guard TokenClaims.isValidKeyID(keyID) else { throw IssuerError(.badData, "revocation key id is invalid") }
        guard seed.count == 32 else { throw IssuerError(.badData, "a revocation signing seed must be 32 bytes") }
        // The ledger hands over entries already sorted and unique (a million of them): only
        // other callers pay for merging duplicates and sorting.
        let isSortedUnique = zip(entries, entries.dropFirst()).allSatisfy { $0.0 < $1.0 }
        let sorted: [(key: TokenID, value: RevocationStatus)]
        if isSortedUnique {
            sorted = entries.map { (key: $0.0, value: $0.1) }
        } else {
            var merged: [TokenID: RevocationStatus] = [:]
            for (id, status) in entries {
                if let old = merged[id], old == .revoked { continue }
                merged[id] = status
            }
            sorted = merged.sorted { $0.key < $1.key }
        }
        guard sorted.count <= Int(UInt32.max) else { throw IssuerError(.invalidInput, "too many entries") }
        var out: [UInt8] = []
        out.reserveCapacity(64 + sorted.count * RevocationList.entrySize + 64)
        RevocationList.appendHeader(
            keyID: keyID, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, count: sorted.count,
            to: &out)
        for (id, status) in sorted {
            out.append(contentsOf: id.bytes)
            out.append(status.rawValue)
        }
        let message = RevocationList.signingContext + out
        guard let signature = message.withUnsafeBytes({ OpenSSL.ed25519Sign(seed: seed, message: $0) }) else {
            throw IssuerError(.badData, "OpenSSL Ed25519 signing failed")
        }
        out.append(contentsOf: signature)
        return out
    }
}
