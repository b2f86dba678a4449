import Foundation
import SigilIssuer
import SigilIssuerCrypto
import SigilVerifier
import Testing

/// The shared vector files as a contract between implementations (docs/FORMAT.md §7).
///
/// `SIGIL_REGENERATE_VECTORS=1 swift test --filter VectorFileTests` rewrites
/// `Tests/Vectors/tokens-v1.json` and `revocations-v1.json` from the catalogues; without it
/// the committed files are only read: every vector must pass against the Swift code, and the
/// files must be exactly what the catalogues generate (so a format change shows up here).
@Suite("Vector files")
struct VectorFileTests {
    static let command = "SIGIL_REGENERATE_VECTORS=1 swift test --filter VectorFileTests"
    static let tokensPath = TestPaths.vectors("tokens-v1.json")
    static let revocationsPath = TestPaths.vectors("revocations-v1.json")
    static let regenerating = ProcessInfo.processInfo.environment["SIGIL_REGENERATE_VECTORS"] == "1"

    static func tokensDocument() throws -> String {
        let catalog = try TokenVectorCatalog()
        return JSONText.object([
            ("format", .string("sigil-token-vectors-v1")),
            ("generated_by", .string(command)),
            ("vectors", .array(catalog.vectors.map(\.json))),
        ]).document
    }

    static func revocationsDocument() throws -> String {
        let catalog = try RevocationVectorCatalog()
        return JSONText.object([
            ("format", .string("sigil-revocation-vectors-v1")),
            ("generated_by", .string(command)),
            ("vectors", .array(catalog.vectors.map(\.json))),
        ]).document
    }

    /// Writes the files once per process when regeneration was asked for; every test that
    /// reads them waits for this first.
    static let written: Result<Void, any Error> = Result {
        guard regenerating else { return }
        try Data(try tokensDocument().utf8).write(to: URL(fileURLWithPath: tokensPath), options: .atomic)
        try Data(try revocationsDocument().utf8).write(to: URL(fileURLWithPath: revocationsPath), options: .atomic)
    }

    static func committed(_ path: String) throws -> [UInt8] {
        try written.get()
        return try TestPaths.read(path)
    }

    @Test("Regenerate the vector files", .enabled(if: regenerating, "set SIGIL_REGENERATE_VECTORS=1 to rewrite them"))
    func regenerate() throws {
        try Self.written.get()
    }

    @Test("tokens-v1.json is exactly what the catalogue generates")
    func tokensUpToDate() throws {
        let file = String(decoding: try Self.committed(Self.tokensPath), as: UTF8.self)
        #expect(file == (try Self.tokensDocument()), "out of date: run \(Self.command)")
    }

    @Test("revocations-v1.json is exactly what the catalogue generates")
    func revocationsUpToDate() throws {
        let file = String(decoding: try Self.committed(Self.revocationsPath), as: UTF8.self)
        #expect(file == (try Self.revocationsDocument()), "out of date: run \(Self.command)")
    }

    // MARK: Reading the committed files

    struct TokenFile: Decodable {
        struct Vector: Decodable {
            struct Key: Decodable {
                var kid: String
                var keyHex: String
                enum CodingKeys: String, CodingKey {
                    case kid
                    case keyHex = "key_hex"
                }
            }
            struct PermissionSpec: Decodable {
                var name: String
                var access: String
            }
            struct Revoked: Decodable {
                var guid: String
                var status: String
            }
            struct Claims: Decodable, Equatable {
                var kid: String
                var audience: String
                var guid: String
                var validFrom: Int64
                var validTo: Int64?
                var scope: ScopeSpec
                enum CodingKeys: String, CodingKey {
                    case kid, audience, guid, scope
                    case validFrom = "valid_from"
                    case validTo = "valid_to"
                }
            }
            enum ScopeSpec: Decodable, Equatable {
                case named(String)
                case pairs([String])
                init(from decoder: any Decoder) throws {
                    let container = try decoder.singleValueContainer()
                    if let name = try? container.decode(String.self) {
                        self = .named(name)
                    } else {
                        self = .pairs(try container.decode([String].self))
                    }
                }
            }
            struct Expected: Decodable {
                var valid: Bool
                var reason: String?
                var claims: Claims?
            }
            var name: String
            var description: String
            var masterSecretHex: String?
            var keys: [Key]
            var audience: String
            var now: Int64
            var leeway: Int64
            var permission: PermissionSpec?
            var revoked: [Revoked]
            var token: String
            var expected: Expected
            enum CodingKeys: String, CodingKey {
                case name, description, keys, audience, now, leeway, permission, revoked, token, expected
                case masterSecretHex = "master_secret_hex"
            }
        }
        var format: String
        var generatedBy: String
        var vectors: [Vector]
        enum CodingKeys: String, CodingKey {
            case format, vectors
            case generatedBy = "generated_by"
        }
    }

    struct RevocationFile: Decodable {
        struct Vector: Decodable {
            struct Key: Decodable {
                var kid: String
                var publicKeyHex: String
                enum CodingKeys: String, CodingKey {
                    case kid
                    case publicKeyHex = "public_key_hex"
                }
            }
            struct Entry: Decodable, Equatable {
                var guid: String
                var status: String
            }
            struct Expected: Decodable {
                var valid: Bool
                var reason: String?
                var kid: String?
                var sequence: UInt64?
                var issuedAt: Int64?
                var nextUpdate: Int64?
                var entries: [Entry]?
                enum CodingKeys: String, CodingKey {
                    case valid, reason, kid, sequence, entries
                    case issuedAt = "issued_at"
                    case nextUpdate = "next_update"
                }
            }
            var name: String
            var description: String
            var publicKeys: [Key]
            var listHex: String
            var maxBytes: Int
            var expected: Expected
            enum CodingKeys: String, CodingKey {
                case name, description, expected
                case publicKeys = "public_keys"
                case listHex = "list_hex"
                case maxBytes = "max_bytes"
            }
        }
        var format: String
        var generatedBy: String
        var vectors: [Vector]
        enum CodingKeys: String, CodingKey {
            case format, vectors
            case generatedBy = "generated_by"
        }
    }

    static func tokenFile() throws -> TokenFile {
        try JSONDecoder().decode(TokenFile.self, from: Data(try committed(tokensPath)))
    }

    static func revocationFile() throws -> RevocationFile {
        try JSONDecoder().decode(RevocationFile.self, from: Data(try committed(revocationsPath)))
    }

    /// A revocation source answering from a vector's `revoked` list; never stale.
    final class ListedRevocations: RevocationSource {
        let statuses: [TokenID: RevocationCheck]
        init(statuses: [TokenID: RevocationCheck]) { self.statuses = statuses }
        func check(_ id: TokenID, at now: Int64) -> RevocationCheck { statuses[id] ?? .clear }
    }

    @Test("Every token vector passes against the Swift verifier")
    func tokenVectors() throws {
        let file = try Self.tokenFile()
        #expect(file.format == "sigil-token-vectors-v1")
        #expect(file.generatedBy == Self.command)
        #expect(file.vectors.count >= 40)
        #expect(Set(file.vectors.map(\.name)).count == file.vectors.count, "vector names must be unique")
        for v in file.vectors {
            let keys = try v.keys.map { try TokenKey(keyID: $0.kid, key: try Hex.bytes($0.keyHex)) }
            var statuses: [TokenID: RevocationCheck] = [:]
            for r in v.revoked {
                let id = try #require(TokenID(uuidString: r.guid))
                #expect(id.description == r.guid, "\(v.name): GUIDs are lowercase hyphenated")
                let names: [String: RevocationCheck] = ["revoked": .revoked, "deactivated": .deactivated]
                let status: RevocationCheck = try #require(names[r.status], "\(v.name): unknown status \(r.status)")
                statuses[id] = status
            }
            let verifier = try Verifier(
                audience: v.audience, keys: keys, leeway: v.leeway, revocations: ListedRevocations(statuses: statuses))
            var permission: Permission? = nil
            if let p = v.permission {
                let access = try #require(Access(rawValue: p.access), "\(v.name)")
                let required: Permission = try #require(Permission(p.name, access: access), "\(v.name)")
                permission = required
            }
            let result = Result { () throws(VerificationError) in
                try verifier.verifyClaims(v.token, for: permission, at: v.now)
            }
            switch result {
            case .success(let claims):
                #expect(v.expected.valid && v.expected.reason == nil, "\(v.name): accepted")
                let expected = try #require(v.expected.claims, "\(v.name): a valid vector states its claims")
                #expect(Self.claims(claims) == expected, "\(v.name)")
            case .failure(let error):
                #expect(!v.expected.valid, "\(v.name): refused with \(error.reason.rawValue)")
                #expect(v.expected.reason == error.reason.rawValue, "\(v.name)")
                #expect(v.expected.claims == nil, "\(v.name)")
            }
            if let master = v.masterSecretHex {
                for key in v.keys {
                    let derived = try TokenMinter.audienceKey(masterSecret: try Hex.bytes(master), audience: v.audience)
                    #expect(Hex.encode(derived) == key.keyHex, "\(v.name): K_aud is not HKDF(master, audience)")
                }
            }
        }
    }

    static func claims(_ c: TokenClaims) -> TokenFile.Vector.Claims {
        let scope: TokenFile.Vector.ScopeSpec =
            switch c.scope {
            case .all: .named("all")
            case .readOnly: .named("read-only")
            case .custom(let pairs): .pairs(pairs)
            }
        return .init(
            kid: c.keyID, audience: c.audience, guid: c.id.description, validFrom: c.validFrom, validTo: c.validTo,
            scope: scope)
    }

    @Test("Token vectors cover every reason, every scope kind and the parsing rules")
    func tokenCoverage() throws {
        let file = try Self.tokenFile()
        let reasons = Set(file.vectors.compactMap(\.expected.reason))
        // revocations_stale needs a stale revocation source, which the schema cannot express.
        let expressible = Set(VerificationError.Reason.allCases.map(\.rawValue)).subtracting(["revocations_stale"])
        #expect(reasons == expressible)
        let validScopes = Set(
            file.vectors.compactMap { v -> String? in
                switch v.expected.claims?.scope {
                case .named(let name): name
                case .pairs: "custom"
                case nil: nil
                }
            })
        #expect(validScopes == ["all", "read-only", "custom"])
        let malformed = file.vectors.filter { $0.expected.reason == "malformed" }.map(\.name)
        for rule in [
            "padding", "bad-char", "non-canonical-bits", "length-1-mod-4", "too-long", "trailing-byte",
            "scope-unsorted",
            "scope-duplicate", "version", "missing-prefix", "key-id", "audience", "valid-to", "scope-kind",
            "scope-count",
            "truncated",
        ] {
            #expect(malformed.contains { $0.contains(rule) }, "no malformed vector for \(rule)")
        }
    }

    @Test("Every revocation vector passes against the Swift loader")
    func revocationVectors() throws {
        let file = try Self.revocationFile()
        #expect(file.format == "sigil-revocation-vectors-v1")
        #expect(file.generatedBy == Self.command)
        #expect(file.vectors.count >= 12)
        #expect(Set(file.vectors.map(\.name)).count == file.vectors.count, "vector names must be unique")
        for v in file.vectors {
            let keys = try v.publicKeys.map {
                try RevocationKey(keyID: $0.kid, publicKey: try Hex.bytes($0.publicKeyHex))
            }
            let bytes = try Hex.bytes(v.listHex)
            let result = Result { () throws(RevocationListError) in
                try RevocationList(verifying: bytes, keys: keys, maxBytes: v.maxBytes)
            }
            switch result {
            case .success(let list):
                #expect(v.expected.valid && v.expected.reason == nil, "\(v.name): accepted")
                #expect(list.keyID == v.expected.kid, "\(v.name)")
                #expect(list.sequence == v.expected.sequence, "\(v.name)")
                #expect(list.issuedAt == v.expected.issuedAt, "\(v.name)")
                #expect(list.nextUpdate == v.expected.nextUpdate, "\(v.name)")
                let entries = list.entries.map {
                    RevocationFile.Vector.Entry(guid: $0.id.description, status: $0.status.name)
                }
                #expect(entries == v.expected.entries, "\(v.name)")
            case .failure(let error):
                #expect(!v.expected.valid, "\(v.name): refused with \(error.reason.rawValue)")
                #expect(v.expected.reason == error.reason.rawValue, "\(v.name)")
                #expect(v.expected.kid == nil && v.expected.sequence == nil && v.expected.entries == nil, "\(v.name)")
            }
        }
        let reasons = Set(file.vectors.compactMap(\.expected.reason))
        #expect(reasons == ["malformed", "unsupported_version", "unknown_key", "bad_signature", "too_large"])
    }

    @Test("Every object in both files has exactly the schema's members")
    func schemaMembers() throws {
        func object(_ any: Any?) throws -> [String: Any] { try #require(any as? [String: Any]) }
        func keys(_ any: Any?) throws -> Set<String> { Set(try object(any).keys) }

        let tokens = try object(try JSONSerialization.jsonObject(with: Data(try Self.committed(Self.tokensPath))))
        #expect(Set(tokens.keys) == ["format", "generated_by", "vectors"])
        for case let v as [String: Any] in try #require(tokens["vectors"] as? [Any]) {
            #expect(
                Set(v.keys) == [
                    "name", "description", "master_secret_hex", "keys", "audience", "now", "leeway", "permission",
                    "revoked", "token", "expected",
                ])
            for k in try #require(v["keys"] as? [Any]) { #expect(try keys(k) == ["kid", "key_hex"]) }
            for r in try #require(v["revoked"] as? [Any]) { #expect(try keys(r) == ["guid", "status"]) }
            if let p = v["permission"], !(p is NSNull) { #expect(try keys(p) == ["name", "access"]) }
            let expected = try object(v["expected"])
            #expect(Set(expected.keys) == ["valid", "reason", "claims"])
            if let c = expected["claims"], !(c is NSNull) {
                #expect(try keys(c) == ["kid", "audience", "guid", "valid_from", "valid_to", "scope"])
            }
        }

        let lists = try object(try JSONSerialization.jsonObject(with: Data(try Self.committed(Self.revocationsPath))))
        #expect(Set(lists.keys) == ["format", "generated_by", "vectors"])
        for case let v as [String: Any] in try #require(lists["vectors"] as? [Any]) {
            #expect(Set(v.keys) == ["name", "description", "public_keys", "list_hex", "max_bytes", "expected"])
            for k in try #require(v["public_keys"] as? [Any]) { #expect(try keys(k) == ["kid", "public_key_hex"]) }
            let expected = try object(v["expected"])
            #expect(
                Set(expected.keys) == ["valid", "reason", "kid", "sequence", "issued_at", "next_update", "entries"])
            if let entries = expected["entries"] as? [Any] {
                for e in entries { #expect(try keys(e) == ["guid", "status"]) }
            }
        }
    }

    // MARK: The worked example of docs/FORMAT.md §6, produced by interop/python/make_example.py

    @Test("The Swift issuer reproduces the worked example of docs/FORMAT.md byte for byte")
    func workedExample() throws {
        // Published in docs/FORMAT.md §6 (computed by the independent Python implementation).
        let publishedKey = "7f05810a26078ef370c3e277a38ca4a8a97c12b6e7797b12fb8f18b63969a940"
        let publishedToken =
            "sgl_AQJrMQdiaWxsaW5nCw5cai9NTB6aU10_Hit8kAAAAABpVbkAAAAAAGs27IADAAIMZGV2aWNlcy5saXN0DWludm9pY2VzLnJlYWRc1D-I36F1cesPo-N1ml0TucoPmNsDetaclNGR789aGg"
        let publishedPublicKey = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"
        let publishedSignature =
            "8f50650b5b9967638618356dda455d13dc4e6789c09a8fbb38adddbbc07ef373"
            + "bb104a1b49d7bfd2e4932cff222fc3e73db955c41a5bd0191db75fb8dc06fb0c"

        #expect(Hex.encode(try TestKeys.audienceKey()) == publishedKey)
        let claims = try TestKeys.claims(
            validFrom: 1_767_225_600, validTo: 1_798_761_600, scope: .custom(["devices.list", "invoices.read"]))
        #expect(try TestKeys.mint(claims) == publishedToken)
        let verifier = try TestKeys.verifier()
        #expect(try verifier.verifyClaims(publishedToken, at: 1_780_000_000) == claims)

        let seed = (0..<32).map { UInt8(0x20 + $0) }
        #expect(Hex.encode(try #require(OpenSSL.ed25519PublicKey(seed: seed))) == publishedPublicKey)
        let other = try #require(TokenID(uuidString: "7d444840-9dc0-41b2-a5d0-2f1c9e3b5a61"))
        let list = try buildList(
            [(TestKeys.id1, .revoked), (other, .deactivated)], sequence: 7, issuedAt: 1_767_225_600,
            nextUpdate: 1_767_229_200, keyID: "r1", seed: seed)
        #expect(list.count == 134)
        #expect(Hex.encode(list.suffix(64)) == publishedSignature)
        let store = RevocationStore(keys: [try TestKeys.revocationKey(seed: seed)])
        try store.load(bytes: list)
        let revoked = try TestKeys.verifier(revocations: store)
        let error = #expect(throws: VerificationError.self) { try revoked.verify(publishedToken, at: 1_767_225_600) }
        #expect(error?.reason == .revoked)
    }
}
