public import Foundation

/// The JSON shapes that cross a boundary (the CLI's `--json`, sigil-server's answers, the
/// remote client's reading of them), written once as `Codable` types.
///
/// Every writer uses ``encoder``: keys sorted, `/` not escaped, the bytes sigil has always
/// written.
///
/// ```swift
/// let bytes = try Wire.encode(WireToken(record))
/// let row = try Wire.decoder.decode(WireToken.self, from: bytes)
/// ```
public enum Wire {
    /// Sorted keys and unescaped slashes: stable output for scripts, tests and diffs.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }

    /// `value`'s JSON bytes. Wire types hold only strings, integers, booleans and arrays or
    /// objects of them, so encoding cannot fail for them.
    public static func encode(_ value: some Encodable) -> [UInt8] {
        if let direct = value as? any JSONWritable {
            var w = JSONWriter(capacity: 512)
            direct.writeJSON(to: &w)
            return w.bytes
        }
        return (try? Array(encoder.encode(value))) ?? Array("null".utf8)
    }
}

/// Any JSON value: the free-form `details` of an audit event.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Int64.self) {
            self = .int(n)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let n): try c.encode(n)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// A JSON object key named at run time (a page's item key, an error's fields, a request
/// body read key by key).
public struct WireKey: CodingKey, Sendable {
    public let stringValue: String
    public var intValue: Int? { nil }
    public init(_ s: String) { stringValue = s }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// A wire type that also writes its JSON straight into bytes: exactly what its `Encodable`
/// conformance makes through ``Wire/encoder`` (WireModelTests holds every such pair to the
/// same bytes), without a value per field. A page of 100 tokens through `JSONEncoder` was half
/// of sigil-server's time on a listing.
package protocol JSONWritable {
    func writeJSON(to w: inout JSONWriter)
}

extension WireToken: JSONWritable {
    package func writeJSON(to w: inout JSONWriter) {
        w.token(record, writesParent: writesParent, token: token, creatorName: creatorName)
    }
}

extension WirePage: JSONWritable where Item: JSONWritable {
    package func writeJSON(to w: inout JSONWriter) {
        w.byte(0x7b)
        // Sorted keys, as the encoder writes them: `events` before `next_cursor`, `tokens` after.
        if Item.listKey < "next_cursor" {
            writeItems(to: &w)
            w.byte(0x2c)
            writeCursor(to: &w)
        } else {
            writeCursor(to: &w)
            w.byte(0x2c)
            writeItems(to: &w)
        }
        w.byte(0x7d)
    }

    private func writeItems(to w: inout JSONWriter) {
        w.string(Item.listKey)
        w.byte(0x3a)
        w.byte(0x5b)
        for (i, item) in items.enumerated() {
            if i > 0 { w.byte(0x2c) }
            item.writeJSON(to: &w)
        }
        w.byte(0x5d)
    }

    private func writeCursor(to w: inout JSONWriter) {
        w.raw("\"next_cursor\":")
        if let nextCursor { w.string(nextCursor) } else { w.raw("null") }
    }
}
