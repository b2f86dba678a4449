import Foundation
import SigilTestSupport
import Testing

/// The `--json` outputs that are not a wire type (built as ``JSONObject`` since #21) keep the
/// bytes they had when JSONSerialization wrote them: compact, keys sorted, unset fields `null`.
@Suite("--json outputs built field by field")
struct JSONOutputTests {
    /// `result`'s stdout, checked to be exactly the sorted, compact encoding of what it holds.
    static func expectCanonical(
        _ result: CommandResult, exitCode: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(result.exitCode == exitCode, "\(result)", sourceLocation: sourceLocation)
        let value = try JSONSerialization.jsonObject(with: Data(result.stdoutBytes))
        let bytes = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        #expect(result.stdout == String(decoding: bytes, as: UTF8.self) + "\n", sourceLocation: sourceLocation)
    }

    @Test("verify, inspect, expiring, keys, policy, revocations and ledger write sorted compact JSON with nulls")
    func canonical() async throws {
        let box = try Sandbox()
        let (token, _) = try await box.issue(name: "svc", ["--all", "--never-expires"])
        let (_, soon) = try await box.issue(name: "soon", ["--all", "--expires-in", "2d"])

        let verified = try await box.run(["--json", "verify", "--audience", "billing"], stdin: token)
        try Self.expectCanonical(verified)
        let valid = try verified.jsonObject()
        #expect(valid["reason"] is NSNull && valid["valid_to"] is NSNull, "\(verified)")
        #expect(valid["scope"] as? String == "all")

        let inspected = try await box.run(["--json", "inspect", "-"], stdin: token)
        try Self.expectCanonical(inspected)
        #expect((try inspected.jsonObject()["ledger"] as? [String: Any])?["name"] as? String == "svc")

        let expiring = try await box.run("--json", "expiring", "--within", "7d")
        try Self.expectCanonical(expiring, exitCode: 1)  // 1: some token expires soon
        let row = try #require(try expiring.jsonArray().first)
        #expect(row["guid"] as? String == soon && row["expires_in_seconds"] as? Int == 2 * 86_400, "\(expiring)")
        #expect(row["revoked_at"] is NSNull, "a token row keeps its null fields: \(expiring)")

        let exported = try await box.run("--json", "revocations", "export")
        try Self.expectCanonical(exported)

        for command in [
            ["keys", "list"], ["policy", "set", "--audience", "billing", "--max-lifetime", "90d"], ["policy", "show"],
            ["policy", "clear", "--audience", "billing"], ["ledger", "compact"],
            ["catalog", "add", "reports", "export", "--access", "read"],
        ] {
            try Self.expectCanonical(try await box.run(["--json"] + command))
        }
        let failed = try await box.run(["--json", "verify", "--audience", "billing"], stdin: "sgl_nonsense")
        #expect(failed.exitCode == 10, "\(failed)")
        #expect(try failed.jsonObject()["guid"] is NSNull, "\(failed)")
    }
}
