import Foundation
import SigilIssuer
import SigilVerifier
import Testing

@Suite("Token scanner")
struct TokenScannerTests {
    static let secret = [UInt8](repeating: 7, count: 32)

    static func token(kid: String = "k20270101-abcdef", audience: String = "billing", scope: Scope = .all) throws
        -> String
    {
        let claims = try TokenClaims(
            keyID: kid, audience: audience, id: TokenMinter.newTokenID(), validFrom: 1_800_000_000,
            validTo: 1_900_000_000, scope: scope)
        return try TokenMinter.mint(claims, masterSecret: secret)
    }

    static func scan(_ text: String, chunk: Int = 1 << 16) -> [TokenScanner.Finding] {
        var scanner = TokenScanner()
        var found: [TokenScanner.Finding] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            scanner.feed(bytes[i..<min(i + chunk, bytes.count)]) { found.append($0) }
            i += chunk
        }
        scanner.finish { found.append($0) }
        return found
    }

    @Test("Finds tokens with line and column, split across any chunk size", arguments: [1, 2, 7, 100, 1 << 16])
    func findsAcrossChunks(chunk: Int) throws {
        let a = try Self.token()
        let b = try Self.token(kid: "k", audience: String(repeating: "a", count: 64))
        let text = "first line\nTOKEN=\(a)\n\t\"x\": \"\(b)\"\n\(a)"
        let found = Self.scan(text, chunk: chunk)
        #expect(found.map(\.line) == [2, 3, 4])
        #expect(found.map(\.column) == [7, 8, 1])
        #expect(found.map(\.text) == [a, b, a])
        #expect(found[1].claims.keyID == "k")
    }

    @Test("Near misses are not tokens")
    func nearMisses() throws {
        let t = try Self.token()
        var flipped = Array(t)
        flipped[5] = "T"  // a key-ID length over 32
        for text in [
            "x" + t, "_" + t, "-" + t, t + "A", t + "_x", String(t.dropLast(3)), "SGL_" + t.dropFirst(4),
            "sgl_" + String(repeating: "A", count: 200), String(flipped), "sgl_", "sgl", "s",
            t + String(repeating: "A", count: 5_000),
        ] {
            #expect(Self.scan(text).isEmpty, "found a token in \(text.prefix(60))…")
        }
        // Boundaries other than word characters still delimit a token.
        for wrap in [("'", "'"), ("(", ")"), ("=", ";"), (" ", "\r\n"), ("\u{0}", "\u{0}"), ("é", "é")] {
            #expect(Self.scan(wrap.0 + t + wrap.1).map(\.text) == [t])
        }
    }

    @Test("Memory stays bounded: a 3 MB word of base64url characters finds nothing")
    func overlongWord() {
        var scanner = TokenScanner()
        var found = 0
        scanner.feed(Array("sgl_".utf8)) { _ in found += 1 }
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20)
        for _ in 0..<3 { scanner.feed(chunk) { _ in found += 1 } }
        scanner.finish { _ in found += 1 }
        #expect(found == 0)
    }
}
