import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A read-only home and a full disk, each on its own small tmpfs.
///
/// The tests run as root, so `chmod 0500` cannot make a folder read-only for them: a
/// read-only mount is the honest way to get EROFS. Mounting needs CAP_SYS_ADMIN; where it
/// is missing (an unprivileged container) these tests are skipped, not faked.
@Suite(
    "Read-only and full file systems", .serialized, .enabled(if: Mounts.available, "needs root that may mount a tmpfs"))
struct FileSystemTests {
    @Test("On a read-only home, writing commands exit 73 saying so and change nothing")
    func readOnlyHome() async throws { try await Self.readOnly(strict: false) }

    @Test(
        "On a read-only home, reading commands still work and writing ones name the fix")
    func readOnlyHomeReads() async throws { try await Self.readOnly(strict: true) }

    static func readOnly(strict: Bool) async throws {
        let scratch = try TempFolder("rofs")
        let mountPoint = scratch.path("m")
        try Home.mkdir(mountPoint)
        try Mounts.tmpfs(mountPoint, options: "size=2m,mode=0700")
        defer { Mounts.unmount(mountPoint) }
        let home = try Home(in: scratch, name: "m/home")
        try Mounts.remountReadOnly(mountPoint)
        let before = home.snapshot()
        for arguments in [
            ["issue", "--name", "n", "--audience", "billing", "--all"], ["revoke", "--yes", "0ba28b74"],
            ["revocations", "export"], ["keys", "rotate"], ["catalog", "add", "printers", "jam", "--access", "write"],
        ] {
            let run = try await home.run(arguments)
            #expect(!run.signaled && run.status == 73, "\(run)")
            #expect(run.stderr.contains("read-only"), "\(run)")
            if strict { #expect(run.stderr.contains("--home") && run.stderr.contains("writable folder"), "\(run)") }
        }
        #expect(home.snapshot() == before)
        guard strict else { return }
        let list = try await home.run(["list"])
        #expect(list.status == 0 && list.stdout.contains("ci deploy"), "\(list)")
        let verify = try await home.run(["verify", home.token, "--audience", "billing"])
        #expect(verify.status == 0, "\(verify)")
        #expect(home.snapshot() == before)
    }

    @Test("On a full disk, writing commands exit 73 and leave every file as it was")
    func fullDisk() async throws { try await Self.fullDisk(namesFullDisk: false) }

    @Test(
        "On a full disk, the 73 message says the disk is full")
    func fullDiskMessage() async throws { try await Self.fullDisk(namesFullDisk: true) }

    static func fullDisk(namesFullDisk: Bool) async throws {
        let scratch = try TempFolder("fullfs")
        let mountPoint = scratch.path("m")
        try Home.mkdir(mountPoint)
        try Mounts.tmpfs(mountPoint, options: "size=1m,mode=0700")
        defer { Mounts.unmount(mountPoint) }
        let home = try Home(in: scratch, name: "m/home")
        // A new ledger keeps the pages its migrations freed (version 7 rebuilds a table) and may
        // keep its write-ahead log: a small write could fit in them. Compact both first, so that
        // every write below needs space the full disk does not have.
        try Home.withIssuer(home.path) { try $0.store.db.execute("VACUUM; PRAGMA wal_checkpoint(TRUNCATE)") }
        // Fill the file system.
        let fd = open(mountPoint + "/filler", O_WRONLY | O_CREAT, 0o600)
        let page = [UInt8](repeating: 0xee, count: 4096)
        while page.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        #expect(errno == ENOSPC)
        close(fd)
        let before = home.snapshot()
        for arguments in [
            ["issue", "--name", "n", "--audience", "billing", "--all"], ["revoke", "--yes", "0ba28b74"],
            ["revocations", "export"], ["keys", "rotate"], ["ledger", "compact"],
        ] {
            let run = try await home.run(arguments)
            #expect(!run.signaled && run.status == 73, "\(run)")
            if namesFullDisk { #expect(run.stderr.lowercased().contains("the disk is full"), "\(run)") }
            #expect(run.stderr.contains("nothing was changed"), "\(run)")
            #expect(home.snapshot() == before, "\(arguments) changed a file")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: home.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "temp files left behind: \(leftovers)")
        // Once there is space again, nothing was exported and the same command works.
        unlink(mountPoint + "/filler")
        #expect(try Home.withIssuer(home.path) { try $0.lastExportSequence() } == 0)
        let retry = try await home.run(["revoke", "--yes", "0ba28b74"])
        #expect(retry.status == 0, "\(retry)")
    }
}
