import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Byte patterns that must never be printed or logged: a value in every encoding a careless
/// log line could use.
struct Forbidden {
    var patterns: [(label: String, bytes: [UInt8])] = []

    mutating func add(_ label: String, _ value: [UInt8]) {
        let base64 = Data(value).base64EncodedString()
        let encodings: [(String, [UInt8])] = [
            ("raw", value),
            ("base64", Array(base64.utf8)),
            ("base64 unpadded", Array(base64.trimmingCharacters(in: ["="]).utf8)),
            ("base64url", Array(Base64URL.encode(value).utf8)),
            ("hex", Array(value.map { String($0, radix: 16).leftPadded }.joined().utf8)),
            ("HEX", Array(value.map { String($0, radix: 16).leftPadded }.joined().uppercased().utf8)),
        ]
        for (encoding, bytes) in encodings { patterns.append(("\(label) (\(encoding))", bytes)) }
    }

    func found(in haystack: [UInt8]) -> [String] {
        patterns.filter { !$0.bytes.isEmpty && haystack.contains(subsequence: $0.bytes) }.map(\.label)
    }
}

extension String {
    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
}

extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard needle.count <= count, let first = needle.first else { return needle.isEmpty }
        var i = 0
        while i + needle.count <= count {
            if self[i] == first, Array(self[i..<(i + needle.count)]) == needle { return true }
            i += 1
        }
        return false
    }
}

@Suite("Secret hygiene")
struct SecretHygieneTests {
    @Test("No command prints a master secret, a K_aud, a seed or a whole token, and the database holds none")
    func nothingLeaks() async throws {
        let scratch = try TempFolder("hygiene")
        let home = try Home(in: scratch)
        // An idle connection of this process keeps sigil.db-wal (with every commit's frames) alive.
        let holder = try Issuer(home: home.path, mode: .existing)
        defer { holder.close() }
        _ = try holder.isEmpty()
        let token = home.token
        let guid = home.guid.description
        let other = scratch.path("other.keyset.json")
        var forged = Array(token)
        forged[forged.count - 4] = forged[forged.count - 4] == "A" ? "B" : "A"
        let listFile = scratch.path("list.sgl")

        // Success and failure paths of every command.
        let commands: [[String]] = [
            ["init"], ["--json", "init"],
            ["inspect", token], ["--json", "inspect", token], ["inspect", String(forged)], ["inspect", "sgl_AAAA"],
            ["verify", token, "--audience", "billing"], ["--json", "verify", token, "--audience", "billing"],
            ["verify", String(forged), "--audience", "billing"],
            ["--json", "verify", String(forged), "--audience", "billing"],
            ["verify", token, "--audience", "shipping"],
            ["verify", token, "--audience", "billing", "--permission", "devices.delete"],
            ["verify", token, "--audience", "billing", "--at", "2040-01-01"],
            ["verify", token, "--audience", "bad aud"],
            ["list"], ["--json", "list"], ["show", guid], ["--json", "show", guid], ["show", token],
            ["show", "ffffffff"],
            ["edit", guid, "--name", "renamed"], ["edit", token, "--name", "x"],
            ["deactivate", guid], ["activate", guid], ["--json", "deactivate", guid], ["activate", guid],
            ["keys"], ["keys", "list"], ["--json", "keys", "list"], ["keys", "add"], ["keys", "promote", "k-nobody"],
            ["keys", "retire", Known.keyID], ["keys", "export", "--audience", "shipping", "-o", other],
            ["verify", token, "--audience", "billing", "--keys", other],
            ["catalog"], ["catalog", "show"], ["catalog", "add", "printers", "jam", "--access", "write"],
            ["revocations", "export", "-o", listFile], ["--json", "revocations", "export", "-o", listFile],
            ["revocations", "show", listFile], ["--json", "revocations", "show", listFile, "--entries"],
            ["revocations", "pull", listFile, "-o", scratch.path("pulled.sgl")],
            ["revocations", "pull", listFile, "-o", scratch.path("pulled.sgl"), "--keys", other],
            ["verify", token, "--audience", "billing", "--revocations", listFile],
            ["ledger", "compact"], ["--json", "ledger", "compact"],
            ["log"], ["--json", "log"], ["log", guid], ["--json", "log", token], ["log", "--actor", token],
            ["issue", "--name", "fail", "--audience", "billing"],
            ["issue", "--name", "x", "--audience", "billing", "--all", "--expires-in", "0d"],
            ["revoke", guid], ["revoke", "--yes", guid], ["delete", "--yes", guid], ["activate", guid],
            ["keys", "rotate"], ["--yes", "keys", "retire", Known.keyID], ["keys", "retire", "--yes", Known.keyID],
            ["--help"], ["issue", "--help"], ["nonsense"],
        ]
        var runs: [CommandResult] = []
        for arguments in commands { runs.append(try await home.run(arguments)) }
        let issued = try await home.run(["--json", "issue", "--name", "printed once", "--audience", "billing", "--all"])
        #expect(issued.status == 0, "\(issued)")
        let newToken = try #require(
            (try JSONSerialization.jsonObject(with: Data(issued.stdoutBytes)) as? [String: Any])?["token"] as? String)
        let plain = try await home.run(["issue", "--name", "printed once too", "--audience", "billing", "--all"])
        #expect(plain.status == 0 && plain.stdout.hasPrefix("sgl_"), "\(plain)")
        let plainToken = plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // The keyset export to stdout is the one output meant to hold K_aud (of its audience only).
        let keysetOut = try await home.run(["keys", "export", "--audience", "billing"])

        let rotated = try await home.run(["keys", "rotate"])
        #expect(rotated.status == 0, "\(rotated)")
        let afterRotation = try await home.run([
            "--json", "issue", "--name", "after rotation", "--audience", "billing", "--all",
        ])
        #expect(afterRotation.status == 0, "\(afterRotation)")
        let rotatedToken = try #require(
            (try JSONSerialization.jsonObject(with: Data(afterRotation.stdoutBytes)) as? [String: Any])?["token"]
                as? String)
        let log = try await home.run(["--json", "log", "--limit", "100000"])
        #expect(log.status == 0, "\(log)")

        // Everything secret the home ever held, read from keyring.json itself: every base64url
        // "secret" and "seed" (keys rotate and add made new ones).
        var secrets = Forbidden()
        let ringJSON = try #require(
            try JSONSerialization.jsonObject(with: Data(readFile(home.path + "/keyring.json") ?? [])) as? [String: Any]
        )
        var masters: [[UInt8]] = [Known.secret]
        var seeds: [[UInt8]] = [Known.seed]
        for key in ringJSON["token_keys"] as? [[String: Any]] ?? [] {
            if let text = key["secret"] as? String, let bytes = Base64URL.decode(Substring(text)) {
                masters.append(bytes)
            }
        }
        for key in ringJSON["revocation_keys"] as? [[String: Any]] ?? [] {
            if let text = key["seed"] as? String, let bytes = Base64URL.decode(Substring(text)) { seeds.append(bytes) }
        }
        #expect(masters.count >= 3 && seeds.count >= 2, "the keyring's secrets were not all read")
        for (i, master) in masters.enumerated() {
            secrets.add("master secret \(i)", master)
            for audience in ["billing", "shipping"] {
                secrets.add(
                    "K_aud \(audience) of key \(i)",
                    try TokenMinter.audienceKey(masterSecret: master, audience: audience))
            }
        }
        for (i, seed) in seeds.enumerated() { secrets.add("signing seed \(i)", seed) }
        var tokens = Forbidden()
        for (label, text) in [
            ("known token", token), ("issued token", newToken), ("plain issued token", plainToken),
            ("token after rotation", rotatedToken),
        ] {
            tokens.add(label, Array(text.utf8))
            if let body = Base64URL.decode(text.dropFirst(4)) { tokens.add("\(label) bytes", body) }
        }

        for run in runs + [issued, plain, rotated, afterRotation, log] {
            for (stream, bytes) in [("stdout", run.stdoutBytes), ("stderr", run.stderrBytes)] {
                #expect(
                    secrets.found(in: bytes).isEmpty, "\(secrets.found(in: bytes)) on \(stream) of \(run.arguments)")
            }
            #expect(!run.signaled, "\(run)")
        }
        for run in runs + [rotated, log] {
            let found = tokens.found(in: run.stdoutBytes + run.stderrBytes)
            #expect(found.isEmpty, "\(found) printed by \(run.arguments)")
        }
        // issue prints its own token on stdout, once, and nothing else secret.
        #expect(tokens.found(in: issued.stderrBytes + plain.stderrBytes + afterRotation.stderrBytes).isEmpty)
        #expect(!issued.stdout.contains(token) && !plain.stdout.contains(newToken))
        // keys export to stdout holds billing's K_aud and nothing else of ours.
        let exported = secrets.found(in: keysetOut.stdoutBytes)
        #expect(!exported.isEmpty && exported.allSatisfy { $0.hasPrefix("K_aud billing") }, "\(exported)")

        #expect(Home.mode(home.path + "/sigil.db-wal") != nil, "no -wal to search")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: home.path)) ?? []
        for file in ["sigil.db", "sigil.db-wal", "sigil.db-shm", "revocations.seq"]
            + leftovers.filter({ $0.hasSuffix(".tmp") })
        {
            let bytes = readFile(home.path + "/" + file) ?? []
            #expect(secrets.found(in: bytes).isEmpty, "\(secrets.found(in: bytes)) in \(file)")
            #expect(tokens.found(in: bytes).isEmpty, "\(tokens.found(in: bytes)) in \(file)")
        }
        for list in [listFile, home.path + "/revocations.sgl"] {
            let bytes = readFile(list) ?? []
            #expect(secrets.found(in: bytes).isEmpty && tokens.found(in: bytes).isEmpty, "\(list)")
        }
    }
}
