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

    /// Reads a whole file, refusing one larger than `maxBytes`.
    ///
    /// - Throws: ``IOError`` (not found, permission, too large, read error).
    public static func read(path: String, maxBytes: Int = 1 << 30) throws(IOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw error(path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw IOError(path: path, errno: EINVAL, message: "not a regular file")
        }
        guard Int(st.st_size) <= maxBytes else {
            throw IOError(path: path, errno: EFBIG, message: "larger than the \(maxBytes)-byte limit")
        }
        var out = [UInt8](repeating: 0, count: Int(st.st_size))
        var filled = 0
        while true {
            if filled == out.count {
                // The file may have grown since fstat; read past the end to detect that.
                var probe: UInt8 = 0
                let n = systemRead(fd, &probe, 1)
                if n == 0 { break }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error(path)
                }
                guard out.count < maxBytes else {
                    throw IOError(path: path, errno: EFBIG, message: "larger than the \(maxBytes)-byte limit")
                }
                out.append(probe)
                filled += 1
                out.reserveCapacity(out.count * 2)
                out.append(contentsOf: repeatElement(0, count: min(out.count, maxBytes - out.count)))
                continue
            }
            let n = out.withUnsafeMutableBytes { buffer in
                buffer.baseAddress.map { systemRead(fd, $0 + filled, buffer.count - filled) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw error(path)
            }
            if n == 0 {
                out.removeSubrange(filled...)
                break
            }
            filled += n
        }
        return out
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
