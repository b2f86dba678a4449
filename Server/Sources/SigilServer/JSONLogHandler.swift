import Foundation
public import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error
/// (`sigil-server --log-format json`).
///
/// ```json
/// {"time":"2026-05-01T12:00:00.123Z","level":"info","message":"request","label":"sigil-server","caller":"token","duration_ms":1.4,"guid":"0c7e5a1f","method":"GET","request_id":"9f2c…","route":"/v1/tokens","status":200}
/// ```
///
/// `time` (UTC, milliseconds), `level`, `message` and `label` come first, then the metadata
/// sorted by field name: an integer, floating-point or Boolean value as a JSON number or Boolean,
/// anything else as a string, nested dictionaries and arrays as objects and arrays.
/// Hummingbird's `hb.request.id` is written as `request_id`; a metadata key that would shadow
/// one of the four fixed fields gets a `_` in front. Each line goes out in one `write(2)` under
/// a lock, so lines from different threads never interleave. What a message or value holds is
/// the caller's business: sigil-server never logs a token, cookie or secret.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    /// A handler for loggers labelled `label` (`LoggingSystem.bootstrap(JSONLogHandler.init)`).
    public init(label: String) {
        self.label = label
    }

    /// A handler with a metadata provider (`LoggingSystem.bootstrap`'s second form).
    public init(label: String, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.line(level: event.level, message: event.message.description, label: label, metadata: merged)
        Self.emit(line)
    }

    /// One log line, newline included.
    package static func line(
        level: Logger.Level, message: String, label: String, metadata: Logger.Metadata,
        time: Double = Date().timeIntervalSince1970
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: #"{"time":""#.utf8)
        appendTime(time, to: &out)
        out.append(contentsOf: #"","level":"#.utf8)
        appendString(level.rawValue, to: &out)
        out.append(contentsOf: #","message":"#.utf8)
        appendString(message, to: &out)
        out.append(contentsOf: #","label":"#.utf8)
        appendString(label, to: &out)
        for (name, value) in metadata.map({ (fieldName($0.key), $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            out.append(UInt8(ascii: ","))
            appendString(name, to: &out)
            out.append(UInt8(ascii: ":"))
            appendValue(value, to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    static let reserved: Set<String> = ["time", "level", "message", "label"]

    static func fieldName(_ key: String) -> String {
        if key == "hb.request.id" { return "request_id" }
        return reserved.contains(key) ? "_" + key : key
    }

    static func appendValue(_ value: Logger.Metadata.Value, to out: inout [UInt8]) {
        switch value {
        case .string(let text):
            appendString(text, to: &out)
        case .stringConvertible(let convertible):
            switch convertible {
            case let number as Int: out.append(contentsOf: String(number).utf8)
            case let number as Int64: out.append(contentsOf: String(number).utf8)
            case let number as UInt64: out.append(contentsOf: String(number).utf8)
            case let number as Double where number.isFinite: out.append(contentsOf: String(number).utf8)
            case let flag as Bool: out.append(contentsOf: (flag ? "true" : "false").utf8)
            default: appendString(convertible.description, to: &out)
            }
        case .dictionary(let dictionary):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in dictionary.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                appendValue(value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let array):
            out.append(UInt8(ascii: "["))
            for (i, value) in array.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendValue(value, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// A JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped, and
    /// U+2028/U+2029 too, so a line is also a valid JavaScript literal. Works on UTF-8 bytes;
    /// text with nothing to escape is copied whole.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let bytes = text.utf8
        if !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0x7F }) {
            out.append(contentsOf: bytes)
        } else {
            var previous: (UInt8, UInt8) = (0, 0)
            for byte in bytes {
                switch byte {
                case 0x22: out.append(contentsOf: #"\""#.utf8)
                case 0x5C: out.append(contentsOf: #"\\"#.utf8)
                case 0x0A: out.append(contentsOf: #"\n"#.utf8)
                case 0x0D: out.append(contentsOf: #"\r"#.utf8)
                case 0x09: out.append(contentsOf: #"\t"#.utf8)
                case 0..<0x20, 0x7F: appendEscape(UInt16(byte), to: &out)
                case 0xA8...0xA9 where previous == (0xE2, 0x80):
                    // U+2028 or U+2029: take back the two bytes already written.
                    out.removeLast(2)
                    appendEscape(0x2000 | UInt16(byte - 0xA8 + 0x28), to: &out)
                default: out.append(byte)
                }
                previous = (previous.1, byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscape(_ value: UInt16, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: #"\u"#.utf8)
        for shift in [12, 8, 4, 0] { out.append(hex[Int(value >> UInt16(shift)) & 0xF]) }
    }

    /// `2026-05-01T12:00:00.123Z`, without Foundation's formatters (a log line is written per request).
    static func appendTime(_ time: Double, to out: inout [UInt8]) {
        let milliseconds = Int((time * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var value = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                value %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        out.append(UInt8(ascii: "."))
        digits(milliseconds % 1000, 3)
        out.append(UInt8(ascii: "Z"))
    }

    private static let output = Mutex<Int32>(2)

    /// Writes `line` to standard error whole (retrying a short or interrupted write).
    static func emit(_ line: [UInt8]) {
        output.withLock { fd in
            line.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}
