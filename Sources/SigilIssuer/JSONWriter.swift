package import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// Appends JSON text to a byte buffer; keys are written in the order given.
package struct JSONWriter {
    package internal(set) var bytes: [UInt8] = []

    package init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    package mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    package mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            // Most labels need no escaping: copy them in one go.
            if !utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) {
                bytes.reserveCapacity(bytes.count + utf8.count + 2)
                bytes.append(0x22)
                bytes.append(contentsOf: utf8)
                bytes.append(0x22)
                return
            }
            bytes.append(0x22)
            for c in utf8 {
                switch c {
                case 0x22: bytes.append(0x5c); bytes.append(0x22)
                case 0x5c: bytes.append(0x5c); bytes.append(0x5c)
                case 0x0a: bytes.append(0x5c); bytes.append(0x6e)
                case 0x0d: bytes.append(0x5c); bytes.append(0x72)
                case 0x09: bytes.append(0x5c); bytes.append(0x74)
                // \b and \f as JSONEncoder writes them: the Codable wire types and this writer agree.
                case 0x08: bytes.append(0x5c); bytes.append(0x62)
                case 0x0c: bytes.append(0x5c); bytes.append(0x66)
                case 0..<0x20:
                    let hex: StaticString = "0123456789abcdef"
                    let digits = hex.utf8Start
                    bytes.append(contentsOf: [0x5c, 0x75, 0x30, 0x30, digits[Int(c >> 4)], digits[Int(c & 0xf)]])
                default: bytes.append(c)
                }
            }
            bytes.append(0x22)
        }
    }

    /// Decimal digits without creating a String (listing 100k tokens writes 500k integers).
    package mutating func int(_ v: Int64) {
        if v < 0 { bytes.append(0x2d) }
        uint(v.magnitude)
    }

    /// An unsigned integer's decimal digits (sequences go up to `UInt64.max`).
    package mutating func uint(_ value: UInt64) {
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
    package mutating func guid(_ id: TokenID) {
        bytes.append(0x22)
        var text = id.description
        text.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(0x22)
    }

    package mutating func optionalInt(_ v: Int64?) {
        if let v { int(v) } else { raw("null") }
    }

    package mutating func bool(_ v: Bool) { if v { raw("true") } else { raw("false") } }

    package mutating func stringArray(_ values: [String]) {
        bytes.append(0x5b)
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(0x2c) }
            string(v)
        }
        bytes.append(0x5d)
    }

    /// `"key":`, preceded by a comma unless `first`.
    package mutating func key(_ key: StaticString, first: Bool = false) {
        key.withUTF8Buffer { name in
            bytes.reserveCapacity(bytes.count + name.count + 4)
            if !first { bytes.append(0x2c) }
            bytes.append(0x22)
            bytes.append(contentsOf: name)
            bytes.append(0x22)
            bytes.append(0x3a)
        }
    }

    package mutating func byte(_ b: UInt8) { bytes.append(b) }

    /// Hands the bytes written so far to `sink` and starts over, keeping the buffer's capacity:
    /// large listings stream out in chunks instead of growing one huge array.
    package mutating func flush(_ sink: ([UInt8]) -> Void) {
        sink(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

extension JSONWriter {
    /// Appends text that is already JSON (audit details this library wrote).
    package mutating func rawJSON(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }
}
