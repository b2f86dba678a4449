import SigilVerifier

/// Comparing secrets a server is configured with (an intake's shared token) in constant time.
public enum Secrets {
    /// Whether `a` equals `b`, in time that depends only on the lengths (`CRYPTO_memcmp`).
    ///
    /// ```swift
    /// let ok = Secrets.equal(Array(presented.utf8), Array(configured.utf8))
    /// ```
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in OpenSSL.constantTimeEqual(pa, pb) } }
    }
}

extension Secrets {
    /// Reads a small secret file (a token, an intake or webhook secret) with the keyring's
    /// rules: no symbolic link, one hard link, yours, mode 0600; trailing whitespace dropped.
    ///
    /// ```swift
    /// let secret = try Secrets.readFile("/etc/sigil/leak-report.token")
    /// ```
    ///
    /// - Throws: ``IssuerError`` `permissions` (what is wrong and the fix), `not_found`,
    ///   `bad_data` for a file over `maxBytes` or an empty one.
    public static func readFile(_ path: String, maxBytes: Int = 8_192) throws(IssuerError) -> [UInt8] {
        var bytes = try SecureFile.read(path, maxBytes: maxBytes)
        while let last = bytes.last, last == 0x0a || last == 0x0d || last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else { throw IssuerError(.badData, "\(path) is empty") }
        return bytes
    }
}

extension Secrets {
    /// HMAC-SHA256 of `message` under `key` (OpenSSL), for signing webhook bodies.
    ///
    /// ```swift
    /// let mac = try Secrets.hmacSHA256(key: secret, message: Array("1700000000.{}".utf8))
    /// ```
    ///
    /// - Throws: ``IssuerError`` `bad_data` if OpenSSL fails.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) throws(IssuerError) -> [UInt8] {
        var tag = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                tag.withUnsafeMutableBytes { OpenSSL.hmacSHA256(key: k, message: m, into: $0) }
            }
        }
        guard ok else { throw IssuerError(.badData, "OpenSSL HMAC failed") }
        return tag
    }

    /// Lower-case hex, as webhook signature headers carry a MAC.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
