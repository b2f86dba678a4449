import Foundation
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
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let sidecar = Process()
        sidecar.executableURL = URL(fileURLWithPath: SigilBinary.path)
        sidecar.arguments = [
            "--home", box.home, "revocations", "pull", source, "-o", installed, "--keys", keys, "--follow",
        ]
        sidecar.standardOutput = output
        sidecar.standardError = output
        try sidecar.run()
        defer {
            // SIGKILL: a child started from a concurrency thread may have SIGTERM blocked.
            kill(sidecar.processIdentifier, SIGKILL)
            sidecar.waitUntilExit()
        }

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
        #expect(sidecar.isRunning, "the sidecar keeps running through refusals")

        let text = String(decoding: FileManager.default.contents(atPath: log) ?? Data(), as: UTF8.self)
        #expect(text.components(separatedBy: "replaced:").count - 1 == 3, "\(text)")
        #expect(!text.contains("unchanged"), "quiet rounds are not reported: \(text)")
        #expect(text.contains("rollback") || text.contains("< 3"), "the refusal is reported: \(text)")
    }
}
