import Foundation

/// Any JSON value, decoded without a schema: the runner reads cases the way the Python
/// reference does (`case.get(...)` with type checks), so a field of the wrong type falls back
/// to the same default instead of failing the whole line.
package enum CaseJSON: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer outside Int64, kept as its digits (Python reads it as an int; no service can).
    case bigInteger(String)
    case double(Double)
    case string(String)
    case array([CaseJSON])
    case object([String: CaseJSON])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([CaseJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: CaseJSON].self))
        }
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .bigInteger(let digits): try container.encode(Double(digits) ?? 0)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    package subscript(key: String) -> CaseJSON? {
        guard case .object(let fields) = self else { return nil }
        return fields[key]
    }

    package var string: String? {
        guard case .string(let value) = self else { return nil }
        return value
    }

    package var int: Int64? {
        guard case .int(let value) = self else { return nil }
        return value
    }

    /// Parses one JSON text as Python's `json.loads` reads it: a number is an integer only if
    /// written without a fraction or exponent (`100.0` is a float), control characters in
    /// strings are refused, and anything after the value but whitespace is an error.
    ///
    /// `JSONDecoder` cannot tell `100` from `100.0`, and the reference runner treats the two
    /// differently (an int leeway is used, a float one falls back to 60).
    package static func parse(_ text: String) -> CaseJSON? {
        var parser = Parser(bytes: Array(text.utf8))
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.at == parser.bytes.count ? value : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[at]) { at += 1 }
        }

        mutating func literal(_ word: String, _ value: CaseJSON) -> CaseJSON? {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else { return nil }
            at += w.count
            return value
        }

        mutating func value(depth: Int) -> CaseJSON? {
            // Cases nest three levels; a hostile line must not exhaust the stack.
            guard depth < 64 else { return nil }
            skipSpace()
            guard at < bytes.count else { return nil }
            switch bytes[at] {
            case UInt8(ascii: "n"): return literal("null", .null)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "\""): return string().map(CaseJSON.string)
            case UInt8(ascii: "["):
                at += 1
                var items: [CaseJSON] = []
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                    at += 1
                    return .array(items)
                }
                while true {
                    guard let item = value(depth: depth + 1) else { return nil }
                    items.append(item)
                    skipSpace()
                    guard at < bytes.count else { return nil }
                    at += 1
                    if bytes[at - 1] == UInt8(ascii: "]") { return .array(items) }
                    guard bytes[at - 1] == UInt8(ascii: ",") else { return nil }
                }
            case UInt8(ascii: "{"):
                at += 1
                var fields: [String: CaseJSON] = [:]
                skipSpace()
                if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                    at += 1
                    return .object(fields)
                }
                while true {
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: "\""), let key = string() else { return nil }
                    skipSpace()
                    guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { return nil }
                    at += 1
                    guard let item = value(depth: depth + 1) else { return nil }
                    fields[key] = item  // a repeated key: the last wins, as in Python
                    skipSpace()
                    guard at < bytes.count else { return nil }
                    at += 1
                    if bytes[at - 1] == UInt8(ascii: "}") { return .object(fields) }
                    guard bytes[at - 1] == UInt8(ascii: ",") else { return nil }
                }
            default: return number()
            }
        }

        mutating func number() -> CaseJSON? {
            let start = at
            func digits() -> Int {
                let from = at
                while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
                return at - from
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
            let intStart = at
            let n = digits()
            guard n > 0, !(n > 1 && bytes[intStart] == UInt8(ascii: "0")) else { return nil }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                guard digits() > 0 else { return nil }
                integral = false
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard digits() > 0 else { return nil }
                integral = false
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            if integral { return Int64(text).map(CaseJSON.int) ?? .bigInteger(text) }
            return Double(text).map(CaseJSON.double)
        }

        mutating func hex4() -> UInt32? {
            guard at + 4 <= bytes.count,
                let v = UInt32(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16)
            else { return nil }
            at += 4
            return v
        }

        mutating func string() -> String? {
            at += 1  // the opening quote
            var out: [UInt8] = []
            while at < bytes.count {
                let c = bytes[at]
                at += 1
                switch c {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case 0..<0x20: return nil
                case UInt8(ascii: "\\"):
                    guard at < bytes.count else { return nil }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = hex4() else { return nil }
                        if (0xD800..<0xDC00).contains(scalar), at + 6 <= bytes.count, bytes[at] == UInt8(ascii: "\\"),
                            bytes[at + 1] == UInt8(ascii: "u")
                        {
                            let save = at
                            at += 2
                            if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                at = save
                            }
                        }
                        // A lone surrogate (Python keeps it) has no Swift form: U+FFFD stands in.
                        out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                    default: return nil
                    }
                default: out.append(c)
                }
            }
            return nil
        }
    }

    /// One line of compact JSON. Object keys are written in the order given, so cases read
    /// in the field order of the protocol; `JSONEncoder` would sort or shuffle them.
    package static func line(_ fields: KeyValuePairs<String, CaseJSON>) -> String {
        var out = "{"
        for (i, (key, value)) in fields.enumerated() {
            if i > 0 { out += "," }
            out += quoted(key) + ":" + value.compact
        }
        return out + "}"
    }

    /// Compact JSON text; object keys sorted, so equal values give equal text.
    package var compact: String {
        switch self {
        case .null: "null"
        case .bool(let value): value ? "true" : "false"
        case .int(let value): String(value)
        case .bigInteger(let digits): digits
        case .double(let value): String(value)
        case .string(let value): Self.quoted(value)
        case .array(let values): "[" + values.map(\.compact).joined(separator: ",") + "]"
        case .object(let fields):
            "{"
                + fields.keys.sorted().map { Self.quoted($0) + ":" + (fields[$0]?.compact ?? "null") }
                .joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal. Non-ASCII is escaped as `\uXXXX` so the text stays ASCII,
    /// as Python's `json.dumps` writes it.
    package static func quoted(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
