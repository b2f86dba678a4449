import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A hostile revocation-list file and the reason it must be refused with.
struct ListCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: @Sendable () throws -> [UInt8]
    let expected: RevocationListError.Reason
    var maxBytes = RevocationList.defaultMaxBytes
    var testDescription: String { name }
}

/// A hostile keyset and a phrase its error message must contain (what to fix).
struct KeysetCase: Sendable, CustomTestStringConvertible {
    let name: String
    let json: @Sendable () -> [UInt8]
    let hint: String
    var testDescription: String { name }
}

/// A hostile v0.1 journal (`ledger.jsonl`) that the first command imports, and how the import ends.
struct LegacyCase: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable { case imports(tokens: Int), fails(exit: Int32, hint: String) }
    let name: String
    let setup: @Sendable (String) throws -> Void
    let outcome: Outcome
    var testDescription: String { name }
}

enum Lists {
    static let ids = [
        TokenID(rawValue: 0x0ba2_8b74_8a04_41ae_a9a8_b51c_2231_ba58),
        TokenID(rawValue: 0xd149_8a2b_b9ac_4f14_a81e_17a5_12ca_432d),
    ]

    static func valid(count: Int = 2, sequence: UInt64 = 7, keyID: String = Known.revocationKeyID) throws -> [UInt8] {
        let entries = (0..<count).map { (TokenID(rawValue: UInt128($0) * 977 + 5), RevocationStatus.revoked) }
        return try RevocationListBuilder.build(
            entries: count == 2 ? [(ids[0], .deactivated), (ids[1], .revoked)] : entries, sequence: sequence,
            issuedAt: Sigil.now, nextUpdate: Sigil.now + 3600, keyID: keyID, seed: Known.seed)
    }

    /// Offset of the first entry in `valid()`.
    static var entriesOffset: Int { 6 + Known.revocationKeyID.utf8.count + 28 }

    static func edited(_ edit: @escaping @Sendable ([UInt8]) -> [UInt8]) -> @Sendable () throws -> [UInt8] {
        { edit(try valid()) }
    }
}

nonisolated(unsafe) let keysetGood: [String: Any] = [  // read-only after init
    "format": "sigil-keyset-v1", "audience": "billing",
    "token_keys": [["kid": "k1", "key": Base64URL.encode([UInt8](repeating: 1, count: 32))]],
    "revocation_keys": [["kid": "r1", "public_key": Base64URL.encode([UInt8](repeating: 2, count: 32))]],
]

func keysetJSON(_ change: (inout [String: Any]) -> Void) -> [UInt8] {
    var object = keysetGood
    change(&object)
    return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
}

/// Journal lines as v0.1's JournalCodec wrote them (the codec is gone; the import reads them).
enum Legacy {
    static func issue(_ id: TokenID = Known.guid, name: String = "n", at: Int64 = Sigil.now) -> String {
        #"{"at":\#(at),"op":"issue","token":{"audience":"billing","created_at":\#(at),"created_by":"t","description":"","guid":"\#(id)","kid":"\#(Known.keyID)","name":"\#(name)","scope":"all","status":"active","updated_at":\#(at),"valid_from":\#(at - 3600),"valid_to":\#(at + 86_400)}}"#
            + "\n"
    }

    static func export(_ sequence: UInt64, at: Int64 = Sigil.now) -> String {
        #"{"at":\#(at),"op":"export","sequence":\#(sequence)}"# + "\n"
    }

    /// A home with the known keyring and `journal` as its v0.1 ledger, no database.
    static func home(_ scratch: TempFolder, journal: [UInt8]) throws -> String {
        let home = scratch.path("home")
        try Home.mkdir(home)
        try writeFile(Known.keyringJSON, to: home + "/keyring.json")
        try writeFile(journal, to: home + "/ledger.jsonl")
        return home
    }
}

@Suite("Hostile lists, keysets and journals")
struct HostileDataTests {
    static let lists: [ListCase] = [
        ListCase(name: "empty file", bytes: { [] }, expected: .malformed),
        ListCase(name: "100 NUL bytes", bytes: { [UInt8](repeating: 0, count: 100) }, expected: .malformed),
        ListCase(
            name: "wrong magic",
            bytes: Lists.edited {
                var b = $0; b[3] = UInt8(ascii: "X"); return b
            }, expected: .malformed),
        ListCase(
            name: "version 2",
            bytes: Lists.edited {
                var b = $0; b[4] = 2; return b
            }, expected: .unsupportedVersion),
        ListCase(
            name: "0-length key id",
            bytes: Lists.edited {
                var b = $0; b[5] = 0; return b
            }, expected: .malformed),
        ListCase(
            name: "key id with a NUL",
            bytes: Lists.edited {
                var b = $0; b[7] = 0; return b
            }, expected: .malformed),
        ListCase(name: "truncated header", bytes: Lists.edited { Array($0.prefix(20)) }, expected: .malformed),
        ListCase(name: "truncated signature", bytes: Lists.edited { Array($0.dropLast()) }, expected: .malformed),
        ListCase(name: "one byte appended", bytes: Lists.edited { $0 + [0] }, expected: .malformed),
        ListCase(
            name: "count 4,294,967,295 (no overflow)",
            bytes: Lists.edited {
                var b = $0; let c = Lists.entriesOffset - 4; b[c] = 0xff; b[c + 1] = 0xff; b[c + 2] = 0xff;
                b[c + 3] = 0xff; return b
            }, expected: .malformed),
        ListCase(
            name: "entries swapped (unsorted)",
            bytes: Lists.edited { b in
                let o = Lists.entriesOffset, n = RevocationList.entrySize
                return Array(b[..<o]) + Array(b[(o + n)..<(o + 2 * n)]) + Array(b[o..<(o + n)])
                    + Array(b[(o + 2 * n)...])
            }, expected: .malformed),
        ListCase(
            name: "duplicate entry",
            bytes: Lists.edited { b in
                let o = Lists.entriesOffset, n = RevocationList.entrySize
                return Array(b[..<(o + n)]) + Array(b[o..<(o + n)]) + Array(b[(o + 2 * n)...])
            }, expected: .malformed),
        ListCase(
            name: "status 3",
            bytes: Lists.edited {
                var b = $0; b[Lists.entriesOffset + 16] = 3; return b
            }, expected: .malformed),
        ListCase(
            name: "status 0",
            bytes: Lists.edited {
                var b = $0; b[Lists.entriesOffset + 16] = 0; return b
            }, expected: .malformed),
        ListCase(
            name: "status flipped 1→2 (signed bytes changed)",
            bytes: Lists.edited {
                var b = $0; b[Lists.entriesOffset + 16] = 2; return b
            }, expected: .badSignature),
        ListCase(
            name: "sequence raised",
            bytes: Lists.edited {
                var b = $0; b[6 + Known.revocationKeyID.utf8.count + 7] ^= 1; return b
            }, expected: .badSignature),
        ListCase(
            name: "flipped signature byte",
            bytes: Lists.edited {
                var b = $0; b[b.count - 10] ^= 0x40; return b
            }, expected: .badSignature),
        ListCase(
            name: "all-zero signature",
            bytes: Lists.edited { Array($0.dropLast(64)) + [UInt8](repeating: 0, count: 64) }, expected: .badSignature),
        ListCase(name: "unknown signer", bytes: { try Lists.valid(keyID: "r-someone-else") }, expected: .unknownKey),
        ListCase(
            name: "larger than the loader's limit", bytes: { try Lists.valid(count: 50) }, expected: .tooLarge,
            maxBytes: 500),
    ]

    @Test(
        "Each hostile revocation list is refused with its reason and a message that says what to do", arguments: lists)
    func hostileList(_ c: ListCase) throws {
        let bytes = try c.bytes()
        let key = try Known.revocationKey
        let error = #expect(throws: RevocationListError.self) {
            try RevocationList(verifying: bytes, keys: [key], maxBytes: c.maxBytes)
        }
        #expect(error?.reason == c.expected)
        #expect((error?.description.count ?? 0) > 40, "a message that says what to do")
        // A store given the same bytes keeps the list in force.
        let store = RevocationStore(keys: [key], maxBytes: c.maxBytes)
        try store.load(bytes: try Lists.valid(sequence: 1))
        #expect(throws: RevocationListError.self) { try store.load(bytes: bytes) }
        #expect(store.list.sequence == 1)
    }

    @Test("A store refuses a rollback and an equivocation and keeps its list")
    func rollbackAndEquivocation() throws {
        let key = try Known.revocationKey
        let store = RevocationStore(keys: [key])
        try store.load(bytes: try Lists.valid(sequence: 7))
        let older = #expect(throws: RevocationListError.self) { try store.load(bytes: try Lists.valid(sequence: 6)) }
        #expect(older?.reason == .rollback)
        let same = #expect(throws: RevocationListError.self) {
            try store.load(bytes: try Lists.valid(count: 1, sequence: 7))
        }
        #expect(same?.reason == .equivocation)
        #expect(store.list.sequence == 7 && store.list.count == 2)
    }

    static let keysets: [KeysetCase] = [
        KeysetCase(name: "empty file", json: { [] }, hint: "sigil-keyset-v1"),
        KeysetCase(name: "NUL bytes", json: { [0, 0, 0, 0] }, hint: "sigil-keyset-v1"),
        KeysetCase(
            name: "JSON with a NUL inside",
            json: { Array(#"{"format":"sigil-keyset-v1"\#u{0},"audience":"billing"}"#.utf8) }, hint: "sigil-keyset-v1"),
        KeysetCase(
            name: "wrong format", json: { keysetJSON { $0["format"] = "sigil-keyset-v2" } }, hint: "export it again"),
        KeysetCase(
            name: "Cyrillic і in the audience", json: { keysetJSON { $0["audience"] = "bill\u{0456}ng" } },
            hint: "audience is not"),
        KeysetCase(name: "0-length audience", json: { keysetJSON { $0["audience"] = "" } }, hint: "audience is not"),
        KeysetCase(
            name: "token key in standard base64",
            json: {
                keysetJSON {
                    $0["token_keys"] = [
                        ["kid": "k1", "key": Data([UInt8](repeating: 0xfb, count: 32)).base64EncodedString()]
                    ]
                }
            }, hint: "base64url"),
        KeysetCase(
            name: "token key of 31 bytes",
            json: {
                keysetJSON {
                    $0["token_keys"] = [["kid": "k1", "key": Base64URL.encode([UInt8](repeating: 1, count: 31))]]
                }
            }, hint: "must be 32 bytes"),
        KeysetCase(
            name: "token key of 0 bytes", json: { keysetJSON { $0["token_keys"] = [["kid": "k1", "key": ""]] } },
            hint: "must be 32 bytes"),
        KeysetCase(
            name: "33-character key id",
            json: {
                keysetJSON {
                    $0["token_keys"] = [
                        [
                            "kid": String(repeating: "k", count: 33),
                            "key": Base64URL.encode([UInt8](repeating: 1, count: 32)),
                        ]
                    ]
                }
            }, hint: "[A-Za-z0-9_-]{1,32}"),
        KeysetCase(
            name: "revocation key of 64 bytes",
            json: {
                keysetJSON {
                    $0["revocation_keys"] = [
                        ["kid": "r1", "public_key": Base64URL.encode([UInt8](repeating: 1, count: 64))]
                    ]
                }
            }, hint: "must be 32 bytes"),
        KeysetCase(
            name: "missing revocation_keys", json: { keysetJSON { $0["revocation_keys"] = nil } },
            hint: "revocation_keys"),
        KeysetCase(
            name: "larger than 1 MiB", json: { Array(repeating: 0x20, count: (1 << 20) + 1) }, hint: "larger than 1 MiB"
        ),
    ]

    @Test("Each hostile keyset is refused with a message naming the field, never a key", arguments: keysets)
    func hostileKeyset(_ c: KeysetCase) {
        let error = #expect(throws: KeysetError.self) { try Keyset(json: c.json()) }
        #expect(error?.message.contains(c.hint) == true, "\(String(describing: error?.message))")
        #expect(error?.message.contains(Base64URL.encode([UInt8](repeating: 1, count: 32))) != true)
    }

    @Test("Duplicate key ids in a keyset are refused, by the parser or by the verifier")
    func duplicateKeyIDs() {
        let json = keysetJSON {
            $0["token_keys"] = [
                ["kid": "k1", "key": Base64URL.encode([UInt8](repeating: 1, count: 32))],
                ["kid": "k1", "key": Base64URL.encode([UInt8](repeating: 3, count: 32))],
            ]
        }
        let error = #expect(throws: KeysetError.self) { _ = try Verifier(keyset: try Keyset(json: json)) }
        let message = error?.message ?? ""
        #expect(message.contains("unique") || message.contains("appears twice"), "\(message)")
    }

    @Test("A keyset with CRLF line ends and extra whitespace is still read")
    func crlfKeyset() throws {
        let text = String(decoding: keysetJSON { _ in }, as: UTF8.self).replacingOccurrences(of: ",", with: ",\r\n  ")
        #expect(try Keyset(json: Array(text.utf8)).audience == "billing")
    }

    static let legacy: [LegacyCase] = [
        LegacyCase(
            name: "corrupt middle line",
            setup: { home in
                try writeFile(
                    Array((Legacy.issue() + "{not json}\n" + Legacy.issue(Lists.ids[1])).utf8),
                    to: home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "remove that line")),
        LegacyCase(
            name: "NUL bytes in a middle line",
            setup: { home in
                try writeFile(
                    Array(Legacy.issue().utf8) + [0, 0, 0, 0x0a] + Array(Legacy.issue(Lists.ids[1]).utf8),
                    to: home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "ledger.jsonl line 2")),
        LegacyCase(
            name: "torn last record (no newline)",
            setup: { home in
                try writeFile(Array((Legacy.issue() + #"{"at":1,"op":"iss"#).utf8), to: home + "/ledger.jsonl")
            }, outcome: .imports(tokens: 1)),
        LegacyCase(
            name: "CRLF line ends",
            setup: { home in
                try writeFile(
                    Array(
                        (Legacy.issue() + Legacy.issue(Lists.ids[1])).replacingOccurrences(of: "\n", with: "\r\n").utf8),
                    to: home + "/ledger.jsonl")
            }, outcome: .imports(tokens: 2)),
        LegacyCase(
            name: "GUID with Cyrillic а",
            setup: { home in
                let line = Legacy.issue().replacingOccurrences(of: "0ba28b74", with: "0b\u{0430}28b74")
                try writeFile(Array((line + Legacy.issue(Lists.ids[1])).utf8), to: home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "line 1")),
        LegacyCase(
            name: "unknown key nested 10,000 deep",
            setup: { home in
                let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
                let line = Legacy.issue().replacingOccurrences(of: "{\"at\":", with: "{\"x\":\(deep),\"at\":")
                try writeFile(Array((line + Legacy.issue(Lists.ids[1])).utf8), to: home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "line 1")),
        LegacyCase(
            name: "unknown keys from a newer version",
            setup: { home in
                let line = Legacy.issue().replacingOccurrences(
                    of: "{\"at\":", with: "{\"future\":{\"a\":[1,true,null,\"s\"]},\"at\":")
                try writeFile(Array(line.utf8), to: home + "/ledger.jsonl")
            }, outcome: .imports(tokens: 1)),
        LegacyCase(
            name: "name with raw invalid UTF-8",
            setup: { home in
                let parts = Legacy.issue(name: "NAME").components(separatedBy: "NAME")
                try writeFile(
                    Array(parts[0].utf8) + [0xff, 0xfe] + Array(parts[1].utf8) + Array(Legacy.issue(Lists.ids[1]).utf8),
                    to: home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "line 1")),
        LegacyCase(
            name: "name with an ANSI escape",
            setup: { home in
                let line = Legacy.issue(name: "NAME").replacingOccurrences(of: "NAME", with: "\\u001b[2J")
                try writeFile(Array((line + Legacy.issue(Lists.ids[1])).utf8), to: home + "/ledger.jsonl")
            }, outcome: .imports(tokens: 2)),
        LegacyCase(
            name: "symlinked ledger",
            setup: { home in
                try FileManager.default.moveItem(atPath: home + "/ledger.jsonl", toPath: home + "/real.jsonl")
                _ = symlink(home + "/real.jsonl", home + "/ledger.jsonl")
            }, outcome: .fails(exit: 77, hint: "symbolic link")),
        LegacyCase(
            name: "ledger readable by others (0644)",
            setup: { home in
                _ = chmod(home + "/ledger.jsonl", 0o644)
            }, outcome: .fails(exit: 77, hint: "chmod 600")),
        LegacyCase(
            name: "ledger is a folder",
            setup: { home in
                unlink(home + "/ledger.jsonl")
                try Home.mkdir(home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "not a regular file")),
    ]

    @Test("Each hostile v0.1 journal imports whole, or fails with a fix and leaves no database", arguments: legacy)
    func hostileJournal(_ c: LegacyCase) async throws {
        let scratch = try TempFolder("journal")
        let home = try Legacy.home(scratch, journal: Array(Legacy.issue().utf8))
        try c.setup(home)
        let before = readFile(home + "/ledger.jsonl")
        let run = try await Sigil.run(["--json", "list"], home: home)
        #expect(!run.signaled && run.status < 128, "\(run)")
        switch c.outcome {
        case .imports(let tokens):
            #expect(run.status == 0 && run.stderr.contains("imported the v0.1 ledger"), "\(run)")
            let list = try JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [[String: Any]]
            #expect(list?.count == tokens, "\(run)")
            #expect(!run.stdout.contains("\u{1b}"), "a raw escape reached stdout")
            #expect(readFile(home + "/ledger.jsonl.imported") == before, "the journal is kept, renamed")
        case .fails(let exit, let hint):
            #expect(run.status == exit && run.stderr.contains(hint), "\(run)")
            #expect(readFile(home + "/ledger.jsonl") == before, "a failed import never changes the journal")
            #expect(Home.mode(home + "/sigil.db") == nil, "a failed import leaves no database behind")
        }
    }

    static let legacyBugs: [LegacyCase] = [
        LegacyCase(
            name: "overflowing time (2^63)",
            setup: { home in
                let line = Legacy.issue().replacingOccurrences(
                    of: "\"at\":\(Sigil.now)", with: "\"at\":9223372036854775808")
                try writeFile(Array((line + Legacy.issue(Lists.ids[1])).utf8), to: home + "/ledger.jsonl")
            }, outcome: .fails(exit: 65, hint: "line 1"))
    ]

    @Test(
        "A v0.1 time past Int64.max stops the import instead of wrapping to Int64.min",
        arguments: legacyBugs)
    func overflowingLegacyTime(_ c: LegacyCase) async throws { try await hostileJournal(c) }

    @Test(
        "A v0.1 journal whose last line is blank imports, and no blank line blocks it",
        .bug(
            id: "ledger-blank-tail", "Ledger.load called a newline-terminated bad last line torn; Ledger.append kept it"
        ))
    func blankLastLine() async throws {
        let scratch = try TempFolder("journal")
        let home = try Legacy.home(scratch, journal: Array((Legacy.issue() + "\n").utf8))
        let run = try await Sigil.run(["--json", "list"], home: home)
        #expect(run.status == 0, "\(run)")
        #expect(
            (try? JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [[String: Any]])?.count == 1, "\(run)")
    }

    @Test(
        "A v0.1 export sequence past Int64.max imports, and the next list is above it",
        .bug(
            id: "journal-sequence-sign",
            "JournalCodec.encode wrote sequence > Int64.max as a negative number the reader refused"))
    func hugeImportedSequence() async throws {
        let scratch = try TempFolder("journal")
        let home = try Legacy.home(
            scratch, journal: Array((Legacy.issue() + Legacy.export(UInt64(Int64.max) + 1)).utf8))
        let run = try await Sigil.run(["--json", "revocations", "export", "-o", scratch.path("list.sgl")], home: home)
        #expect(run.status == 0, "\(run)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdoutBytes)) as? [String: Any]
        #expect((object?["sequence"] as? NSNumber)?.uint64Value == UInt64(Int64.max) + 2, "\(run)")
    }

    @Test(
        "A sequence past Int64.max round-trips through the database, the high-water mark and the export",
        .bug(id: "journal-sequence-sign", "a sequence > Int64.max was written so that it read back negative"))
    func hugeSequenceRoundTrip() async throws {
        let scratch = try TempFolder("sequence")
        let home = try Home(in: scratch)
        try Home.withIssuer(home.path) { issuer in
            try issuer.store.setState("export_sequence", Int64(bitPattern: UInt64.max - 2))
        }
        let listPath = scratch.path("list.sgl")
        var sequences: [UInt64] = []
        for _ in 0..<2 {
            let (run, json) = try await home.json(["revocations", "export", "-o", listPath])
            #expect(run.status == 0, "\(run)")
            sequences.append(((json as? [String: Any])?["sequence"] as? NSNumber)?.uint64Value ?? 0)
            let show = try await home.run(["revocations", "show", listPath])
            #expect(show.status == 0, "\(show)")
            let list = try RevocationList(verifying: readFile(listPath) ?? [], keys: [Known.revocationKey])
            #expect(list.sequence == sequences.last)
        }
        #expect(sequences == [UInt64.max - 1, UInt64.max])
        #expect(readFile(home.path + "/revocations.seq") == Array("\(UInt64.max)\n".utf8))
        let stored = try Home.withIssuer(home.path) { try $0.lastExportSequence() }
        #expect(stored == UInt64.max)
        // Exhausted: refused, never wrapped to 0 or 1.
        let last = try await home.run(["revocations", "export", "-o", listPath])
        #expect(!last.signaled && last.status == 65 && last.stderr.contains("exhausted"), "\(last)")
        #expect(
            try RevocationList(verifying: readFile(listPath) ?? [], keys: [Known.revocationKey]).sequence == UInt64.max
        )
    }

    @Test(
        "Every Int64 the database stores, list, show, log and export read back without trapping",
        .bug(id: "journal-int-min", "JSONReader.int could not read -9223372036854775808, which JSONWriter.int writes"))
    func extremeIntegersRoundTrip() async throws {
        let scratch = try TempFolder("extremes")
        let home = try Home(in: scratch)
        let id = Lists.ids[1]
        try Home.withIssuer(home.path) { issuer in
            let claims = try Known.claims(id: id, validFrom: .min, validTo: .max)
            var record = TokenRecord(claims: claims, name: "extreme", description: "", createdBy: "t", now: .min)
            record.updatedAt = .max
            record.status = .revoked
            record.revokedAt = .min
            try issuer.insertForTesting([record])
            try issuer.store.transaction(write: true) {
                try issuer.store.append(AuditEvent(at: .min, actor: "t", action: .revoke, guids: [id]))
                try issuer.store.append(AuditEvent(at: .max, actor: "t", action: .edit, guids: [id]))
            }
        }
        let (run, json) = try await home.json(["show", id.description])
        #expect(run.status == 0, "\(run)")
        let object = json as? [String: Any]
        #expect((object?["valid_from"] as? NSNumber)?.int64Value == .min)
        #expect((object?["valid_to"] as? NSNumber)?.int64Value == .max)
        #expect((object?["created_at"] as? NSNumber)?.int64Value == .min)
        #expect((object?["revoked_at"] as? NSNumber)?.int64Value == .min)
        let (log, events) = try await home.json(["log", id.description])
        #expect(log.status == 0, "\(log)")
        let times = ((events as? [[String: Any]]) ?? []).compactMap { ($0["at"] as? NSNumber)?.int64Value }
        #expect(times == [.max, .min], "\(log)")
        for arguments in [
            ["show", id.description], ["list"], ["log"], ["--json", "list"],
            ["revocations", "export", "-o", scratch.path("l.sgl")],
        ] {
            let run = try await home.run(arguments)
            #expect(!run.signaled && run.status == 0, "\(run)")
        }
        // valid_to Int64.max: still on the list.
        let list = try RevocationList(verifying: readFile(scratch.path("l.sgl")) ?? [], keys: [Known.revocationKey])
        #expect(list.status(of: id) == .revoked)
    }
}
