package import Foundation
import SigilIssuerCrypto
import SigilVerifier

#if canImport(Glibc)
    import Glibc
#endif

/// File operations with the durability and permission rules Sigil's home needs:
/// 0600 files, a 0700 folder, atomic replacement (temp, fsync, rename, fsync folder) and
/// refusal of files others can read, as ssh does.
package enum SecureFile {
    /// Creates `path` as a 0700 folder if missing, and refuses one other users can get into.
    ///
    /// A folder owned by another user is always refused: its owner could replace the keyring.
    /// A folder others can *write* is always refused: they could have planted or swapped
    /// files. A folder others can only read or enter (a fresh `git clone` makes `keys/` 0755)
    /// is tightened to 0700 if it holds no keyring yet; with a keyring in it, it is refused
    /// with the `chmod` fix, as ssh does. If another process creates the folder between the
    /// check and `mkdir`, the folder it made is checked the same way.
    ///
    /// ```swift
    /// if try SecureFile.ensureHome("keys") { print("tightened keys to 0700") }
    /// ```
    ///
    /// - Returns: True if the folder's mode was tightened (the caller says so).
    /// - Throws: ``IssuerError`` `permissions` (77) with the `chown`/`chmod` fix.
    @discardableResult
    package static func ensureHome(_ path: String) throws(IssuerError) -> Bool {
        switch try judgeHome(path, mayTighten: true) {
        case .checked: return false
        case .tightened: return true
        case .missing: break
        }
        guard mkdir(path, 0o700) != 0 else { return false }
        guard errno == EEXIST else { throw ioError("cannot create home folder \(path)", errno, write: true) }
        // Someone made it after our lstat: judge what is there now, exactly as above.
        switch try judgeHome(path, mayTighten: true) {
        case .checked: return false
        case .tightened: return true
        case .missing: throw ioError("cannot create home folder \(path)", EEXIST, write: true)
        }
    }

    /// Checks an existing home as ``ensureHome(_:)`` does, for commands that only read: it
    /// never creates the folder and never changes its mode.
    ///
    /// A home others can read but that holds no keyring yet passes (there is nothing secret
    /// to read in it); every other refusal of ``ensureHome(_:)`` applies.
    ///
    /// ```swift
    /// guard try SecureFile.checkHome("keys") else { throw needKeys }
    /// ```
    ///
    /// - Returns: False if there is no home at `path`.
    /// - Throws: ``IssuerError`` `permissions` (77) with the fix.
    package static func checkHome(_ path: String) throws(IssuerError) -> Bool {
        try judgeHome(path, mayTighten: false) != .missing
    }

    private enum HomeState { case missing, checked, tightened }

    private static func judgeHome(_ path: String, mayTighten: Bool) throws(IssuerError) -> HomeState {
        var st = stat()
        if lstat(path, &st) != 0 {
            guard errno == ENOENT else { throw ioError("cannot access home \(path)", errno, write: false) }
            return .missing
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            // Follow a symlinked home (a common deployment layout) but judge the real folder.
            guard stat(path, &st) == 0 else { throw ioError("cannot access home \(path)", errno, write: false) }
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw IssuerError(
                .invalidInput, "home \(path) exists but is not a folder; pick another home folder",
                detail: .homeNotAFolder(path))
        }
        let me = geteuid()
        guard st.st_uid == me else {
            throw IssuerError(
                .permissions,
                "home \(path) is owned by uid \(st.st_uid), not by you (uid \(me)): its owner could replace the keyring. Fix with: chown -R \(me) \(path), or use a home folder of your own"
            )
        }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 != 0 else { return .checked }
        let fix = "Fix with: chmod 700 \(path)"
        if mode & 0o022 != 0 {
            throw IssuerError(
                .permissions,
                "home \(path) is writable by other users (mode \(String(mode, radix: 8))): they could replace its files. \(fix)"
            )
        }
        var keyring = stat()
        let hasKeyring = lstat(path + "/keyring.json", &keyring) == 0
        if hasKeyring {
            throw IssuerError(
                .permissions,
                "home \(path) is readable by other users (mode \(String(mode, radix: 8))); Sigil keeps secrets there. \(fix)"
            )
        }
        guard mayTighten else { return .checked }
        guard chmod(path, 0o700) == 0 else { throw ioError("cannot chmod 700 \(path)", errno, write: true) }
        return .tightened
    }

    /// Opens a secret file for reading and checks the open file, not the path, so nothing
    /// can swap the file between the check and the read.
    ///
    /// Opens with `O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK` (a symbolic link, or a FIFO that would
    /// block, is refused), then `fstat`s the descriptor: it must be a regular file with one
    /// link, owned by the effective user, and neither readable nor writable by group or others.
    ///
    /// ```swift
    /// let fd = try SecureFile.openPrivate("keys/keyring.json")
    /// defer { close(fd) }
    /// ```
    ///
    /// - Returns: The open descriptor; the caller closes it.
    /// - Throws: ``IssuerError`` `permissions` (77) saying what is wrong and the fix
    ///   (`chmod 600`, `chown`, replace the link with the real file); `bad_data` for a file
    ///   that is not regular; `not_found` for a missing one.
    package static func openPrivate(_ path: String) throws(IssuerError) -> Int32 {
        try openPrivate(path, mayVanish: false) ?? -1
    }

    /// Checks a file SQLite keeps beside the database (`-wal`, `-shm`) like a secret file,
    /// except that it may vanish while being checked: the last connection of another sigil
    /// deletes its WAL at close. A file with no name left cannot be exposed through one.
    package static func checkCompanion(_ path: String) throws(IssuerError) {
        if let fd = try openPrivate(path, mayVanish: true) { close(fd) }
    }

    private static func openPrivate(_ path: String, mayVanish: Bool) throws(IssuerError) -> Int32? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let code = errno
            if mayVanish, code == ENOENT { return nil }
            if code == ELOOP {
                throw IssuerError(
                    .permissions,
                    "\(path) is a symbolic link; Sigil refuses linked secret files. Replace it with the real file.")
            }
            throw ioError("cannot read \(path)", code, write: false)
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw ioError("cannot read \(path)", code, write: false)
        }
        if mayVanish, st.st_nlink == 0 {
            close(fd)
            return nil
        }
        if let problem = privacyProblem(st, path) {
            close(fd)
            throw problem
        }
        return fd
    }

    /// Why the open file `st` is not a private secret file, or nil if it is.
    private static func privacyProblem(_ st: stat, _ path: String) -> IssuerError? {
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            return IssuerError(
                .badData, "\(path) is not a regular file; Sigil reads its secrets from regular files only")
        }
        if st.st_nlink != 1 {
            return IssuerError(
                .permissions,
                "\(path) has \(st.st_nlink) hard links: another name could expose or change it. Replace the link with the real file: cp -p \(path) \(path).copy && mv \(path).copy \(path)"
            )
        }
        let me = geteuid()
        if st.st_uid != me {
            return IssuerError(
                .permissions,
                "\(path) is owned by uid \(st.st_uid), not by you (uid \(me)): its owner could change it. Fix with: chown \(me) \(path)"
            )
        }
        let mode = st.st_mode & 0o777
        if mode & 0o077 != 0 {
            return IssuerError(
                .permissions,
                "permissions \(String(mode, radix: 8)) for \(path) are too open: other users could read secrets. Fix with: chmod 600 \(path)"
            )
        }
        return nil
    }

    /// Refuses a secret file that is a symlink, has other hard links, belongs to another user
    /// or is readable/writable by group or others (see ``openPrivate(_:)``).
    package static func checkPrivate(_ path: String) throws(IssuerError) {
        close(try openPrivate(path))
    }

    /// Reads a whole secret file through the descriptor ``openPrivate(_:)`` checked.
    ///
    /// - Throws: ``IssuerError``: as ``openPrivate(_:)``, or `bad_data` for a file larger
    ///   than `maxBytes` or a read error.
    package static func read(_ path: String, maxBytes: Int = 1 << 30) throws(IssuerError) -> [UInt8] {
        let fd = try openPrivate(path)
        defer { close(fd) }
        do {
            return try FileBytes.read(descriptor: fd, path: path, maxBytes: maxBytes)
        } catch {
            throw IssuerError(error.errno == EACCES ? .permissions : .badData, error.description)
        }
    }

    /// Atomically replaces `path` with `bytes`: a 0600 temp file in the same folder, fsync,
    /// rename over the target, fsync the folder. Readers see the old file or the new one.
    package static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws(IssuerError) {
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
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(IssuerError) {
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
    package static func syncDirectory(_ path: String) {
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
            case EROFS: " The file system is read-only; nothing was changed."
            case EACCES, EPERM: " Check the folder's owner and permissions."
            default: ""
            }
        let message = "\(what): \(String(cString: strerror(code))).\(hint)"
        // The front end adds how to pick a writable home.
        if code == EROFS, write { return IssuerError(reason, message, detail: .readOnly(path: what)) }
        return IssuerError(reason, message)
    }
}
