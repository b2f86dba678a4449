/// A tiny JSON writer that keeps member order and writes explicit nulls, so the generated
/// vector files read in schema order and are byte-for-byte reproducible.
indirect enum JSONText {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)
    case array([JSONText])
    case object([(String, JSONText)])

    static func optional(_ value: String?) -> JSONText { value.map(JSONText.string) ?? .null }
    static func optional(_ value: Int64?) -> JSONText { value.map(JSONText.int) ?? .null }

    /// The document, two-space indented, ending with a newline.
    var document: String { render(indent: 0) + "\n" }

    private var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    private func render(indent: Int) -> String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let n): return String(n)
        case .uint(let n): return String(n)
        case .string(let s): return Self.quote(s)
        case .array(let items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy(\.isScalar) {
                return "[" + items.map { $0.render(indent: 0) }.joined(separator: ", ") + "]"
            }
            let inner = String(repeating: " ", count: indent + 2)
            let lines = items.map { inner + $0.render(indent: indent + 2) }
            return "[\n" + lines.joined(separator: ",\n") + "\n" + String(repeating: " ", count: indent) + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            if members.allSatisfy({ $0.1.isScalar }) {
                let inline =
                    "{" + members.map { Self.quote($0.0) + ": " + $0.1.render(indent: 0) }.joined(separator: ", ") + "}"
                if inline.count <= 120 { return inline }
            }
            let inner = String(repeating: " ", count: indent + 2)
            let lines = members.map { inner + Self.quote($0.0) + ": " + $0.1.render(indent: indent + 2) }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + String(repeating: " ", count: indent) + "}"
        }
    }

    /// JSON string with every non-ASCII or control character escaped as `\uXXXX`.
    static func quote(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7f: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
