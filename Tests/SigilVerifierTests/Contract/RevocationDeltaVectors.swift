import Foundation
import SigilIssuer
import SigilIssuerCrypto
import SigilVerifier
import Testing

/// One vector of `Tests/Vectors/revocation-deltas-v1.json` (schema in docs/FORMAT.md §7.4): a
/// list in force (or none), a delta, and what loading the delta over that list gives.
struct RevocationDeltaVector {
    var name: String
    var description: String
    var publicKeys: [(kid: String, key: [UInt8])]
    var base: [UInt8]?
    var delta: [UInt8]
    var maxBytes: Int
    var reason: RevocationListError.Reason?
    /// The resulting list's bytes, exactly when the delta is accepted.
    var result: [UInt8]?

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
            ("base_hex", .optional(base.map(Hex.encode))),
            ("delta_hex", .string(Hex.encode(delta))),
            ("max_bytes", .int(Int64(maxBytes))),
            (
                "expected",
                .object([
                    ("valid", .bool(reason == nil)),
                    ("reason", .optional(reason?.rawValue)),
                    ("list_hex", .optional(result.map(Hex.encode))),
                ])
            ),
        ])
    }
}

/// Builds every delta vector from the test-only seeds (Ed25519 signing is deterministic).
struct RevocationDeltaVectorCatalog {
    let vectors: [RevocationDeltaVector]

    static let a = TokenID(rawValue: 0x0b0e5c6a_2f4d_4c1e_9a53_5d3f1e2b7c90)
    static let b = TokenID(rawValue: 0x5f1c2d3e_4a5b_4c6d_8e7f_8091a2b3c4d5)
    static let c = TokenID(rawValue: 0xc0ffee00_1234_4567_89ab_cdef01234567)
    static let d = TokenID(rawValue: 0x7a000000_0000_4000_8000_000000000001)
    static let limit = RevocationList.defaultMaxBytes

    /// A delta's bytes with `changes` instead of the ones derived from the two lists: a delta
    /// that is wrong in one way while it still carries the resulting list's good signature.
    static func delta(
        base: UInt64, changes: [(TokenID, UInt8)], target: [UInt8], count: Int? = nil
    ) throws -> [UInt8] {
        let list = try RevocationList.parseUnverified(target)
        var out = RevocationDeltaBuilder.encode(baseSequence: base, changes: [], target: list)
        let countAt = 4 + 1 + 1 + list.keyID.utf8.count + 32
        let total = UInt32(count ?? list.count)
        out.replaceSubrange(countAt..<(countAt + 4), with: withUnsafeBytes(of: total.bigEndian, Array.init))
        out.replaceSubrange(
            (countAt + 4)..<(countAt + 8), with: withUnsafeBytes(of: UInt32(changes.count).bigEndian, Array.init))
        let signature = Array(out.suffix(64))
        out.removeLast(64)
        for (id, status) in changes {
            out += id.bytes + [status]
        }
        return out + signature
    }

    init() throws {
        let r1 = try #require(OpenSSL.ed25519PublicKey(seed: TestKeys.revocationSeed))
        let r2 = try #require(OpenSSL.ed25519PublicKey(seed: TestKeys.otherRevocationSeed))
        let keys: [(kid: String, key: [UInt8])] = [("r1", r1), ("r2", r2)]
        let a = Self.a, b = Self.b, c = Self.c, d = Self.d
        let now = TestKeys.now
        var out: [RevocationDeltaVector] = []

        let base = try buildList(
            [(a, .revoked), (b, .deactivated), (c, .revoked)], sequence: 7, nextUpdate: now + 3_600)
        let baseList = try RevocationList.parseUnverified(base)

        func valid(
            _ name: String, _ description: String, from old: [UInt8], to new: [UInt8], maxBytes: Int = Self.limit
        ) throws {
            let delta = RevocationDeltaBuilder.build(
                from: try RevocationList.parseUnverified(old), to: try RevocationList.parseUnverified(new))
            out.append(
                RevocationDeltaVector(
                    name: name, description: description, publicKeys: keys, base: old, delta: delta,
                    maxBytes: maxBytes == 0 ? new.count : maxBytes, reason: nil, result: new))
        }
        func refused(
            _ name: String, _ description: String, base: [UInt8]? = base, _ delta: [UInt8],
            _ reason: RevocationListError.Reason, maxBytes: Int = Self.limit
        ) {
            out.append(
                RevocationDeltaVector(
                    name: name, description: description, publicKeys: keys, base: base, delta: delta,
                    maxBytes: maxBytes, reason: reason, result: nil))
        }

        // MARK: Valid deltas

        let oneMore = try buildList(
            [(a, .revoked), (b, .deactivated), (d, .revoked), (c, .revoked)], sequence: 8, issuedAt: now + 10,
            nextUpdate: now + 3_610)
        try valid("valid-one-revoke", "One GUID revoked: one change, status 2.", from: base, to: oneMore)
        let mixed = try buildList(
            [(b, .revoked), (c, .revoked), (d, .deactivated)], sequence: 9, issuedAt: now + 20, nextUpdate: nil)
        try valid(
            "valid-mixed",
            "One GUID leaves (0), one goes from deactivated to revoked, one is added deactivated; next_update becomes 0.",
            from: base, to: mixed)
        let resigned = try buildList(
            [(a, .revoked), (b, .deactivated), (c, .revoked)], sequence: 8, issuedAt: now + 3_600,
            nextUpdate: now + 7_200)
        try valid(
            "valid-no-changes", "The same entries re-signed with a new sequence: zero changes.", from: base,
            to: resigned)
        let empty = try buildList([], sequence: 12, issuedAt: now + 30, nextUpdate: now + 90)
        try valid("valid-to-empty", "Every GUID leaves the list.", from: base, to: empty)
        let fromEmpty = try buildList([], sequence: 1, nextUpdate: nil)
        try valid(
            "valid-from-empty", "From an empty list to three entries.", from: fromEmpty,
            to: try buildList([(a, .deactivated), (c, .revoked), (d, .revoked)], sequence: 2, nextUpdate: nil))
        try valid(
            "valid-other-key", "The base is signed by r1, the resulting list by r2; the loader holds both.", from: base,
            to: try buildList(
                [(a, .revoked), (b, .deactivated), (c, .revoked), (d, .revoked)], sequence: 8, nextUpdate: nil,
                keyID: "r2", seed: TestKeys.otherRevocationSeed))
        try valid(
            "valid-at-max-bytes", "max_bytes equals the resulting list's length exactly.", from: base, to: oneMore,
            maxBytes: 0)

        // MARK: Refused deltas

        let good = RevocationDeltaBuilder.build(from: baseList, to: try RevocationList.parseUnverified(oneMore))
        // Offsets for key id "r1": version 4, kid length 5, count 40..<44, changes 44..<48, one change 48..<65.
        refused("too-large", "The delta is one byte over max_bytes.", good, .tooLarge, maxBytes: good.count - 1)
        refused(
            "result-too-large", "The delta fits max_bytes, the resulting list does not.", good, .tooLarge,
            maxBytes: oneMore.count - 1)
        refused("empty", "Zero bytes.", [], .malformed)
        var magic = good
        magic[3] = UInt8(ascii: "X")
        refused("bad-magic", "SGLX instead of SGLD.", magic, .malformed)
        var version = good
        version[4] = 2
        refused("version-2", "Delta version byte 2.", version, .unsupportedVersion)
        var kid = good
        kid[7] = UInt8(ascii: "!")
        refused("key-id-bad-char", "Key id r!.", kid, .malformed)
        refused("truncated", "The last signature byte missing.", Array(good.dropLast()), .malformed)
        refused("trailing-byte", "One zero byte after the signature.", good + [0], .malformed)
        refused("header-truncated", "Cut inside the header.", Array(good.prefix(30)), .malformed)
        var status3 = good
        status3[64] = 3
        refused("change-status-3", "A change with status 3.", status3, .malformed)
        refused(
            "changes-unsorted", "Two changes swapped.",
            try Self.delta(base: 7, changes: [(b, 2), (a, 0), (d, 1)], target: mixed), .malformed)
        refused(
            "changes-duplicate", "The same GUID twice.",
            try Self.delta(base: 7, changes: [(a, 0), (a, 0), (b, 2), (d, 1)], target: mixed), .malformed)
        refused(
            "base-mismatch", "The delta is from list 6; list 7 is in force.",
            try Self.delta(base: 6, changes: [(d, 2)], target: oneMore), .deltaBaseMismatch)
        refused(
            "base-mismatch-newer", "The delta is from list 8; list 7 is in force.",
            try Self.delta(base: 8, changes: [(d, 2)], target: oneMore), .deltaBaseMismatch)
        refused("no-base", "No list is in force.", base: nil, good, .deltaBaseMismatch)
        refused(
            "remove-unlisted", "A change removes a GUID the base does not hold (the result is otherwise right).",
            try Self.delta(base: 7, changes: [(TokenID(rawValue: 1), 0), (d, 2)], target: oneMore), .malformed)
        refused(
            "same-status", "A change sets the status a GUID already has (the result is otherwise right).",
            try Self.delta(base: 7, changes: [(a, 2), (d, 2)], target: oneMore), .malformed)
        refused(
            "count-mismatch", "The header says 5 entries; the changes leave 4.",
            try Self.delta(base: 7, changes: [(d, 2)], target: oneMore, count: 5), .malformed)
        refused(
            "unknown-key", "The resulting list is signed by r3, which the loader does not hold.",
            RevocationDeltaBuilder.build(
                from: baseList,
                to: try RevocationList.parseUnverified(
                    try buildList(
                        [(a, .revoked), (b, .deactivated), (c, .revoked)], sequence: 8, nextUpdate: nil, keyID: "r3",
                        seed: TestKeys.strangerRevocationSeed))), .unknownKey)
        var flipped = good
        flipped[flipped.count - 1] ^= 0x01
        refused("bad-signature-flipped-bit", "The signature's last bit flipped.", flipped, .badSignature)
        var edited = good
        edited[64] = 1  // revoked -> deactivated: the rebuilt list is not the one signed
        refused("bad-signature-edited-change", "A change's status altered after building.", edited, .badSignature)
        refused(
            "bad-signature-other-base",
            "Built from another list 7 (equivocating base): the rebuilt list is not the one signed.",
            try Self.delta(base: 7, changes: [(b, 0), (d, 2)], target: oneMore, count: 3), .badSignature)
        refused(
            "rollback", "The resulting list has sequence 6, below the list in force.",
            RevocationDeltaBuilder.build(
                from: baseList,
                to: try RevocationList.parseUnverified(
                    try buildList([(a, .revoked), (c, .revoked)], sequence: 6, nextUpdate: nil))), .rollback)
        refused(
            "equivocation", "The resulting list has the in-force sequence 7 and other entries.",
            RevocationDeltaBuilder.build(
                from: baseList,
                to: try RevocationList.parseUnverified(
                    try buildList([(a, .revoked), (c, .revoked)], sequence: 7, nextUpdate: nil))), .equivocation)
        vectors = out
    }
}

/// `Tests/Vectors/revocation-deltas-v1.json`: regenerated with the other vector files
/// (`SIGIL_REGENERATE_VECTORS=1 swift test --filter VectorFileTests`), checked against the
/// catalogue, and every vector run through the Swift loader.
@Suite("Vector files: revocation deltas")
struct DeltaVectorFileTests {
    static let path = TestPaths.vectors("revocation-deltas-v1.json")

    static func document() throws -> String {
        JSONText.object([
            ("format", .string("sigil-revocation-delta-vectors-v1")),
            ("generated_by", .string(VectorFileTests.command)),
            ("vectors", .array(try RevocationDeltaVectorCatalog().vectors.map(\.json))),
        ]).document
    }

    static let written: Result<Void, any Error> = Result {
        guard VectorFileTests.regenerating else { return }
        try Data(try document().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    struct File: Decodable {
        struct Vector: Decodable {
            struct Key: Decodable {
                var kid: String
                var public_key_hex: String
            }
            struct Expected: Decodable {
                var valid: Bool
                var reason: String?
                var list_hex: String?
            }
            var name: String
            var description: String
            var public_keys: [Key]
            var base_hex: String?
            var delta_hex: String
            var max_bytes: Int
            var expected: Expected
        }
        var format: String
        var vectors: [Vector]
    }

    @Test("revocation-deltas-v1.json is exactly what the catalogue generates")
    func upToDate() throws {
        try Self.written.get()
        let file = String(decoding: try TestPaths.read(Self.path), as: UTF8.self)
        #expect(file == (try Self.document()), "out of date: run \(VectorFileTests.command)")
    }

    @Test("Every delta vector passes against RevocationStore and RevocationListUpdate")
    func vectorsPass() throws {
        try Self.written.get()
        let file = try JSONDecoder().decode(File.self, from: Data(try TestPaths.read(Self.path)))
        #expect(file.format == "sigil-revocation-delta-vectors-v1")
        #expect(Set(file.vectors.map(\.name)).count == file.vectors.count, "vector names must be unique")
        for v in file.vectors {
            let keys = try v.public_keys.map {
                try RevocationKey(keyID: $0.kid, publicKey: try Hex.bytes($0.public_key_hex))
            }
            let delta = try Hex.bytes(v.delta_hex)
            // The list in force was loaded earlier, under the default limit; max_bytes bounds
            // the delta and the list it makes.
            let base = try v.base_hex.map { try RevocationList(verifying: try Hex.bytes($0), keys: keys) }
            let store = RevocationStore(keys: keys, initial: base ?? .empty, maxBytes: v.max_bytes)
            let held = base.map(RevocationListUpdate.Held.verified) ?? .none
            let before = store.list.sequence
            // The store (services) and the update rules (sigil revocations pull, followers) agree.
            let loaded = Result { () throws(RevocationListError) in try store.load(bytes: delta) }
            let checked = Result { () throws(RevocationListError) -> RevocationList in
                let list = try RevocationListUpdate.verify(delta, over: held, keys: keys, maxBytes: v.max_bytes)
                if let refusal = RevocationListUpdate.decide(list, over: held).refusal { throw refusal }
                return list
            }
            for (how, result) in [("store", loaded), ("update", checked)] {
                switch result {
                case .success(let list):
                    #expect(v.expected.valid, "\(v.name) (\(how)): accepted")
                    #expect(Hex.encode(Array(list.bytes)) == v.expected.list_hex, "\(v.name) (\(how))")
                case .failure(let error):
                    #expect(!v.expected.valid, "\(v.name) (\(how)): refused with \(error)")
                    #expect(error.reason.rawValue == v.expected.reason, "\(v.name) (\(how)): \(error)")
                }
            }
            if !v.expected.valid {
                #expect(store.list.sequence == before, "\(v.name): a refused delta changes nothing")
            }
        }
        let reasons = Set(file.vectors.compactMap(\.expected.reason))
        #expect(
            reasons == [
                "too_large", "malformed", "unsupported_version", "delta_base_mismatch", "unknown_key", "bad_signature",
                "rollback", "equivocation",
            ])
    }
}
