import Foundation
import SigilIssuer
import SigilTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Home, keyring and file permissions")
struct HomeTests {
    @Test("First use creates a development keyring, says so on stderr, and makes the home 0700 and files 0600")
    func firstUseCreatesKeyring() async throws {
        let box = try Sandbox()
        let issue = try await box.run("issue", "--name", "first", "--audience", "billing", "--all")
        #expect(issue.exitCode == 0, "\(issue)")
        #expect(issue.stderr.contains("created a development keyring at \(box.home)/keyring.json"), "\(issue.stderr)")
        let keys = try await box.run("--json", "keys", "list").jsonObject()
        let tokenKeys = try #require(keys["token_keys"] as? [[String: Any]])
        let revocationKeys = try #require(keys["revocation_keys"] as? [[String: Any]])
        let kid = try #require(tokenKeys.first?["kid"] as? String)
        let rkid = try #require(revocationKeys.first?["kid"] as? String)
        #expect(issue.stderr.contains(kid), "the note names the token key id")
        #expect(issue.stderr.contains(rkid), "the note names the revocation key id")
        #expect(issue.stderr.contains("catalog"), "the note mentions the example catalog")
        #expect(tokenKeys.count == 1 && tokenKeys[0]["state"] as? String == "active")

        #expect(issue.stderr.contains("wrote an example catalog (devices, invoices, users)"), "\(issue.stderr)")

        #expect(fileMode(box.home) == 0o700)
        for file in ["keyring.json", "sigil.db"] {
            #expect(fileMode("\(box.home)/\(file)") == 0o600, "\(file) must be 0600")
        }
        // SQLite gives its -wal and -shm files the database's mode, when they are there.
        for file in ["sigil.db-wal", "sigil.db-shm"] {
            if let mode = fileMode("\(box.home)/\(file)") { #expect(mode == 0o600, "\(file) must be 0600") }
        }
        // The catalog lives in the database now; the v0.1 files and the flock are gone.
        for file in ["catalog.json", "ledger.jsonl", "sigil.lock"] {
            #expect(!FileManager.default.fileExists(atPath: "\(box.home)/\(file)"), "\(file) is not made any more")
        }
        #expect(try await box.run("--json", "catalog").jsonObject()["devices"] != nil, "the example catalog")
        // Only the first command says it.
        let second = try await box.run("issue", "--name", "second", "--audience", "billing", "--all")
        #expect(second.exitCode == 0)
        #expect(!second.stderr.contains("created a development keyring"))
        box.checkHygiene()
    }

    @Test("A lost keyring is not replaced while the ledger holds tokens: 66 with what to do; init starts over")
    func lostKeyringIsNotReplaced() async throws {
        let box = try Sandbox()
        let first = try await box.run("--json", "issue", "--name", "first", "--audience", "billing", "--all")
        #expect(first.exitCode == 0, "\(first)")
        let token = try #require(first.jsonObject()["token"] as? String)
        try FileManager.default.removeItem(atPath: "\(box.home)/keyring.json")

        for command in [["issue", "--name", "second", "--audience", "billing", "--all"], ["keys", "rotate"]] {
            let refused = try await box.run(command)
            #expect(refused.exitCode == 66, "\(command): \(refused)")
            #expect(refused.stderr.contains("no keyring at \(box.home)/keyring.json"), "\(refused.stderr)")
            #expect(
                refused.stderr.contains("put keyring.json back from your backup or from another host"),
                "\(refused.stderr)")
            #expect(refused.stderr.contains("sigil --home \(box.home) init"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("created a development keyring"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "\(box.home)/keyring.json"), "no keyring was made")
        }
        let listed = try await box.run("--json", "list")
        #expect(listed.exitCode == 0, "reading the ledger needs no keyring: \(listed)")

        // An explicit init makes a new keyring; the old token then fails as an unknown key.
        let initialized = try await box.run("init")
        #expect(initialized.exitCode == 0, "\(initialized)")
        #expect(initialized.stderr.contains("created a development keyring"), "\(initialized.stderr)")
        let verified = try await box.run(["verify", "-", "--audience", "billing"], stdin: token + "\n")
        #expect(verified.exitCode == 12, "unknown key: \(verified)")
        box.checkHygiene()
    }

    @Test(
        "Commands other than init and issue do not create a home: 66 with the init command",
        arguments: [
            ["list"], ["show", "00000000-0000-4000-8000-000000000000"], ["catalog"], ["keys", "list"],
            ["keys", "export", "--audience", "billing"], ["verify", "-", "--audience", "billing"],
            ["revocations", "export"], ["log"], ["catalog", "add", "a", "b", "--access", "read"], ["keys", "rotate"],
            ["ledger", "compact"],
        ])
    func missingHome(command: [String]) async throws {
        let box = try Sandbox()
        let result = try await box.run(command, stdin: "sgl_x\n")
        #expect(result.exitCode == 66, "\(result)")
        #expect(result.stderr.contains("no Sigil home at \(box.home)"), "\(result.stderr)")
        #expect(result.stderr.contains("sigil --home \(box.home) init"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: box.home), "nothing was created")
        let json = try await box.run(["--json"] + command, stdin: "sgl_x\n")
        #expect(json.exitCode == 66)
        #expect(try json.jsonObject()["error"] as? String == "not_found")
    }

    @Test("An empty home folder is no home either (66), and stays empty")
    func emptyHome() async throws {
        let box = try Sandbox()
        try FileManager.default.createDirectory(
            atPath: box.home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let list = try await box.run("list")
        #expect(list.exitCode == 66, "\(list)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.home).isEmpty)
        // After init, reading an empty ledger is fine.
        #expect(try await box.run("init").exitCode == 0)
        let again = try await box.run("list")
        #expect(again.exitCode == 0, "\(again)")
        #expect(again.stderr.contains("No tokens yet"))
    }

    @Test("Commands that only read do not create a keyring")
    func readersDoNotCreate() async throws {
        let box = try Sandbox()
        let list = try await box.run("list")
        #expect(list.exitCode == 66)
        let issuer = try Sandbox()
        let (token, _) = try await issuer.issue()
        let inspect = try await box.run("inspect", "-", stdin: token + "\n")
        #expect(inspect.exitCode == 0, "\(inspect)")
        #expect(inspect.stdout.contains("unverified (no keyring"))
        #expect(!FileManager.default.fileExists(atPath: box.home + "/keyring.json"))
    }

    @Test("init creates the home, prints its JSON, and refuses to run twice (65)")
    func initOnce() async throws {
        let box = try Sandbox()
        let first = try await box.run("--json", "init")
        #expect(first.exitCode == 0, "\(first)")
        let object = try first.jsonObject()
        #expect(object["home"] as? String == box.home)
        #expect(object["keyring"] as? String == box.home + "/keyring.json")
        #expect((object["kid"] as? String)?.hasPrefix("k") == true)
        #expect((object["revocation_kid"] as? String)?.hasPrefix("r") == true)
        #expect(fileMode(box.home) == 0o700)
        #expect(fileMode(box.home + "/keyring.json") == 0o600)
        let before = readFile(box.home + "/keyring.json") ?? []

        let again = try await box.run("init")
        #expect(again.exitCode == 65, "\(again)")
        #expect(again.stderr.contains("already exists"))
        #expect(readFile(box.home + "/keyring.json") == before, "the keyring is unchanged")
        box.checkHygiene()
    }

    @Test("--home wins over SIGIL_HOME, and works before or after the subcommand")
    func homeOption() async throws {
        let box = try Sandbox()
        let other = box.path("other-home")
        let before = try await box.run("--home", other, "issue", "--name", "a", "--audience", "billing", "--all")
        #expect(before.exitCode == 0, "\(before)")
        let after = try await box.run("list", "--json", "--home", other)
        #expect(try after.jsonArray().count == 1)
        #expect(FileManager.default.fileExists(atPath: other + "/keyring.json"))
        #expect(!FileManager.default.fileExists(atPath: box.home), "SIGIL_HOME was not used")
        let viaEnv = try await box.run(["list", "--json"], env: ["SIGIL_HOME": other])
        #expect(try viaEnv.jsonArray().count == 1)
    }

    @Test(
        "A keyring others can read is refused with 77 and a chmod 600 hint",
        arguments: [
            ["issue", "--name", "x", "--audience", "billing", "--all"],
            ["keys", "list"],
            ["keys", "export", "--audience", "billing"],
            ["verify", "-", "--audience", "billing"],
            ["revocations", "export"],
        ])
    func openKeyringRefused(command: [String]) async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let keyring = box.home + "/keyring.json"
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyring)
        let result = try await box.run(command, stdin: "sgl_x\n")
        #expect(result.exitCode == 77, "\(result)")
        #expect(result.stderr.contains("chmod 600"), "\(result.stderr)")
        #expect(result.stderr.contains(keyring))
        #expect(result.stdout.isEmpty)
        #expect(fileMode(keyring) == 0o644, "sigil does not silently change the mode")
        box.checkHygiene()
    }

    @Test("A symlinked keyring is refused with 77")
    func symlinkedKeyringRefused() async throws {
        let box = try Sandbox()
        let real = box.path("real-home")
        try #require(try await box.run("--home", real, "init").exitCode == 0)
        try FileManager.default.createDirectory(
            atPath: box.home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createSymbolicLink(
            atPath: box.home + "/keyring.json", withDestinationPath: real + "/keyring.json")
        for command in [["issue", "--name", "x", "--audience", "billing", "--all"], ["keys", "list"], ["init"]] {
            let result = try await box.run(command)
            #expect(result.exitCode == 77, "\(result)")
            #expect(result.stderr.contains("symbolic link"), "\(result.stderr)")
        }
        if FileManager.default.fileExists(atPath: box.home + "/sigil.db") {
            let issuer = try Issuer(home: box.home)
            #expect(try issuer.count(TokenQuery()) == 0, "nothing was issued")
            issuer.close()
        }
        box.recordSecrets(of: [real])
        box.checkHygiene()
    }

    @Test("A ledger database others can read is refused with 77")
    func openLedgerRefused() async throws {
        let box = try Sandbox()
        _ = try await box.issue()
        let db = box.home + "/sigil.db"
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: db)
        let list = try await box.run("list")
        #expect(list.exitCode == 77, "\(list)")
        #expect(list.stderr.contains("chmod 600"), "\(list.stderr)")
        #expect(list.stderr.contains(db), "\(list.stderr)")
        #expect(fileMode(db) == 0o640, "sigil does not silently change the mode")
        let issue = try await box.run("issue", "--name", "x", "--audience", "billing", "--all")
        #expect(issue.exitCode == 77, "\(issue)")
        #expect(issue.stdout.isEmpty, "no token is shown when it cannot be recorded")
    }

    @Test(
        "An empty home others can enter is tightened to 0700; one holding a keyring is refused (77)",
        .bug(id: "open-home", "SecureFile.ensureHome accepted a group/world-accessible home folder"))
    func openHome() async throws {
        let box = try Sandbox()
        try FileManager.default.createDirectory(
            atPath: box.home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let first = try await box.run("init")
        #expect(first.exitCode == 0, "\(first)")
        #expect(first.stderr.contains("tightened"), "\(first.stderr)")
        #expect(fileMode(box.home) == 0o700)

        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: box.home)
        for command in [["issue", "--name", "x", "--audience", "billing", "--all"], ["list"], ["keys", "list"]] {
            let result = try await box.run(command)
            #expect(result.exitCode == 77, "\(result)")
            #expect(result.stderr.contains("chmod 700 \(box.home)"), "\(result.stderr)")
        }
        #expect(fileMode(box.home) == 0o755, "a home with secrets in it is not silently changed")
        box.checkHygiene()
    }

    @Test("A home others can write is always refused (77)")
    func writableHome() async throws {
        let box = try Sandbox()
        try FileManager.default.createDirectory(
            atPath: box.home, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: box.home)
        let result = try await box.run("init")
        #expect(result.exitCode == 77, "\(result)")
        #expect(result.stderr.contains("writable by other users"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: box.home + "/keyring.json"))
    }
}
