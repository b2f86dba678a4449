#if canImport(Glibc)
    import Glibc
#endif

/// The scratch disk's limit for serial commits: how many 4 KiB appends, each followed by
/// `fsync`, one thread completes per second. A ledger that commits each create on its own can
/// answer no more creates per second than this; a grouped commit can beat it.
enum DiskBench {
    /// Appends 4 KiB and calls `fsync` in a loop for `duration` in a new file under `folder`
    /// (the folder the server's ledgers live in), then removes the file.
    ///
    /// - Returns: fsyncs per second, or nil if the file could not be written.
    static func fsyncPerSecond(folder: String, duration: Duration) -> (perSecond: Double, count: Int)? {
        let path = folder + "/fsync-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer {
            close(fd)
            unlink(path)
        }
        let block = [UInt8](repeating: 0xa5, count: 4096)
        let clock = ContinuousClock()
        // One untimed commit first: the file's creation is not part of the figure.
        guard write(fd, block, block.count) == block.count, fsync(fd) == 0 else { return nil }
        var count = 0
        let start = clock.now
        let deadline = start + duration
        while clock.now < deadline {
            // Appends, as a write-ahead log does, starting over every 4 MiB so the file stays small.
            if count % 1024 == 1023 { lseek(fd, 0, SEEK_SET) }
            guard write(fd, block, block.count) == block.count, fsync(fd) == 0 else { return nil }
            count += 1
        }
        let elapsed = clock.now - start
        return (Double(count) / (elapsed.nanoseconds / 1e9), count)
    }
}
