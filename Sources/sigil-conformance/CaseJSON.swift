import Foundation

/// Any JSON value, decoded without a schema: the runner reads cases the way the Python
/// reference does (`case.get(...)` with type checks), so a field of the wrong type falls back
/// to the same default instead of failing the whole line.
package enum CaseJSON: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
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
