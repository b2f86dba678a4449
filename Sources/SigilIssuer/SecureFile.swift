public import Foundation
import SigilIssuerCrypto
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// File operations with the durability and permission rules Sigil's home needs:
/// 0600 files, a 0700 folder, atomic replacement (temp, fsync, rename, fsync folder) and
/// refusal of files others can read, as ssh does.
public enum SecureFile {
    /// Creates `path` as a 0700 folder if missing, and refuses one other users can get into.
    ///
    /// A folder others can *write* is always refused: they could have planted or swapped
    /// files. A folder others can only read or enter (a fresh `git clone` makes `keys/` 0755)
    /// is tightened to 0700 if it holds no keyring yet; with a keyring in it, it is refused
    /// with the `chmod` fix, as ssh does.
    ///
    /// - Returns: True if the folder's mode was tightened (the caller says so).
    @discardableResult
    public static func ensureHome(_ path: String) throws(IssuerError) -> Bool {
        var st = stat()
        if lstat(path, &st) != 0 {
            guard errno == ENOENT else { throw ioError("cannot access home \(path)", errno, write: false) }
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw ioError("cannot create home folder \(path)", errno, write: true)
            }
            return false
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            // Follow a symlinked home (a common deployment layout) but judge the real folder.
            guard stat(path, &st) == 0 else { throw ioError("cannot access home \(path)", errno, write: false) }
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw IssuerError(.invalidInput, "home \(path) exists but is not a folder; pass --home to pick another")
        }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 != 0 else { return false }
        let fix = "Fix with: chmod 700 \(path)"
        if mode & 0o022 != 0 {
            throw IssuerError(
                .permissions,
                "home \(path) is writable by other users (mode \(String(mode, radix: 8))): they could replace its files. \(fix)"
            )
        }
        var keyring = stat()
        let hasKeyring = lstat(path + "/keyring.json", &keyring) == 0
        if hasKeyring || st.st_uid != geteuid() {
            throw IssuerError(
                .permissions,
                "home \(path) is readable by other users (mode \(String(mode, radix: 8))); Sigil keeps secrets there. \(fix)"
            )
        }
        guard chmod(path, 0o700) == 0 else { throw ioError("cannot chmod 700 \(path)", errno, write: true) }
        return true
    }

    /// Refuses a secret file that is a symlink or readable/writable by group or others.
    public static func checkPrivate(_ path: String) throws(IssuerError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw ioError("cannot read \(path)", errno, write: false)
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            throw IssuerError(
                .permissions,
                "\(path) is a symbolic link; Sigil refuses linked secret files. Replace it with the real file.")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw IssuerError(.badData, "\(path) is not a regular file")
        }
        let mode = st.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw IssuerError(
                .permissions,
                "permissions \(String(mode, radix: 8)) for \(path) are too open: other users could read secrets. Fix with: chmod 600 \(path)"
            )
        }
    }

    /// Reads a whole file.
    public static func read(_ path: String) throws(IssuerError) -> [UInt8] {
        do {
            return try FileBytes.read(path: path, maxBytes: 1 << 30)
        } catch {
            throw IssuerError(
                error.errno == ENOENT ? .notFound : error.errno == EACCES ? .permissions : .badData, error.description)
        }
    }

    /// Atomically replaces `path` with `bytes`: a 0600 temp file in the same folder, fsync,
    /// rename over the target, fsync the folder. Readers see the old file or the new one.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws(IssuerError) {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        let name = (path as NSString).lastPathComponent
        var suffix = OpenSSL.randomBytes(count: 6)
        let temp = "\(dir)/.\(name).\(suffix.map { String($0, radix: 16) }.joined()).tmp"
        suffix.removeAll()
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ioError("cannot create a file in \(dir)", errno, write: true) }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        do throws(IssuerError) {
            try writeAll(fd, bytes, path: temp)
        } catch {
            close(fd)
            throw error
        }
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let e = errno
            close(fd)
            throw ioError("cannot flush \(path)", e, write: true)
        }
        close(fd)
        guard rename(temp, path) == 0 else { throw ioError("cannot replace \(path)", errno, write: true) }
        ok = true
        syncDirectory(dir)
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(IssuerError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                raw.baseAddress.map { Glibc.write(fd, $0 + written, raw.count - written) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write \(path)", errno, write: true)
            }
            written += n
        }
    }

    /// fsyncs a folder so a rename or a new file in it survives a crash.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    static func ioError(_ what: String, _ code: Int32, write: Bool) -> IssuerError {
        let reason: IssuerError.Reason =
            switch code {
            case EACCES, EPERM, EROFS: write ? .cannotWrite : .permissions
            case ENOENT: write ? .cannotWrite : .notFound
            case ENOSPC, EDQUOT, EIO: .cannotWrite
            default: write ? .cannotWrite : .badData
            }
        let hint =
            switch code {
            case ENOSPC, EDQUOT: " The disk is full: free space and retry; nothing was changed."
            case EROFS: " The file system is read-only: use --home on a writable folder."
            case EACCES, EPERM: " Check the folder's owner and permissions."
            default: ""
            }
        return IssuerError(reason, "\(what): \(String(cString: strerror(code))).\(hint)")
    }
}
