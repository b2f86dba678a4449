public import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// A small, strict JSON reader and writer for the ledger journal and the CLI's large outputs.
///
/// Foundation's JSONDecoder costs ~15 µs per journal line on Linux, which made listing a
/// 100k-token ledger take seconds; this reader parses the journal's own shapes directly from
/// bytes. It accepts any key order and whitespace, skips unknown keys (forward compatibility),
/// and rejects anything that is not JSON (RFC 8259): it never guesses.
public struct JSONReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private(set) var index: Int

    public struct Failure: Error {}

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        index = 0
    }

    public var isAtEnd: Bool { index >= bytes.count }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0a, 0x0d: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw Failure() }
        index += 1
    }

    /// Consumes `byte` if it is next (after whitespace).
    mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if index < bytes.count, bytes[index] == byte {
            index += 1
            return true
        }
        return false
    }

    public mutating func finish() throws(Failure) {
        skipWhitespace()
        guard isAtEnd else { throw Failure() }
    }

    /// Iterates an object's keys; `body` must consume each value.
    public mutating func object(_ body: (inout JSONReader, String) throws(Failure) -> Void) throws(Failure) {
        try expect(0x7b)
        if take(0x7d) { return }
        repeat {
            let key = try string()
            try expect(0x3a)
            try body(&self, key)
        } while take(0x2c)
        try expect(0x7d)
    }

    public mutating func array(_ body: (inout JSONReader) throws(Failure) -> Void) throws(Failure) {
        try expect(0x5b)
        if take(0x5d) { return }
        repeat { try body(&self) } while take(0x2c)
        try expect(0x5d)
    }

    /// True if the next value is `null` (and consumes it).
    public mutating func null() -> Bool {
        skipWhitespace()
        if index + 4 <= bytes.count, bytes[index] == 0x6e, bytes[index + 1] == 0x75, bytes[index + 2] == 0x6c,
            bytes[index + 3] == 0x6c
        {
            index += 4
            return true
        }
        return false
    }

    public mutating func peekIsString() -> Bool {
        skipWhitespace()
        return index < bytes.count && bytes[index] == 0x22
    }

    /// A non-negative integer up to `UInt64.max`.
    public mutating func uint() throws(Failure) -> UInt64 {
        skipWhitespace()
        guard index < bytes.count, bytes[index] != 0x2d else { throw Failure() }
        return try magnitude()
    }

    /// The digits of an integer, without sign, refusing leading zeros, fractions and exponents.
    private mutating func magnitude() throws(Failure) -> UInt64 {
        let start = index
        var magnitude: UInt64 = 0
        while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(bytes[index] - 0x30))
            guard !o1, !o2 else { throw Failure() }
            magnitude = a
            index += 1
        }
        let count = index - start
        guard count > 0, count == 1 || bytes[start] != 0x30 else { throw Failure() }
        if index < bytes.count, bytes[index] == 0x2e || bytes[index] == 0x65 || bytes[index] == 0x45 {
            throw Failure()  // journal numbers are integers
        }
        return magnitude
    }

    public mutating func int() throws(Failure) -> Int64 {
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == 0x2d {
            negative = true
            index += 1
        }
        // The magnitude is accumulated unsigned so Int64.min (whose magnitude Int64 cannot hold) reads back.
        let magnitude = try magnitude()
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw Failure() }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw Failure() }
        return Int64(magnitude)
    }

    public mutating func bool() throws(Failure) -> Bool {
        skipWhitespace()
        if index + 4 <= bytes.count, bytes[index] == 0x74, bytes[index + 1] == 0x72, bytes[index + 2] == 0x75,
            bytes[index + 3] == 0x65
        {
            index += 4
            return true
        }
        if index + 5 <= bytes.count, bytes[index] == 0x66, bytes[index + 1] == 0x61, bytes[index + 2] == 0x6c,
            bytes[index + 3] == 0x73, bytes[index + 4] == 0x65
        {
            index += 5
            return false
        }
        throw Failure()
    }

    public mutating func string() throws(Failure) -> String {
        try expect(0x22)
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let c = bytes[index]
            if c == 0x22 {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return try Self.validUTF8(raw)
            }
            if c == 0x5c { break }
            guard c >= 0x20 else { throw Failure() }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while index < bytes.count {
            let c = bytes[index]
            index += 1
            switch c {
            case 0x22:
                let result = out.withUnsafeBufferPointer { buffer in
                    Result { () throws(Failure) in try Self.validUTF8(buffer) }
                }
                return try result.get()
            case 0x5c:
                guard index < bytes.count else { throw Failure() }
                let e = bytes[index]
                index += 1
                switch e {
                case 0x22, 0x5c, 0x2f: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0c)
                case 0x6e: out.append(0x0a)
                case 0x72: out.append(0x0d)
                case 0x74: out.append(0x09)
                case 0x75:
                    var scalar = try hex4()
                    if (0xd800...0xdbff).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == 0x5c, bytes[index + 1] == 0x75 else {
                            throw Failure()
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xdc00...0xdfff).contains(low) else { throw Failure() }
                        scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                    } else if (0xdc00...0xdfff).contains(scalar) {
                        throw Failure()
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw Failure() }
                    guard let encoded = UTF8.encode(u) else { throw Failure() }
                    out.append(contentsOf: encoded)
                default: throw Failure()
                }
            default:
                guard c >= 0x20 else { throw Failure() }
                out.append(c)
            }
        }
        throw Failure()
    }

    /// `String(validating:)` is generic and unspecialised across modules (slow for 100k
    /// records); decoding repairs invalid UTF-8, so compare the result with the input instead.
    static func validUTF8(_ raw: UnsafeBufferPointer<UInt8>) throws(Failure) -> String {
        var s = String(decoding: raw, as: UTF8.self)
        let same = s.withUTF8 { decoded in
            guard decoded.count == raw.count else { return false }
            guard let a = decoded.baseAddress, let b = raw.baseAddress else { return true }  // both empty
            return memcmp(a, b, raw.count) == 0
        }
        guard same else { throw Failure() }
        return s
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Failure() }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x57)
            case 0x41...0x46: d = UInt32(c - 0x37)
            default: throw Failure()
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    public mutating func stringArray() throws(Failure) -> [String] {
        var out: [String] = []
        try array { r throws(Failure) in out.append(try r.string()) }
        return out
    }

    /// Skips any JSON value (for unknown keys).
    public mutating func skipValue(depth: Int = 0) throws(Failure) {
        guard depth < 32 else { throw Failure() }
        skipWhitespace()
        guard index < bytes.count else { throw Failure() }
        switch bytes[index] {
        case 0x22: _ = try string()
        case 0x7b: try object { r, _ throws(Failure) in try r.skipValue(depth: depth + 1) }
        case 0x5b: try array { r throws(Failure) in try r.skipValue(depth: depth + 1) }
        case 0x74, 0x66: _ = try bool()
        case 0x6e: guard null() else { throw Failure() }
        default: _ = try int()
        }
    }
}

/// Appends JSON text to a byte buffer; keys are written in the order given.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ s: String) {
        bytes.append(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: bytes.append(0x5c); bytes.append(0x22)
            case 0x5c: bytes.append(0x5c); bytes.append(0x5c)
            case 0x0a: bytes.append(0x5c); bytes.append(0x6e)
            case 0x0d: bytes.append(0x5c); bytes.append(0x72)
            case 0x09: bytes.append(0x5c); bytes.append(0x74)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5c, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xf)]])
            default: bytes.append(c)
            }
        }
        bytes.append(0x22)
    }

    /// Decimal digits without creating a String (listing 100k tokens writes 500k integers).
    public mutating func int(_ v: Int64) {
        if v < 0 { bytes.append(0x2d) }
        uint(v.magnitude)
    }

    /// An unsigned integer's decimal digits (sequences go up to `UInt64.max`).
    public mutating func uint(_ value: UInt64) {
        var magnitude = value
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch: enough for 20 digits
        let count = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var n = 0
            repeat {
                scratch[23 - n] = UInt8(48 + magnitude % 10)
                magnitude /= 10
                n += 1
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[(24 - n)...]))
            return n
        }
        _ = count
    }

    /// A GUID as a JSON string, written in place.
    public mutating func guid(_ id: TokenID) {
        bytes.append(0x22)
        var text = id.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(0x22)
    }

    public mutating func optionalInt(_ v: Int64?) {
        if let v { int(v) } else { raw("null") }
    }

    public mutating func bool(_ v: Bool) { if v { raw("true") } else { raw("false") } }

    public mutating func stringArray(_ values: [String]) {
        bytes.append(0x5b)
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(0x2c) }
            string(v)
        }
        bytes.append(0x5d)
    }

    /// `"key":`, preceded by a comma unless `first`.
    public mutating func key(_ key: StaticString, first: Bool = false) {
        if !first { bytes.append(0x2c) }
        bytes.append(0x22)
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(0x22)
        bytes.append(0x3a)
    }

    public mutating func byte(_ b: UInt8) { bytes.append(b) }
}
