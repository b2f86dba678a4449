import Foundation
import SigilTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("revocations export, show and pull")
struct RevocationsTests {
    @Test("export: signed list, sequence +1 each time, JSON shape, default path")
    func exportSequence() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let first = try await box.run("--json", "revocations", "export")
        #expect(first.exitCode == 0, "\(first)")
        let o = try first.jsonObject()
        #expect(
            Set(o.keys) == [
                "kid", "sequence", "issued_at", "next_update", "count", "deactivated", "revoked", "path", "bytes",
            ])
        #expect(o["sequence"] as? Int == 1)
        #expect(o["count"] as? Int == 0)
        #expect(o["issued_at"] as? Int64 == Sandbox.defaultNow)
        #expect(o["next_update"] as? Int64 == Sandbox.defaultNow + 86_400, "a day by default")
        #expect(o["path"] as? String == box.home + "/revocations.sgl")
        #expect(o["bytes"] as? Int == (readFile(box.home + "/revocations.sgl") ?? []).count)
        let keys = try await box.run("--json", "keys", "list").jsonObject()
        let rkid = (keys["revocation_keys"] as? [[String: Any]])?.first?["kid"] as? String
        #expect(o["kid"] as? String == rkid)

        let second = try await box.exportRevocations(to: box.path("elsewhere.sgl"), env: ["SIGIL_NOW": "1800000100"])
        #expect(second["sequence"] as? Int == 2)
        let third = try await box.run("--json", "revocations", "export", "--next-update", "1h")
        #expect(try third.jsonObject()["sequence"] as? Int == 3)
        #expect(try third.jsonObject()["next_update"] as? Int64 == Sandbox.defaultNow + 3600)
        let plain = try await box.run("revocations", "export")
        #expect(plain.stderr.contains("Wrote revocation list #4"), "\(plain.stderr)")
        #expect(try await box.run("revocations", "export", "--next-update", "soon").exitCode == 64)

        let show = try await box.run("--json", "revocations", "show", box.home + "/revocations.sgl")
        #expect(show.exitCode == 0, "\(show)")
        let s = try show.jsonObject()
        #expect(s["sequence"] as? Int == 4)
        #expect(s["verified"] as? Bool == true)
        #expect(s["reason"] is NSNull)
        let text = try await box.run("revocations", "show", box.home + "/revocations.sgl")
        #expect(text.stdout.contains("signature    verified"))
        #expect(text.stdout.contains("sequence     4"))
        box.checkHygiene()
    }

    @Test("The list follows the lifecycle: deactivated 15, activated 0, revoked 14, deleted 14")
    func lifecycle() async throws {
        let box = try Sandbox()
        let (a, aID) = try await box.issue(name: "a")
        let (b, bID) = try await box.issue(name: "b")
        let list = box.path("list.sgl")
        func code(_ token: String) async throws -> Int32 {
            try await box.verify(token, ["--revocations", list]).exitCode
        }

        #expect(try await box.run("deactivate", aID).exitCode == 0)
        var export = try await box.exportRevocations(to: list)
        #expect(export["deactivated"] as? Int == 1 && export["revoked"] as? Int == 0)
        #expect(try await code(a) == 15)
        #expect(try await code(b) == 0)

        #expect(try await box.run("activate", aID).exitCode == 0)
        export = try await box.exportRevocations(to: list)
        #expect(export["count"] as? Int == 0)
        #expect(try await code(a) == 0)

        #expect(try await box.run("revoke", "--yes", aID).exitCode == 0)
        #expect(try await box.run("delete", "--yes", bID).exitCode == 0)
        export = try await box.exportRevocations(to: list)
        #expect(export["revoked"] as? Int == 2 && export["count"] as? Int == 2)
        #expect(try await code(a) == 14)
        #expect(try await code(b) == 14)
        let entries =
            try await box.run("--json", "revocations", "show", list, "--entries").jsonObject()["entries"]
            as? [[String: Any]]
        #expect(Set(entries?.compactMap { $0["guid"] as? String } ?? []) == [aID, bID])
        #expect(entries?.allSatisfy { $0["status"] as? String == "revoked" } == true)
        box.checkHygiene()
    }

    @Test("A deleted or revoked token is left out of the list a day after its valid_to has passed")
    func expiredLeftOut() async throws {
        let box = try Sandbox()
        let (_, short) = try await box.issue(name: "short", ["--all", "--expires-in", "1h"])
        let (_, shortRevoked) = try await box.issue(name: "short revoked", ["--all", "--expires-in", "1h"])
        let (_, long) = try await box.issue(name: "long", ["--all", "--expires-in", "30d"])
        #expect(try await box.run("delete", "--yes", short, long).exitCode == 0)
        #expect(try await box.run("revoke", "--yes", shortRevoked).exitCode == 0)
        let before = try await box.exportRevocations(to: box.path("now.sgl"))
        #expect(before["count"] as? Int == 3)
        // An hour after the short ones expired, services may still accept them (leeway): listed.
        let hourLater = try await box.exportRevocations(
            to: box.path("hour.sgl"), env: ["SIGIL_NOW": String(Sandbox.defaultNow + 7200)])
        #expect(hourLater["count"] as? Int == 3)
        let later = try await box.exportRevocations(
            to: box.path("later.sgl"), env: ["SIGIL_NOW": String(Sandbox.defaultNow + 3600 + 86_400 + 1)])
        #expect(later["count"] as? Int == 1)
        let entries =
            try await box.run("--json", "revocations", "show", box.path("later.sgl"), "--entries").jsonObject()[
                "entries"]
            as? [[String: Any]]
        #expect(entries?.map { $0["guid"] as? String } == [long])
    }

    /// A home with a few changes and lists #1 and #2 exported to files.
    struct PullFixture {
        let box: Sandbox
        let keyset: String
        let seq1: String
        let seq2: String

        static func make() async throws -> PullFixture {
            let box = try Sandbox()
            let (_, a) = try await box.issue(name: "a")
            let (_, b) = try await box.issue(name: "b")
            #expect(try await box.run("revoke", "--yes", a).exitCode == 0)
            let seq1 = box.path("seq1.sgl")
            try await box.exportRevocations(to: seq1)
            #expect(try await box.run("deactivate", b).exitCode == 0)
            let seq2 = box.path("seq2.sgl")
            try await box.exportRevocations(to: seq2)
            let keyset = box.path("billing.keyset.json")
            #expect(try await box.run("keys", "export", "--audience", "billing", "-o", keyset).exitCode == 0)
            try FileManager.default.createDirectory(atPath: box.path("service"), withIntermediateDirectories: true)
            return PullFixture(box: box, keyset: keyset, seq1: seq1, seq2: seq2)
        }

        func pull(_ source: String, into output: String, keys: String? = nil) async throws -> CommandResult {
            try await box.run(["--json", "revocations", "pull", source, "-o", output, "--keys", keys ?? keyset])
        }
    }

    @Test("pull from a file: replaced, unchanged, then newer replaced")
    func pullReplaceUnchanged() async throws {
        let f = try await PullFixture.make()
        let output = f.box.path("service/revocations.sgl")
        let first = try await f.pull(f.seq1, into: output)
        #expect(first.exitCode == 0, "\(first)")
        let o = try first.jsonObject()
        #expect(o["outcome"] as? String == "replaced")
        #expect((o["list"] as? [String: Any])?["sequence"] as? Int == 1)
        #expect(readFile(output) == readFile(f.seq1))

        let again = try await f.pull(f.seq1, into: output)
        #expect(again.exitCode == 0)
        #expect(try again.jsonObject()["outcome"] as? String == "unchanged")

        let newer = try await f.pull(f.seq2, into: output)
        #expect(newer.exitCode == 0)
        #expect(try newer.jsonObject()["outcome"] as? String == "replaced")
        #expect(readFile(output) == readFile(f.seq2))
        // The home keyring is the default key source.
        let viaHome = try await f.box.run("revocations", "pull", f.seq2, "-o", output)
        #expect(viaHome.exitCode == 0, "\(viaHome)")
        #expect(viaHome.stderr.contains("unchanged"))
        f.box.checkHygiene()
    }

    @Test("pull refuses a rollback (22) and keeps the file")
    func pullRollback() async throws {
        let f = try await PullFixture.make()
        let output = f.box.path("service/revocations.sgl")
        #expect(try await f.pull(f.seq2, into: output).exitCode == 0)
        let result = try await f.pull(f.seq1, into: output)
        #expect(result.exitCode == 22, "\(result)")
        #expect(try result.jsonObject()["error"] as? String == "rollback")
        #expect(result.stderr.contains("kept"))
        #expect(readFile(output) == readFile(f.seq2))
    }

    @Test("pull refuses equivocation — same sequence, other bytes — (23) and keeps the file")
    func pullEquivocation() async throws {
        let f = try await PullFixture.make()
        // A copy of the home signs a different list #3 with the same key.
        let fork = f.box.path("fork-home")
        try FileManager.default.copyItem(atPath: f.box.home, toPath: fork)
        let (_, extra) = try await f.box.issue(name: "extra")
        #expect(try await f.box.run("deactivate", extra).exitCode == 0)
        let mine = f.box.path("seq3.sgl")
        let theirs = f.box.path("seq3-fork.sgl")
        #expect(try await f.box.exportRevocations(to: mine)["sequence"] as? Int == 3)
        let forked = try await f.box.run("--json", "--home", fork, "revocations", "export", "-o", theirs)
        #expect(try forked.jsonObject()["sequence"] as? Int == 3)
        #expect(readFile(mine) != readFile(theirs))

        let output = f.box.path("service/revocations.sgl")
        #expect(try await f.pull(mine, into: output).exitCode == 0)
        let result = try await f.pull(theirs, into: output)
        #expect(result.exitCode == 23, "\(result)")
        #expect(try result.jsonObject()["error"] as? String == "equivocation")
        #expect(readFile(output) == readFile(mine))
    }

    @Test("pull refuses a list with a flipped bit (21) and keeps the file", arguments: [-1, -40, -70])
    func pullBadSignature(offsetFromEnd: Int) async throws {
        let f = try await PullFixture.make()
        let output = f.box.path("service/revocations.sgl")
        #expect(try await f.pull(f.seq1, into: output).exitCode == 0)
        var bytes = readFile(f.seq2) ?? []
        // -1 and -40: in the signature; -70: in the last entry's GUID.
        bytes[bytes.count + offsetFromEnd] ^= 0x01
        let forged = f.box.path("forged.sgl")
        try writeFile(bytes, to: forged, mode: 0o644)
        let result = try await f.pull(forged, into: output)
        #expect(result.exitCode == 21, "\(result)")
        #expect(try result.jsonObject()["error"] as? String == "bad_signature")
        #expect(readFile(output) == readFile(f.seq1))
        let show = try await f.box.run("--json", "revocations", "show", forged, "--keys", f.keyset)
        #expect(show.exitCode == 21)
        #expect(try show.jsonObject()["verified"] as? Bool == false)
    }

    @Test("pull refuses a list signed by another home's key (20) and keeps the file")
    func pullWrongKey() async throws {
        let f = try await PullFixture.make()
        let output = f.box.path("service/revocations.sgl")
        #expect(try await f.pull(f.seq1, into: output).exitCode == 0)
        let other = f.box.path("other-home")
        let foreign = f.box.path("foreign.sgl")
        #expect(try await f.box.run("--home", other, "init").exitCode == 0)
        for _ in 0..<3 {
            #expect(try await f.box.run("--home", other, "revocations", "export", "-o", foreign).exitCode == 0)
        }
        let result = try await f.pull(foreign, into: output)
        #expect(result.exitCode == 20, "\(result)")
        #expect(try result.jsonObject()["error"] as? String == "unknown_key")
        #expect(readFile(output) == readFile(f.seq1))
        // show says the same, with the home keyring as default keys.
        let show = try await f.box.run("revocations", "show", foreign)
        #expect(show.exitCode == 20)
        #expect(show.stdout.contains("NOT VERIFIED"))
        f.box.recordSecrets(of: [other])
        f.box.checkHygiene()
    }

    @Test("pull: a missing source is 66, a malformed or oversized list is 65; the file is kept")
    func pullBadSources() async throws {
        let f = try await PullFixture.make()
        let output = f.box.path("service/revocations.sgl")
        #expect(try await f.pull(f.seq1, into: output).exitCode == 0)
        #expect(try await f.pull(f.box.path("missing.sgl"), into: output).exitCode == 66)
        try writeFile(Array("not a list".utf8), to: f.box.path("junk.sgl"))
        #expect(try await f.pull(f.box.path("junk.sgl"), into: output).exitCode == 65)
        var truncated = readFile(f.seq2) ?? []
        truncated.removeLast(10)
        try writeFile(truncated, to: f.box.path("truncated.sgl"))
        #expect(try await f.pull(f.box.path("truncated.sgl"), into: output).exitCode == 65)
        let big = try await f.box.run(
            ["revocations", "pull", f.seq2, "-o", output, "--keys", f.keyset, "--max-bytes", "100"])
        #expect(big.exitCode == 65, "\(big)")
        #expect(readFile(output) == readFile(f.seq1))
    }

    @Test(
        "pull over HTTP from a local server: replaced, then 304 unchanged, then a newer list",
        .enabled(if: LocalHTTPServer.python != nil, "needs python3 for http.server"))
    func pullHTTP() async throws {
        let f = try await PullFixture.make()
        let www = f.box.path("www")
        try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
        let published = www + "/revocations.sgl"
        try writeFile((readFile(f.seq1) ?? []), to: published, mode: 0o644)
        // Whole-second Last-Modified values that differ, so If-Modified-Since is unambiguous.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000)], ofItemAtPath: published)

        let server = try await LocalHTTPServer(directory: www)
        defer { server.stop() }
        let output = f.box.path("service/revocations.sgl")
        let url = server.url("revocations.sgl")

        let first = try await f.pull(url, into: output)
        #expect(first.exitCode == 0, "\(first)")
        #expect(try first.jsonObject()["outcome"] as? String == "replaced")
        #expect(readFile(output) == readFile(f.seq1))
        #expect(FileManager.default.fileExists(atPath: output + ".http.json"), "validators are kept for the next pull")

        let second = try await f.pull(url, into: output)
        #expect(second.exitCode == 0, "\(second)")
        let outcome = try second.jsonObject()
        #expect(outcome["outcome"] as? String == "unchanged")
        #expect((outcome["message"] as? String)?.contains("304") == true, "\(outcome)")

        try writeFile((readFile(f.seq2) ?? []), to: published, mode: 0o644)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_700_000_100)], ofItemAtPath: published)
        let third = try await f.pull(url, into: output)
        #expect(try third.jsonObject()["outcome"] as? String == "replaced")
        #expect(readFile(output) == readFile(f.seq2))

        // Publishing an older list is a rollback even over HTTP.
        try writeFile((readFile(f.seq1) ?? []), to: published, mode: 0o644)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSince1970: 1_700_000_200)], ofItemAtPath: published)
        #expect(try await f.pull(url, into: output).exitCode == 22)
        #expect(readFile(output) == readFile(f.seq2))

        let missing = try await f.pull(server.url("missing.sgl"), into: output)
        #expect(missing.exitCode == 69, "\(missing)")
        #expect(readFile(output) == readFile(f.seq2))
        server.stop()
        f.box.checkHygiene()
    }
}
