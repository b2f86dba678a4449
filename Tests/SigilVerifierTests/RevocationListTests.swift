import SigilIssuer
import SigilVerifier
import Testing

@Suite("Revocation lists (verifier side)")
struct RevocationListTests {
    static let ids: [TokenID] = [0x10, 0x20, 0x30, 0x40, 0x50].map { TokenID(rawValue: UInt128($0) << 120 | 0xabc) }

    static func keys() throws -> [RevocationKey] {
        [try TestKeys.revocationKey(), try TestKeys.revocationKey(kid: "r2", seed: TestKeys.otherRevocationSeed)]
    }

    static func parse(_ bytes: [UInt8], maxBytes: Int = RevocationList.defaultMaxBytes) throws -> RevocationList {
        try RevocationList(verifying: bytes, keys: try keys(), maxBytes: maxBytes)
    }

    static func refusal(_ bytes: [UInt8], maxBytes: Int = RevocationList.defaultMaxBytes) throws
        -> RevocationListError.Reason?
    {
        let keys = try keys()
        let result = Result { () throws(RevocationListError) in
            try RevocationList(verifying: bytes, keys: keys, maxBytes: maxBytes)
        }
        switch result {
        case .success: return nil
        case .failure(let error): return error.reason
        }
    }

    /// Byte offsets of a list signed by "r1": magic 0..<4, version 4, kid length 5, kid 6..<8,
    /// sequence 8..<16, issued_at 16..<24, next_update 24..<32, count 32..<36, entries from 36.
    static let entriesOffset = 36

    @Test("A built list round-trips with every field and entry")
    func roundTrip() throws {
        let entries: [(TokenID, RevocationStatus)] = [
            (Self.ids[3], .deactivated), (Self.ids[0], .revoked), (Self.ids[2], .deactivated), (Self.ids[2], .revoked),
            (Self.ids[0], .deactivated),
        ]
        let bytes = try buildList(entries, sequence: 42, issuedAt: -5, nextUpdate: TestKeys.now + 3_600)
        #expect(bytes.count == Self.entriesOffset + 3 * 17 + 64)
        let list = try Self.parse(bytes)
        #expect(list.keyID == "r1")
        #expect(list.sequence == 42)
        #expect(list.issuedAt == -5)
        #expect(list.nextUpdate == TestKeys.now + 3_600)
        #expect(list.count == 3)
        #expect(list.isVerified)
        #expect(Array(list.bytes) == bytes)
        // Sorted; a duplicate keeps the stronger status (revoked) whatever the input order.
        #expect(list.entries.map(\.id) == [Self.ids[0], Self.ids[2], Self.ids[3]])
        #expect(list.entries.map(\.status) == [.revoked, .revoked, .deactivated])
    }

    @Test("status(of:) finds first, middle and last entries and misses everything else", arguments: [0, 1, 2, 5, 64])
    func lookups(_ count: Int) throws {
        let listed = (0..<count).map { TokenID(rawValue: UInt128($0 * 2 + 1) << 64) }
        let entries = listed.enumerated().map { ($1, $0 % 3 == 0 ? RevocationStatus.revoked : .deactivated) }
        let list = try Self.parse(try buildList(entries))
        #expect(list.count == count)
        for (i, id) in listed.enumerated() {
            #expect(list.status(of: id) == (i % 3 == 0 ? .revoked : .deactivated), "entry \(i)")
            // Neighbours just below and above are absent.
            #expect(list.status(of: TokenID(rawValue: id.rawValue - 1)) == nil)
            #expect(list.status(of: TokenID(rawValue: id.rawValue + 1)) == nil)
        }
        #expect(list.status(of: TokenID(rawValue: 0)) == nil)
        #expect(list.status(of: TokenID(rawValue: .max)) == nil)
    }

    @Test("The extreme GUIDs 00…00 and ff…ff can be listed and found")
    func extremeGUIDs() throws {
        let low = TokenID(rawValue: 0)
        let high = TokenID(rawValue: .max)
        let list = try Self.parse(try buildList([(high, .deactivated), (low, .revoked)]))
        #expect(list.status(of: low) == .revoked)
        #expect(list.status(of: high) == .deactivated)
        #expect(list.status(of: TokenID(rawValue: 1)) == nil)
    }

    @Test("The empty list and nil next_update")
    func emptyList() throws {
        let list = try Self.parse(try buildList([], sequence: 0))
        #expect(list.count == 0)
        #expect(list.entries.isEmpty)
        #expect(list.nextUpdate == nil)
        #expect(!list.isStale(at: .max))
        #expect(list.status(of: TestKeys.id1) == nil)
        #expect(RevocationList.empty.count == 0)
        #expect(!RevocationList.empty.isVerified)
    }

    @Test("Staleness starts exactly at next_update")
    func staleness() throws {
        let list = try Self.parse(try buildList([], nextUpdate: 1_000))
        #expect(!list.isStale(at: 999))
        #expect(list.isStale(at: 1_000))
        #expect(list.isStale(at: .max))
    }

    @Test("A list signed by the second key verifies")
    func secondKey() throws {
        let bytes = try buildList([(Self.ids[0], .revoked)], keyID: "r2", seed: TestKeys.otherRevocationSeed)
        #expect(try Self.parse(bytes).keyID == "r2")
    }

    @Test("Every single-bit flip in every byte of a small list is refused")
    func bitFlips() throws {
        let bytes = try buildList([(Self.ids[0], .revoked), (Self.ids[1], .deactivated)], sequence: 3, nextUpdate: 99)
        var refused = 0
        for index in bytes.indices {
            for bit in 0..<8 {
                var mutated = bytes
                mutated[index] ^= 1 << bit
                let reason = try Self.refusal(mutated)
                #expect(reason != nil, "byte \(index) bit \(bit) was accepted")
                if reason != nil { refused += 1 }
                // Flips in the signature are always bad signatures.
                if index >= bytes.count - 64 { #expect(reason == .badSignature, "signature byte \(index)") }
            }
        }
        #expect(refused == bytes.count * 8)
    }

    @Test("Every truncation is malformed")
    func truncations() throws {
        let bytes = try buildList([(Self.ids[0], .revoked), (Self.ids[1], .deactivated)])
        for length in 0..<bytes.count {
            #expect(try Self.refusal(Array(bytes.prefix(length))) == .malformed, "length \(length)")
        }
    }

    @Test("A list from a key that is not loaded is unknown_key; a wrong public key is bad_signature")
    func wrongKeys() throws {
        let stranger = try buildList([(Self.ids[0], .revoked)], keyID: "r3", seed: TestKeys.strangerRevocationSeed)
        #expect(try Self.refusal(stranger) == .unknownKey)
        let impostor = try buildList([(Self.ids[0], .revoked)], keyID: "r1", seed: TestKeys.strangerRevocationSeed)
        #expect(try Self.refusal(impostor) == .badSignature)
        let empty = try buildList([])
        let error = #expect(throws: RevocationListError.self) { try RevocationList(verifying: empty, keys: []) }
        #expect(error?.reason == .unknownKey)
    }

    @Test("A signature without the domain-separation context is refused")
    func noContext() throws {
        var bytes = try buildList([(Self.ids[0], .revoked)])
        let body = Array(bytes.dropLast(64))
        bytes = body + (try #require(ed25519Sign(seed: TestKeys.revocationSeed, message: body)))
        #expect(try Self.refusal(bytes) == .badSignature)
    }

    struct Edit: Sendable, CustomTestStringConvertible {
        var name: String
        var expected: RevocationListError.Reason
        var edit: @Sendable ([UInt8]) throws -> [UInt8]
        var testDescription: String { name }
    }

    /// Each edit breaks one rule and re-signs, so the signature is not what refuses the list.
    static let edits: [Edit] = [
        Edit(name: "entries out of order", expected: .malformed) { b in
            var b = b
            let first = Array(b[36..<53])
            b.replaceSubrange(36..<53, with: b[53..<70])
            b.replaceSubrange(53..<70, with: first)
            return try resign(b)
        },
        Edit(name: "duplicate entry", expected: .malformed) { b in
            var b = b
            b.replaceSubrange(53..<70, with: b[36..<53])
            return try resign(b)
        },
        Edit(name: "duplicate GUID with another status", expected: .malformed) { b in
            var b = b
            b.replaceSubrange(53..<69, with: b[36..<52])
            return try resign(b)
        },
        Edit(name: "status 0", expected: .malformed) { b in
            var b = b
            b[52] = 0
            return try resign(b)
        },
        Edit(name: "status 3", expected: .malformed) { b in
            var b = b
            b[69] = 3
            return try resign(b)
        },
        Edit(name: "trailing byte after the signature", expected: .malformed) { $0 + [0] },
        Edit(name: "trailing byte before the signature, re-signed", expected: .malformed) { b in
            try resign(Array(b.dropLast(64)) + [0] + Array(b.suffix(64)))
        },
        Edit(name: "count one too high", expected: .malformed) { b in
            var b = b
            b[35] += 1
            return try resign(b)
        },
        Edit(name: "count one too low", expected: .malformed) { b in
            var b = b
            b[35] -= 1
            return try resign(b)
        },
        Edit(name: "count 2^32 - 1", expected: .malformed) { b in
            var b = b
            b.replaceSubrange(32..<36, with: [0xff, 0xff, 0xff, 0xff])
            return try resign(b)
        },
        Edit(name: "bad magic", expected: .malformed) { b in
            var b = b
            b[0] = UInt8(ascii: "X")
            return try resign(b)
        },
        Edit(name: "version 0", expected: .unsupportedVersion) { b in
            var b = b
            b[4] = 0
            return try resign(b)
        },
        Edit(name: "version 2", expected: .unsupportedVersion) { b in
            var b = b
            b[4] = 2
            return try resign(b)
        },
        Edit(name: "key id length 0", expected: .malformed) { b in
            var b = b
            b[5] = 0
            return try resign(b)
        },
        Edit(name: "key id with a bad character", expected: .malformed) { b in
            var b = b
            b[7] = UInt8(ascii: "!")
            return try resign(b)
        },
        Edit(name: "empty input", expected: .malformed) { _ in [] },
        Edit(name: "signature missing", expected: .malformed) { Array($0.dropLast(64)) },
        Edit(name: "all-zero signature", expected: .badSignature) {
            Array($0.dropLast(64)) + [UInt8](repeating: 0, count: 64)
        },
    ]

    @Test("Structural errors are refused with the right reason", arguments: edits)
    func structural(_ edit: Edit) throws {
        let bytes = try buildList([(Self.ids[0], .revoked), (Self.ids[1], .deactivated)])
        #expect(bytes.count == 36 + 2 * 17 + 64)
        #expect(try Self.refusal(try edit.edit(bytes)) == edit.expected)
    }

    @Test("maxBytes: a list of exactly the limit loads, one byte over is too_large")
    func maxBytes() throws {
        let bytes = try buildList([(Self.ids[0], .revoked)])
        #expect(try Self.parse(bytes, maxBytes: bytes.count).count == 1)
        #expect(try Self.refusal(bytes, maxBytes: bytes.count - 1) == .tooLarge)
        #expect(try Self.refusal(bytes + [0], maxBytes: bytes.count) == .tooLarge)
    }

    @Test("parseUnverified reads a list whose signature is wrong, and marks it unverified")
    func unverified() throws {
        var bytes = try buildList([(Self.ids[0], .revoked)], sequence: 9)
        bytes[bytes.count - 1] ^= 1
        let list = try RevocationList.parseUnverified(bytes)
        #expect(!list.isVerified)
        #expect(list.sequence == 9)
        #expect(list.status(of: Self.ids[0]) == .revoked)
    }

    @Test("Error descriptions name the reason and say what to do")
    func descriptions() {
        for reason in RevocationListError.Reason.allCases {
            let error = RevocationListError(reason, "detail")
            #expect(error.description.hasPrefix("[\(reason.rawValue)] "))
            #expect(error.description.hasSuffix("(detail)"))
        }
    }

    @Test("The builder refuses a bad key id or seed")
    func builderInputs() {
        #expect(throws: IssuerError.self) { try buildList([], keyID: "") }
        #expect(throws: IssuerError.self) { try buildList([], keyID: "r 1") }
        #expect(throws: IssuerError.self) { try buildList([], seed: [1, 2]) }
    }
}
