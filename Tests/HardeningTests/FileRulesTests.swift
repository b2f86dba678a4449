import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// strace, when installed and allowed to trace (a locked-down container may forbid ptrace).
enum Strace {
    static let path: String? = ["/usr/bin/strace", "/bin/strace"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static let available: Bool = {
        guard let path else { return false }
        let probe = ChildProcess(
            path, ["-f", "-e", "trace=fsync", "-o", "/dev/null", "/bin/true"],
            environment: ProcessInfo.processInfo.environment, stdin: .nullDevice)
        return (try? probe.runBlocking())?.exitCode == 0
    }()
}

@Suite("Durability")
struct DurabilityTests {
    static let issue = ["--json", "issue", "--name", "durable", "--audience", "billing", "--all"]

    @Test("The database is opened in WAL mode with synchronous=FULL, and WAL is recorded in the file")
    func settings() async throws {
        let scratch = try TempFolder("durable")
        let path = scratch.path("home")
        let run = try await Sigil.run(Self.issue, home: path)
        #expect(run.status == 0, "\(run)")
        let (synchronous, journalMode) = try Home.withIssuer(path) { try $0.durabilitySettings() }
        #expect(synchronous == 2, "synchronous is \(synchronous), not FULL (2)")
        #expect(journalMode == "wal")
        // Bytes 18 and 19 of the header are 2 in a WAL database: any later connection runs in WAL.
        let header = readFile(path + "/sigil.db") ?? []
        #expect(header.count > 19 && header[18] == 2 && header[19] == 2, "the file is not in WAL mode")
    }

    @Test(
        "issue fsyncs the database's -wal before it prints the token",
        .enabled(if: Strace.available, "needs strace allowed to ptrace"))
    func fsyncBeforeReport() async throws {
        let scratch = try TempFolder("fsync")
        let home = try Home(in: scratch)
        let trace = scratch.path("trace.txt")
        let strace = try #require(Strace.path)
        let run = try await home.run(
            Self.issue, wrapper: [strace, "-f", "-y", "-e", "trace=fsync,fdatasync,write", "-o", trace])
        #expect(run.status == 0 && run.stdout.contains("sgl_"), "\(run)")
        let lines = String(decoding: readFile(trace) ?? [], as: UTF8.self).split(separator: "\n")
        let synced = lines.firstIndex {
            ($0.contains("fsync(") || $0.contains("fdatasync(")) && $0.contains("sigil.db")
        }
        let reported = lines.firstIndex { $0.contains("write(1<") }
        #expect(synced != nil, "no fsync or fdatasync of sigil.db or its -wal")
        #expect(reported != nil, "the trace shows no write of the token to stdout")
        if let synced, let reported {
            // With synchronous=NORMAL the commit is synced only at the checkpoint, after the report.
            #expect(synced < reported, "the token was printed before its record reached the disk")
        }
    }
}

@Suite("File rules")
struct FileRulesTests {
    @Test("Under umask 000, sigil's files are 0600 (the list may be 0644) and its home 0700")
    func modes() async throws {
        let scratch = try TempFolder("modes")
        let path = scratch.path("fresh-home")
        for arguments in [
            ["init"], ["issue", "--name", "n", "--audience", "billing", "--all"], ["revocations", "export"],
            ["keys", "export", "--audience", "billing", "-o", path + "/billing.keyset.json"],
        ] {
            let run = try await Sigil.run(arguments, home: path, wrapper: Sigil.openUmask)
            #expect(run.status == 0, "\(run)")
        }
        // -wal and -shm live while a connection is open: SIGKILL a sigil (under umask 000)
        // in the middle of a write so the ones it created stay behind.
        for _ in 0..<60 where Home.mode(path + "/sigil.db-wal") == nil {
            let issue = [SigilBinary.path, "issue", "--name", "k", "--audience", "billing", "--all"]
            let killed = ChildProcess(
                Sigil.openUmask[0], Array(Sigil.openUmask.dropFirst()) + issue,
                environment: Sigil.environment(home: path, [:]), stdin: .nullDevice,
                timeout: .microseconds(Int.random(in: 2_000...60_000)))
            _ = try await killed.run()
        }
        // If no kill landed in time, a connection of this process makes them (same rule).
        let holder = try Issuer(home: path, mode: .existing)
        defer { holder.close() }
        _ = try holder.isEmpty()
        #expect(Home.mode(path) == 0o700)
        for file in [
            "keyring.json", "sigil.db", "sigil.db-wal", "sigil.db-shm", "revocations.seq", "billing.keyset.json",
        ] {
            let mode = Home.mode(path + "/" + file)
            #expect(mode == 0o600, "\(file) is \(mode.map { String($0, radix: 8) } ?? "missing")")
        }
        let list = Home.mode(path + "/revocations.sgl")
        #expect(list == 0o600 || list == 0o644, "revocations.sgl is \(list.map { String($0, radix: 8) } ?? "missing")")
        // A folder others may read but that holds no keyring yet (a fresh clone's keys/) is tightened.
        let cloned = scratch.path("cloned-keys")
        try Home.mkdir(cloned, mode: 0o755)
        let first = try await Sigil.run(["init"], home: cloned)
        #expect(first.status == 0 && Home.mode(cloned) == 0o700, "\(first)")
    }

    /// Replaces the home's sigil.db with what `plant` makes, runs a reading and a writing
    /// command, and checks both refuse with 77 and the hint, leaving `victim` as it was.
    func refuses(_ plant: (Home, String) throws -> Void, hint: String) async throws {
        let scratch = try TempFolder("planted")
        let home = try Home(in: scratch)
        let victim = scratch.path("victim.db")
        try plant(home, victim)
        let before = readFile(victim)
        let modeBefore = Home.mode(victim)
        for arguments in [
            ["list"], ["issue", "--name", "n", "--audience", "billing", "--all"], ["revocations", "export"],
        ] {
            let run = try await home.run(arguments)
            #expect(!run.signaled && run.status == 77, "\(run)")
            #expect(run.stderr.contains(hint), "\(run)")
        }
        #expect(readFile(victim) == before, "the other file was changed through sigil.db")
        #expect(Home.mode(victim) == modeBefore)
    }

    @Test("A symbolic link planted as sigil.db is refused and its target is untouched")
    func symlinkedDatabase() async throws {
        try await refuses(
            { home, victim in
                try FileManager.default.moveItem(atPath: home.path + "/sigil.db", toPath: victim)
                #expect(symlink(victim, home.path + "/sigil.db") == 0)
            }, hint: "symbolic link")
    }

    @Test("A hard-linked sigil.db is refused (another name could change it behind sigil's back)")
    func hardLinkedDatabase() async throws {
        try await refuses(
            { home, victim in
                #expect(link(home.path + "/sigil.db", victim) == 0)
            }, hint: "link")
    }

    @Test("A sigil.db others can read (0644) is refused with the chmod fix")
    func openDatabase() async throws {
        let scratch = try TempFolder("planted")
        let home = try Home(in: scratch)
        _ = chmod(home.path + "/sigil.db", 0o644)
        let before = home.snapshot()
        for arguments in [["list"], ["issue", "--name", "n", "--audience", "billing", "--all"]] {
            let run = try await home.run(arguments)
            #expect(!run.signaled && run.status == 77, "\(run)")
            #expect(run.stderr.contains("chmod 600"), "\(run)")
        }
        #expect(home.snapshot() == before)
        #expect(Home.mode(home.path + "/sigil.db") == 0o644, "refused, not silently re-moded")
    }

    /// SQLite opens the -wal and -shm with O_NOFOLLOW too; sigil reports that as 73 ("read-only
    /// or not writable"), not yet 77 naming the link.
    @Test("A symbolic link planted as sigil.db-wal or -shm never lets sigil write through it")
    func symlinkedSidecars() async throws {
        for suffix in ["-wal", "-shm"] {
            let scratch = try TempFolder("planted")
            let home = try Home(in: scratch)
            let victim = scratch.path("victim.txt")
            try writeFile(Array(String(repeating: "precious bytes\n", count: 3000).utf8), to: victim)
            #expect(symlink(victim, home.path + "/sigil.db" + suffix) == 0)
            let run = try await home.run(["issue", "--name", "n", "--audience", "billing", "--all"])
            #expect(!run.signaled && (run.status == 77 || run.status == 73), "\(run)")
            #expect(
                readFile(victim) == Array(String(repeating: "precious bytes\n", count: 3000).utf8),
                "sigil\(suffix) wrote through a planted link")
        }
    }
}
