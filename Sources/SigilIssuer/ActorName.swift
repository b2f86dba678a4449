/// Who the audit log names: 1–261 ASCII characters of `A-Z a-z 0-9 . _ @ : + -` (an OS user,
/// `--actor`, a creator, `token:<GUID>` for an API caller, `member:<email>` for a member).
///
/// 261 is `member:` plus the longest ``MemberEmail`` (254 bytes), and `+` is there for
/// addresses such as `ada+ops@example.com`.
///
/// The small character set keeps escape sequences and line breaks out of terminals and logs.
/// The CLI, the API and the audit filter construct this type; nobody checks an actor otherwise.
///
/// ```swift
/// let name = try ActorName("alice@example")
/// let creator = try ActorName(text, field: "created_by")
/// ```
public struct ActorName: Sendable, Hashable, CustomStringConvertible {
    /// The longest actor name, in bytes (every character is ASCII).
    public static let maxBytes = 7 + MemberEmail.maxBytes
    /// The rule as people read it, after the field's name.
    public static let rule = "must be 1-261 characters of A-Z a-z 0-9 . _ @ : + -"
    /// The rule as a regular expression (JavaScript and HTML `pattern` syntax) for the console.
    public static let pattern = "[A-Za-z0-9._@:+-]{1,261}"

    public let text: String

    /// - Parameters:
    ///   - text: The name as given.
    ///   - field: The name the message gives the value (`actor`, `created_by`).
    /// - Throws: ``IssuerError`` `invalid_input` / `invalidLabel(field:problem:)`: "actor must
    ///   be 1-261 characters of A-Z a-z 0-9 . _ @ : + - (got N bytes)".
    public init(_ text: String, field: String = "actor") throws(IssuerError) {
        guard (1...Self.maxBytes).contains(text.utf8.count), text.utf8.allSatisfy(Self.isAllowed) else {
            // The message is the field and the problem, so front ends that name the field their
            // own way (`--actor`) still say the same words.
            let problem = "\(Self.rule) (got \(text.utf8.count) bytes)"
            throw IssuerError(
                .invalidInput, "\(field) \(problem)", detail: .invalidLabel(field: field, problem: problem))
        }
        self.text = text
    }

    /// Whether `text` would be accepted.
    public static func isValid(_ text: String) -> Bool { (try? ActorName(text)) != nil }

    public var description: String { text }

    private static func isAllowed(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c)
            || c == 0x2e || c == 0x5f || c == 0x40 || c == 0x3a || c == 0x2d || c == 0x2b
    }
}
