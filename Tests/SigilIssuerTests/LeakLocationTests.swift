import Foundation
import SigilIssuer
import SigilVerifier
import Testing

@Suite("Leak report locations")
struct LeakLocationTests {
    @Test(
        "Invisible and reordering characters are escaped, visible text is kept",
        .bug(id: "20-13", "a leak report's location kept U+202E and zero-width characters, shown raw by the console"),
        arguments: [
            ("https://git.example/a.txt", "https://git.example/a.txt"),
            ("https://git.example/\u{202E}txt.exe", #"https://git.example/\u{202E}txt.exe"#),
            ("a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{FEFF}f", #"a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{FEFF}f"#),
            ("\u{2066}x\u{2069}\u{061C}", #"\u{2066}x\u{2069}\u{61C}"#),
            ("line\nbreak\r\u{0}\u{7F}\u{85}", #"line\u{A}break\u{D}\u{0}\u{7F}\u{85}"#),
            ("sep\u{2028}\u{2029}", #"sep\u{2028}\u{2029}"#),
            ("tab\there", #"tab\u{9}here"#),
            ("ünïcödé ✓ 漢字 😀", "ünïcödé ✓ 漢字 😀"),
        ])
    func escapes(location: String, kept: String) {
        #expect(Issuer.leakLocation(location) == kept)
    }

    @Test("The location is cut to its byte limit on a character boundary, after escaping")
    func cut() {
        let long = String(repeating: "é", count: 600)  // 1,200 bytes
        let kept = Issuer.leakLocation(long)
        #expect(kept.utf8.count == Issuer.maxLeakLocationBytes)
        #expect(kept == String(repeating: "é", count: 500))
        let escaped = Issuer.leakLocation(String(repeating: "\u{202E}", count: 200))
        #expect(escaped.utf8.count <= Issuer.maxLeakLocationBytes && escaped.hasSuffix("}"))
    }

    @Test("The audit event of a leak report holds the escaped location")
    func audit() throws {
        let temp = try TempHome()
        let issuer = try temp.issuer()
        let issued = try issuer.issue(request(), by: try Actor(name: "alice"), now: t0)
        let revoked = try issuer.revokeLeaked(
            [Issuer.LeakReport(token: issued.token, location: "https://git.example/\u{202E}gpj.exe\u{200B}")],
            now: t0 + 1)
        #expect(revoked == 1)
        let event = try #require(try issuer.events(AuditQuery(actor: "leak-report")).first)
        #expect(!event.detailsJSON.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x200B })
        let details = try JSONSerialization.jsonObject(with: Data(event.detailsJSON.utf8)) as? [String: Any]
        #expect(details?["location"] as? String == #"https://git.example/\u{202E}gpj.exe\u{200B}"#)
    }
}
