import Foundation
import SigilIssuer
import SigilTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Ledger database: damage, newer schemas, read-only homes and list sequences")
struct DatabaseTests {
    /// A home with three tokens, one of them revoked, and one export.
    static func populated() async throws -> (box: Sandbox, guids: [String]) {
        let box = try Sandbox()
        var guids: [String] = []
        for i in 0..<3 { guids.append(try await box.issue(name: "t\(i)").guid) }
        try #require(try await box.run("revoke", "--yes", guids[0]).exitCode == 0)
        try await box.exportRevocations()
        return (box, guids)
    }

    /// Commands that read and commands that change, each of which must open the database.
    static let commands: [[String]] = [
        ["list"], ["--json", "list"], ["log"], ["catalog"], ["issue", "--name", "x", "--audience", "billing", "--all"],
        ["revoke", "--yes", "--all-matching", "--audience", "billing"], ["revocations", "export"],
        ["ledger", "compact"],
    ]

    @Test(
        "A damaged database is bad data (65) with a fix-it naming the file, and is never overwritten",
        arguments: ["garbage header", "truncated"])
    func corruptDatabase(damage: String) async throws {
        let (box, _) = try await Self.populated()
        let db = box.home + "/sigil.db"
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "the last command checkpointed")
        var bytes = readFile(db) ?? []
        try #require(bytes.count > 4096)
        if damage == "truncated" {
            bytes = Array(bytes.prefix(1000))
        } else {
            for i in 0..<100 { bytes[i] = UInt8(truncatingIfNeeded: 0x5a &+ i &* 7) }
        }
        try writeFile(bytes, to: db)
        for command in Self.commands {
            let result = try await box.run(command)
            #expect(result.exitCode == 65, "\(result)")
            #expect(result.stderr.contains(db), "\(result.stderr)")
            #expect(result.stderr.contains("Restore \(db) from a backup"), "\(result.stderr)")
            #expect(result.stderr.contains("sqlite3 \(db) 'PRAGMA integrity_check'"), "\(result.stderr)")
            #expect(!result.stdout.contains("sgl_"), "no token without a ledger row")
            #expect(readFile(db) == bytes, "\(command): the damaged file is left as it was")
        }
        let json = try await box.run("--json", "list")
        #expect(try json.jsonObject()["error"] as? String == "bad_data")
        #expect(readFile(db) == bytes)
        box.checkHygiene()
    }

    @Test("With a PostgreSQL ledger, a missing home says to copy the first host's keyring (66), by flag or env")
    func postgresWithoutHome() async throws {
        let box = try Sandbox()
        let url = "postgres://sigil@127.0.0.1:9/sigil"
        let byFlag = try await box.run("--home", box.path("second-host"), "--database", url, "list")
        #expect(byFlag.exitCode == 66, "\(byFlag)")
        #expect(byFlag.stderr.contains("copy keyring.json from the first host"))
        let byEnv = try await box.run(["--home", box.path("second-host"), "list"], env: ["SIGIL_DATABASE": url])
        #expect(byEnv.exitCode == 66 && byEnv.stderr.contains("copy keyring.json"), "\(byEnv)")
        let sqlite = try await box.run("--home", box.path("second-host"), "list")
        #expect(sqlite.exitCode == 66 && sqlite.stderr.contains("init") && !sqlite.stderr.contains("keyring.json"))
    }

    @Test("A database from a newer Sigil (user_version 99) is refused (65) naming both versions")
    func newerSchema() async throws {
        let (box, _) = try await Self.populated()
        let db = box.home + "/sigil.db"
        let issuer = try Issuer(home: box.home)
        try issuer.store.db.execute("PRAGMA user_version = 99")
        issuer.close()
        let bytes = readFile(db) ?? []
        // user_version is the big-endian word at offset 60 of the header.
        try #require(bytes.count > 64 && Array(bytes[60..<64]) == [0, 0, 0, 99])
        #expect(SQLiteStore.schemaVersion == 6)
        for command in Self.commands {
            let result = try await box.run(command)
            #expect(result.exitCode == 65, "\(result)")
            #expect(result.stderr.contains("\(db) has schema version 99"), "\(result.stderr)")
            #expect(result.stderr.contains("up to version \(SQLiteStore.schemaVersion)"), "\(result.stderr)")
            #expect(result.stderr.contains("Upgrade sigil"), "\(result.stderr)")
            #expect(readFile(db) == bytes, "\(command): nothing was changed")
        }
    }

    @Test(
        "A read-only home: issue and revoke fail with 73 and nothing changes",
        .enabled(if: ReadOnlyHome.method != nil, "needs mount --bind (root in a mount namespace) or chattr +i"))
    func readOnlyHome() async throws {
        let (box, guids) = try await Self.populated()
        let before = try LedgerFixture.snapshot(home: box.home)
        let bytes = readFile(box.home + "/sigil.db") ?? []
        let method = try #require(ReadOnlyHome.method)
        try ReadOnlyHome.protect(box.home, method)
        defer { ReadOnlyHome.release(box.home, method) }
        for command in [
            ["issue", "--name", "x", "--audience", "billing", "--all"], ["revoke", "--yes", guids[1]],
            ["deactivate", guids[2]],
        ] {
            let result = try await box.run(command)
            #expect(result.exitCode == 73, "\(result)")
            #expect(result.stderr.contains(box.home + "/sigil.db"), "\(result.stderr)")
            #expect(result.stderr.contains("nothing was changed"), "\(result.stderr)")
            #expect(!result.stdout.contains("sgl_"), "no token is shown when it cannot be recorded")
        }
        ReadOnlyHome.release(box.home, method)
        #expect(readFile(box.home + "/sigil.db") == bytes)
        #expect(try LedgerFixture.snapshot(home: box.home) == before, "nothing changed")
        #expect(try await box.show(guids[1])["status"] as? String == "active")
        box.checkHygiene()
    }

    @Test("revocations export promises next_update = issued_at + 24 h by default; --next-update none omits it")
    func nextUpdate() async throws {
        let box = try Sandbox()
        _ = try await box.issue()
        let export = try await box.exportRevocations()
        #expect(export["issued_at"] as? Int64 == Sandbox.defaultNow)
        #expect(export["next_update"] as? Int64 == Sandbox.defaultNow + 86_400)
        let shown = try await box.run("--json", "revocations", "show", box.home + "/revocations.sgl")
        #expect(try shown.jsonObject()["next_update"] as? Int64 == Sandbox.defaultNow + 86_400, "\(shown)")

        let none = try await box.run("--json", "revocations", "export", "--next-update", "none")
        #expect(none.exitCode == 0, "\(none)")
        let o = try none.jsonObject()
        #expect(o.keys.contains("next_update") && o["next_update"] is NSNull, "\(o)")
        let shownNone = try await box.run("--json", "revocations", "show", box.home + "/revocations.sgl")
        #expect(try shownNone.jsonObject()["next_update"] is NSNull, "\(shownNone)")

        let hour = try await box.run("--json", "revocations", "export", "--next-update", "1h")
        #expect(try hour.jsonObject()["next_update"] as? Int64 == Sandbox.defaultNow + 3600)
        #expect(try await box.run("revocations", "export", "--next-update", "soon").exitCode == 64)
    }

    @Test("A revoked token stays on the list until a day after valid_to: 1 h past yes, 2 days past no")
    func listWindow() async throws {
        let box = try Sandbox()
        let (_, recent) = try await box.issue(name: "recent", ["--all", "--expires-in", "48h"])
        let (_, old) = try await box.issue(name: "old", ["--all", "--expires-in", "1h"])
        let (_, paused) = try await box.issue(name: "paused", ["--all", "--expires-in", "48h"])
        #expect(try await box.run("revoke", "--yes", recent, old).exitCode == 0)
        #expect(try await box.run("deactivate", paused).exitCode == 0)
        // 49 h later: "recent" expired an hour ago, "old" two days ago.
        let later = ["SIGIL_NOW": String(Sandbox.defaultNow + 49 * 3600)]
        let file = box.path("later.sgl")
        let export = try await box.exportRevocations(to: file, env: later)
        #expect(export["revoked"] as? Int == 1 && export["deactivated"] as? Int == 1, "\(export)")
        let show = try await box.run("--json", "revocations", "show", file, "--entries")
        let entries = try #require(try show.jsonObject()["entries"] as? [[String: Any]])
        #expect(Set(entries.compactMap { $0["guid"] as? String }) == [recent, paused])
        // Before "old" expired, it is there too.
        let early = try await box.exportRevocations(to: box.path("early.sgl"))
        #expect(early["revoked"] as? Int == 2)
    }

    @Test("The list sequence never goes backwards, even after a database is restored from a backup")
    func sequenceSurvivesRestore() async throws {
        let box = try Sandbox()
        let (_, guid) = try await box.issue()
        #expect(try await box.run("revoke", "--yes", guid).exitCode == 0)
        let db = box.home + "/sigil.db"
        let backup = box.path("backup")
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: false)
        let suffixes = ["", "-wal", "-shm"]
        for expected in 1...3 {
            if expected == 3 {
                for s in suffixes where FileManager.default.fileExists(atPath: db + s) {
                    try FileManager.default.copyItem(atPath: db + s, toPath: backup + "/sigil.db" + s)
                }
            }
            #expect(try await box.exportRevocations()["sequence"] as? Int == expected)
        }
        #expect(String(decoding: (readFile(box.home + "/revocations.seq") ?? []), as: UTF8.self) == "3\n")
        func restore() throws {
            for s in suffixes {
                try? FileManager.default.removeItem(atPath: db + s)
                if FileManager.default.fileExists(atPath: backup + "/sigil.db" + s) {
                    try FileManager.default.copyItem(atPath: backup + "/sigil.db" + s, toPath: db + s)
                }
            }
        }
        // The restored ledger remembers sequence 2; revocations.seq remembers 3. A new output
        // path rules out the sequence in the old list file.
        try restore()
        let elsewhere = box.path("elsewhere.sgl")
        #expect(try await box.exportRevocations(to: elsewhere)["sequence"] as? Int == 4)
        #expect(String(decoding: (readFile(box.home + "/revocations.seq") ?? []), as: UTF8.self) == "4\n")

        // Without revocations.seq either, the list already at the output path is the floor.
        try restore()
        try FileManager.default.removeItem(atPath: box.home + "/revocations.seq")
        #expect(try await box.exportRevocations(to: elsewhere)["sequence"] as? Int == 5)
        let verified = try await box.run("--json", "revocations", "show", elsewhere)
        #expect(try verified.jsonObject()["sequence"] as? Int == 5, "\(verified)")
    }
}

/// Makes a home read-only for a root test process, where chmod stops nothing: a read-only bind
/// mount of the folder onto itself, else the immutable attribute on its files.
enum ReadOnlyHome {
    enum Method: Sendable { case bindMount, immutable }

    /// What works in this sandbox, tried once on a scratch folder.
    static let method: Method? = {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory() + "/sigil-ro-probe-\(getpid())").standardizedFileURL.path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if (try? protect(dir, .bindMount)) != nil {
            let blocked = !FileManager.default.createFile(atPath: dir + "/probe", contents: Data())
            release(dir, .bindMount)
            if blocked { return .bindMount }
        }
        let file = dir + "/probe-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        if (try? protect(dir, .immutable)) != nil {
            let blocked = open(file, O_WRONLY | O_APPEND) < 0
            release(dir, .immutable)
            if blocked { return .immutable }
        }
        return nil
    }()

    static func protect(_ home: String, _ method: Method) throws {
        switch method {
        case .bindMount:
            try runTool("/usr/bin/mount", ["--bind", home, home])
            do {
                try runTool("/usr/bin/mount", ["-o", "remount,ro,bind", home])
            } catch {
                try? runTool("/usr/bin/umount", [home])
                throw error
            }
        case .immutable:
            let files = try FileManager.default.contentsOfDirectory(atPath: home).map { home + "/" + $0 }
            try runTool("/usr/bin/chattr", ["+i", home] + files)
        }
    }

    static func release(_ home: String, _ method: Method) {
        switch method {
        case .bindMount:
            // Unmount only while `home` is still our bind mount (a second call does nothing).
            let path = URL(fileURLWithPath: home).standardizedFileURL.resolvingSymlinksInPath().path
            let mounts = String(decoding: (readFile("/proc/self/mountinfo") ?? []), as: UTF8.self)
            if mounts.split(separator: "\n").contains(where: {
                $0.split(separator: " ").dropFirst(4).first == Substring(path)
            }) {
                try? runTool("/usr/bin/umount", [path])
            }
        case .immutable:
            let files = (try? FileManager.default.contentsOfDirectory(atPath: home))?.map { home + "/" + $0 } ?? []
            try? runTool("/usr/bin/chattr", ["-i", home] + files)
        }
    }

    /// Runs a system tool to completion, its output discarded; throws when it fails.
    private static func runTool(_ tool: String, _ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw SpawnError(what: tool, code: ENOENT) }
        let status = try ChildProcess(tool, arguments, environment: ["PATH": "/usr/bin:/bin"], stdin: .nullDevice)
            .runBlocking().exitCode
        guard status == 0 else { throw SpawnError(what: "\(tool) exited \(status)", code: 0) }
    }
}
