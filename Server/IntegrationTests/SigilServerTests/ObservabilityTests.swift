import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import SigilIssuer
import SigilServer
import Testing

@Suite("Request IDs, the JSON log line, metric labels and the routes around them (#24)")
struct ObservabilityTests {
    @Test(
        "X-Request-Id is taken only when short and of a safe alphabet, and never when it looks like a token",
        arguments: [
            ("3f2b9c1e-6a7d-4e2f-9b1a-0c8d7e6f5a4b", true), ("req-1", true), ("host:42.7_x", true),
            (String(repeating: "a", count: 64), true), ("", false), (String(repeating: "a", count: 65), false),
            ("two words", false), ("a/b", false), ("a\"b", false), ("a\nb", false), ("é", false),
            ("sgl_AAAAAAAAAAAA", false), ("Sgl_x", false), ("%41", false),
        ])
    func requestIdentifier(text: String, valid: Bool) {
        #expect(RequestIdentifier.isValid(text) == valid)
        #expect(RequestIdentifier.accepted([text]) == (valid ? text : nil))
    }

    @Test("Two X-Request-Id headers: neither is taken")
    func repeatedIdentifier() {
        #expect(RequestIdentifier.accepted(["a", "b"]) == nil)
        #expect(RequestIdentifier.accepted([]) == nil)
    }

    @Test("A JSON log line parses, types its values, escapes what it must and keeps the fixed fields first")
    func jsonLine() throws {
        let metadata: Logger.Metadata = [
            "status": .stringConvertible(201), "duration_ms": .stringConvertible(1.25),
            "hb.request.id": .string("abc"), "message": .string("shadowed"),
            "text": .string("a\"b\\c\nd\u{1}\u{2028}é"),
            "nested": .dictionary(["k": .array([.string("x"), .stringConvertible(true)])]),
        ]
        // 2026-01-31T12:34:56.789Z
        let bytes = JSONLogHandler.line(
            level: .warning, message: "hello \"you\"", label: "sigil-server", metadata: metadata,
            time: 1_769_862_896.789)
        let text = try #require(String(bytes: bytes, encoding: .utf8))
        #expect(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1, "one line")
        #expect(text.hasPrefix(#"{"time":"2026-01-31T12:34:56.789Z","level":"warning","message":"hello \"you\"""#))
        #expect(text.contains(#"\u0001"#) && text.contains(#"\u2028"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["status"] as? Int == 201)
        #expect(object["duration_ms"] as? Double == 1.25)
        #expect(object["request_id"] as? String == "abc" && object["hb.request.id"] == nil)
        #expect(object["message"] as? String == "hello \"you\"" && object["_message"] as? String == "shadowed")
        #expect(object["text"] as? String == "a\"b\\c\nd\u{1}\u{2028}é")
        let nested = try #require(object["nested"] as? [String: Any])
        #expect((nested["k"] as? [Any])?.count == 2)
    }

    @Test("Labels stay bounded: an unknown reason or method counts as other, no route as unmatched")
    func boundedLabels() throws {
        let metrics = ServerMetrics()
        metrics.authenticationFailed(reason: "sgl_AAAA-a-token-sent-as-reason")
        metrics.authenticationFailed(reason: "expired")
        metrics.request(route: nil, method: "BREW", status: 404, duration: .milliseconds(2))
        metrics.request(route: "/v1/tokens/{guid}", method: "GET", status: 200, duration: .milliseconds(3))
        metrics.tokensChanged(.revoke, count: 0)
        metrics.tokensChanged(.revoke, count: 2)
        let text = String(
            decoding: metrics.exposition(.init(longPolls: 3, list: nil, now: 0, sessions: 5)), as: UTF8.self)
        #expect(text.contains(#"sigil_auth_failures_total{reason="other"} 1"#))
        #expect(text.contains(#"sigil_auth_failures_total{reason="expired"} 1"#))
        #expect(!text.contains("sgl_"))
        #expect(text.contains(#"sigil_http_requests_total{route="unmatched",method="other",status="404"} 1"#))
        #expect(text.contains(#"sigil_http_requests_total{route="/v1/tokens/{guid}",method="GET",status="200"} 1"#))
        #expect(text.contains(#"sigil_tokens_changed_total{action="revoke"} 2"#))
        #expect(text.contains("sigil_revocation_long_polls_open 3") && text.contains("sigil_sessions_open 5"))
        #expect(text.contains("# HELP sigil_http_requests_total "))
    }

    @Test("The API's router has no /metrics; readiness waits for a list; request IDs are answered")
    func router() async throws {
        let starting = try ServerHarness()
        try await starting.test { client in
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .notFound)
            // No list published yet (the server publishes one before it listens): not ready.
            let ready = try await client.execute(
                uri: "/v1/health/ready", method: .get, headers: headers([("X-Request-Id", "probe-1")]))
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.headers[try #require(RequestIdentifier.header)] == "probe-1")
            #expect(try json(ready)["reasons"] as? [String] == ["revocation_list_missing"])
        }
        let running = try ServerHarness()
        try await running.app.publisher.publishNow()
        try await running.test { client in
            let ready = try await client.execute(uri: "/v1/health/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(try json(ready)["status"] as? String == "ready")
        }
    }
}
