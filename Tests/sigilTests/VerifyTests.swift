import Foundation
import SigilTestSupport
import Testing

@Suite("sigil verify")
struct VerifyTests {
    static let now = Sandbox.defaultNow

    @Test("A valid token exits 0, prints 'valid' and a summary on stderr")
    func valid() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue(["--scope", "devices.*"])
        let result = try await box.verify(token, ["--permission", "devices.delete"])
        #expect(result.exitCode == 0, "\(result)")
        #expect(result.stdout == "valid\n")
        #expect(result.stderr.contains("guid \(guid)"))
        #expect(!result.stderr.contains(token))
        // The token as an argument works too, and so does stdin without '-'.
        #expect(try await box.run("verify", token, "--audience", "billing").exitCode == 0)
        #expect(try await box.run("verify", "--audience", "billing", stdin: token + "\n").exitCode == 0)
        // Copy-and-paste whitespace and a CRLF on stdin are tolerated.
        #expect(try await box.run("verify", "-", "--audience", "billing", stdin: "  " + token + " \r\n").exitCode == 0)
        box.checkHygiene()
    }

    @Test("--json: a valid token's shape")
    func validJSON() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue(["--scope", "devices.list", "--expires-in", "30d"])
        let result = try await box.run("--json", "verify", "-", "--audience", "billing", stdin: token + "\n")
        #expect(result.exitCode == 0, "\(result)")
        let o = try result.jsonObject()
        #expect(Set(o.keys) == ["valid", "reason", "guid", "audience", "kid", "valid_from", "valid_to", "scope"])
        #expect(o["valid"] as? Bool == true)
        #expect(o["reason"] is NSNull)
        #expect(o["guid"] as? String == guid)
        #expect(o["audience"] as? String == "billing")
        #expect(o["kid"] as? String == (try await box.activeKeyID()))
        #expect(o["valid_from"] as? Int64 == Self.now)
        #expect(o["valid_to"] as? Int64 == Self.now + 30 * 86_400)
        #expect(o["scope"] as? [String] == ["devices.list"])
    }

    @Test(
        "Malformed tokens exit 10",
        arguments: [
            "", "sgl_", "sgl_AAAA=", "not a token", "SGL_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "sgl_" + String(repeating: "A", count: 200), "sgl_" + String(repeating: "/", count: 60),
            "sgl_" + String(repeating: "A", count: 5000),
        ])
    func malformed(token: String) async throws {
        let box = try Sandbox()
        try #require(try await box.run("init").exitCode == 0)
        let result = try await box.run("--json", "verify", token, "--audience", "billing")
        #expect(result.exitCode == 10, "\(result)")
        let o = try result.jsonObject()
        #expect(o["valid"] as? Bool == false)
        #expect(o["reason"] as? String == "malformed")
        #expect(o["guid"] is NSNull)
        #expect((o["message"] as? String)?.contains("[malformed]") == true)
        if token.count > 8 { #expect(!result.stdout.contains(token) && !result.stderr.contains(token)) }
    }

    @Test("A truncated or extended real token is malformed (10) or a bad signature (13), never valid")
    func truncated() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        for variant in [String(token.dropLast()), String(token.dropLast(4)), token + "A", String(token.dropFirst(4))] {
            let result = try await box.verify(variant)
            #expect([10, 13].contains(result.exitCode), "\(result)")
        }
        box.checkHygiene()
    }

    @Test("The wrong audience exits 11 and does not report the GUID")
    func wrongAudience() async throws {
        let box = try Sandbox()
        let (token, guid) = try await box.issue(audience: "billing")
        let result = try await box.run("--json", "verify", "-", "--audience", "shop", stdin: token + "\n")
        #expect(result.exitCode == 11, "\(result)")
        let o = try result.jsonObject()
        #expect(o["reason"] as? String == "wrong_audience")
        #expect(o["guid"] is NSNull, "an unauthenticated GUID is not reported")
        #expect(!result.stdout.contains(guid))
        let plain = try await box.verify(token, audience: "shop")
        #expect(plain.exitCode == 11)
        #expect(plain.stdout == "invalid: wrong_audience\n")
        #expect(plain.stderr.contains("[wrong_audience]"))
        box.checkHygiene()
    }

    @Test("A token under a retired key exits 12 (rotate, then retire the old key)")
    func unknownKeyAfterRetire() async throws {
        let box = try Sandbox()
        let (old, _) = try await box.issue(name: "old")
        let oldKey = try await box.activeKeyID()
        #expect(try await box.run("keys", "rotate").exitCode == 0)
        #expect(try await box.verify(old).exitCode == 0, "the old key keeps verifying after rotate")
        let (new, _) = try await box.issue(name: "new")
        box.recordSecrets()
        #expect(try await box.run("keys", "retire", "--yes", oldKey).exitCode == 0)
        let result = try await box.run("--json", "verify", "-", "--audience", "billing", stdin: old + "\n")
        #expect(result.exitCode == 12, "\(result)")
        #expect(try result.jsonObject()["reason"] as? String == "unknown_key")
        #expect(try await box.verify(new).exitCode == 0)
        box.checkHygiene()
    }

    @Test("A keyset from another home does not know the key: 12")
    func unknownKeyOtherHome() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        let other = box.path("other-home")
        let keyset = box.path("other.keyset.json")
        #expect(try await box.run("--home", other, "init").exitCode == 0)
        #expect(
            try await box.run("--home", other, "keys", "export", "--audience", "billing", "-o", keyset).exitCode == 0)
        let result = try await box.verify(token, ["--keys", keyset])
        #expect(result.exitCode == 12, "\(result)")
        // Verifying in the other home (its own keyring) says the same.
        #expect(
            try await box.run(["verify", "-", "--audience", "billing", "--home", other], stdin: token + "\n").exitCode
                == 12)
        box.recordSecrets(of: [other])
        box.checkHygiene()
    }

    @Test(
        "One character changed in the middle of a token (still canonical base64url) exits 13",
        arguments: [
            ["--all"], ["--read-only", "--never-expires"], ["--scope", "devices.*"],
            ["--scope", "users.get", "--expires-in", "1h"],
        ])
    func badSignature(options: [String]) async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue(options)
        let tampered = try Tamper.flipMiddle(token)
        #expect(tampered.count == token.count && tampered != token)
        let result = try await box.run("--json", "verify", "-", "--audience", "billing", stdin: tampered + "\n")
        #expect(result.exitCode == 13, "\(result)")
        let o = try result.jsonObject()
        #expect(o["reason"] as? String == "bad_signature")
        #expect(o["guid"] is NSNull)
        // inspect still decodes it but says not to trust it.
        let inspect = try await box.run("inspect", "-", stdin: tampered + "\n")
        #expect(inspect.exitCode == 0)
        #expect(inspect.stdout.contains("INVALID (bad_signature)"), "\(inspect.stdout)")
        box.checkHygiene()
    }

    @Test("Revoked (14) and deactivated (15) through an exported revocation list; --json reports the GUID")
    func revokedAndDeactivated() async throws {
        let box = try Sandbox()
        let (revoked, revokedID) = try await box.issue(name: "r")
        let (inactive, inactiveID) = try await box.issue(name: "i")
        let (fine, _) = try await box.issue(name: "f")
        #expect(try await box.run("revoke", "--yes", revokedID).exitCode == 0)
        #expect(try await box.run("deactivate", inactiveID).exitCode == 0)
        let list = box.path("revocations.sgl")
        try await box.exportRevocations(to: list)

        let r = try await box.run(
            "--json", "verify", "-", "--audience", "billing", "--revocations", list, stdin: revoked + "\n")
        #expect(r.exitCode == 14, "\(r)")
        #expect(try r.jsonObject()["reason"] as? String == "revoked")
        #expect(try r.jsonObject()["guid"] as? String == revokedID)
        let d = try await box.run(
            "--json", "verify", "-", "--audience", "billing", "--revocations", list, stdin: inactive + "\n")
        #expect(d.exitCode == 15, "\(d)")
        #expect(try d.jsonObject()["reason"] as? String == "deactivated")
        #expect(try d.jsonObject()["guid"] as? String == inactiveID)
        #expect(try await box.verify(fine, ["--revocations", list]).exitCode == 0)
        // Without the list, the verifier knows nothing of revocation: that is the offline model.
        #expect(try await box.verify(revoked).exitCode == 0)
        box.checkHygiene()
    }

    @Test("Not yet valid (16): --valid-from in the future, or --at before it")
    func notYetValid() async throws {
        let box = try Sandbox()
        let (future, _) = try await box.issue(["--all", "--valid-from", "2027-02-01"])
        let result = try await box.run("--json", "verify", "-", "--audience", "billing", stdin: future + "\n")
        #expect(result.exitCode == 16, "\(result)")
        #expect(try result.jsonObject()["reason"] as? String == "not_yet_valid")
        #expect(try await box.verify(future, ["--at", "2027-02-01T00:00:00Z"]).exitCode == 0)
        #expect(try await box.verify(future, ["--at", "2027-01-31T23:58:00Z"]).exitCode == 16)
        // Within the default 60 s leeway it is accepted; with --leeway 0 it is not.
        #expect(try await box.verify(future, ["--at", "2027-01-31T23:59:30Z"]).exitCode == 0)
        #expect(try await box.verify(future, ["--at", "2027-01-31T23:59:30Z", "--leeway", "0"]).exitCode == 16)
        let (now, _) = try await box.issue()
        #expect(try await box.verify(now, ["--at", "2027-01-01"]).exitCode == 16)
    }

    @Test("Expired (17): --at after expiry; the end is exclusive and the leeway applies")
    func expired() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue(["--all", "--expires", "2027-03-01"])
        let result = try await box.run(
            "--json", "verify", "-", "--audience", "billing", "--at", "2027-03-02", stdin: token + "\n")
        #expect(result.exitCode == 17, "\(result)")
        #expect(try result.jsonObject()["reason"] as? String == "expired")
        #expect(try await box.verify(token, ["--at", "2027-02-28T23:59:59Z", "--leeway", "0"]).exitCode == 0)
        #expect(try await box.verify(token, ["--at", "2027-03-01T00:00:00Z", "--leeway", "0"]).exitCode == 17)
        #expect(try await box.verify(token, ["--at", "2027-03-01T00:00:30Z"]).exitCode == 0)
        #expect(try await box.verify(token, ["--at", "2027-03-01T00:01:00Z"]).exitCode == 17)
        // SIGIL_NOW is the clock when --at is absent.
        let late = try await box.run(
            ["verify", "-", "--audience", "billing"], stdin: token + "\n", env: ["SIGIL_NOW": "1803945600"])
        #expect(late.exitCode == 17)
        let (never, _) = try await box.issue(["--all", "--never-expires"])
        #expect(try await box.verify(never, ["--at", "2999-01-01"]).exitCode == 0)
    }

    @Test("Scope not granted (18); read/write from the catalog or --access")
    func scopeNotGranted() async throws {
        let box = try Sandbox()
        let (custom, guid) = try await box.issue(["--scope", "devices.list"])
        let result = try await box.run(
            "--json", "verify", "-", "--audience", "billing", "--permission", "devices.delete", stdin: custom + "\n")
        #expect(result.exitCode == 18, "\(result)")
        let o = try result.jsonObject()
        #expect(o["reason"] as? String == "scope_not_granted")
        #expect(o["guid"] as? String == guid, "the MAC matched, so the GUID is reported")
        let (readOnly, _) = try await box.issue(["--read-only"])
        #expect(try await box.verify(readOnly, ["--permission", "invoices.get"]).exitCode == 0)
        #expect(try await box.verify(readOnly, ["--permission", "invoices.pay"]).exitCode == 18)
        #expect(try await box.verify(readOnly, ["--permission", "reports.export", "--access", "read"]).exitCode == 0)
        #expect(try await box.verify(readOnly, ["--permission", "reports.export", "--access", "write"]).exitCode == 18)
        #expect(try await box.verify(readOnly, ["--permission", "invoices.pay", "--access", "read"]).exitCode == 0)
    }

    @Test(
        "Verify usage errors exit 64",
        arguments: [
            ["--permission", "reports.export"],
            ["--access", "read"],
            ["--permission", "Bad", "--access", "read"],
            ["--permission", "devices.list", "--access", "sometimes"],
            ["--at", "yesterday"],
            ["--audience", "bad audience"],
            ["--leeway", "-1"],
            ["--leeway", "soon"],
        ])
    func usage(options: [String]) async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        let result = try await box.run(["verify", "-", "--audience", "billing"] + options, stdin: token + "\n")
        #expect(result.exitCode == 64, "\(result)")
        #expect(!result.stderr.contains(token))
    }

    @Test(
        "An out-of-range --leeway is a usage error (64)",
        .bug(
            id: "verify-leeway-exit", "verify --leeway=-1 / --leeway 86401 exited 65 (bad data) instead of 64 (usage)"),
        arguments: [["--leeway=-1"], ["--leeway", "86401"]])
    func leewayRange(options: [String]) async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        let result = try await box.run(["verify", "-", "--audience", "billing"] + options, stdin: token + "\n")
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("leeway"), "\(result.stderr)")
    }

    @Test("No token on stdin is a usage error (64)")
    func emptyStdin() async throws {
        let box = try Sandbox()
        _ = try await box.issue()
        let result = try await box.run("verify", "-", "--audience", "billing")
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("no token given"))
    }

    @Test("--keys with an exported keyset works without the keyring; the keyset file is 0600")
    func exportedKeyset() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue(["--scope", "devices.*"])
        let keyset = box.path("billing.keyset.json")
        let export = try await box.run("keys", "export", "--audience", "billing", "-o", keyset)
        #expect(export.exitCode == 0, "\(export)")
        #expect(fileMode(keyset) == 0o600)
        // A service has no issuer home: verify from an empty home with only the keyset.
        let service = try await box.run(
            [
                "verify", "-", "--audience", "billing", "--keys", keyset, "--permission", "devices.list", "--access",
                "read",
            ],
            stdin: token + "\n", env: ["SIGIL_HOME": box.path("service-home")])
        #expect(service.exitCode == 0, "\(service)")
        #expect(!FileManager.default.fileExists(atPath: box.path("service-home") + "/keyring.json"))
        let keysetText = String(decoding: (readFile(keyset) ?? []), as: UTF8.self)
        box.recordSecrets()
        let o = try #require(try JSONSerialization.jsonObject(with: Data(keysetText.utf8)) as? [String: Any])
        #expect(o["audience"] as? String == "billing")
        #expect(o["format"] as? String == "sigil-keyset-v1")
        box.checkHygiene()
    }

    @Test("A keyset for another audience is a usage error (64)")
    func keysetAudienceMismatch() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        let keyset = box.path("shop.keyset.json")
        #expect(try await box.run("keys", "export", "--audience", "shop", "-o", keyset).exitCode == 0)
        let result = try await box.verify(token, ["--keys", keyset])
        #expect(result.exitCode == 64, "\(result)")
        #expect(result.stderr.contains("keyset of audience shop, not billing"))
        #expect(try await box.verify(token, ["--keys", box.path("missing.json")]).exitCode == 66)
        try writeFile(Array("{}".utf8), to: box.path("broken.json"))
        #expect(try await box.verify(token, ["--keys", box.path("broken.json")]).exitCode == 65)
    }
}

@Suite("verify with a stale revocation list")
struct StaleRevocationTests {
    @Test("A list past next_update warns by default and is exit 19 with --fail-if-stale")
    func stale() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue()
        let list = box.path("revocations.sgl")
        #expect(try await box.run("revocations", "export", "-o", list, "--next-update", "1h").exitCode == 0)
        let later = ["--at", "2027-01-15T10:00:00Z"]  // defaultNow (08:00Z) + 2 h
        let warned = try await box.verify(token, ["--revocations", list] + later)
        #expect(warned.exitCode == 0, "\(warned)")
        #expect(warned.stderr.contains("past its next_update"), "\(warned.stderr)")
        let refused = try await box.verify(token, ["--revocations", list, "--fail-if-stale", "--json"] + later)
        #expect(refused.exitCode == 19, "\(refused)")
        #expect(try refused.jsonObject()["reason"] as? String == "revocations_stale")
        let fresh = try await box.verify(token, ["--revocations", list, "--fail-if-stale"])
        #expect(fresh.exitCode == 0, "before next_update the list is fresh: \(fresh)")
        let alone = try await box.verify(token, ["--fail-if-stale"])
        #expect(alone.exitCode == 64, "--fail-if-stale needs a list: \(alone)")
    }
}
