import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh temporary folder (mode 0700, from `mkdtemp`), removed with everything in it when
/// the value goes away: the one temporary folder every suite's home lives in.
///
/// ```swift
/// let folder = try TempFolder("issuer-tests")
/// let home = folder.path("home")   // not created: tests open it in any mode
/// ```
package final class TempFolder: Sendable {
    /// The folder's absolute path, symbolic links resolved.
    package let root: String

    /// Makes `<temporary directory>/sigil-<label>-XXXXXX`.
    ///
    /// - Throws: `POSIXError` when `mkdtemp` fails.
    package init(_ label: String = "test") throws {
        var template = Array((NSTemporaryDirectory() + "/sigil-\(label)-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        root = URL(fileURLWithPath: path).standardizedFileURL.path
    }

    deinit {
        // A test may leave a read-only mode behind; make the top removable first.
        _ = chmod(root, 0o700)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// `name` inside the folder.
    package func path(_ name: String) -> String { root + "/" + name }
}

/// A file's bytes, or nil when it cannot be read (missing, a folder, no permission).
package func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

/// Writes `bytes` to `path` (created, or truncated in place: a link is followed, as `open`
/// does) and sets its permission bits to `mode` whatever the umask.
///
/// - Throws: `POSIXError` from `open` or `write`.
package func writeFile(_ bytes: [UInt8], to path: String, mode: Int = 0o600) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    var written = 0
    while written < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress.map { $0 + written }, bytes.count - written) }
        guard n > 0 else {
            if n < 0, errno == EINTR { continue }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        written += n
    }
    guard fchmod(fd, mode_t(mode)) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}
