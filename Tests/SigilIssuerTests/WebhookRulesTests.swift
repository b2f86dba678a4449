import Foundation
import SigilIssuer
import SigilTestSupport
import Testing

/// The webhook rules that need no ledger: the retry schedule, what an endpoint may be, and the
/// webhooks file (docs/WEBHOOKS.md).
@Suite("Webhook rules: the retry schedule, endpoints and the webhooks file")
struct WebhookRulesTests {
    @Test("The default schedule waits 1, 2, 4 … 2048 s, then an hour, for 24 hours: 35 attempts")
    func defaultSchedule() {
        let delays = WebhookSchedule().retryDelays()
        #expect(Array(delays.prefix(12)) == (0..<12).map { Int64(1_000) << $0 })
        #expect(delays.dropFirst(12).allSatisfy { $0 == 3_600_000 })
        #expect(delays.count + 1 == 35)
        #expect(delays.reduce(0, +) <= 86_400_000 && delays.reduce(0, +) + 3_600_000 > 86_400_000)
    }

    @Test("A short schedule: the waits double from the first and stop at the window's end")
    func shortSchedule() {
        var schedule = WebhookSchedule()
        schedule.firstRetry = .milliseconds(200)
        schedule.retryFor = .seconds(3)
        #expect(schedule.retryDelays() == [200, 400, 800, 1_600])
        #expect(schedule.nextAttempt(afterAttempt: 4, failedAt: 3_000, queuedAt: 0) == nil)
        schedule.longestRetry = .milliseconds(500)
        #expect(schedule.retryDelay(afterAttempt: 60) == 500, "capped, never overflowing")
        #expect(schedule.retryDelays() == [200, 400, 500, 500, 500, 500])
        schedule.attemptTimeout = .milliseconds(1_500)
        #expect(schedule.attemptTimeoutSeconds == 2)
    }

    @Test(
        "An endpoint is refused for a bad URL, name, empty secret or empty event list; the message names no secret",
        arguments: [
            ("ftp://x/", "siem", "s", false, "http:// or https://"),
            ("http:///path", "siem", "s", false, "http:// or https://"),
            ("https://x/", "has space", "s", false, "webhook name"),
            ("https://x/", String(repeating: "n", count: 65), "s", false, "webhook name"),
            ("https://x/", "", "s", false, "webhook name"),
            ("https://x/", "siem", "", false, "secret is empty"),
            ("https://x/", "siem", "s", true, "event list is empty"),
        ])
    func badEndpoint(url: String, name: String, secret: String, noEvents: Bool, message: String) {
        let error = expectIssuerError(.invalidInput) {
            try WebhookEndpoint(name: name, url: url, secret: Array(secret.utf8), events: noEvents ? [] : [.revoked])
        }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("An endpoint prints its name only: the secret stays out of descriptions, dumps and derived names")
    func secretNeverPrinted() throws {
        let secret = "hunter2-webhook-secret"
        let url = "https://hooks.example/sigil?token=query-credential"
        let e = try WebhookEndpoint(url: url, secret: Array(secret.utf8))
        #expect(e.name.hasPrefix("url-") && e.name.utf8.count == 16)
        #expect(try WebhookEndpoint(url: url, secret: [1]).name == e.name, "stable for a URL")
        #expect(try WebhookEndpoint(url: url + "x", secret: [1]).name != e.name)
        var dumped = ""
        dump(e, to: &dumped)
        for text in [e.description, String(reflecting: e), "\(e)", dumped, e.name] {
            #expect(
                !text.contains(secret) && !text.contains("query-credential") && !text.contains("104, 117"), "\(text)")
        }
        let two = [e, try WebhookEndpoint(url: "https://other.example/", secret: [1])]
        try WebhookEndpoint.checkSet(two)
        let clash = expectIssuerError(.invalidInput) { try WebhookEndpoint.checkSet([e, e]) }
        #expect(clash?.message.contains("two webhook endpoints are named \(e.name)") == true)
        let many = try (0...WebhookEndpoint.maxCount).map {
            try WebhookEndpoint(name: "e\($0)", url: "https://x/", secret: [1])
        }
        expectIssuerError(.invalidInput) { try WebhookEndpoint.checkSet(many) }
    }

    /// A folder with a secret file and a webhooks file of `json`, both 0600 unless told.
    func webhooksFile(_ json: String, mode: Int = 0o600) throws -> (TempFolder, String) {
        let folder = try TempFolder("webhooks-file")
        try writeFile(Array("siem-secret\n".utf8), to: folder.root + "/siem.secret")
        let path = folder.root + "/webhooks.json"
        try writeFile(Array(json.utf8), to: path, mode: mode)
        return (folder, path)
    }

    @Test("A webhooks file gives each endpoint its URL, secret (relative to the file) and events")
    func loadsFile() throws {
        let (folder, path) = try webhooksFile(
            """
            {"endpoints": [
              {"name": "siem", "url": "https://siem.example/hook", "secret_file": "siem.secret",
               "events": ["token.revoked", "token.leak_reported"]},
              {"url": "http://127.0.0.1:8081/all", "secret_file": "SECRET"}
            ]}
            """.replacingOccurrences(of: "SECRET", with: FileManager.default.currentDirectoryPath + "/x"))
        _ = folder
        // The second entry's absolute secret path does not exist: named with its entry.
        let missing = #expect(throws: IssuerError.self) { try WebhookEndpoint.load(file: path) }
        #expect(missing?.message.contains("endpoint 2") == true, "\(missing?.message ?? "")")
        let (other, good) = try webhooksFile(
            """
            {"endpoints": [
              {"name": "siem", "url": "https://siem.example/hook", "secret_file": "siem.secret",
               "events": ["token.revoked", "token.leak_reported"]},
              {"url": "http://127.0.0.1:8081/all", "secret_file": "siem.secret"}
            ]}
            """)
        _ = other
        let endpoints = try WebhookEndpoint.load(file: good)
        #expect(
            endpoints.map(\.name) == ["siem", try WebhookEndpoint(url: "http://127.0.0.1:8081/all", secret: [1]).name])
        #expect(endpoints[0].events == [.revoked, .leakReported] && endpoints[1].events == Set(WebhookEvent.allCases))
        #expect(endpoints.allSatisfy { $0.secret == Array("siem-secret".utf8) })
        #expect(endpoints[0].url.absoluteString == "https://siem.example/hook")
    }

    @Test(
        "A webhooks file with a mistake is refused, saying where",
        arguments: [
            (#"[]"#, "\"endpoints\" array"),
            (#"{"endpoints": []}"#, "\"endpoints\" is empty"),
            (#"{"endpoints": [], "extra": 1}"#, "unknown key \"extra\""),
            (#"{"endpoints": [7]}"#, "endpoint 1 is not an object"),
            (#"{"endpoints": [{"secret_file": "siem.secret"}]}"#, "\"url\" is missing"),
            (#"{"endpoints": [{"url": "https://x/"}]}"#, "\"secret_file\" is missing"),
            (
                #"{"endpoints": [{"url": "https://x/", "secret_file": "siem.secret", "event": []}]}"#,
                "unknown key \"event\""
            ),
            (#"{"endpoints": [{"url": "https://x/", "secret_file": "siem.secret", "events": []}]}"#, "non-empty list"),
            (
                #"{"endpoints": [{"url": "https://x/", "secret_file": "siem.secret", "events": ["token.created"]}]}"#,
                "unknown event"
            ),
            (#"{"endpoints": [{"url": "ftp://x/", "secret_file": "siem.secret"}]}"#, "endpoint 1: a webhook URL"),
            (
                #"{"endpoints": [{"url": "https://x/", "secret_file": "siem.secret", "name": 3}]}"#,
                "\"name\" is not text"
            ),
            (
                #"{"endpoints": [{"url": "https://x/", "secret_file": "siem.secret", "name": "a"}, {"url": "https://y/", "secret_file": "siem.secret", "name": "a"}]}"#,
                "two webhook endpoints are named a"
            ),
        ])
    func badFile(json: String, message: String) throws {
        let (folder, path) = try webhooksFile(json)
        _ = folder
        let error = expectIssuerError(.invalidInput) { try WebhookEndpoint.load(file: path) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("siem-secret") == false)
    }

    @Test(
        "A webhooks file others can read, or a link to one, is refused like a secret file; so is text that is not JSON")
    func fileRules() throws {
        let (folder, path) = try webhooksFile(#"{"endpoints": []}"#, mode: 0o644)
        expectIssuerError(.permissions) { try WebhookEndpoint.load(file: path) }
        let link = folder.root + "/link.json"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        expectIssuerError(.permissions) { try WebhookEndpoint.load(file: link) }
        let (other, garbage) = try webhooksFile("not json")
        _ = other
        expectIssuerError(.badData) { try WebhookEndpoint.load(file: garbage) }
    }
}
