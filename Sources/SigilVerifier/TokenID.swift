/// A token's GUID: 16 bytes, an RFC 9562 UUID (version 4) generated from `RAND_bytes`.
///
/// Comparable in the byte order of its big-endian encoding, which is the order revocation
/// lists are sorted in.
///
/// ```swift
/// let id = TokenID(uuidString: "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90")
/// print(id?.description ?? "not a GUID")
/// ```
public struct TokenID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The 16 bytes read as one big-endian integer.
    public let rawValue: UInt128

    public init(rawValue: UInt128) { self.rawValue = rawValue }

    /// Reads 16 big-endian bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var value: UInt128 = 0
        for b in bytes { value = value << 8 | UInt128(b) }
        rawValue = value
    }

    /// Reads 16 big-endian bytes at `offset`; the caller checked they are in `buffer`.
    @inline(__always)
    package init(reading buffer: UnsafeRawBufferPointer, at offset: Int) {
        let high = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let low = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        rawValue = UInt128(high) << 64 | UInt128(low)
    }

    /// Parses the canonical 36-character form, or 32 hex digits; either case.
    public init?(uuidString: some StringProtocol) {
        var text = String(uuidString)
        guard let value = text.withUTF8({ TokenID.parseHex($0) }) else { return nil }
        rawValue = value
    }

    /// The concrete overload keeps ledger loading free of generic dispatch.
    public init?(uuidString text: String) {
        var text = text
        guard let value = text.withUTF8({ TokenID.parseHex($0) }) else { return nil }
        rawValue = value
    }

    static func parseHex(_ b: UnsafeBufferPointer<UInt8>) -> UInt128? {
        let hyphenated = b.count == 36
        guard hyphenated || b.count == 32 else { return nil }
        var value: UInt128 = 0
        for index in 0..<b.count {
            let c = b[index]
            if hyphenated, index == 8 || index == 13 || index == 18 || index == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let v = TokenID.hexValue(c) else { return nil }
            value = value << 4 | UInt128(v)
        }
        return value
    }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: rawValue >> UInt128(8 * (15 - $0))) } }

    /// Appends the 16 bytes, big-endian, without building an array of them: lists are written a
    /// million GUIDs at a time.
    package func append(to out: inout [UInt8]) {
        withUnsafeBytes(of: rawValue.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Lowercase, hyphenated: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for i in 0..<16 {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[o] = UInt8(ascii: "-")
                    o += 1
                }
                let b = UInt8(truncatingIfNeeded: rawValue >> UInt128(8 * (15 - i)))
                out[o] = TokenID.hexDigit(b >> 4)
                out[o + 1] = TokenID.hexDigit(b & 0x0f)
                o += 2
            }
            return o
        }
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? v + 48 : v + 87 }

    /// Lowercase hex without hyphens (32 digits), the form GUID prefixes are matched against.
    public var hexString: String {
        String(unsafeUninitializedCapacity: 32) { out in
            for i in 0..<16 {
                let b = UInt8(truncatingIfNeeded: rawValue >> UInt128(8 * (15 - i)))
                out[2 * i] = TokenID.hexDigit(b >> 4)
                out[2 * i + 1] = TokenID.hexDigit(b & 0x0f)
            }
            return 32
        }
    }

    public static func < (lhs: TokenID, rhs: TokenID) -> Bool { lhs.rawValue < rhs.rawValue }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - 55
        default: nil
        }
    }
}
