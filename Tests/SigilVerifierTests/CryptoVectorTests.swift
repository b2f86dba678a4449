import SigilIssuerCrypto
import SigilVerifier
import Testing

// Published vectors, loaded from Tests/Fixtures at test time (see Tests/Fixtures/README.md).

struct RFC4231File: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var id: Int
        var section: String
        var key: String
        var data: String
        var mac: String
        var truncation_bits: Int?
        var testDescription: String { "RFC 4231 \(section)" }
    }
    var tests: [Case]
}

struct RFC5869File: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var section: String
        var ikm: String
        var salt: String
        var info: String
        var L: Int
        var okm: String
        var testDescription: String { "RFC 5869 \(section)" }
    }
    var tests: [Case]
}

struct RFC4648File: Decodable {
    struct Row: Decodable {
        var input_ascii: String
        var base64: String
        var base64url: String
        var base64url_nopad: String
    }
    struct URLRow: Decodable {
        var input_hex: String
        var base64: String
        var base64url: String
        var base64url_nopad: String
    }
    var tests: [Row]
    var derived_url_alphabet: [URLRow]
}

struct RFC8032File: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var secret_key: String
        var public_key: String
        var message: String
        var signature: String
        var testDescription: String { "RFC 8032 \(name)" }
    }
    var tests: [Case]
}

struct WycheproofMACFile: Decodable {
    struct Group: Decodable {
        var keySize: Int
        var tagSize: Int
        var tests: [Case]
    }
    struct Case: Decodable {
        var tcId: Int
        var key: String
        var msg: String
        var tag: String
        var result: String
    }
    var numberOfTests: Int
    var testGroups: [Group]
}

struct WycheproofEdDSAFile: Decodable {
    struct Group: Decodable {
        struct PublicKey: Decodable { var pk: String }
        var publicKey: PublicKey
        var tests: [Case]
    }
    struct Case: Decodable {
        var tcId: Int
        var comment: String
        var msg: String
        var sig: String
        var result: String
    }
    var numberOfTests: Int
    var testGroups: [Group]
}

/// Loads a fixture at argument-building time; a missing file shows up as an empty table,
/// which the count checks in each suite turn into a failure.
private func fixture<T: Decodable>(_ type: T.Type, _ name: String) -> T? {
    try? TestPaths.loadFixture(type, name)
}

@Suite("HMAC-SHA256 against RFC 4231 and Wycheproof")
struct HMACVectorTests {
    static let rfc = fixture(RFC4231File.self, "rfc4231_hmac_sha256.json")
    static let wycheproof = fixture(WycheproofMACFile.self, "wycheproof_hmac_sha256_test.json")

    @Test("The fixture files hold every published case")
    func counts() throws {
        #expect(try #require(Self.rfc).tests.count == 7)
        let file = try #require(Self.wycheproof)
        #expect(file.testGroups.flatMap(\.tests).count == file.numberOfTests)
        #expect(file.numberOfTests == 174)
    }

    @Test("OpenSSL.hmacSHA256 and KeyedHMAC reproduce each RFC 4231 MAC", arguments: rfc?.tests ?? [])
    func rfc4231(_ vector: RFC4231File.Case) throws {
        let key = try Hex.bytes(vector.key)
        let data = try Hex.bytes(vector.data)
        let expected = try Hex.bytes(vector.mac)
        let bytes = (vector.truncation_bits ?? 256) / 8
        #expect(expected.count == bytes)

        let oneShot = try #require(hmacSHA256(key: key, message: data))
        #expect(Array(oneShot.prefix(bytes)) == expected)

        let keyed = try #require(KeyedHMAC(key: key))
        var out = [UInt8](repeating: 0, count: 32)
        // Twice: the reused context must give the same answer as a fresh one.
        for _ in 0..<2 {
            out = [UInt8](repeating: 0, count: 32)
            let ok = data.withUnsafeBytes { m in out.withUnsafeMutableBytes { keyed.authenticate(m, into: $0) } }
            #expect(ok)
            #expect(out == oneShot)
        }
    }

    @Test("Every Wycheproof HMAC-SHA256 case gives its expected result (leftmost tagSize bits)")
    func wycheproof() throws {
        let file = try #require(Self.wycheproof)
        var checked = 0
        for group in file.testGroups {
            #expect(group.tagSize % 8 == 0)
            for test in group.tests {
                let key = try Hex.bytes(test.key)
                let message = try Hex.bytes(test.msg)
                let tag = try Hex.bytes(test.tag)
                #expect(key.count * 8 == group.keySize, "tcId \(test.tcId)")
                let full = try #require(hmacSHA256(key: key, message: message))
                let keyed = try #require(KeyedHMAC(key: key))
                var viaKeyed = [UInt8](repeating: 0, count: 32)
                let ok = message.withUnsafeBytes { m in
                    viaKeyed.withUnsafeMutableBytes { keyed.authenticate(m, into: $0) }
                }
                #expect(ok, "tcId \(test.tcId)")
                #expect(viaKeyed == full, "tcId \(test.tcId)")

                let truncated = Array(full.prefix(group.tagSize / 8))
                let matches = truncated.withUnsafeBytes { a in
                    tag.withUnsafeBytes { b in OpenSSL.constantTimeEqual(a, b) }
                }
                #expect(matches == (test.result == "valid"), "tcId \(test.tcId): \(test.result)")
                checked += 1
            }
        }
        #expect(checked == 174)
    }

    @Test("constantTimeEqual treats different lengths and empty buffers correctly")
    func constantTimeEqual() {
        let a: [UInt8] = [1, 2, 3]
        a.withUnsafeBytes { x in
            [UInt8]([1, 2]).withUnsafeBytes { y in #expect(!OpenSSL.constantTimeEqual(x, y)) }
            [UInt8]([1, 2, 4]).withUnsafeBytes { y in #expect(!OpenSSL.constantTimeEqual(x, y)) }
            [UInt8]([1, 2, 3]).withUnsafeBytes { y in #expect(OpenSSL.constantTimeEqual(x, y)) }
        }
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(OpenSSL.constantTimeEqual(empty, empty))
    }

    @Test("An empty key and an empty message are accepted by both HMAC paths")
    func emptyInputs() throws {
        let oneShot = try #require(hmacSHA256(key: [], message: []))
        var viaNil = [UInt8](repeating: 0, count: 32)
        let ok = viaNil.withUnsafeMutableBytes {
            OpenSSL.hmacSHA256(
                key: UnsafeRawBufferPointer(start: nil, count: 0),
                message: UnsafeRawBufferPointer(start: nil, count: 0),
                into: $0)
        }
        #expect(ok)
        #expect(viaNil == oneShot)
        let keyed = try #require(KeyedHMAC(key: []))
        var out = [UInt8](repeating: 0, count: 32)
        #expect(
            out.withUnsafeMutableBytes { keyed.authenticate(UnsafeRawBufferPointer(start: nil, count: 0), into: $0) })
        #expect(out == oneShot)
    }
}

@Suite("HKDF-SHA256 against RFC 5869")
struct HKDFVectorTests {
    static let rfc = fixture(RFC5869File.self, "rfc5869_hkdf_sha256.json")

    @Test("The fixture holds the three SHA-256 cases")
    func count() throws {
        #expect(try #require(Self.rfc).tests.count == 3)
    }

    @Test("OpenSSL.hkdfSHA256 reproduces each OKM", arguments: rfc?.tests ?? [])
    func rfc5869(_ vector: RFC5869File.Case) throws {
        let okm = OpenSSL.hkdfSHA256(
            ikm: try Hex.bytes(vector.ikm), salt: try Hex.bytes(vector.salt), info: try Hex.bytes(vector.info),
            outputLength: vector.L)
        #expect(okm == (try Hex.bytes(vector.okm)))
    }

    @Test("An empty salt means 'not provided': the same as HashLen zero bytes (RFC 5869 2.2)")
    func emptySaltIsZeroSalt() throws {
        let ikm = TestKeys.masterSecret
        let info = tokenInfoPrefix + Array("billing".utf8)
        let empty = try #require(OpenSSL.hkdfSHA256(ikm: ikm, salt: [], info: info, outputLength: 32))
        let zeros = try #require(
            OpenSSL.hkdfSHA256(ikm: ikm, salt: [UInt8](repeating: 0, count: 32), info: info, outputLength: 32))
        #expect(empty == zeros)
        let other = try #require(OpenSSL.hkdfSHA256(ikm: ikm, salt: [1], info: info, outputLength: 32))
        #expect(other != empty)
    }

    @Test("Output lengths outside 1...8160 are refused", arguments: [0, -1, 255 * 32 + 1])
    func badLengths(_ length: Int) {
        #expect(OpenSSL.hkdfSHA256(ikm: [1], salt: [], info: [], outputLength: length) == nil)
    }

    @Test("The longest output (255 blocks) is produced and its prefix is the short output")
    func longest() throws {
        let long = try #require(OpenSSL.hkdfSHA256(ikm: [1, 2, 3], salt: [], info: [9], outputLength: 255 * 32))
        let short = try #require(OpenSSL.hkdfSHA256(ikm: [1, 2, 3], salt: [], info: [9], outputLength: 42))
        #expect(Array(long.prefix(42)) == short)
    }
}

/// The HKDF info prefix spelled out from the format description, not read from the minter.
let tokenInfoPrefix: [UInt8] = Array("sigil/v1/token".utf8) + [0x00]

@Suite("Base64URL against RFC 4648")
struct Base64URLVectorTests {
    static let rfc = fixture(RFC4648File.self, "rfc4648_base_encodings.json")

    struct Row: Sendable, CustomTestStringConvertible {
        var input: [UInt8]
        var base64: String
        var padded: String
        var unpadded: String
        var testDescription: String { "\"\(unpadded)\"" }
    }

    static let rows: [Row] = {
        guard let rfc else { return [] }
        let plain = rfc.tests.map {
            Row(
                input: Array($0.input_ascii.utf8), base64: $0.base64, padded: $0.base64url, unpadded: $0.base64url_nopad
            )
        }
        let url = rfc.derived_url_alphabet.compactMap { row in
            Hex.decode(row.input_hex).map {
                Row(input: $0, base64: row.base64, padded: row.base64url, unpadded: row.base64url_nopad)
            }
        }
        return plain + url
    }()

    @Test("The fixture holds 7 RFC rows and 7 derived URL-alphabet rows")
    func count() {
        #expect(Self.rows.count == 14)
    }

    @Test("Encoding gives the unpadded URL form and decoding gives the bytes back", arguments: rows)
    func roundTrip(_ row: Row) {
        #expect(Base64URL.encode(row.input) == row.unpadded)
        #expect(Base64URL.decode(row.unpadded) == row.input)
        #expect(Base64URL.encodedLength(row.input.count) == row.unpadded.utf8.count)
        #expect(Base64URL.decodedLength(row.unpadded.utf8.count) == row.input.count)
    }

    @Test("Padded and standard-alphabet forms are refused", arguments: rows)
    func refusesOtherForms(_ row: Row) {
        if row.padded != row.unpadded { #expect(Base64URL.decode(row.padded) == nil) }
        if row.base64 != row.padded { #expect(Base64URL.decode(row.base64) == nil) }
    }

    @Test("Setting any unused trailing bit makes the text non-canonical and refused", arguments: rows)
    func refusesNonCanonicalTail(_ row: Row) throws {
        let unused = [0, 4, 2][row.input.count % 3]  // unused bits in the last character
        guard unused > 0 else { return }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var text = Array(row.unpadded.utf8)
        let last = try #require(alphabet.firstIndex(of: text[text.count - 1]))
        for bit in 0..<unused {
            text[text.count - 1] = alphabet[last ^ (1 << bit)]
            #expect(Base64URL.decode(String(decoding: text, as: UTF8.self)) == nil, "bit \(bit)")
        }
    }

    @Test(
        "Impossible lengths, padding and foreign characters are refused",
        arguments: [
            "Z", "Zm9vY", "Zg=", "Zg==", "Zm8=", "Zm9v=", "Z g", "Zm9v\n", "Zm+v", "Zm/v", "Zm.v", "Zm9é", "\0\0",
        ])
    func refuses(_ text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test("Every byte string of length 0...64 round-trips and its text is in the URL alphabet")
    func roundTripAllLengths() {
        var state: UInt32 = 0x1234_5678
        for length in 0...64 {
            let bytes = (0..<length).map { _ -> UInt8 in
                state = state &* 1_664_525 &+ 1_013_904_223
                return UInt8(truncatingIfNeeded: state >> 24)
            }
            let text = Base64URL.encode(bytes)
            #expect(
                text.utf8.allSatisfy { c in
                    (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) || c == 0x2d
                        || c == 0x5f
                })
            #expect(Base64URL.decode(text) == bytes, "length \(length)")
        }
    }

    @Test("The buffer decoder refuses an output buffer of the wrong size")
    func wrongOutputSize() {
        let input = Array("Zm9v".utf8)
        var out = [UInt8](repeating: 0, count: 4)
        let ok = input.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { Base64URL.decode(i, into: $0) }
        }
        #expect(!ok)
    }
}

@Suite("Ed25519 against RFC 8032 and Wycheproof")
struct Ed25519VectorTests {
    static let rfc = fixture(RFC8032File.self, "rfc8032_ed25519.json")
    static let wycheproof = fixture(WycheproofEdDSAFile.self, "wycheproof_ed25519_test.json")

    @Test("The fixture files hold every published case")
    func counts() throws {
        #expect(try #require(Self.rfc).tests.count == 3)
        let file = try #require(Self.wycheproof)
        #expect(file.testGroups.flatMap(\.tests).count == file.numberOfTests)
        #expect(file.numberOfTests == 150)
    }

    @Test("Public key, signature and verification match each RFC 8032 test", arguments: rfc?.tests ?? [])
    func rfc8032(_ vector: RFC8032File.Case) throws {
        let seed = try Hex.bytes(vector.secret_key)
        let publicKey = try Hex.bytes(vector.public_key)
        let message = try Hex.bytes(vector.message)
        let signature = try Hex.bytes(vector.signature)

        #expect(OpenSSL.ed25519PublicKey(seed: seed) == publicKey)
        #expect(ed25519Sign(seed: seed, message: message) == signature)
        #expect(verify(publicKey, message, signature))
        // A nil message pointer (not just an empty array) must work too.
        if message.isEmpty {
            #expect(OpenSSL.ed25519Sign(seed: seed, message: UnsafeRawBufferPointer(start: nil, count: 0)) == signature)
            let ok = publicKey.withUnsafeBytes { p in
                signature.withUnsafeBytes { s in
                    OpenSSL.ed25519Verify(
                        publicKey: p, message: UnsafeRawBufferPointer(start: nil, count: 0), signature: s)
                }
            }
            #expect(ok)
        }
        #expect(!verify(publicKey, message + [0], signature))
        var flipped = signature
        flipped[0] ^= 1
        #expect(!verify(publicKey, message, flipped))
    }

    @Test("Every Wycheproof Ed25519 case gives its expected result")
    func wycheproof() throws {
        let file = try #require(Self.wycheproof)
        var checked = 0
        for group in file.testGroups {
            let publicKey = try Hex.bytes(group.publicKey.pk)
            for test in group.tests {
                let message = try Hex.bytes(test.msg)
                let signature = try Hex.bytes(test.sig)
                #expect(["valid", "invalid"].contains(test.result))
                #expect(
                    verify(publicKey, message, signature) == (test.result == "valid"),
                    "tcId \(test.tcId) (\(test.comment)): \(test.result)")
                checked += 1
            }
        }
        #expect(checked == 150)
    }

    @Test("Seeds and public keys of the wrong length are refused")
    func wrongLengths() {
        #expect(OpenSSL.ed25519PublicKey(seed: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(ed25519Sign(seed: [UInt8](repeating: 1, count: 33), message: [1]) == nil)
        #expect(!verify([UInt8](repeating: 0, count: 31), [], [UInt8](repeating: 0, count: 64)))
    }

    private func verify(_ publicKey: [UInt8], _ message: [UInt8], _ signature: [UInt8]) -> Bool {
        publicKey.withUnsafeBytes { p in
            message.withUnsafeBytes { m in
                signature.withUnsafeBytes { s in OpenSSL.ed25519Verify(publicKey: p, message: m, signature: s) }
            }
        }
    }
}
