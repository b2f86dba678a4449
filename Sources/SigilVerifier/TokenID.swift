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

    init(reading pointer: UnsafeRawPointer) {
        let high = UInt64(bigEndian: pointer.loadUnaligned(as: UInt64.self))
        let low = UInt64(bigEndian: pointer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        rawValue = UInt128(high) << 64 | UInt128(low)
    }

    /// Parses the canonical 36-character form, or 32 hex digits; either case.
    public init?(uuidString: some StringProtocol) {
        var value: UInt128 = 0
        var digits = 0
        for (index, c) in uuidString.utf8.enumerated() {
            if c == UInt8(ascii: "-") {
                guard uuidString.utf8.count == 36, [8, 13, 18, 23].contains(index) else { return nil }
                continue
            }
            guard let v = TokenID.hexValue(c) else { return nil }
            value = value << 4 | UInt128(v)
            digits += 1
        }
        guard digits == 32, uuidString.utf8.count == 32 || uuidString.utf8.count == 36 else { return nil }
        rawValue = value
    }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: rawValue >> UInt128(8 * (15 - $0))) } }

    /// Lowercase, hyphenated: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Lowercase hex without hyphens (32 digits), the form GUID prefixes are matched against.
    public var hexString: String { description.filter { $0 != "-" } }

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
