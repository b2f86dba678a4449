import Foundation
import SigilIssuer
import SigilIssuerCrypto
import SigilVerifier
import Synchronization
import Testing

/// Paths into `Tests/`, computed from this file's location so no SwiftPM resources are needed.
enum TestPaths {
    /// `…/Tests`, the parent of this target's folder.
    static let testsRoot: String = {
        // #filePath is …/Tests/SigilVerifierTests/Support/TestSupport.swift
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func fixture(_ name: String) -> String { testsRoot + "/Fixtures/" + name }
    static func vectors(_ name: String) -> String { testsRoot + "/Vectors/" + name }

    static func read(_ path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Decodes a JSON fixture into `T`.
    static func loadFixture<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(read(fixture(name))))
    }
}

/// Lowercase hex, as every fixture and vector file spells bytes.
enum Hex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    /// Decodes `text` or records a test failure.
    static func bytes(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        try #require(decode(text), "not hex: \(text.prefix(40))", sourceLocation: sourceLocation)
    }
}

/// Test-only key material and claims. Nothing here is a real secret.
enum TestKeys {
    /// The test-only master secret every fixture token is minted under: bytes 0x00…0x1f.
    static let masterSecret: [UInt8] = (0..<32).map { UInt8($0) }
    /// A second, unrelated test-only master secret: bytes 0xa0…0xbf.
    static let otherMasterSecret: [UInt8] = (0..<32).map { UInt8(0xa0 + $0) }
    /// Test-only Ed25519 seeds for revocation lists.
    static let revocationSeed: [UInt8] = (0..<32).map { UInt8(0x40 + $0) }
    static let otherRevocationSeed: [UInt8] = (0..<32).map { UInt8(0x60 + $0) }
    static let strangerRevocationSeed: [UInt8] = (0..<32).map { UInt8(0x80 + $0) }

    static let audience = "billing"
    /// 2026-01-01T00:00:00Z.
    static let now: Int64 = 1_767_225_600
    static let validFrom: Int64 = now - 3_600
    static let validTo: Int64 = now + 86_400

    static let id1 = TokenID(rawValue: 0x0b0e5c6a_2f4d_4c1e_9a53_5d3f1e2b7c90)
    static let id2 = TokenID(rawValue: 0x5f1c2d3e_4a5b_4c6d_8e7f_8091a2b3c4d5)
    static let id3 = TokenID(rawValue: 0xc0ffee00_1234_4567_89ab_cdef01234567)

    static func audienceKey(_ secret: [UInt8] = masterSecret, audience: String = audience) throws -> [UInt8] {
        try TokenMinter.audienceKey(masterSecret: secret, audience: audience)
    }

    static func claims(
        keyID: String = "k1", audience: String = audience, id: TokenID = id1, validFrom: Int64 = validFrom,
        validTo: Int64? = validTo, scope: Scope = .all
    ) throws -> TokenClaims {
        try TokenClaims(keyID: keyID, audience: audience, id: id, validFrom: validFrom, validTo: validTo, scope: scope)
    }

    /// Mints a token for `claims` under `secret` (default: the test-only master secret).
    static func mint(_ claims: TokenClaims, secret: [UInt8] = masterSecret) throws -> String {
        try TokenMinter.mint(claims, masterSecret: secret)
    }

    /// A verifier for `audience` holding K_aud of each (key ID, master secret) pair.
    static func verifier(
        audience: String = audience, keys: [(String, [UInt8])] = [("k1", masterSecret)],
        leeway: Int64 = Verifier.defaultLeeway, revocations: (any RevocationSource)? = nil
    ) throws -> Verifier {
        let tokenKeys = try keys.map { kid, secret in
            try TokenKey(keyID: kid, key: audienceKey(secret, audience: audience))
        }
        return try Verifier(audience: audience, keys: tokenKeys, leeway: leeway, revocations: revocations)
    }

    static func revocationKey(kid: String = "r1", seed: [UInt8] = revocationSeed) throws -> RevocationKey {
        let pub = try #require(OpenSSL.ed25519PublicKey(seed: seed))
        return try RevocationKey(keyID: kid, publicKey: pub)
    }

    /// 256 distinct, valid, bytewise-ascending `resource.action` pairs ("ra.aa" … "rp.ap").
    static let pairs256: [String] = {
        let letters = Array("abcdefghijklmnop")
        var out: [String] = []
        for r in letters { for a in letters { out.append("r\(r).a\(a)") } }
        return out
    }()
}

/// HMAC-SHA256 through the one-shot wrapper, as plain arrays.
func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: 32)
    let ok = key.withUnsafeBytes { k in
        message.withUnsafeBytes { m in out.withUnsafeMutableBytes { OpenSSL.hmacSHA256(key: k, message: m, into: $0) } }
    }
    return ok ? out : nil
}

/// Signs `message` with Ed25519, as plain arrays.
func ed25519Sign(seed: [UInt8], message: [UInt8]) -> [UInt8]? {
    message.withUnsafeBytes { OpenSSL.ed25519Sign(seed: seed, message: $0) }
}

/// A hand-assembled token body, so each parsing rule can be broken on its own while the tag
/// stays a correct HMAC over whatever bytes were assembled.
struct RawBody {
    var version: UInt8 = 1
    var keyID: [UInt8] = Array("k1".utf8)
    var keyIDLength: UInt8? = nil
    var audience: [UInt8] = Array(TestKeys.audience.utf8)
    var audienceLength: UInt8? = nil
    var id: [UInt8] = TestKeys.id1.bytes
    var validFrom: Int64 = TestKeys.validFrom
    var validTo: Int64 = TestKeys.validTo
    var scopeKind: UInt8 = 1
    var scopeCount: Int? = nil
    var entries: [[UInt8]] = []
    var trailing: [UInt8] = []

    init() {}

    init(custom pairs: [String]) {
        scopeKind = 3
        entries = pairs.map { Array($0.utf8) }
    }

    var bytes: [UInt8] {
        var out: [UInt8] = [version, keyIDLength ?? UInt8(keyID.count)]
        out += keyID
        out.append(audienceLength ?? UInt8(audience.count))
        out += audience
        out += id
        for value in [validFrom, validTo] {
            let bits = UInt64(bitPattern: value)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
            }
        }
        out.append(scopeKind)
        if scopeKind == 3 || scopeCount != nil {
            let count = scopeCount ?? entries.count
            out += [UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
        }
        for entry in entries {
            out.append(UInt8(truncatingIfNeeded: entry.count))
            out += entry
        }
        return out + trailing
    }

    /// `sgl_` + base64url(bytes || HMAC(key, bytes)).
    func sealed(key: [UInt8]) throws -> String {
        let body = bytes
        let tag = try #require(hmacSHA256(key: key, message: body))
        return TokenClaims.prefix + Base64URL.encode(body + tag)
    }
}

/// A revocation source that answers from a fixed table and counts how often it was asked.
final class FixedRevocations: RevocationSource {
    let answers: [TokenID: RevocationCheck]
    let fallback: RevocationCheck
    private let calls = Atomic<Int>(0)

    init(_ answers: [TokenID: RevocationCheck] = [:], otherwise fallback: RevocationCheck = .clear) {
        self.answers = answers
        self.fallback = fallback
    }

    var callCount: Int { calls.load(ordering: .relaxed) }

    func check(_ id: TokenID, at now: Int64) -> RevocationCheck {
        calls.add(1, ordering: .relaxed)
        return answers[id] ?? fallback
    }
}

/// Collects a store's events as short strings (`loaded(3)`, `refused(rollback)`, …).
final class EventLog: Sendable {
    private let events = Mutex<[String]>([])

    var all: [String] { events.withLock { $0 } }

    var handler: @Sendable (RevocationStore.Event) -> Void {
        { [self] event in
            let text =
                switch event {
                case .loaded(let sequence, let count): "loaded(\(sequence),\(count))"
                case .unchanged(let sequence): "unchanged(\(sequence))"
                case .refused(let error): "refused(\(error.reason.rawValue))"
                case .stale(let sequence, let next): "stale(\(sequence),\(next))"
                }
            events.withLock { $0.append(text) }
        }
    }
}

/// Builds a signed revocation list with the test-only seed.
func buildList(
    _ entries: [(TokenID, RevocationStatus)], sequence: UInt64 = 1, issuedAt: Int64 = TestKeys.now,
    nextUpdate: Int64? = nil, keyID: String = "r1", seed: [UInt8] = TestKeys.revocationSeed
) throws -> [UInt8] {
    try RevocationListBuilder.build(
        entries: entries, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, keyID: keyID, seed: seed)
}

/// Replaces the signature of `unsigned + [64 bytes]` with a fresh one over the edited bytes,
/// so a test can break one structural rule while the signature stays valid.
func resign(_ list: [UInt8], seed: [UInt8] = TestKeys.revocationSeed) throws -> [UInt8] {
    let body = Array(list.dropLast(RevocationList.signatureSize))
    let signature = try #require(ed25519Sign(seed: seed, message: RevocationList.signingContext + body))
    return body + signature
}
