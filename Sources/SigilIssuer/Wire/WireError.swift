/// An error as JSON: the API's error bodies and the CLI's `--json` errors.
///
/// Keys: `error` (the front end's code: `bad_request`, `insufficient_scope`, `usage`, …),
/// `message`, `code` (the ``IssuerError/Code`` the exit code and status derive from; API
/// bodies), `exit_code` (the CLI), and string fields that explain the case (`reason`,
/// `scope`, `audience`, `max_lifetime`, `allow_never_expires`).
///
/// ```swift
/// let body = WireError(error: "conflict", message: error.message, code: error.code.rawValue)
/// ```
public struct WireError: Codable, Sendable, Hashable {
    public var error: String
    public var message: String
    public var code: String?
    public var exitCode: Int32?
    /// Extra string fields, by key.
    public var fields: [String: String]

    public init(
        error: String, message: String, code: String? = nil, exitCode: Int32? = nil, fields: [String: String] = [:]
    ) {
        self.error = error
        self.message = message
        self.code = code
        self.exitCode = exitCode
        self.fields = fields
    }

    private static let named: Set<String> = ["error", "message", "code", "exit_code"]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WireKey.self)
        for (key, value) in fields where !Self.named.contains(key) { try c.encode(value, forKey: WireKey(key)) }
        try c.encode(error, forKey: WireKey("error"))
        try c.encode(message, forKey: WireKey("message"))
        try c.encodeIfPresent(code, forKey: WireKey("code"))
        try c.encodeIfPresent(exitCode, forKey: WireKey("exit_code"))
    }

    /// Reads a body leniently: a field of another type is skipped, not an error, since this
    /// is what a failing server said.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: WireKey.self)
        error = (try? c.decode(String.self, forKey: WireKey("error"))) ?? ""
        message = (try? c.decode(String.self, forKey: WireKey("message"))) ?? ""
        code = try? c.decode(String.self, forKey: WireKey("code"))
        exitCode = try? c.decode(Int32.self, forKey: WireKey("exit_code"))
        var fields: [String: String] = [:]
        for key in c.allKeys where !Self.named.contains(key.stringValue) {
            if let value = try? c.decode(String.self, forKey: key) { fields[key.stringValue] = value }
        }
        self.fields = fields
    }
}
