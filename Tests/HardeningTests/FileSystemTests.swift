import Foundation
import SigilIssuer
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
@Suite("Read-only and full file systems", .serialized, .enabled(if: Mounts.available, "needs root that may mount a tmpfs"))
struct FileSystemTests {
    @Test("On a read-only home, writing commands exit 73 saying so, reading commands still work")
    func readOnlyHome() async throws {
        let scratch = try Scratch("rofs")
        let mountPoint = scratch.path("m")
        try Home.mkdir(mountPoint)
        try Mounts.tmpfs(mountPoint, options: "size=64k,mode=0700")
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
            #expect(run.err.contains("read-only: use --home on a writable folder"), "\(run)")
        }
        let list = try await home.run(["list"])
        #expect(list.status == 0 && list.out.contains("ci deploy"), "\(list)")
        let verify = try await home.run(["verify", home.token, "--audience", "billing"])
        #expect(verify.status == 0, "\(verify)")
        #expect(home.snapshot() == before)
    }

    @Test("On a full disk, writing commands exit 73 saying so and leave every file as it was")
    func fullDisk() async throws {
        let scratch = try Scratch("fullfs")
        let mountPoint = scratch.path("m")
        try Home.mkdir(mountPoint)
        try Mounts.tmpfs(mountPoint, options: "size=32k,mode=0700")
        defer { Mounts.unmount(mountPoint) }
        let home = try Home(in: scratch, name: "m/home")
        // Fill the ledger's last page exactly, so the next record needs a new one.
        var ledger = FileManager.default.contents(atPath: home.path + "/ledger.jsonl").map(Array.init) ?? []
        let head = Array(#"{"at":1,"op":"export","sequence":1"#.utf8)
        let padding = 4096 - ledger.count - head.count - 2
        try #require(padding > 0)
        ledger += head + [UInt8](repeating: 0x20, count: padding) + Array("}\n".utf8)
        try Home.write(ledger, to: home.path + "/ledger.jsonl")
        try Home.write([], to: home.path + "/sigil.lock")
        // Then fill the file system.
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
            #expect(run.err.contains("The disk is full: free space and retry; nothing was changed."), "\(run)")
            #expect(home.snapshot() == before, "\(arguments) changed a file")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: home.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "temp files left behind: \(leftovers)")
        #expect(try Ledger(home: home.path).load().exportSequence == 1)
        // Once there is space again, the same command works.
        unlink(mountPoint + "/filler")
        let retry = try await home.run(["revoke", "--yes", "0ba28b74"])
        #expect(retry.status == 0, "\(retry)")
    }
}
