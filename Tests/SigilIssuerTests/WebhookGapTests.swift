import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// On PostgreSQL an audit event's ID is taken before its transaction commits, so a smaller ID
/// can become visible after a larger one was read. A cursor that stepped over it would lose
/// that event's webhooks: it waits until no transaction that could fill the gap still runs.
@Suite(
    "On PostgreSQL the webhook cursor passes an audit ID gap only once no transaction can fill it",
    .enabled(
        if: StoreUnderTest.postgresURL != nil,
        "SIGIL_TEST_DATABASE_URL is unset; run scripts/postgres-test.sh for the PostgreSQL gap tests"))
struct WebhookGapTests {
    let temp: TempHome
    let issuer: Issuer
    let alice: Actor
    let siem: WebhookEndpoint
    /// A second connection that holds a transaction open, as a slow writer on another host would.
    let slow: PostgresConnection
    /// A lease that outlasts the test's clock jumps.
    let schedule: WebhookSchedule = {
        var s = WebhookSchedule()
        s.lease = .seconds(3_600)
        return s
    }()

    init() throws {
        temp = try StoreUnderTest.$current.withValue(.postgres) { try TempHome() }
        issuer = try temp.issuer()
        alice = try Actor(name: "alice")
        siem = try WebhookEndpoint(name: "siem", url: "http://127.0.0.1:9/", secret: [1])
        slow = try PostgresConnection(url: try #require(temp.databaseURL))
        #expect(try issuer.takeWebhookLease(holder: "a", schedule: schedule, nowMilliseconds: ms0).held)
        try queue(at: ms0)
    }

    @discardableResult
    func queue(at now: Int64) throws -> WebhookBatch {
        let batch = try issuer.prepareWebhooks(for: [siem], schedule: schedule, nowMilliseconds: now)
        #expect(try issuer.queueWebhooks(batch, holder: "a", schedule: schedule, nowMilliseconds: now).isLeaseHeld)
        return batch
    }

    /// Looks again at `now` until the gap is passed, for up to 30 s of real time: a gap waits
    /// for every transaction of the cluster that ran when it was seen (xmin is cluster-wide),
    /// and the other suites' transactions run on the same test cluster meanwhile.
    func queueOnceFinal(at now: Int64) throws -> WebhookBatch {
        let deadline = ContinuousClock.now + .seconds(30)
        var batch = try queue(at: now)
        while batch.waitsForGap, ContinuousClock.now < deadline {
            usleep(50_000)
            batch = try queue(at: now)
        }
        return batch
    }

    /// Opens a transaction on `slow` that revokes `id` in the audit log (takes an event ID) and stays open.
    func holdRevoke(of id: TokenID) throws {
        try slow.executeScript("BEGIN")
        let event = try slow.execute(
            "INSERT INTO events (at, actor, action, details) VALUES ($1, 'slow', 'revoke', '{}') RETURNING id",
            [.int(t0 + 1)])
        try slow.execute(
            "INSERT INTO event_tokens (event, guid) VALUES ($1, $2)", [.int(event.int64(0, 0)), .bytes(id.bytes)])
    }

    func queuedGUIDs(at now: Int64) throws -> [String] {
        try issuer.claimWebhooks(for: "siem", limit: 10, holder: "a", schedule: schedule, nowMilliseconds: now)
            .deliveries.map { d in
                let body = try JSONSerialization.jsonObject(with: Data(d.body)) as? [String: Any]
                return body?["guid"] as? String ?? ""
            }
    }

    @Test("An event that commits after a larger one is still queued, before it")
    func lateCommit() throws {
        let first = try issuer.issue(request("first"), by: alice, now: t0).record.id
        let second = try issuer.issue(request("second"), by: alice, now: t0).record.id
        try holdRevoke(of: first)
        _ = try issuer.change(.revoke, [second], by: alice, now: t0 + 2)
        let waiting = try queue(at: ms0 + 10)
        #expect(waiting.waitsForGap && waiting.count == 0, "the larger ID waits behind the open transaction")
        #expect(try queue(at: ms0 + 60_000).count == 0, "however long it stays open")
        try slow.executeScript("COMMIT")
        let batch = try queue(at: ms0 + 60_010)
        #expect(batch.count == 2 && !batch.waitsForGap, "committed: no gap any more")
        #expect(try queuedGUIDs(at: ms0 + 60_010) == [first.description, second.description])
    }

    @Test("An ID whose transaction rolled back is passed once it has ended and the grace period is over")
    func rolledBack() throws {
        let lost = try issuer.issue(request("never revoked"), by: alice, now: t0).record.id
        let second = try issuer.issue(request("second"), by: alice, now: t0).record.id
        try holdRevoke(of: lost)
        _ = try issuer.change(.revoke, [second], by: alice, now: t0 + 2)
        #expect(try queue(at: ms0 + 10).waitsForGap)
        #expect(try queue(at: ms0 + 5_000).waitsForGap, "the transaction still runs")
        try slow.executeScript("ROLLBACK")
        // It ended, and the gap was seen more than the grace period ago: passed once every
        // transaction older than the look that found it has ended.
        let batch = try queueOnceFinal(at: ms0 + 5_010)
        #expect(!batch.waitsForGap && batch.count == 1)
        #expect(try queuedGUIDs(at: ms0 + 5_010) == [second.description])
    }

    @Test("A gap is watched for the grace period even when its transaction already ended")
    func grace() throws {
        let lost = try issuer.issue(request("never revoked"), by: alice, now: t0).record.id
        let second = try issuer.issue(request("second"), by: alice, now: t0).record.id
        try holdRevoke(of: lost)
        _ = try issuer.change(.revoke, [second], by: alice, now: t0 + 2)
        #expect(try queue(at: ms0 + 10).waitsForGap)
        try slow.executeScript("ROLLBACK")
        #expect(try queue(at: ms0 + 1_009).waitsForGap, "999 ms after it was seen")
        #expect(try queueOnceFinal(at: ms0 + 1_010).count == 1)
        #expect(try queuedGUIDs(at: ms0 + 1_010) == [second.description])
    }
}

@Suite(
    "ledger migrate carries each endpoint's cursor and queued deliveries to PostgreSQL",
    .enabled(
        if: StoreUnderTest.postgresURL != nil,
        "SIGIL_TEST_DATABASE_URL is unset; run scripts/postgres-test.sh for the PostgreSQL copy test"))
struct WebhookMigrateTests {
    @Test("The copy's sender sends what the SQLite ledger had queued, with the same delivery IDs, and nothing twice")
    func carriesQueue() throws {
        let alice = try Actor(name: "alice")
        let source = try StoreUnderTest.$current.withValue(.sqlite) { try TempHome() }
        let target = try StoreUnderTest.$current.withValue(.postgres) { try TempHome() }
        let url = try #require(target.databaseURL)
        let sqlite = try source.issuer()
        let siem = try WebhookEndpoint(name: "siem", url: "http://127.0.0.1:9/", secret: [1])
        func pass(_ issuer: Issuer, at now: Int64) throws -> WebhookQueueReport {
            #expect(try issuer.takeWebhookLease(holder: "a", schedule: .init(), nowMilliseconds: now).held)
            let batch = try issuer.prepareWebhooks(for: [siem], schedule: .init(), nowMilliseconds: now)
            return try issuer.queueWebhooks(batch, holder: "a", schedule: .init(), nowMilliseconds: now)
        }
        _ = try pass(sqlite, at: ms0)
        let ids = try (0..<3).map { try sqlite.issue(request("t\($0)"), by: alice, now: t0).record.id }
        _ = try sqlite.change(.revoke, ids, by: alice, now: t0 + 1)
        #expect(try pass(sqlite, at: ms0 + 2_000).queued == ["siem": 3])
        let claimed = try sqlite.claimWebhooks(
            for: "siem", limit: 1, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 2_000
        ).deliveries
        _ = try sqlite.copyLedger(to: url, by: alice, now: t0 + 3)
        let postgres = try Issuer(home: source.home, database: url, mode: .existing)
        #expect(try postgres.webhookQueueDepths() == ["siem": 3])
        #expect(try postgres.webhookCursor("siem") == sqlite.webhookCursor("siem"))
        #expect(try pass(postgres, at: ms0 + 4_000).queued.isEmpty, "nothing queued twice")
        let all = try postgres.claimWebhooks(
            for: "siem", limit: 10, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 4_000
        ).deliveries
        #expect(all.count == 3 && all.first?.id == claimed.first?.id, "the copy hands out the claimed one first")
        #expect(all.first?.attempt == 2, "its attempt in the source counts")
    }
}
