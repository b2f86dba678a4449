/// Base64url without padding (RFC 4648 section 5), strict and canonical.
///
/// The decoder rejects padding, characters outside the URL-safe alphabet, a length of 1 mod 4
/// and non-zero unused bits in the last character, so every byte string has exactly one
/// accepted encoding. Decoding writes into a caller-provided buffer and allocates nothing.
///
/// ```swift
/// let text = Base64URL.encode([0xfb, 0xff])        // "-_8"
/// let bytes = Base64URL.decode(text)               // [0xfb, 0xff]
/// ```
public enum Base64URL {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes `bytes` without padding.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(encodedLength(bytes.count))
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = b == nil ? nil : iterator.next()
            out.append(alphabet[Int(a >> 2)])
            out.append(alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
            if let b {
                out.append(alphabet[Int((b & 0x0f) << 2 | (c ?? 0) >> 6)])
                if let c { out.append(alphabet[Int(c & 0x3f)]) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The number of characters `encode` produces for `byteCount` bytes.
    public static func encodedLength(_ byteCount: Int) -> Int { (byteCount * 4 + 2) / 3 }

    /// The number of bytes `characterCount` characters decode to, or nil if no canonical
    /// unpadded encoding has that length (1 mod 4).
    public static func decodedLength(_ characterCount: Int) -> Int? {
        characterCount % 4 == 1 ? nil : characterCount * 3 / 4
    }

    /// Decodes `text`, or returns nil if it is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard let length = decodedLength(utf8.count) else { return nil }
        var out = [UInt8](repeating: 0, count: length)
        let ok = utf8.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { decode(input, into: $0) }
        }
        return ok ? out : nil
    }

    /// 256 entries: the 6-bit value of each URL-safe character, 0xff for anything else.
    /// A raw pointer, not an array, so the hot loop has no bounds checks or ARC.
    // nonisolated(unsafe): written once during lazy initialisation, read-only afterwards.
    private nonisolated(unsafe) static let table: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        t.initialize(repeating: 0xff, count: 256)
        for (v, c) in alphabet.enumerated() { t[Int(c)] = UInt8(v) }
        return UnsafePointer(t)  // lives for the process
    }()

    @inline(__always)
    private static func value(_ c: UInt8, _ table: UnsafePointer<UInt8>) -> UInt8 { table[Int(c)] }

    /// Decodes `input` into `output`, which must hold exactly `decodedLength(input.count)` bytes.
    /// Returns false for any non-canonical input. Allocates nothing.
    public static func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>)
        -> Bool
    {
        guard let length = decodedLength(input.count), output.count == length else { return false }
        let t = table
        var i = 0
        var o = 0
        let full = input.count / 4 * 4
        while i < full {
            let a = value(input[i], t), b = value(input[i + 1], t), c = value(input[i + 2], t)
            let d = value(input[i + 3], t)
            if (a | b | c | d) & 0xc0 != 0 { return false }
            output[o] = a << 2 | b >> 4
            output[o + 1] = b << 4 | c >> 2
            output[o + 2] = c << 6 | d
            i += 4
            o += 3
        }
        switch input.count - full {
        case 2:
            let a = value(input[i], t), b = value(input[i + 1], t)
            if (a | b) & 0xc0 != 0 || b & 0x0f != 0 { return false }
            output[o] = a << 2 | b >> 4
        case 3:
            let a = value(input[i], t), b = value(input[i + 1], t), c = value(input[i + 2], t)
            if (a | b | c) & 0xc0 != 0 || c & 0x03 != 0 { return false }
            output[o] = a << 2 | b >> 4
            output[o + 1] = b << 4 | c >> 2
        default:
            break
        }
        return true
    }
}
