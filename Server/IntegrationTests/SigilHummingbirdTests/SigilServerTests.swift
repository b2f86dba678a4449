import Foundation
import Logging
import SigilHummingbird
import SigilVerifier
import Testing

/// The follower against a real sigil-server process on 127.0.0.1, changed through the real
/// `sigil` CLI. Runs when SIGIL_SERVER_BIN and SIGIL_BIN name the binaries
/// (scripts/hummingbird-test.sh builds both and sets them).
@Suite(
    "Follower against sigil-server",
    .enabled(
        if: ProcessInfo.processInfo.environment["SIGIL_SERVER_BIN"] != nil
            && ProcessInfo.processInfo.environment["SIGIL_BIN"] != nil,
        "set SIGIL_SERVER_BIN and SIGIL_BIN (scripts/hummingbird-test.sh does)"))
struct SigilServerTests {
    static let serverBinary = ProcessInfo.processInfo.environment["SIGIL_SERVER_BIN"] ?? ""
    static let sigilBinary = ProcessInfo.processInfo.environment["SIGIL_BIN"] ?? ""

    /// Runs the CLI on `home`; returns its stdout, or fails the test with its stderr.
    @discardableResult
    static func sigil(home: URL, _ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: sigilBinary)
        process.arguments = ["--home", home.path] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "sigil \(arguments.first ?? "") exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))"
        )
        return String(decoding: output, as: UTF8.self)
    }

    @Test("A revoke through the CLI is enforced by the follower within about a second")
    func revokeReachesFollower() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.serverBinary), "no \(Self.serverBinary)")
        try #require(FileManager.default.isExecutableFile(atPath: Self.sigilBinary), "no \(Self.sigilBinary)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-hb-server-\(UUID())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let home = root.appendingPathComponent("home")

        let issued =
            try JSONSerialization.jsonObject(
                with: Data(
                    try Self.sigil(
                        home: home, "issue", "--json", "--name", "follower target", "--audience", "devices", "--all",
                        "--expires-in", "1d"
                    ).utf8)) as? [String: Any]
        let token = try #require(issued?["token"] as? String)
        let guid = try #require(issued?["guid"] as? String)
        let keysetPath = root.appendingPathComponent("keyset.json").path
        try Self.sigil(home: home, "keys", "export", "--audience", "devices", "-o", keysetPath)

        // sigil-server on a free port; its output goes to a file we read for the port.
        let logPath = root.appendingPathComponent("server.log")
        FileManager.default.createFile(atPath: logPath.path, contents: nil)
        let log = try FileHandle(forWritingTo: logPath)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.serverBinary)
        server.arguments = ["--home", home.path, "--port", "0"]
        server.standardOutput = log
        server.standardError = log
        server.standardInput = FileHandle.nullDevice
        try server.run()
        defer {
            if server.isRunning {
                server.terminate()
                server.waitUntilExit()
            }
            try? log.close()
        }
        var port: Int? = nil
        _ = try await eventually(within: .seconds(30)) {
            let text = (try? String(contentsOf: logPath, encoding: .utf8)) ?? ""
            guard let range = text.range(of: #"listening on http://127\.0\.0\.1:\d+"#, options: .regularExpression)
            else { return false }
            port = Int(text[range].split(separator: ":").last ?? "")
            return port != nil
        }
        let serverPort = try #require(port, "sigil-server did not log its port")

        let keyset = try Keyset(contentsOf: keysetPath)
        let store = RevocationStore(keys: keyset.revocationKeys, noListPolicy: .failClosed)
        let verifier = try Verifier(keyset: keyset, revocations: store)
        let capture = LogCapture()
        let follower = RevocationFollower(
            server: "http://127.0.0.1:\(serverPort)/v1/revocations", store: store, wait: 10,
            logger: capture.logger("follower"))
        let task = Task { try await follower.run() }
        defer { task.cancel() }

        // The server publishes a list at start-up; the follower installs it.
        #expect(try await eventually(within: .seconds(10)) { store.list.isVerified } != nil)
        #expect(throws: Never.self) { _ = try verifier.verify(token) }
        try await Task.sleep(for: .milliseconds(300))  // the follower's next poll is now held

        try Self.sigil(home: home, "revoke", "--yes", guid)
        let took = try await eventually(within: .seconds(10)) {
            do throws(VerificationError) {
                _ = try verifier.verify(token)
                return false
            } catch { return error.reason == .revoked }
        }
        let elapsed = try #require(took, "the CLI revoke was not enforced within 10 s")
        print("sigil-server: CLI revoke enforced by the follower \(elapsed) after the CLI returned")
        #expect(elapsed < .milliseconds(1_500))
        #expect(!capture.all.contains { $0.text.contains(token) })
    }
}
