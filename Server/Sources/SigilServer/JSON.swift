import Foundation
public import Hummingbird
import NIOCore
public import SigilIssuer
public import SigilVerifier

/// Reading request bodies and writing JSON answers, the same way on every route.
public enum APIBody {
    /// Request bodies above this many bytes are refused with 413 `too_large`.
    public static let maxBytes = 64 * 1024

    /// Whether the request carries a body at all (a length above zero, or chunked).
    static func isPresent(_ request: Request) -> Bool {
        if let length = request.headers[.contentLength], let n = Int(length) { return n > 0 }
        return request.headers[.transferEncoding] != nil
    }

    /// Whether `Content-Type`'s media type, before any parameter and without the blanks around
    /// it, is `application/json` in any ASCII case (RFC 9110 §8.3.1): `charset` and the like allowed.
    ///
    /// Byte by byte: it runs for every request with a body, and Foundation's trimming and
    /// lower-casing cost more than the rest of reading a create's body.
    static func isJSON(_ request: Request) -> Bool {
        guard let type = request.headers[.contentType] else { return false }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var essence = type.utf8.prefix { $0 != UInt8(ascii: ";") }
        while let first = essence.first, isBlank(first) { essence = essence.dropFirst() }
        while let last = essence.last, isBlank(last) { essence = essence.dropLast() }
        let json = "application/json".utf8
        guard essence.count == json.count else { return false }
        return zip(essence, json).allSatisfy { byte, expected in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 == expected : byte == expected
        }
    }

    /// The body's bytes, at most ``maxBytes``; nil when there is no body.
    ///
    /// - Throws: ``APIError`` 415 when a body is not JSON, 413 when it is too large.
    static func bytes(_ request: Request, required: Bool) async throws -> ByteBuffer? {
        if let length = request.headers[.contentLength], let n = Int(length), n > maxBytes { throw tooLarge }
        let json = isJSON(request)
        if !isPresent(request) && !json {
            if required { throw APIError.badRequest("this route needs a JSON body (Content-Type: application/json)") }
            return nil
        }
        guard json else {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json")
        }
        do {
            let buffer = try await request.body.collect(upTo: maxBytes)
            if buffer.readableBytes == 0 {
                if required { throw APIError.badRequest("this route needs a JSON body") }
                return nil
            }
            return buffer
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    static let tooLarge = APIError(
        .contentTooLarge, "too_large", "the request body is larger than \(maxBytes / 1024) KiB")

    /// Decodes the JSON body as `T`; malformed JSON or a wrong type is 400 `bad_request`.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, required: Bool = true) async throws -> T? {
        guard let buffer = try await bytes(request, required: required) else { return nil }
        if let key = duplicateKey(in: Array(buffer.readableBytesView)) {
            // JSONDecoder keeps the last of two equal keys; a proxy or a log reader may keep the first.
            throw APIError.badRequest(
                "the body gives the field \(key.utf8.count <= 40 ? key : "(\(key.utf8.count) bytes)") twice")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as APIError {
            throw error
        } catch let error as DecodingError {
            throw APIError.badRequest(describe(error))
        } catch {
            throw APIError.badRequest("the body is not valid JSON")
        }
    }

    /// The first key that occurs twice in one JSON object, at any depth; nil if none.
    ///
    /// Reads the bytes once without recursion, so depth costs no stack. It only tracks strings
    /// and nesting: whether the rest is valid JSON is left to the decoder that runs next.
    static func duplicateKey(in bytes: [UInt8]) -> String? {
        struct Frame {
            let isObject: Bool
            var keys: Set<String> = []
            var expectsKey: Bool
        }
        var stack: [Frame] = []
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"): stack.append(Frame(isObject: true, expectsKey: true))
            case UInt8(ascii: "["): stack.append(Frame(isObject: false, expectsKey: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = stack.popLast()
            case UInt8(ascii: ","):
                if let last = stack.indices.last, stack[last].isObject { stack[last].expectsKey = true }
            case UInt8(ascii: "\""):
                // Only keys become Strings: a value is skipped (a quote preceded by an odd
                // number of backslashes does not end it).
                if let last = stack.indices.last, stack[last].isObject, stack[last].expectsKey {
                    let (text, end) = string(in: bytes, from: i)
                    guard stack[last].keys.insert(text).inserted else { return text }
                    stack[last].expectsKey = false
                    i = end
                } else {
                    i = endOfString(in: bytes, from: i)
                }
                continue
            default: break
            }
            i += 1
        }
        return nil
    }

    /// The index after the closing quote of the JSON string starting at the quote at `start`.
    private static func endOfString(in bytes: [UInt8], from start: Int) -> Int {
        var i = start + 1
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
        }
        return i + 1
    }

    /// The JSON string starting at the quote at `start`, unescaped, and the index after its
    /// closing quote.
    private static func string(in bytes: [UInt8], from start: Int) -> (String, Int) {
        var out: [UInt8] = []
        var i = start + 1
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= bytes.count, let text = String(bytes: bytes[at..<at + 4], encoding: .ascii) else {
                return nil
            }
            return UInt32(text, radix: 16)
        }
        func append(_ scalar: Unicode.Scalar) { out.append(contentsOf: Array(String(Character(scalar)).utf8)) }
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            guard bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count else {
                out.append(bytes[i])
                i += 1
                continue
            }
            let escape = bytes[i + 1]
            i += 2
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var unit = hex4(i) else { continue }
                i += 4
                if (0xd800..<0xdc00).contains(unit), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                    bytes[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2), (0xdc00..<0xe000).contains(low)
                {
                    unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    i += 6
                }
                append(Unicode.Scalar(unit) ?? "\u{FFFD}")
            default: out.append(escape)  // \" \\ \/
            }
        }
        return (String(decoding: out, as: UTF8.self), i + 1)
    }

    /// A decoding error in words, naming the field but never echoing a value.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the body" : text
        }
        switch error {
        case .typeMismatch(_, let c): return "\(path(c.codingPath)) has the wrong type"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)) must not be null"
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .dataCorrupted(let c):
            return c.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(c.codingPath)) is invalid"
        @unknown default: return "the body is not valid JSON"
        }
    }
}

/// JSON answers. Every API answer carries `Cache-Control: no-store`.
public enum JSONResponse {
    /// Serializes a JSON value made of dictionaries, arrays, strings, numbers, booleans and `NSNull`.
    static func bytes(_ object: Any) -> [UInt8] {
        // Every value handed in is built from JSON types below, so this cannot fail.
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return Array(data)
    }

    /// A JSON response with `status` for a loose object (health, catalog, session).
    public static func make(_ object: Any, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:])
        -> Response
    {
        response(bytes(object), status: status, headers: extra)
    }

    /// A JSON response with `status` for one of the wire types (``WireToken``, ``WirePage``,
    /// ``WireError``, ``WireBulkResult``), encoded as the CLI's `--json` encodes it.
    public static func make(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]
    ) -> Response {
        response(Wire.encode(value), status: status, headers: extra)
    }

    static func response(_ json: [UInt8], status: HTTPResponse.Status, headers extra: HTTPFields) -> Response {
        var headers = extra
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        var body = json
        body.append(0x0a)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// A route may return a wire value itself: it answers 200 with the API's JSON and headers.
extension WireToken: @retroactive ResponseGenerator, @retroactive ResponseEncodable {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(self)
    }
}

extension WirePage: @retroactive ResponseGenerator, @retroactive ResponseEncodable {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(self)
    }
}

extension WireBulkResult: @retroactive ResponseGenerator, @retroactive ResponseEncodable {
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(self)
    }
}

/// Loose JSON objects for answers outside the wire model (the session's `scope`).
public enum Render {
    /// A scope as ``WireScope`` writes it: `"all"`, `"read-only"` or an array.
    public static func scope(_ scope: Scope) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(Wire.encode(WireScope(scope))), options: .fragmentsAllowed))
            ?? NSNull()
    }
}
