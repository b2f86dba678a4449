import Foundation
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// Room for a CRLF and surrounding spaces from copy and paste, on top of the longest token.
let tokenLineAllowance = 64

/// Reads a token from the argument or, for `-` or no argument, from stdin (first line).
/// Stdin keeps the token out of the process list.
///
/// At most ``TokenClaims/maxTextLength`` + ``tokenLineAllowance`` + 1 bytes are read from
/// stdin, whatever it holds: a longer first line is refused as `malformed` without being
/// buffered, so a huge or endless stdin costs no memory.
///
/// ```swift
/// let text = try readToken(token)   // "sgl_…", trimmed of a CRLF and spaces
/// ```
///
/// - Throws: ``CLIFailure`` (64) when stdin is empty; `VerificationError` `malformed` when
///   its first line is longer than a token can be.
func readToken(_ argument: String?) throws -> String {
    if let argument, argument != "-" { return argument }
    let limit = TokenClaims.maxTextLength + tokenLineAllowance
    guard let line = try readFirstLine(fd: STDIN_FILENO, limit: limit) else {
        throw CLIFailure(Exit.usage, "no token given: pass it as an argument or on stdin with -", reason: "usage")
    }
    // Tolerate a CRLF or surrounding spaces from copy and paste; the token itself has none.
    return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The bytes of `fd`'s first line without its `\n`, or nil if `fd` is at end of file.
///
/// Reads at most `limit + 1` bytes; a line longer than `limit` is refused as `malformed`.
private func readFirstLine(fd: Int32, limit: Int) throws -> [UInt8]? {
    var line = [UInt8](repeating: 0, count: limit + 1)
    var filled = 0
    while filled < line.count {
        let n = line.withUnsafeMutableBytes { buffer in
            buffer.baseAddress.map { read(fd, $0 + filled, buffer.count - filled) } ?? 0
        }
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            throw CLIFailure(
                Exit.noInput, "cannot read the token from stdin: \(String(cString: strerror(code)))", reason: "io")
        }
        if n == 0 {
            if filled == 0 { return nil }
            return Array(line[..<filled])
        }
        if let newline = line[filled..<(filled + n)].firstIndex(of: UInt8(ascii: "\n")) {
            return Array(line[..<newline])
        }
        filled += n
    }
    throw VerificationError(
        .malformed, "the first line on stdin is longer than a token can be (\(TokenClaims.maxTextLength) characters)")
}
