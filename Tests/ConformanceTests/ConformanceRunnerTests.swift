import Foundation
import SigilIssuer
import SigilVerifier
import Testing
import sigil_conformance

/// The Swift runner is the reference every language is compared with, so its answers are
/// checked here against what FORMAT.md says, case by case, through the real JSON protocol.
@Suite("Conformance runner")
struct ConformanceRunnerTests {
    let now = CaseGenerator.now

    /// One case line, as scripts/conformance.sh feeds it, answered by a fresh runner.
    func answer(
        _ generator: CaseGenerator, token: String, list: [UInt8]? = nil, listText: String? = nil,
        permission: String? = nil, access: String? = nil, now: Int64? = nil, leeway: CaseJSON = .int(60),
        whenNoList: String = "fail_open", keyset: CaseJSON? = nil
    ) -> String {
        var fields: [String: CaseJSON] = [
            "keyset": keyset ?? generator.keyset, "token": .string(token), "audience": .string("billing"),
            "now": .int(now ?? self.now), "leeway": leeway, "when_no_list": .string(whenNoList),
            "revocations": listText.map(CaseJSON.string) ?? list.map { .string(Data($0).base64EncodedString()) }
                ?? .null,
        ]
        if let permission { fields["permission"] = .string(permission) }
        if let access { fields["access"] = .string(access) }
        var runner = ConformanceRunner()
        return runner.answer(line: CaseJSON.object(fields).compact).description
    }

    @Test("A valid token answers its GUID in the reference's exact bytes")
    func validToken() throws {
        var g = try CaseGenerator(seed: 1)
        let id = g.newID()
        let token = try g.mint(id: id, scope: .custom(["devices.list"]))
        #expect(answer(g, token: token) == #"{"valid":true,"guid":"\#(id)"}"#)
        #expect(
            answer(g, token: token, permission: "devices.list", access: "read") == #"{"valid":true,"guid":"\#(id)"}"#)
        #expect(
            answer(g, token: token, permission: "devices.delete", access: "write")
                == #"{"valid":false,"reason":"scope_not_granted"}"#)
    }

    @Test("Revoked and deactivated GUIDs in a signed list are refused; others pass")
    func revokedToken() throws {
        var g = try CaseGenerator(seed: 2)
        let revoked = g.newID()
        let deactivated = g.newID()
        let list = try g.list([(revoked, .revoked), (deactivated, .deactivated)])
        #expect(answer(g, token: try g.mint(id: revoked), list: list) == #"{"valid":false,"reason":"revoked"}"#)
        #expect(answer(g, token: try g.mint(id: deactivated), list: list) == #"{"valid":false,"reason":"deactivated"}"#)
        let other = g.newID()
        #expect(answer(g, token: try g.mint(id: other), list: list) == #"{"valid":true,"guid":"\#(other)"}"#)
        // The list may come as base64url without padding, as the reference runner accepts.
        #expect(
            answer(g, token: try g.mint(id: revoked), listText: Base64URL.encode(list))
                == #"{"valid":false,"reason":"revoked"}"#)
        // Revocation is checked before the window: a revoked, expired token says revoked.
        let expired = try g.mint(id: revoked, from: now - 100, to: now - 90)
        #expect(answer(g, token: expired, list: list) == #"{"valid":false,"reason":"revoked"}"#)
    }

    @Test("A list that cannot be loaded answers list_error with the loader's reason")
    func damagedList() throws {
        var g = try CaseGenerator(seed: 3)
        let id = g.newID()
        let token = try g.mint(id: id)
        let list = try g.list([(id, .revoked)])
        var flipped = list
        flipped[flipped.count - 1] ^= 1
        #expect(answer(g, token: token, list: flipped) == #"{"valid":false,"list_error":"bad_signature"}"#)
        #expect(answer(g, token: token, list: Array(list.dropLast())) == #"{"valid":false,"list_error":"malformed"}"#)
        var version = list
        version[4] = 2
        #expect(
            answer(g, token: token, list: g.resigned(version)) == #"{"valid":false,"list_error":"unsupported_version"}"#
        )
        let foreign = try g.list([(id, .revoked)], kid: g.r9, seed: Array(repeating: 9, count: 32))
        #expect(answer(g, token: token, list: foreign) == #"{"valid":false,"list_error":"unknown_key"}"#)
        #expect(answer(g, token: token, listText: "!!!!") == #"{"valid":false,"list_error":"malformed"}"#)
    }

    @Test("Stale lists keep serving; with no list, only fail_closed refuses, and only after the MAC")
    func staleAndNoList() throws {
        var g = try CaseGenerator(seed: 4)
        let id = g.newID()
        let token = try g.mint(id: id, to: nil)
        let list = try g.list([(id, .revoked)], nextUpdate: now - 1)
        for policy in ["fail_open", "fail_closed"] {
            #expect(answer(g, token: token, list: list, whenNoList: policy) == #"{"valid":false,"reason":"revoked"}"#)
        }
        let clear = try g.list([], nextUpdate: now)
        #expect(answer(g, token: token, list: clear, whenNoList: "fail_closed") == #"{"valid":true,"guid":"\#(id)"}"#)
        #expect(answer(g, token: token, whenNoList: "fail_open") == #"{"valid":true,"guid":"\#(id)"}"#)
        #expect(answer(g, token: token, whenNoList: "fail_closed") == #"{"valid":false,"reason":"revocations_stale"}"#)
        let forged = try g.mint(master: Array(repeating: 7, count: 32), id: id)
        #expect(answer(g, token: forged, whenNoList: "fail_closed") == #"{"valid":false,"reason":"bad_signature"}"#)
    }

    @Test("Window edges: leeway widens both ends, valid_to is exclusive, Int64 ends do not trap")
    func windows() throws {
        var g = try CaseGenerator(seed: 5)
        let token = try g.mint(id: g.newID(), from: now, to: now + 100)
        let expectations: [(Int64, Int64, String)] = [
            (now - 61, 60, "not_yet_valid"), (now - 60, 60, "valid"), (now + 159, 60, "valid"),
            (now + 160, 60, "expired"), (now - 1, 0, "not_yet_valid"), (now + 100, 0, "expired"),
            (.min, 60, "not_yet_valid"), (.max, 60, "expired"),
        ]
        for (at, leeway, expected) in expectations {
            let result = answer(g, token: token, now: at, leeway: .int(leeway))
            #expect(
                result.contains(expected == "valid" ? #""valid":true"# : #""reason":"\#(expected)""#), "\(at) \(leeway)"
            )
        }
        let widest = try g.mint(id: g.newID(), from: .min, to: .max)
        #expect(answer(g, token: widest, now: .max, leeway: .int(0)) == #"{"valid":false,"reason":"expired"}"#)
        #expect(answer(g, token: widest, now: .max, leeway: .int(60)).contains(#""valid":true"#))
        #expect(answer(g, token: token, leeway: .int(86_401)).hasPrefix(#"{"error":"#))
        #expect(answer(g, token: token, now: now - 61, leeway: .null) == #"{"valid":false,"reason":"not_yet_valid"}"#)
    }

    @Test("Cases no service could configure answer error, not a verdict")
    func errors() throws {
        var g = try CaseGenerator(seed: 6)
        let token = try g.mint(id: g.newID())
        #expect(answer(g, token: token, permission: "Devices.list", access: "read").hasPrefix(#"{"error":"#))
        #expect(answer(g, token: token, keyset: .object(["format": .string("x")])).hasPrefix(#"{"error":"#))
        var runner = ConformanceRunner()
        #expect(runner.answer(line: "not json").description.hasPrefix(#"{"error":"#))
        #expect(runner.answer(line: "[1]").description.hasPrefix(#"{"error":"#))
    }

    @Test("Numbers are read as the reference reads them: 100 is an int, 100.0 and 1e2 are not")
    func numbers() throws {
        #expect(CaseJSON.parse("100") == .int(100))
        #expect(CaseJSON.parse("100.0") == .double(100))
        #expect(CaseJSON.parse("1e2") == .double(100))
        #expect(CaseJSON.parse("-9223372036854775808") == .int(.min))
        #expect(CaseJSON.parse("9223372036854775808") == .bigInteger("9223372036854775808"))
        #expect(
            CaseJSON.parse(#"{"a":[true,null,"\u00e9\ud83d\ude00"]}"#)
                == .object(["a": .array([.bool(true), .null, .string("\u{e9}\u{1F600}")])]))
        for bad in ["01", "1.", "{\"a\":1,}", "[1", "\"\u{1}\"", "1 2", "{'a':1}", ""] {
            #expect(CaseJSON.parse(bad) == nil, "\(bad)")
        }
        var g = try CaseGenerator(seed: 7)
        let token = try g.mint(id: g.newID(), from: now, to: now + 100)
        // 40 s early: a leeway of 100 accepts, 100.0 is not an int and means the default 60.
        #expect(answer(g, token: token, now: now - 61, leeway: .int(100)).contains(#""valid":true"#))
        #expect(
            answer(g, token: token, now: now - 61, leeway: .double(100)) == #"{"valid":false,"reason":"not_yet_valid"}"#
        )
        #expect(answer(g, token: token, leeway: .bool(true)).hasPrefix(#"{"error":"#))
    }

    @Test("The generator is deterministic, honours --count, and covers every reason")
    func generator() throws {
        var a = try CaseGenerator(seed: 23)
        let first = try a.cases(count: nil)
        #expect(first.count >= 6_000)
        var b = try CaseGenerator(seed: 23)
        var c = try CaseGenerator(seed: 23)
        let sample = try b.cases(count: 300).map(\.line)
        #expect(sample.count == 300)
        #expect(sample == (try c.cases(count: 300)).map(\.line))
        var d = try CaseGenerator(seed: 24)
        #expect((try d.cases(count: 300)).map(\.line) != sample)

        var runner = ConformanceRunner()
        var seen: Set<String> = []
        for c in first {
            let answer = runner.answer(line: c.line)
            switch answer {
            case .valid: seen.insert("valid")
            case .refused(let reason): seen.insert(reason)
            case .listError(let reason): seen.insert("list:" + reason)
            case .error: seen.insert("error")
            }
        }
        let expected: Set<String> =
            Set(VerificationError.Reason.allCases.map(\.rawValue)).union([
                "valid", "error", "list:malformed", "list:bad_signature", "list:unknown_key",
                "list:unsupported_version",
            ])
        #expect(expected.subtracting(seen).isEmpty, "never answered: \(expected.subtracting(seen).sorted())")
    }
}
