#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small POSIX file helpers, so the verifier needs no Foundation for I/O.
public enum FileBytes {
    /// Identity of a file's current contents, cheap to read with `stat`: a change in any
    /// field means the file was replaced or rewritten.
    public struct Stamp: Sendable, Hashable {
        public let device: UInt64
        public let inode: UInt64
        public let size: Int64
        public let modifiedSeconds: Int64
        public let modifiedNanoseconds: Int64
    }

    /// An I/O failure with the path and the system's reason.
    public struct IOError: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let errno: Int32
        public let message: String
        public var description: String { "\(path): \(message)" }
    }

    /// The stamp of `path`, or nil if it cannot be stat'ed. Calls `stat`.
    public static func stamp(path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        #if canImport(Darwin)
            let modified = st.st_mtimespec
        #else
            let modified = st.st_mtim
        #endif
        return Stamp(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
            modifiedSeconds: Int64(modified.tv_sec), modifiedNanoseconds: Int64(modified.tv_nsec))
    }

    /// Reads a whole regular file, refusing one larger than `maxBytes`.
    ///
    /// The file is opened with `O_NONBLOCK`, so a FIFO or a device cannot block the caller
    /// (opening a FIFO otherwise waits for a writer), and `fstat` on the open descriptor
    /// refuses anything but a regular file before a byte is read. At most `maxBytes + 1`
    /// bytes are read, so a file that grows past the limit while it is read is refused
    /// without being buffered whole.
    ///
    /// ```swift
    /// let bytes = try FileBytes.read(path: "/etc/billing/revocations.sgl", maxBytes: 64 << 20)
    /// ```
    ///
    /// - Throws: ``IOError`` (not found, permission, not a regular file, too large, read error).
    public static func read(path: String, maxBytes: Int = 1 << 30) throws(IOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw error(path) }
        defer { close(fd) }
        return try read(descriptor: fd, path: path, maxBytes: maxBytes)
    }

    /// Reads the regular file open as `fd` from its current offset, as ``read(path:maxBytes:)``
    /// does; `path` only names it in errors. The caller keeps ownership of `fd`.
    package static func read(descriptor fd: Int32, path: String, maxBytes: Int) throws(IOError) -> [UInt8] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw error(path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw IOError(
                path: path, errno: EINVAL,
                message: "not a regular file (\(kind(of: st.st_mode))); give the path of a regular file")
        }
        let maxBytes = min(max(maxBytes, 0), Int.max - 1)
        guard Int(st.st_size) <= maxBytes else { throw tooLarge(path, maxBytes) }
        // One byte past the limit is enough to know the file is too large.
        let limit = maxBytes + 1
        var out = [UInt8](repeating: 0, count: min(Int(st.st_size) + 1, limit))
        var filled = 0
        while true {
            if filled == out.count {
                // The file may have grown since fstat: read on, but never past the limit.
                guard out.count < limit else { throw tooLarge(path, maxBytes) }
                let grown = min(max(out.count * 2, 4096), limit)
                out.append(contentsOf: repeatElement(0, count: grown - out.count))
            }
            let n = out.withUnsafeMutableBytes { buffer in
                buffer.baseAddress.map { systemRead(fd, $0 + filled, buffer.count - filled) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw error(path)
            }
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return out
    }

    private static func tooLarge(_ path: String, _ maxBytes: Int) -> IOError {
        IOError(path: path, errno: EFBIG, message: "larger than the \(maxBytes)-byte limit")
    }

    /// What a non-regular file is, for error messages.
    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        default: "not a file"
        }
    }

    /// `read(2)`, named so it does not clash with ``read(path:maxBytes:)``.
    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            return Glibc.read(fd, buffer, count)
        #else
            return Darwin.read(fd, buffer, count)
        #endif
    }

    static func error(_ path: String) -> IOError {
        let code = errno
        return IOError(path: path, errno: code, message: String(cString: strerror(code)))
    }
}
