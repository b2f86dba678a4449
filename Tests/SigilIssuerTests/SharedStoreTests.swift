import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// The SQL both stores share: one query per audit page, rows streamed from PostgreSQL.
@Suite("Stores that share their SQL", .bothStores)
struct SharedStoreTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func statements(_ issuer: Issuer) throws -> Int { try #require(issuer.store as? any SQLStore).statements }

    @Test(
        "A page of audit events and their GUIDs is one query, whatever its size",
        .bug(id: "21", "item 5: events() ran one query per event"), arguments: [1, 12])
    func eventsInOneQuery(events: Int) throws {
        var ids: [TokenID] = []
        for i in 0..<events {
            ids.append(try issuer.issue(request("t\(i)"), by: alice, now: t0).record.id)
        }
        _ = try issuer.change(.revoke, ids, by: alice, now: t0 + 1)
        let before = try statements(issuer)
        let page = try issuer.events(AuditQuery(limit: 100))
        #expect(try statements(issuer) - before == 1)
        let revoke = try #require(page.first { $0.action == .revoke })
        #expect(revoke.guids == ids.sorted())
        #expect(page.filter { $0.action == .issue }.count == events)
        #expect(page.filter { $0.action == .issue }.allSatisfy { $0.guids.count == 1 })
    }

    @Test("A caller's reach keeps only its audiences' GUIDs in each event of the one query")
    func reachInOneQuery() throws {
        let mine = try issuer.issue(request("mine", audience: "billing"), by: alice, now: t0).record.id
        let other = try issuer.issue(request("other", audience: "billing-eu"), by: alice, now: t0).record.id
        _ = try issuer.change(.revoke, [mine, other], by: alice, now: t0 + 1)
        let before = try statements(issuer)
        let page = try issuer.events(AuditQuery(limit: 100, audiences: ["billing"]))
        #expect(try statements(issuer) - before == 1)
        #expect(page.map(\.guids) == [[mine], [mine]])
        #expect(try issuer.events(AuditQuery(limit: 100, audiences: [])).isEmpty)
    }
}

/// PostgreSQL rows arrive one at a time (single-row mode), and a bad row still stops a listing.
@Suite(
    "PostgreSQL streams its rows",
    .enabled(
        if: StoreUnderTest.postgresURL != nil,
        "SIGIL_TEST_DATABASE_URL is unset; run scripts/postgres-test.sh for the PostgreSQL store tests"))
struct PostgresStreamingTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try StoreUnderTest.$current.withValue(.postgres) { try IssuerFixture() } }

    @Test("A listing of many rows arrives whole, in order, one row at a time")
    func manyRows() throws {
        var names: [String] = []
        for i in 0..<60 {
            names.append(String(format: "t%03d", i))
            _ = try issuer.issue(request(names[i]), by: alice, now: t0)
        }
        var seen: [String] = []
        try issuer.forEachToken(TokenQuery(sort: .name)) { seen.append($0.name) }
        #expect(seen == names)
        #expect(
            try issuer.tokens(TokenQuery(sort: .name, limit: 7, offset: 50)).map(\.name) == Array(names[50...56]))
    }

    @Test(
        "A damaged row in the middle of a stream is an error, and the connection serves the next call",
        .bug(id: "21", "item 5: PostgreSQL results were loaded whole"))
    func damagedRowMidStream() throws {
        for i in 0..<50 { _ = try issuer.issue(request(String(format: "t%03d", i)), by: alice, now: t0) }
        let admin = try PostgresConnection(url: try #require(temp.databaseURL))
        defer { admin.close() }
        try admin.executeScript(
            "ALTER TABLE tokens DROP CONSTRAINT tokens_status_check; UPDATE tokens SET status = 'bogus' WHERE name = 't030'"
        )
        var delivered = 0
        let error = #expect(throws: IssuerError.self) {
            try issuer.forEachToken(TokenQuery(sort: .name)) { _ in delivered += 1 }
        }
        #expect(error?.reason == .badData)
        #expect(delivered == 30)
        #expect(try issuer.count(TokenQuery()) == 50)
        #expect(try issuer.tokens(TokenQuery(sort: .name, limit: 3)).map(\.name) == ["t000", "t001", "t002"])
    }
}
