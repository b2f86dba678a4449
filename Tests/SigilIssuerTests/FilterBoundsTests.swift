import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// Filters are bounded before any store sees them (#20 item 2): every name word is one more
/// clause over every row, ~1,000 words reached SQLite's expression limit, and PostgreSQL
/// refuses NUL in text. The same table runs on both stores.
@Suite("Bounded filters", .bothStores)
struct FilterBoundsTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture(seeding: try QueryFixture.records()) }

    static let words = Array(repeating: "deploy", count: TokenFilter.maxNameWords)
    static let overlong = String(repeating: "a", count: TokenFilter.maxValueBytes + 1)

    @Test(
        "Filters over the limits or holding NUL are refused naming the filter",
        .bug(id: "20-2", "990 name words stalled the server for 10 s; name=%00 was a 500 on PostgreSQL"),
        arguments: [
            ("name", (words + ["one"]).joined(separator: " "), "at most \(TokenFilter.maxNameWords)"),
            ("name", Array(repeating: "w", count: 990).joined(separator: " "), "\(TokenFilter.maxValueBytes) bytes"),
            ("name", Array(repeating: "w", count: 100).joined(separator: " "), "at most"),
            ("name", overlong, "\(TokenFilter.maxValueBytes) bytes"),
            ("guid", overlong, "\(TokenFilter.maxValueBytes) bytes"),
            ("scope", overlong, "\(TokenFilter.maxValueBytes) bytes"),
            ("audience", overlong, "\(TokenFilter.maxValueBytes) bytes"),
            ("name", "\u{0}", "NUL"),
            ("name", "deploy\u{0}ci", "NUL"),
            ("audience", "billing\u{0}", "NUL"),
            ("scope", "invoices\u{0}.pay", "NUL"),
            ("guid", "3f2a\u{0}", "NUL"),
        ])
    func refused(field: String, value: String, message: String) throws {
        let error = #expect(throws: IssuerError.self) {
            _ = try TokenFilter(
                name: field == "name" ? value : nil, guidPrefix: field == "guid" ? value : nil,
                scope: field == "scope" ? value : nil, audience: field == "audience" ? value : nil)
        }
        #expect(error?.reason == .invalidInput)
        #expect(error?.message.contains("the \(field) filter") == true)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("A filter at the limits still lists")
    func atTheLimits() throws {
        let filter = try TokenFilter(name: Self.words.joined(separator: " "))
        let names = try issuer.tokens(TokenQuery(filter: filter)).map(\.name)
        #expect(names == ["Deploy Billing CI", "ci deploy users"])
        // An audience filter is an Audience (#21): at most Audience.maxBytes, within the byte bound.
        _ = try TokenFilter(audience: String(repeating: "a", count: Audience.maxBytes))
    }

    @Test(
        "An audit actor with NUL or over ActorName.maxBytes bytes is refused before the store",
        .bug(id: "20-2", "free text reached PostgreSQL unchecked"),
        arguments: ["a\u{0}", String(repeating: "a", count: ActorName.maxBytes + 1), ""])
    func auditActor(actor: String) throws {
        let error = #expect(throws: IssuerError.self) { _ = try issuer.events(AuditQuery(actor: actor)) }
        #expect(error?.reason == .invalidInput)
        #expect(error?.message.contains("actor") == true)
    }

    @Test(
        "A read past the time limit is stopped with unavailable; changes and later reads are not",
        .bug(id: "20-2", "one caller's listing could hold the database for as long as it ran"))
    func timeLimit() throws {
        let filler = (0..<5_000).map { makeRecord(name: "filler token number \($0) for the time limit") }
        try issuer.insertForTesting(filler)
        let heavy = try TokenQuery(
            filter: TokenFilter(
                name: Array(repeating: "number", count: TokenFilter.maxNameWords).joined(separator: " ")),
            sort: .name)
        issuer.queryTimeLimit = 0.000_001
        let error = #expect(throws: IssuerError.self) { _ = try issuer.tokens(heavy) }
        #expect(error?.reason == .unavailable)
        #expect(error?.detail == .queryTimedOut(seconds: 0.000_001))
        #expect(error?.message.contains("narrow the filters") == true)
        // A change is never stopped, and the connection stays usable.
        _ = try issuer.issue(
            IssueRequest(name: "after the limit", audience: "billing", scope: .all), by: try Actor(name: "test"))
        issuer.queryTimeLimit = nil
        #expect(try issuer.tokens(heavy).count == filler.count)
    }
}
