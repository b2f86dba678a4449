import SigilIssuer
import SigilIssuerCrypto
import SigilVerifier
import Testing

/// One vector of `Tests/Vectors/revocations-v1.json` (schema in docs/FORMAT.md §7.2).
struct RevocationVector {
    struct Expected {
        var keyID: String
        var sequence: UInt64
        var issuedAt: Int64
        var nextUpdate: Int64?
        var entries: [(id: TokenID, status: RevocationStatus)]
    }

    var name: String
    var description: String
    var publicKeys: [(kid: String, key: [UInt8])]
    var list: [UInt8]
    var maxBytes: Int
    var reason: RevocationListError.Reason?
    /// Set exactly when the list is valid.
    var expected: Expected?

    var json: JSONText {
        .object([
            ("name", .string(name)),
            ("description", .string(description)),
            (
                "public_keys",
                .array(
                    publicKeys.map {
                        .object([("kid", .string($0.kid)), ("public_key_hex", .string(Hex.encode($0.key)))])
                    })
            ),
            ("list_hex", .string(Hex.encode(list))),
            ("max_bytes", .int(Int64(maxBytes))),
            (
                "expected",
                .object([
                    ("valid", .bool(reason == nil)),
                    ("reason", .optional(reason?.rawValue)),
                    ("kid", .optional(expected?.keyID)),
                    ("sequence", expected.map { .uint($0.sequence) } ?? .null),
                    ("issued_at", .optional(expected?.issuedAt)),
                    ("next_update", .optional(expected?.nextUpdate)),
                    (
                        "entries",
                        expected.map { e in
                            .array(
                                e.entries.map {
                                    .object([("guid", .string($0.id.description)), ("status", .string($0.status.name))])
                                })
                        } ?? .null
                    ),
                ])
            ),
        ])
    }
}

/// Builds every revocation-list vector from fixed, test-only Ed25519 seeds (Ed25519 signing
/// is deterministic, so the bytes never change).
struct RevocationVectorCatalog {
    let vectors: [RevocationVector]

    static let a = TokenID(rawValue: 0x0b0e5c6a_2f4d_4c1e_9a53_5d3f1e2b7c90)
    static let b = TokenID(rawValue: 0x5f1c2d3e_4a5b_4c6d_8e7f_8091a2b3c4d5)
    static let c = TokenID(rawValue: 0xc0ffee00_1234_4567_89ab_cdef01234567)
    static let limit = RevocationList.defaultMaxBytes

    init() throws {
        let r1 = try #require(OpenSSL.ed25519PublicKey(seed: TestKeys.revocationSeed))
        let r2 = try #require(OpenSSL.ed25519PublicKey(seed: TestKeys.otherRevocationSeed))
        let keys: [(kid: String, key: [UInt8])] = [("r1", r1), ("r2", r2)]
        var out: [RevocationVector] = []
        let a = Self.a, b = Self.b, c = Self.c

        func valid(
            _ name: String, _ description: String, _ entries: [(TokenID, RevocationStatus)], sequence: UInt64,
            issuedAt: Int64 = TestKeys.now, nextUpdate: Int64?, keyID: String = "r1",
            seed: [UInt8] = TestKeys.revocationSeed, maxBytes: Int = Self.limit
        ) throws {
            let list = try buildList(
                entries, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, keyID: keyID, seed: seed)
            let sorted = entries.sorted { $0.0 < $1.0 }.map { (id: $0.0, status: $0.1) }
            out.append(
                RevocationVector(
                    name: name, description: description, publicKeys: keys, list: list,
                    maxBytes: maxBytes == 0 ? list.count : maxBytes, reason: nil,
                    expected: .init(
                        keyID: keyID, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, entries: sorted)))
        }
        func refused(
            _ name: String, _ description: String, _ list: [UInt8], _ reason: RevocationListError.Reason,
            keys given: [(kid: String, key: [UInt8])]? = nil, maxBytes: Int = Self.limit
        ) {
            out.append(
                RevocationVector(
                    name: name, description: description, publicKeys: given ?? keys, list: list, maxBytes: maxBytes,
                    reason: reason, expected: nil))
        }

        // MARK: Valid lists

        try valid(
            "valid-empty", "No entries, no next_update (0 on the wire, null here).", [], sequence: 1, nextUpdate: nil)
        try valid(
            "valid-three-entries", "Three entries in ascending GUID order, with next_update.",
            [(a, .revoked), (b, .deactivated), (c, .revoked)], sequence: 7, nextUpdate: TestKeys.now + 3_600)
        try valid(
            "valid-second-key", "Signed by r2; the loader holds r1 and r2.", [(b, .revoked)], sequence: 2,
            nextUpdate: nil, keyID: "r2", seed: TestKeys.otherRevocationSeed)
        try valid(
            "valid-extreme-fields",
            "sequence = u64 max, issued_at = i64 min, next_update = i64 max; GUIDs 00..00 and ff..ff.",
            [(TokenID(rawValue: 0), .deactivated), (TokenID(rawValue: .max), .revoked)], sequence: .max, issuedAt: .min,
            nextUpdate: .max)
        try valid(
            "valid-at-max-bytes", "max_bytes equals the list's length exactly.", [(a, .revoked)], sequence: 3,
            nextUpdate: nil, maxBytes: 0)

        // MARK: Refused lists

        let good = try buildList([(a, .revoked), (b, .deactivated)], sequence: 5, nextUpdate: TestKeys.now + 60)
        // Offsets for key id "r1": version 4, kid length 5, count 32..<36, entries 36..<70, signature 70..<134.
        func edited(_ edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
            var bytes = good
            edit(&bytes)
            return try resign(bytes)
        }

        refused("too-large", "One byte over max_bytes.", good, .tooLarge, maxBytes: good.count - 1)
        refused("empty", "Zero bytes.", [], .malformed)
        refused("bad-magic", "SGLX instead of SGLR (re-signed).", try edited { $0[3] = UInt8(ascii: "X") }, .malformed)
        refused("version-2", "Version byte 2 (re-signed).", try edited { $0[4] = 2 }, .unsupportedVersion)
        refused("version-0", "Version byte 0 (re-signed).", try edited { $0[4] = 0 }, .unsupportedVersion)
        refused("key-id-empty", "Key id length 0 (re-signed).", try edited { $0[5] = 0 }, .malformed)
        refused("key-id-bad-char", "Key id r! (re-signed).", try edited { $0[7] = UInt8(ascii: "!") }, .malformed)
        refused("truncated", "The last signature byte missing.", Array(good.dropLast()), .malformed)
        refused("trailing-byte", "One zero byte after the signature.", good + [0], .malformed)
        refused(
            "count-too-high", "count says 3 but 2 entries follow (re-signed).", try edited { $0[35] = 3 }, .malformed)
        refused(
            "entries-unsorted", "Two entries swapped (re-signed).",
            try edited { bytes in
                let first = Array(bytes[36..<53])
                bytes.replaceSubrange(36..<53, with: bytes[53..<70])
                bytes.replaceSubrange(53..<70, with: first)
            }, .malformed)
        refused(
            "entries-duplicate", "The same GUID twice (re-signed).",
            try edited { $0.replaceSubrange(53..<69, with: $0[36..<52]) }, .malformed)
        refused("status-0", "Entry status 0 (re-signed).", try edited { $0[52] = 0 }, .malformed)
        refused("status-3", "Entry status 3 (re-signed).", try edited { $0[69] = 3 }, .malformed)
        refused(
            "unknown-key", "Signed by r3, which the loader does not hold.",
            try buildList(
                [(a, .revoked)], sequence: 5, nextUpdate: nil, keyID: "r3", seed: TestKeys.strangerRevocationSeed),
            .unknownKey)
        refused(
            "unknown-key-no-keys", "The loader holds no revocation keys.", good, .unknownKey, keys: [])
        var flippedSignature = good
        flippedSignature[good.count - 1] ^= 0x01
        refused("bad-signature-flipped-bit", "The signature's last bit flipped.", flippedSignature, .badSignature)
        var flippedStatus = good
        flippedStatus[69] = 2  // deactivated -> revoked, not re-signed
        refused("bad-signature-edited-entry", "An entry's status changed after signing.", flippedStatus, .badSignature)
        refused(
            "bad-signature-wrong-key", "Claims key id r1 but is signed with another seed.",
            try buildList(
                [(a, .revoked)], sequence: 5, nextUpdate: nil, keyID: "r1", seed: TestKeys.strangerRevocationSeed),
            .badSignature)
        let body = Array(good.dropLast(64))
        refused(
            "bad-signature-no-context", "Signed without the sigil/v1/revocations 0x00 context.",
            body + (try #require(ed25519Sign(seed: TestKeys.revocationSeed, message: body))), .badSignature)
        refused(
            "bad-signature-zero", "An all-zero signature.", body + [UInt8](repeating: 0, count: 64), .badSignature)

        vectors = out
    }
}
