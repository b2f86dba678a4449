import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Leaked and forgotten tokens: scan, revoke --token, expiring")
struct ScanTests {
    @Test("scan finds tokens in a folder tree, names each one, never prints it, and exits 1")
    func scanFolder() async throws {
        let box = try Sandbox()
        let (live, liveGUID) = try await box.issue(name: "CI deploy")
        let (gone, goneGUID) = try await box.issue(name: "old one")
        #expect(try await box.run("revoke", "--yes", goneGUID).exitCode == 0)
        let forged = try Tamper.flipMiddle(live)
        let tree = box.path("repo")
        try FileManager.default.createDirectory(atPath: tree + "/src/deep", withIntermediateDirectories: true)
        try writeFile(Array("a\nTOKEN=\(live)\n".utf8), to: tree + "/src/deep/.env")
        try writeFile(Array("{\"k\": \"\(gone)\"}\n\n  \(forged)\n".utf8), to: tree + "/config.json")
        try writeFile(Array("nothing here sgl_AAAA\n".utf8), to: tree + "/README")
        // A link out of the tree and a FIFO are neither followed nor read (a FIFO would block).
        try writeFile(Array("TOKEN=\(live)\n".utf8), to: box.path("outside.txt"))
        #expect(symlink(box.path("outside.txt"), tree + "/link.txt") == 0)
        #expect(mkfifo(tree + "/pipe", 0o600) == 0)

        let result = try await box.run("--json", "scan", tree)
        #expect(result.exitCode == 1, "\(result)")
        let o = try result.jsonObject()
        #expect(o["found"] as? Int == 3)
        #expect(o["files_scanned"] as? Int == 3)
        let findings = try #require(o["findings"] as? [[String: Any]])
        let byStatus = Dictionary(uniqueKeysWithValues: findings.map { ($0["status"] as? String ?? "", $0) })
        #expect(Set(byStatus.keys) == ["active", "revoked", "forged"])
        #expect(byStatus["active"]?["guid"] as? String == liveGUID)
        #expect(byStatus["active"]?["name"] as? String == "CI deploy")
        #expect(byStatus["active"]?["path"] as? String == tree + "/src/deep/.env")
        #expect(byStatus["active"]?["line"] as? Int == 2)
        #expect(byStatus["active"]?["column"] as? Int == 7)
        #expect(byStatus["revoked"]?["guid"] as? String == goneGUID)
        #expect(byStatus["forged"]?["verified"] as? Bool == false)
        #expect(byStatus["forged"]?["name"] == nil)

        let text = try await box.run("scan", tree)
        #expect(text.exitCode == 1)
        #expect(text.stdout.contains("\(tree)/src/deep/.env:2:7  \(liveGUID)  billing  active  CI deploy"))
        #expect(text.stderr.contains("3 tokens found in 3 files scanned"))
        for run in [result, text] {
            for secret in [live, gone, forged] { #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret)) }
        }
        box.checkHygiene()
    }

    @Test("scan - reads stdin; nothing found is exit 0; without a home matches are unverified")
    func scanStdin() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue()
        let clean = try await box.run("scan", "-", stdin: "no tokens at all\n")
        #expect(clean.exitCode == 0, "\(clean)")
        #expect(clean.stdout.isEmpty)

        let other = try await box.run(
            ["--home", box.path("no-home"), "--json", "scan", "-"], stdin: "Bearer \(token)\n")
        #expect(other.exitCode == 1, "\(other)")
        let finding = try #require((try other.jsonObject()["findings"] as? [[String: Any]])?.first)
        #expect(finding["status"] as? String == "unverified")
        #expect(finding["guid"] as? String == guid)
        #expect(finding["verified"] is NSNull)
        #expect(!FileManager.default.fileExists(atPath: box.path("no-home")), "scan must not create a home")
    }

    @Test("scan: a missing path is 66, no path is 64, an unreadable file is reported and skipped")
    func scanErrors() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        let missing = try await box.run("scan", box.path("nope"))
        #expect(missing.exitCode == 66)
        #expect(missing.stderr.contains("no file or folder at \(box.path("nope"))"))
        let none = try await box.run("scan")
        #expect(none.exitCode == 64)
        #expect(none.stderr.contains("give at least one file or folder"))

        try writeFile(Array(token.utf8), to: box.path("locked.txt"), mode: 0o000)
        try writeFile(Array(token.utf8), to: box.path("open.txt"))
        let partial = try await box.run("--json", "scan", box.path("locked.txt"), box.path("open.txt"))
        #expect(partial.exitCode == 1)
        if getuid() != 0 {  // root reads a mode-000 file
            #expect(partial.stderr.contains("cannot read \(box.path("locked.txt"))"))
            #expect(try partial.jsonObject()["unreadable"] as? Int == 1)
        }
    }

    @Test("expiring lists active tokens within the window, soonest first; exit 1 when any, 0 when none")
    func expiring() async throws {
        let box = try Sandbox()
        _ = try await box.issue(name: "in ten days", ["--all", "--expires-in", "10d"])
        _ = try await box.issue(name: "in two days", ["--all", "--expires-in", "2d"])
        _ = try await box.issue(name: "next year", ["--all", "--expires-in", "365d"])
        _ = try await box.issue(name: "forever", ["--all", "--never-expires"])
        let (_, goneGUID) = try await box.issue(name: "gone soon", ["--all", "--expires-in", "1d"])
        #expect(try await box.run("deactivate", "--yes", goneGUID).exitCode == 0)
        let (_, deletedGUID) = try await box.issue(name: "deleted", ["--all", "--expires-in", "3d"])
        #expect(try await box.run("delete", "--yes", deletedGUID).exitCode == 0)

        let result = try await box.run("--json", "expiring", "--within", "30d")
        #expect(result.exitCode == 1, "\(result)")
        let rows = try result.jsonArray()
        #expect(rows.map { $0["name"] as? String } == ["in two days", "in ten days"])
        #expect(rows.first?["expires_in_seconds"] as? Int == 2 * 86_400)

        let text = try await box.run("expiring")
        #expect(text.exitCode == 1)
        #expect(text.stdout.contains("in two days") && text.stdout.contains("2d 0h"))

        let none = try await box.run("expiring", "--within", "1d")
        #expect(none.exitCode == 0, "\(none)")
        #expect(none.stderr.contains("No active token expires within 1d"))
        for bad in ["0d", "soon", "-3d"] {
            let usage = try await box.run("expiring", "--within", bad)
            #expect(usage.exitCode == 64, "\(usage)")
        }
        #expect(try await box.run("--home", box.path("none"), "expiring").exitCode == 66)
    }

    @Test("revoke --token - revokes the token on stdin once its tag verifies; others change nothing")
    func revokeByToken() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue(name: "leaked")
        let (other, otherGUID) = try await box.issue(name: "bystander")
        let foreignBox = try Sandbox()
        let (foreign, _) = try await foreignBox.issue(name: "elsewhere")

        let forged = try await box.run(["revoke", "--token", "-"], stdin: try Tamper.flipMiddle(other) + "\n")
        #expect(forged.exitCode == 13, "\(forged)")
        let alien = try await box.run(["revoke", "--token", "-"], stdin: foreign + "\n")
        #expect(alien.exitCode == 12, "\(alien)")
        let junk = try await box.run(["revoke", "--token", "-"], stdin: "sgl_AAAA\n")
        #expect(junk.exitCode == 10, "\(junk)")
        #expect(try await box.show(otherGUID)["status"] as? String == "active")

        let done = try await box.run(["--json", "revoke", "--token", "-", "--actor", "sec-team"], stdin: token + "\n")
        #expect(done.exitCode == 0, "\(done)")
        #expect(try done.jsonObject()["guids"] as? [String] == [guid])
        #expect(try await box.show(guid)["status"] as? String == "revoked")
        let log = try await box.run("--json", "log", guid, "--action", "revoke").jsonArray()
        #expect(log.first?["actor"] as? String == "sec-team")
        #expect((log.first?["details"] as? [String: Any])?["source"] as? String == "revoke_by_token")

        for usage in [
            ["revoke", "--token", token], ["revoke", "--token", "-", guid], ["revoke", "--token", "-", "--cascade"],
        ] {
            let r = try await box.run(usage, stdin: token + "\n")
            #expect(r.exitCode == 64, "\(r)")
        }
        for run in box.allResults where run.arguments.contains("revoke") {
            #expect(!run.stdout.contains(token) && !run.stderr.contains(token))
            #expect(!run.stdout.contains(other) && !run.stderr.contains(other))
        }
    }
}
