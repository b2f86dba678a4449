import Foundation
import SigilTestSupport
import Testing

/// `revocations pull --follow`: the sidecar that keeps a service's list current.
@Suite("revocations pull --follow")
struct PullFollowTests {
    @Test("--follow installs each newer list as it appears, and reports only replacements")
    func followsAFile() async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let keys = box.home + "/billing.keyset.json"
        let source = box.home + "/published.sgl"
        let installed = box.home + "/installed.sgl"
        try #require(try await box.run("keys", "export", "--audience", "billing", "-o", keys).exitCode == 0)
        try #require(try await box.run("revocations", "export", "-o", source).exitCode == 0)

        let log = box.home + "/follow.log"
        // The shell says it started, then becomes the sidecar with its output in the log.
        let command =
            "echo started; exec \"$0\" --home \"$1\" revocations pull \"$2\" -o \"$3\" --keys \"$4\" --follow > \"$5\" 2>&1"
        let sidecar = try await BackgroundProcess(
            "/bin/sh", ["-c", command, SigilBinary.path, box.home, source, installed, keys, log],
            environment: ProcessInfo.processInfo.environment)
        defer { sidecar.stop() }
        #expect(sidecar.firstLine == "started\n")

        func sequence() async throws -> Int? {
            guard FileManager.default.fileExists(atPath: installed) else { return nil }
            let show = try await box.run("--json", "revocations", "show", installed, "--keys", keys)
            return try? show.jsonObject()["sequence"] as? Int
        }
        func waitFor(_ wanted: Int) async throws -> Bool {
            for _ in 0..<100 {
                if try await sequence() == wanted { return true }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            return false
        }
        #expect(try await waitFor(1), "the first list is installed")
        try #require(try await box.run("revocations", "export", "-o", source).exitCode == 0)
        #expect(try await waitFor(2), "a newer list is installed within seconds")
        // A rollback at the source is refused and the newer list stays.
        let old = box.home + "/old.sgl"
        try FileManager.default.copyItem(atPath: installed, toPath: old)
        try #require(try await box.run("revocations", "export", "-o", source).exitCode == 0)
        #expect(try await waitFor(3))
        try FileManager.default.removeItem(atPath: source)
        try FileManager.default.copyItem(atPath: old, toPath: source)
        try await Task.sleep(nanoseconds: 2_500_000_000)
        #expect(try await sequence() == 3, "a rollback at the source never replaces the newer list")
        // Still running through the refusal: a newer list is still picked up.
        try #require(try await box.run("revocations", "export", "-o", box.home + "/newest.sgl").exitCode == 0)
        try FileManager.default.removeItem(atPath: source)
        try FileManager.default.copyItem(atPath: box.home + "/newest.sgl", toPath: source)
        #expect(try await waitFor(4), "the sidecar keeps running through refusals")

        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(text.components(separatedBy: "replaced:").count - 1 == 4, "\(text)")
        #expect(!text.contains("unchanged"), "quiet rounds are not reported: \(text)")
        #expect(text.contains("rollback") || text.contains("< 3"), "the refusal is reported: \(text)")
    }
}
