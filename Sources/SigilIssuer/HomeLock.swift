import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive `flock` on `<home>/sigil.lock`, held for the duration of one command that
/// changes the home, so concurrent `sigil` runs never lose a change.
///
/// The holder writes its PID and command into the lock file so a waiting process can say who
/// holds it. The kernel drops the lock when the process dies, even by SIGKILL.
public final class HomeLock {
    public let path: String
    private var fd: Int32

    /// Waits up to `timeout` seconds for the lock.
    ///
    /// - Throws: ``IssuerError`` `lock_busy` naming the holder, or an I/O error.
    public init(home: String, timeout: Double = HomeLock.defaultTimeout, command: String) throws(IssuerError) {
        path = home + "/sigil.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SecureFile.ioError("cannot open the lock file \(path)", errno, write: true) }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let e = errno
                close(fd)
                throw SecureFile.ioError("cannot lock \(path)", e, write: true)
            }
            if Date() >= deadline {
                let holder =
                    (try? String(contentsOfFile: path, encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                close(fd)
                throw IssuerError(
                    .lockBusy,
                    "another sigil process holds \(path)\(holder.isEmpty ? "" : " (\(holder))") after waiting \(timeout) s. Retry when it finishes, or raise SIGIL_LOCK_TIMEOUT."
                )
            }
            usleep(20_000)
        }
        let note = Array("pid \(getpid()): sigil \(command)\n".utf8)
        ftruncate(fd, 0)
        _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// `SIGIL_LOCK_TIMEOUT` seconds, default 5.
    public static var defaultTimeout: Double {
        ProcessInfo.processInfo.environment["SIGIL_LOCK_TIMEOUT"].flatMap(Double.init) ?? 5
    }

    public func unlock() {
        guard fd >= 0 else { return }
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
