import Foundation
import SigilTestSupport
import Testing

/// Which commands run through `--server`, stated for every subcommand at once.
///
/// The commands come from the binary's own command tree (`--experimental-dump-help`, the
/// root configuration), so a new command is covered without touching this file: unless it
/// declares otherwise, it must refuse `--server` and touch no home.
@Suite("Every command either runs through the server or refuses --server")
struct RemoteCapabilityTests {
    /// The commands that go through sigil-server's API (docs/CLI.md, Remote mode).
    static let remote: Set<String> = [
        "issue", "list", "show", "edit", "deactivate", "activate", "revoke", "delete", "log", "catalog show",
        "members list", "members add", "members show", "members edit", "members suspend", "members activate",
        "members remove",
    ]
    /// The commands that never talk to an issuer: an explicit `--server` is refused as a misunderstanding.
    static let offline: Set<String> = ["inspect", "verify", "scan", "revocations pull", "revocations show"]

    /// A value for a required argument, by its value name in the help.
    static let values: [String: String] = [
        "guid": "00000000-0000-0000-0000-000000000001", "kid": "k1", "resource": "reports", "action": "export",
        "audience": "billing", "name": "n", "duration": "90d", "file": "list.sgl",
        "source": "http://127.0.0.1:9/v1/revocations", "url": "postgres://127.0.0.1:9/sigil",
        "email": "ada@example.com", "member": "00000000-0000-4000-8000-000000000001",
    ]
    /// What a command's own validation needs beyond its required arguments.
    static let extras: [String: [String]] = [
        "issue": ["--all"], "edit": ["--name", "x"],
        "deactivate": ["--yes", "00000000-0000-0000-0000-000000000001"],
        "activate": ["00000000-0000-0000-0000-000000000001"],
        "revoke": ["--yes", "00000000-0000-0000-0000-000000000001"],
        "delete": ["--yes", "00000000-0000-0000-0000-000000000001"],
        "keys retire": ["--yes"], "scan": ["-"],
        "members add": ["--audience", "sigil", "--all"], "members edit": ["--name", "x"],
    ]

    /// One runnable command: its words after `sigil` and arguments that pass its parsing.
    struct Leaf: CustomStringConvertible {
        let path: String
        let arguments: [String]
        var description: String { "sigil \(path)" }
    }

    /// Every leaf of the command tree the binary reports, with arguments built from its help.
    static func leaves(in box: Sandbox) async throws -> [Leaf] {
        let dump = try await box.run("--experimental-dump-help")
        try #require(dump.exitCode == 0, "\(dump)")
        let root = try #require(
            (try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])?["command"]
                as? [String: Any])
        var out: [Leaf] = []
        func walk(_ command: [String: Any], _ words: [String]) {
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            for sub in subcommands {
                guard let name = sub["commandName"] as? String, name != "help" else { continue }
                walk(sub, words + [name])
            }
            guard subcommands.isEmpty, !words.isEmpty else { return }
            let path = words.joined(separator: " ")
            var arguments = words
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                guard argument["isOptional"] as? Bool == false else { continue }
                let valueName = argument["valueName"] as? String ?? ""
                let value =
                    (argument["allValues"] as? [String])?.first ?? values[valueName] ?? "x"
                if let names = argument["names"] as? [[String: Any]], let long = names.first?["name"] as? String {
                    arguments += ["--\(long)", value]
                } else {
                    arguments.append(value)
                }
            }
            out.append(Leaf(path: path, arguments: arguments + (extras[path] ?? [])))
        }
        walk(root, [])
        return out
    }

    /// Each file under `path` with its bytes and modification time; empty when there is none.
    static func snapshot(_ path: String) -> [String: (Data, Date)] {
        var out: [String: (Data, Date)] = [:]
        guard let walker = FileManager.default.enumerator(atPath: path) else { return out }
        while let name = walker.nextObject() as? String {
            let file = path + "/" + name
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            out[name] = (
                FileManager.default.contents(atPath: file) ?? Data(),
                attributes?[.modificationDate] as? Date ?? .distantPast
            )
        }
        return out
    }

    static func expectUnchanged(
        _ before: [String: (Data, Date)], _ path: String, _ leaf: Leaf,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let after = snapshot(path)
        #expect(Set(after.keys) == Set(before.keys), "\(leaf) changed the home's files", sourceLocation: sourceLocation)
        for (name, (bytes, time)) in before {
            #expect(
                after[name]?.0 == bytes && after[name]?.1 == time, "\(leaf) changed \(name)",
                sourceLocation: sourceLocation)
        }
    }

    @Test("Each subcommand with --server either tries the server (69) or refuses (64) touching no home")
    func everySubcommand() async throws {
        let (tree, _) = try RemoteModeTests.sandbox()
        let leaves = try await Self.leaves(in: tree)
        #expect(leaves.count >= 30, "the command tree looks too small: \(leaves)")
        let paths = Set(leaves.map(\.path))
        #expect(Self.remote.isSubset(of: paths) && Self.offline.isSubset(of: paths), "\(paths)")
        #expect(Set(Self.extras.keys).isSubset(of: paths), "stale entries in extras")

        try await withThrowingTaskGroup(of: Void.self) { group in
            for leaf in leaves {
                group.addTask { try await Self.check(leaf) }
            }
            try await group.waitForAll()
        }
    }

    static func check(_ leaf: Leaf) async throws {
        let (box, file) = try RemoteModeTests.sandbox()
        let url = "http://127.0.0.1:\(try RemoteModeTests.closedPort())"
        let remoteFlags = ["--server", url, "--token-file", file]
        let result = try await box.run(remoteFlags + leaf.arguments, stdin: "")
        RemoteModeTests.expectNoToken(result)
        #expect(!result.stderr.contains("Usage:"), "\(leaf): the arguments do not parse; add to extras: \(result)")
        #expect(!FileManager.default.fileExists(atPath: box.home), "\(leaf) created a home: \(result)")
        if remote.contains(leaf.path) {
            #expect(result.exitCode == 69, "\(result)")
            #expect(result.stderr.contains("cannot reach sigil-server at \(url)"), "\(result)")
            return
        }
        #expect(result.exitCode == 64, "\(result)")
        let reason =
            offline.contains(leaf.path)
            ? "sigil \(leaf.path) works offline and never talks to the issuer: drop --server"
            : "sigil \(leaf.path) needs "
        #expect(result.stderr.contains(reason), "\(result)")
        if !offline.contains(leaf.path) {
            #expect(result.stderr.contains("runs on the issuer host with --home, not with --server"), "\(result)")
        }

        // With a home, and with --json: the same refusal, as JSON, and the home as it was.
        let setup = try await box.run("init")
        try #require(setup.exitCode == 0, "\(setup)")
        let before = snapshot(box.home)
        let json = try await box.run(remoteFlags + ["--json"] + leaf.arguments, stdin: "")
        #expect(json.exitCode == 64, "\(json)")
        #expect(try json.jsonObject()["exit_code"] as? Int == 64, "\(json)")
        expectUnchanged(before, box.home, leaf)
        guard !offline.contains(leaf.path) else { return }
        // SIGIL_SERVER alone means remote mode too.
        let env = try await box.run(leaf.arguments, stdin: "", env: ["SIGIL_SERVER": url])
        #expect(env.exitCode == 64 && env.stderr.contains("SIGIL_SERVER is set"), "\(env)")
        expectUnchanged(before, box.home, leaf)
    }

    @Test(
        "ledger migrate with --server refuses instead of migrating the local home",
        .bug(id: "21", "sigil --server URL --token-file F ledger migrate --to postgres://… migrated the local home"))
    func ledgerMigrateRefuses() async throws {
        let (box, file) = try RemoteModeTests.sandbox()
        _ = try await box.issue()
        let before = Self.snapshot(box.home)
        let target = "postgres://sigil@127.0.0.1:\(try RemoteModeTests.closedPort())/sigil"
        let result = try await box.run(
            "--server", "http://127.0.0.1:\(try RemoteModeTests.closedPort())", "--token-file", file, "ledger",
            "migrate", "--to", target)
        #expect(result.exitCode == 64, "\(result)")
        #expect(
            result.stderr.contains(
                "sigil ledger migrate needs the issuer's home: it copies the home's ledger, so it runs on the issuer host with --home, not with --server"
            ), "\(result)")
        Self.expectUnchanged(before, box.home, Leaf(path: "ledger migrate", arguments: []))
    }
}
