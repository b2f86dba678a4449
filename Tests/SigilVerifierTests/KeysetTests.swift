import Foundation
import SigilIssuer
import SigilVerifier
import Testing

@Suite("Keyset export files")
struct KeysetTests {
    static func keyset(tokenKIDs: [String] = ["k1"], revocationKIDs: [String] = ["r1"]) throws -> [UInt8] {
        let key = Base64URL.encode(try TestKeys.audienceKey())
        let pub = Base64URL.encode(try TestKeys.revocationKey().publicKey)
        let tokens = tokenKIDs.map { "{\"kid\":\"\($0)\",\"key\":\"\(key)\"}" }.joined(separator: ",")
        let revs = revocationKIDs.map { "{\"kid\":\"\($0)\",\"public_key\":\"\(pub)\"}" }.joined(separator: ",")
        return Array(
            "{\"format\":\"sigil-keyset-v1\",\"audience\":\"billing\",\"token_keys\":[\(tokens)],\"revocation_keys\":[\(revs)]}"
                .utf8)
    }

    @Test("A keyset round-trips through its canonical JSON and verifies tokens")
    func roundTrip() throws {
        let keyset = try Keyset(json: try Self.keyset())
        let again = try Keyset(json: keyset.json())
        #expect(again.audience == "billing")
        #expect(again.tokenKeys.map(\.keyID) == ["k1"])
        #expect(again.tokenKeys.first?.key == keyset.tokenKeys.first?.key)
        let token = try TestKeys.mint(try TestKeys.claims())
        _ = try Verifier(keyset: again).verify(token, at: TestKeys.now)
    }

    @Test(
        "Duplicate key ids are refused, so which key checks a token never depends on order",
        .bug("duplicate revocation key ids were accepted; the first match was used"),
        arguments: [(["k1", "k1"], ["r1"]), (["k1"], ["r1", "r1"])])
    func duplicates(tokenKIDs: [String], revocationKIDs: [String]) throws {
        let error = #expect(throws: KeysetError.self) {
            try Keyset(json: try Self.keyset(tokenKIDs: tokenKIDs, revocationKIDs: revocationKIDs))
        }
        #expect(error?.message.contains("unique") == true)
    }

    @Test("Keyset(contentsOf:) reads a file and names it when it is missing or bad")
    func contentsOf() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-keyset-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = dir + "/keyset.json"
        try Data(try Self.keyset()).write(to: URL(fileURLWithPath: good))
        #expect(try Keyset(contentsOf: good).tokenKeys.count == 1)

        let missing = #expect(throws: KeysetError.self) { try Keyset(contentsOf: dir + "/nope.json") }
        #expect(missing?.message.contains("nope.json") == true)

        let bad = dir + "/bad.json"
        try Data("{\"format\":\"sigil-keyset-v2\"}".utf8).write(to: URL(fileURLWithPath: bad))
        let wrong = #expect(throws: KeysetError.self) { try Keyset(contentsOf: bad) }
        #expect(wrong?.message.contains("bad.json") == true)
    }

    @Test("VerifiedToken reports the scope kind as an enum")
    func scopeKind() throws {
        let verifier = try TestKeys.verifier()
        for (scope, kind) in [(Scope.all, ScopeKind.all), (.readOnly, .readOnly), (.custom(["a.b"]), .custom)] {
            let token = try TestKeys.mint(try TestKeys.claims(scope: scope))
            #expect(try verifier.verify(token, at: TestKeys.now).scopeKind == kind)
        }
    }
}
