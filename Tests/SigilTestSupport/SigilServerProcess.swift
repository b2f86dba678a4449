import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real sigil-server serving one home on a loopback port the kernel picks, for tests of the
/// CLI's remote mode: the bytes the client sends meet the server's strict parsing.
///
/// The binary is `SIGIL_SERVER_BIN`, or `Server/.build/debug/sigil-server` of this checkout
/// (`swift build --package-path Server --product sigil-server`). Its output goes to a log
/// file beside the home; the server stops when this value goes away.
///
/// ```swift
/// let server = try await SigilServerProcess(home: box.home, environment: box.environment())
/// let result = try await box.run(["--server", server.url, "--token-file", file, "list"])
/// ```
package final class SigilServerProcess: Sendable {
    /// Where the binary is expected.
    package static let path: String = {
        if let override = ProcessInfo.processInfo.environment["SIGIL_SERVER_BIN"], !override.isEmpty {
            return override
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent("Server/.build/debug/sigil-server").path
    }()

    /// Whether the binary is built; suites that need it are disabled otherwise.
    package static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// `http://127.0.0.1:PORT`.
    package let url: String
    /// The file the server's stdout and stderr go to.
    package let log: String
    private let process: BackgroundProcess

    /// Starts the server on `home` and waits (at most 20 s) until it says where it listens.
    package init(home: String, environment: [String: String], arguments: [String] = []) async throws {
        log = (home as NSString).deletingLastPathComponent + "/server-\(UUID().uuidString).log"
        process = try BackgroundProcess(
            Self.path, ["--home", home, "--port", "0"] + arguments, environment: environment,
            log: log)
        let marker = "sigil-server: listening on http://127.0.0.1:"
        let deadline = ContinuousClock.now + .seconds(20)
        var port: Int?
        while port == nil, ContinuousClock.now < deadline {
            let text = String(decoding: readFile(log) ?? [], as: UTF8.self)
            if let range = text.range(of: marker) {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        guard let port else {
            process.stop()
            let text = String(decoding: readFile(log) ?? [], as: UTF8.self)
            throw SpawnError(what: "sigil-server did not say where it listens:\n\(text.suffix(2_000))", code: 0)
        }
        url = "http://127.0.0.1:\(port)"
    }

    /// What the server has logged so far.
    package var logText: String { String(decoding: readFile(log) ?? [], as: UTF8.self) }

    /// Stops the server (SIGTERM) and reaps it.
    package func stop() { process.stop() }
}
