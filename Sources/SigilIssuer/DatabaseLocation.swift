/// Where a ledger lives, as `--database` or `SIGIL_DATABASE` names it: the one parser the CLI
/// and sigil-server share.
///
/// A value is a PostgreSQL URL when it starts with `postgres://` or `postgresql://` (any
/// case). Anything else is a SQLite file path, except what could be mistaken for one and hold
/// a password, which is refused (`invalid_input`): another URL scheme (`mysql://…`,
/// `postgre://…`), and a libpq keyword string (`host=db password=…`), recognised by an `=`
/// before the first `/` (or anywhere, when there is no `/`) or a word followed by `=` after
/// whitespace anywhere. Before this rule, such a value became a file in the working folder
/// named after the password. No message ever holds the value itself.
///
/// ```swift
/// let location = try DatabaseLocation("postgres://sigil:pw@db.internal/sigil")
/// print(location)   // postgres://sigil:***@db.internal/sigil
/// ```
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    /// A `postgres://` or `postgresql://` URL, password included: never print it, print
    /// ``description`` instead.
    case postgres(url: String)
    /// A path to a SQLite file.
    case sqlite(path: String)

    /// Parses a non-empty `--database` value.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` / `invalidLabel(field: "database", …)` for
    ///   another URL scheme, a libpq keyword string or a NUL byte. The message does not hold
    ///   the value.
    public init(_ text: String) throws(IssuerError) {
        if Self.isPostgresURL(text) {
            self = .postgres(url: text)
            return
        }
        func refuse(_ problem: String) -> IssuerError {
            let full = problem + " (the value is not shown: it may hold a password)"
            return IssuerError(
                .invalidInput, "database \(full)", detail: .invalidLabel(field: "database", problem: full))
        }
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw refuse("is empty: give a postgres:// URL or a SQLite file path") }
        if bytes.contains(0) { throw refuse("must not contain NUL (U+0000)") }
        if Self.hasScheme(bytes) {
            throw refuse(
                "is a URL, but only postgres:// and postgresql:// URLs are taken; give a SQLite database as a plain path"
            )
        }
        if Self.looksLikeKeywords(bytes) {
            throw refuse(
                "looks like a libpq keyword string (key=value pairs), which is not taken: write it as a URL, postgres://USER@HOST:PORT/DBNAME?sslmode=verify-full, with the password in ~/.pgpass or PGPASSWORD"
            )
        }
        self = .sqlite(path: text)
    }

    /// Parses an optional value: nil or empty means the home's own SQLite file (nil returned).
    public static func parse(_ text: String?) throws(IssuerError) -> DatabaseLocation? {
        guard let text, !text.isEmpty else { return nil }
        return try DatabaseLocation(text)
    }

    /// The location with every password replaced by `***`: safe for messages and logs.
    public var description: String {
        switch self {
        case .postgres(let url): Self.redact(url)
        case .sqlite(let path): path
        }
    }

    /// Whether `text` starts with `postgres://` or `postgresql://`, in any case.
    public static func isPostgresURL(_ text: String) -> Bool {
        let lower = text.prefix(16).lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// `scheme://` at the start: letters, then letters, digits, `+`, `-` or `.`.
    private static func hasScheme(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, isLetter(first) else { return false }
        var i = 1
        while i < bytes.count,
            isLetter(bytes[i]) || isDigit(bytes[i]) || bytes[i] == 0x2b || bytes[i] == 0x2d
                || bytes[i] == 0x2e
        {
            i += 1
        }
        return bytes[i...].starts(with: Array("://".utf8))
    }

    /// libpq reads a string with `=` in it as `keyword=value` pairs: an `=` before the first
    /// `/`, or `word=` (spaces allowed before the `=`) after whitespace anywhere.
    private static func looksLikeKeywords(_ bytes: [UInt8]) -> Bool {
        let beforeSlash = bytes.prefix { $0 != 0x2f }
        if beforeSlash.contains(0x3d) { return true }
        var i = 0
        while i < bytes.count {
            defer { i += 1 }
            guard isSpace(bytes[i]) else { continue }
            var j = i + 1
            while j < bytes.count, isSpace(bytes[j]) { j += 1 }
            let start = j
            while j < bytes.count, isLetter(bytes[j]) || bytes[j] == 0x5f { j += 1 }
            guard j > start else { continue }
            while j < bytes.count, isSpace(bytes[j]) { j += 1 }
            if j < bytes.count, bytes[j] == 0x3d { return true }
        }
        return false
    }

    private static func isLetter(_ c: UInt8) -> Bool { (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) }
    private static func isDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) }
    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0d).contains(c) }

    // MARK: Passwords

    /// The parts of a URL: where the password of its user information lies, and its query's
    /// `…password…=value` pairs.
    private struct Secrets {
        var userPassword: Range<String.Index>?
        var queryValues: [Range<String.Index>] = []
    }

    /// Finds every password in a URL, erring towards hiding too much.
    ///
    /// The user information ends at the **last** `@` (libpq stops at the first `@` or `/`, but
    /// a password holding `/`, `?` or `@` must not leak in part either). Every query parameter
    /// whose name, percent-decoded and in any case, contains `password` (`password`,
    /// `sslpassword`, `PASSWORD`, `%70assword`) counts.
    private static func secrets(of url: String) -> Secrets {
        var out = Secrets()
        guard let scheme = url.firstRange(of: "://") else { return out }
        let rest = url[scheme.upperBound...]
        var queryStart = rest.startIndex
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                out.userPassword = userInfo.index(after: colon)..<at
            }
            queryStart = rest.index(after: at)
        }
        guard let question = rest[queryStart...].firstIndex(of: "?") else { return out }
        var pairStart = rest.index(after: question)
        while pairStart <= rest.endIndex {
            let pairEnd = rest[pairStart...].firstIndex(of: "&") ?? rest.endIndex
            let pair = rest[pairStart..<pairEnd]
            if let equals = pair.firstIndex(of: "=") {
                let name = percentDecoded(String(pair[..<equals])).lowercased()
                if name.contains("password") { out.queryValues.append(pair.index(after: equals)..<pairEnd) }
            }
            guard pairEnd < rest.endIndex else { break }
            pairStart = rest.index(after: pairEnd)
        }
        return out
    }

    /// `url` with every password (user information and query parameters) replaced by `***`.
    ///
    /// ```swift
    /// DatabaseLocation.redact("postgres://u:pw@db/x?sslpassword=k")   // postgres://u:***@db/x?sslpassword=***
    /// ```
    public static func redact(_ url: String) -> String {
        let found = secrets(of: url)
        var ranges = found.queryValues.filter { !$0.isEmpty }
        if let user = found.userPassword { ranges.append(user) }
        var out = url
        // From the end, so earlier ranges stay valid.
        for range in ranges.sorted(by: { $0.lowerBound > $1.lowerBound }) {
            out.replaceSubrange(range, with: "***")
        }
        return out
    }

    /// Every password in `url`, as written and percent-decoded, for scrubbing messages that
    /// libpq builds from the decoded values.
    package static func passwords(in url: String) -> [String] {
        let found = secrets(of: url)
        var out: [String] = []
        for range in found.queryValues + (found.userPassword.map { [$0] } ?? []) where !range.isEmpty {
            let raw = String(url[range])
            out.append(raw)
            let decoded = percentDecoded(raw)
            if decoded != raw, !decoded.isEmpty { out.append(decoded) }
        }
        return out
    }

    /// `%XX` sequences decoded (invalid ones kept as they are; `+` is not a space in libpq).
    static func percentDecoded(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(0x25) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        while i < bytes.count {
            if bytes[i] == 0x25, i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
