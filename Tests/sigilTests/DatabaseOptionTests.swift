import Foundation
import SigilTestSupport
import Testing

/// `--database` and `SIGIL_DATABASE` through the real `sigil`, run in the sandbox's own
/// folder so a value taken as a SQLite path would show up there as a file.
@Suite("--database: keyword strings refused, passwords never printed, nothing created")
struct DatabaseOptionTests {
    /// Runs `sigil ARGS…` with the sandbox's environment plus `env`, in the sandbox's root.
    static func run(_ box: Sandbox, _ arguments: [String], env: [String: String] = [:]) async throws
        -> CommandResult
    {
        let child = ChildProcess(
            SigilBinary.path, arguments, environment: box.environment(env), directory: box.root)
        return CommandResult(try await ProcessSlots.shared.run { try await child.run() }, stdin: "")
    }

    /// Every name in the sandbox's root, and below it.
    static func files(_ box: Sandbox) -> [String] {
        (FileManager.default.enumerator(atPath: box.root)?.allObjects as? [String] ?? []).sorted()
    }

    @Test(
        "Each form: PW on no stream, no file named after it, the documented exit code",
        .bug(id: "20-9", "postgres://u:PW@…?password= printed PW; a keyword string became a file"),
        arguments: [
            // A URL to a port nothing listens on: 69 (unavailable), the password redacted.
            ("postgres://u:PW@127.0.0.1:1/db?password=", Int32(69)),
            ("postgresql://u:PW@127.0.0.1:1/db", 69), ("postgres://u@127.0.0.1:1/db?password=PW", 69),
            ("postgres://u@127.0.0.1:1/db?PASSWORD=PW", 69), ("postgres://u@127.0.0.1:1/db?%70assword=PW", 69),
            ("postgres://u:%50W@127.0.0.1:1/db", 69),
            // What could be taken for a SQLite path and hold a password: 64, nothing created.
            ("host=127.0.0.1 port=1 password=PW", 64), ("password=PW", 64), ("dbname=x password=PW", 64),
            ("/tmp/ledger.db password=PW", 64), ("mysql://u:PW@127.0.0.1:1/db", 64),
        ])
    func forms(value: String, exitCode: Int32) async throws {
        let box = try Sandbox()
        for (arguments, env) in [
            (["--database", value, "init"], [String: String]()), (["--database", value, "list"], [:]),
            (["--json", "list"], ["SIGIL_DATABASE": value]),
        ] {
            let result = try await Self.run(box, arguments, env: env)
            #expect(result.exitCode == exitCode, "\(result)")
            for secret in ["PW", "%50W"] {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "\(result)")
            }
            #expect(!result.stderr.isEmpty)
            #expect(!Self.files(box).contains { $0.contains("PW") || $0.contains("password") }, "\(Self.files(box))")
            if exitCode == 64 {
                #expect(Self.files(box).isEmpty, "nothing is created: \(Self.files(box))")
                #expect(result.stderr.contains("--database"), "\(result.stderr)")
            }
        }
    }

    @Test("A SQLite path holding = after its first / is still a path")
    func pathWithEquals() async throws {
        let box = try Sandbox()
        try FileManager.default.createDirectory(atPath: box.path("a=b"), withIntermediateDirectories: false)
        let result = try await Self.run(box, ["--database", "a=b/ledger.db", "init"])
        #expect(result.exitCode == 64, "an = before the first / is a keyword string: \(result)")
        let ok = try await Self.run(box, ["--database", box.path("a=b/ledger.db"), "init"])
        #expect(ok.exitCode == 0, "\(ok)")
        #expect(FileManager.default.fileExists(atPath: box.path("a=b/ledger.db")))
    }
}
