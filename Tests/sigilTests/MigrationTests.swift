import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

/// A v0.1 home written by hand: `keyring.json` (two token keys), `ledger.jsonl` in the v0.1
/// journal format (one JSON object per line, keys sorted) and `catalog.json`, and no database.
struct LegacyHome {
    let box: Sandbox
    /// Token texts and GUIDs by short name: active, inactive, revoked, deleted, edited,
    /// reactivated, compacted (a deleted token as a compacted v0.1 journal wrote it).
    var tokens: [String: (token: String, guid: String)] = [:]
    var oldKeyID = ""
    var newKeyID = ""
    var lines: [String] = []
    static let exportSequence = 7
    static let created: Int64 = Sandbox.defaultNow - 10 * 86_400
    static let validTo: Int64 = created + 90 * 86_400
    static let editedAt: Int64 = created + 3 * 86_400
    static let revokedAt: Int64 = created + 4 * 86_400
    static let catalog = #"{"format":"sigil-catalog-v1","resources":{"devices":{"list":"read"}}}"#

    var ledgerPath: String { box.home + "/ledger.jsonl" }

    func guid(_ name: String) -> String { tokens[name]?.guid ?? "no token \(name)" }
    func token(_ name: String) -> String { tokens[name]?.token ?? "no token \(name)" }
    var catalogPath: String { box.home + "/catalog.json" }
    var dbPath: String { box.home + "/sigil.db" }

    static func line(_ object: [String: Any]) throws -> String {
        String(
            decoding: try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
            as: UTF8.self)
    }

    /// Builds the home; `write: false` leaves the journal lines in ``lines`` unwritten.
    static func make(write: Bool = true) async throws -> LegacyHome {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        try #require(try await box.run("keys", "rotate").exitCode == 0)
        // v0.1 had no database: drop what init made, keep its keyring.
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: box.home + "/sigil.db" + suffix)
        }
        try? FileManager.default.removeItem(atPath: box.home + "/revocations.seq")
        let ring = try Keyring.load(home: box.home)
        try #require(ring.tokenKeys.count == 2)
        var home = LegacyHome(box: box)
        home.newKeyID = ring.activeKey.keyID
        let old = try #require(ring.tokenKeys.first { $0.keyID != ring.activeKey.keyID })
        home.oldKeyID = old.keyID

        let specs: [(name: String, key: Keyring.TokenMasterKey, scope: Scope, json: Any, by: String)] = [
            ("active", old, .all, "all", "alice"),
            ("inactive", ring.activeKey, .readOnly, "read-only", "bob"),
            ("revoked", old, .custom(["devices.list"]), ["devices.list"], "alice"),
            ("deleted", ring.activeKey, .all, "all", "carol"),
            ("edited", ring.activeKey, .all, "all", "bob"),
            ("reactivated", old, .readOnly, "read-only", "alice"),
            ("compacted", ring.activeKey, .all, "all", "dave"),
        ]
        for (i, spec) in specs.enumerated() {
            let id = TokenMinter.newTokenID()
            let claims = try TokenClaims(
                keyID: spec.key.keyID, audience: "billing", id: id, validFrom: created, validTo: validTo,
                scope: spec.scope)
            home.tokens[spec.name] = (try TokenMinter.mint(claims, masterSecret: spec.key.secret), id.description)
            var token: [String: Any] = [
                "audience": "billing", "created_at": created + Int64(i), "created_by": spec.by, "description": "",
                "guid": id.description, "kid": spec.key.keyID, "name": spec.name, "scope": spec.json,
                "status": "active", "updated_at": created + Int64(i), "valid_from": created, "valid_to": validTo,
            ]
            if spec.name == "compacted" {
                token["status"] = "revoked"
                token["revoked_at"] = revokedAt
                token["deleted_at"] = revokedAt
                token["updated_at"] = revokedAt
            }
            home.lines.append(try line(["at": created + Int64(i), "op": "issue", "token": token]))
        }
        let g = { (name: String) in home.guid(name) }
        home.lines += [
            try line(["at": editedAt, "description": "d", "guids": [g("edited")], "name": "n2", "op": "edit"]),
            try line([
                "at": revokedAt, "guids": [g("inactive"), g("reactivated")], "op": "status", "status": "inactive",
            ]),
            try line(["at": revokedAt, "guids": [g("revoked")], "op": "status", "status": "revoked"]),
            try line(["at": revokedAt, "guids": [g("deleted")], "op": "delete"]),
            try line(["at": revokedAt + 60, "guids": [g("reactivated")], "op": "status", "status": "active"]),
            try line(["at": revokedAt + 120, "op": "export", "sequence": exportSequence]),
        ]
        if write { try home.writeFiles() }
        return home
    }

    func writeFiles(ledger: [String]? = nil) throws {
        try writeFile(Array(((ledger ?? lines).joined(separator: "\n") + "\n").utf8), to: ledgerPath)
        try writeFile(Array(Self.catalog.utf8), to: catalogPath)
    }
}

@Suite("Migration of a v0.1 home (journal and catalog.json) into the database")
struct MigrationTests {
    @Test("The first command imports a v0.1 home: same tokens, statuses, names, creators, catalog and sequence")
    func importsLegacyHome() async throws {
        let home = try await LegacyHome.make()
        let box = home.box
        let ledgerBytes = readFile(home.ledgerPath) ?? []
        let catalogBytes = readFile(home.catalogPath) ?? []
        let g = { (name: String) in home.guid(name) }

        let first = try await box.run("--json", "list")
        #expect(first.exitCode == 0, "\(first)")
        #expect(
            first.stderr.contains("sigil: imported the v0.1 ledger into the database: 7 tokens, last list sequence 7"),
            "\(first.stderr)")
        #expect(
            first.stderr.contains("Kept the old files as \(home.ledgerPath).imported, \(home.catalogPath).imported"),
            "\(first.stderr)")
        #expect(!first.stderr.contains("created a development keyring"), "the v0.1 keyring is kept")
        // The old files are renamed, byte for byte; the database is private.
        #expect(!FileManager.default.fileExists(atPath: home.ledgerPath))
        #expect(!FileManager.default.fileExists(atPath: home.catalogPath))
        #expect(readFile(home.ledgerPath + ".imported") == ledgerBytes)
        #expect(readFile(home.catalogPath + ".imported") == catalogBytes)
        #expect(fileMode(home.dbPath) == 0o600)

        // Deleted tokens (both forms) are hidden; every other row is there in issue order.
        let rows = try first.jsonArray()
        #expect(rows.compactMap { $0["name"] as? String } == ["active", "inactive", "revoked", "n2", "reactivated"])
        let byGUID = Dictionary(uniqueKeysWithValues: rows.map { ($0["guid"] as? String ?? "", $0) })
        let expected: [(String, String, String, String)] = [
            ("active", "active", "alice", "active"), ("inactive", "inactive", "bob", "inactive"),
            ("revoked", "revoked", "alice", "revoked"), ("edited", "active", "bob", "n2"),
            ("reactivated", "active", "alice", "reactivated"),
        ]
        for (name, status, creator, shownName) in expected {
            let row = try #require(byGUID[g(name)], "\(name) is listed")
            #expect(row["status"] as? String == status, "\(name)")
            #expect(row["created_by"] as? String == creator, "\(name)")
            #expect(row["name"] as? String == shownName, "\(name)")
            #expect(row["audience"] as? String == "billing")
            #expect(row["valid_to"] as? Int64 == LegacyHome.validTo)
            #expect(row["deleted"] as? Bool == false)
        }
        #expect(byGUID[g("active")]?["kid"] as? String == home.oldKeyID)
        #expect(byGUID[g("inactive")]?["kid"] as? String == home.newKeyID)
        #expect(byGUID[g("revoked")]?["scope"] as? [String] == ["devices.list"])
        #expect(byGUID[g("inactive")]?["scope"] as? String == "read-only")

        let second = try await box.run("--json", "list")
        #expect(!second.stderr.contains("imported"), "only the first command imports")
        #expect(try canonicalJSON(second.jsonArray()) == canonicalJSON(rows))

        let edited = try await box.show(g("edited"))
        #expect(edited["name"] as? String == "n2" && edited["description"] as? String == "d")
        #expect(edited["updated_at"] as? Int64 == LegacyHome.editedAt)
        #expect(edited["created_at"] as? Int64 == LegacyHome.created + 4)
        let revoked = try await box.show(g("revoked"))
        #expect(revoked["revoked_at"] as? Int64 == LegacyHome.revokedAt)
        #expect(try await box.show(g("reactivated"))["status"] as? String == "active")
        #expect(try await box.list(["--status", "inactive"]).compactMap { $0["guid"] as? String } == [g("inactive")])

        // The catalog came from catalog.json, not the example one.
        let catalog = try await box.run("--json", "catalog")
        var imported = try catalog.jsonObject()
        #expect(imported.removeValue(forKey: "tokens") != nil, "the issuer's own resources are in every catalog")
        #expect(imported.removeValue(forKey: "audit") != nil)
        #expect(imported.removeValue(forKey: "members") != nil)
        #expect(imported as NSDictionary == ["devices": ["list": "read"]] as NSDictionary, "\(catalog)")

        // The next list continues after the v0.1 one and names what v0.1's would have named:
        // inactive, revoked and deleted tokens.
        let file = box.path("revocations.sgl")
        let export = try await box.exportRevocations(to: file)
        #expect(export["sequence"] as? Int == LegacyHome.exportSequence + 1)
        #expect(export["deactivated"] as? Int == 1 && export["revoked"] as? Int == 3, "\(export)")
        let show = try await box.run("--json", "revocations", "show", file, "--entries")
        let entries = try #require(try show.jsonObject()["entries"] as? [[String: Any]], "\(show)")
        #expect(
            Set(entries.compactMap { $0["guid"] as? String })
                == Set(["inactive", "revoked", "deleted", "compacted"].map(g)))

        // Tokens minted by v0.1 under both keys still verify, with the imported statuses.
        let codes: [String: Int32] = [
            "active": 0, "inactive": 15, "revoked": 14, "deleted": 14, "edited": 0, "reactivated": 0, "compacted": 14,
        ]
        for (name, code) in codes {
            let result = try await box.verify(home.token(name), ["--revocations", file])
            #expect(result.exitCode == code, "\(name): \(result)")
        }

        let log = try await box.run("--json", "log", "--action", "migrate").jsonArray()
        #expect(log.count == 1)
        #expect(log.first?["actor"] as? String == "sigil")
        #expect(log.first?["details"] as? NSDictionary == ["tokens": "7", "sequence": "7"] as NSDictionary)
        box.checkHygiene()
    }

    @Test("A changing command imports too, and the change lands after the imported rows")
    func importThenChange() async throws {
        let home = try await LegacyHome.make()
        let box = home.box
        let result = try await box.run("revoke", "--yes", home.guid("active"))
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stderr.contains("imported the v0.1 ledger"), "\(result.stderr)")
        #expect(try await box.show(home.guid("active"))["status"] as? String == "revoked")
        #expect(try await box.list().count == 5)
    }

    @Test("A damaged line in the middle of the journal stops the import (65): no database, journal untouched")
    func corruptJournal() async throws {
        let home = try await LegacyHome.make(write: false)
        let box = home.box
        var lines = home.lines
        lines[2] = String(lines[2].prefix(30)) + "#garbage#" + String(lines[2].dropFirst(40))
        try home.writeFiles(ledger: lines)
        let ledgerBytes = readFile(home.ledgerPath) ?? []
        for command in [
            ["list"], ["issue", "--name", "x", "--audience", "billing", "--all"], ["revocations", "export"],
        ] {
            let result = try await box.run(command)
            #expect(result.exitCode == 65, "\(result)")
            #expect(result.stderr.contains(home.ledgerPath), "\(result.stderr)")
            #expect(result.stderr.contains("line 3"), "\(result.stderr)")
            #expect(result.stderr.contains("nothing was imported"), "\(result.stderr)")
            #expect(!result.stdout.contains("sgl_"))
            for suffix in ["", "-wal", "-shm"] {
                #expect(!FileManager.default.fileExists(atPath: home.dbPath + suffix), "no sigil.db\(suffix) left")
            }
            #expect(readFile(home.ledgerPath) == ledgerBytes, "the journal is untouched")
            #expect(FileManager.default.fileExists(atPath: home.catalogPath), "catalog.json is not renamed")
            #expect(!FileManager.default.fileExists(atPath: home.ledgerPath + ".imported"))
        }
        let json = try await box.run("--json", "list")
        #expect(try json.jsonObject()["error"] as? String == "bad_data")

        // Once the line is repaired, the import goes through.
        try home.writeFiles()
        let fixed = try await box.run("--json", "list")
        #expect(fixed.exitCode == 0, "\(fixed)")
        #expect(try fixed.jsonArray().count == 5)
    }

    @Test("A torn last journal line (an interrupted v0.1 write) is skipped and said so")
    func tornLastLine() async throws {
        let home = try await LegacyHome.make(write: false)
        let box = home.box
        let torn = #"{"at":1800000000,"guids":[""# + home.guid("active") + #"""#
        try writeFile(Array((home.lines.joined(separator: "\n") + "\n" + torn).utf8), to: home.ledgerPath)
        let result = try await box.run("--json", "list")
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stderr.contains("imported the v0.1 ledger"), "\(result.stderr)")
        #expect(result.stderr.contains("skipped a torn last record"), "\(result.stderr)")
        #expect(try result.jsonArray().count == 5)
        #expect(try await box.show(home.guid("active"))["status"] as? String == "active")
    }
}
