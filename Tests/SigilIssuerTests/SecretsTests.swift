import Foundation
import SigilIssuer
import Testing

@Suite("Secrets: webhook signatures and intake tokens")
struct SecretsTests {
    struct Vector: Decodable {
        let id: Int
        let key: String
        let data: String
        let mac: String
        let truncation_bits: Int?
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    @Test("hmacSHA256 and hex give RFC 4231's tags")
    func rfc4231() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/rfc4231_hmac_sha256.json")
        struct File: Decodable { let tests: [Vector] }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        #expect(file.tests.count >= 6)
        for v in file.tests {
            let tag = Secrets.hex(try Secrets.hmacSHA256(key: Self.bytes(v.key), message: Self.bytes(v.data)))
            let expected = v.truncation_bits.map { String(v.mac.prefix($0 / 4)) } ?? v.mac
            #expect(String(tag.prefix(expected.count)) == expected, "RFC 4231 test \(v.id)")
        }
    }

    @Test("equal compares whole secrets: any difference or another length is unequal")
    func equal() {
        let secret = Array("intake-secret-0123456789".utf8)
        #expect(Secrets.equal(secret, secret))
        #expect(!Secrets.equal(secret, Array("intake-secret-0123456788".utf8)))
        #expect(!Secrets.equal(secret, Array(secret.dropLast())))
        #expect(!Secrets.equal(secret, []))
        #expect(Secrets.equal([], []))
    }
}
