import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

/// Unix milliseconds at ``t0``: the clock the webhook calls take.
let ms0 = t0 * 1_000

/// Webhooks in the ledger (issue #24 item 5): one sender's lease, each endpoint's cursor on the
/// audit event ID, and deliveries that leave the queue only when answered 2xx or past their
/// retry window.
@Suite("Webhooks are queued in the ledger, once, and survive a sender's end", .bothStores)
struct WebhookLedgerTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture() }

    func endpoint(_ name: String, _ events: Set<WebhookEvent> = Set(WebhookEvent.allCases)) throws -> WebhookEndpoint {
        try WebhookEndpoint(
            name: name, url: "http://127.0.0.1:9/\(name)", secret: Array("s-\(name)".utf8), events: events)
    }

    /// Takes the lease as `holder` and queues what the log holds, at `now` (Unix ms).
    @discardableResult
    func pass(
        _ endpoints: [WebhookEndpoint], holder: String = "a", at now: Int64, schedule: WebhookSchedule = .init(),
        on issuer: Issuer? = nil
    ) throws -> WebhookQueueReport {
        let issuer = issuer ?? self.issuer
        #expect(try issuer.takeWebhookLease(holder: holder, schedule: schedule, nowMilliseconds: now).held)
        let batch = try issuer.prepareWebhooks(for: endpoints, schedule: schedule, nowMilliseconds: now)
        return try issuer.queueWebhooks(batch, holder: holder, schedule: schedule, nowMilliseconds: now)
    }

    func claim(
        _ name: String, limit: Int = 10, holder: String = "a", at now: Int64, schedule: WebhookSchedule = .init(),
        on issuer: Issuer? = nil
    ) throws -> WebhookClaim {
        try (issuer ?? self.issuer).claimWebhooks(
            for: name, limit: limit, holder: holder, schedule: schedule, nowMilliseconds: now)
    }

    func payload(_ d: WebhookDelivery) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(d.body)) as? [String: Any])
    }

    /// Issues `count` tokens at `t0` and revokes them one event each at `t0 + 1`; their GUIDs.
    func revoked(_ count: Int, action: LifecycleAction = .revoke) throws -> [TokenID] {
        var ids: [TokenID] = []
        for i in 0..<count {
            let id = try issuer.issue(request("t\(i)"), by: alice, now: t0).record.id
            _ = try issuer.change(action, [id], by: alice, now: t0 + 1)
            ids.append(id)
        }
        return ids
    }

    @Test("One holder at a time: renewed while held, taken over once it runs out, free at once when released")
    func lease() throws {
        var schedule = WebhookSchedule()
        schedule.lease = .seconds(30)
        func take(_ holder: String, _ at: Int64) throws -> Bool {
            try issuer.takeWebhookLease(holder: holder, schedule: schedule, nowMilliseconds: ms0 + at).held
        }
        #expect(try issuer.webhookLease() == nil)
        #expect(try take("a", 0))
        #expect(try !take("b", 1_000), "a holds it")
        #expect(try take("a", 20_000), "renewed")
        #expect(try !take("b", 49_999), "the renewal moved the end to 50 s")
        let lease = try #require(try issuer.webhookLease())
        #expect(lease.holder == "a" && lease.takenAt == ms0 && lease.expiresAt == ms0 + 50_000)
        #expect(try take("b", 50_000), "ran out: taken over")
        #expect(try !take("a", 50_001), "a stopped renewing in time and stands by")
        // A replica on another connection sees the same lease.
        let replica = try temp.issuer(.existing)
        #expect(try replica.webhookLease()?.holder == "b")
        try replica.releaseWebhookLease(holder: "a", nowMilliseconds: ms0 + 50_002)
        #expect(try !take("a", 50_003), "only its holder ends a lease")
        try replica.releaseWebhookLease(holder: "b", nowMilliseconds: ms0 + 50_004)
        #expect(try take("a", 50_005), "released: free at once")
    }

    @Test("A new endpoint starts after the newest event; a later revoke is queued once, with its audit event ID")
    func queuedOnce() throws {
        let before = try revoked(1)
        let siem = try endpoint("siem")
        #expect(try pass([siem], at: ms0).queued["siem"] ?? 0 == 0, "nothing older than the endpoint is sent")
        let id = try issuer.issue(request("later one"), by: alice, now: t0 + 10).record.id
        _ = try issuer.change(.revoke, [id], by: alice, now: t0 + 11)
        #expect(try pass([siem], at: ms0 + 20_000).queued["siem"] == 1)
        #expect(try pass([siem], at: ms0 + 21_000).queued["siem"] ?? 0 == 0, "the cursor moved past it")
        let claim = try claim("siem", at: ms0 + 21_000)
        let d = try #require(claim.deliveries.first)
        #expect(claim.deliveries.count == 1)
        #expect(d.event == .revoked && d.attempt == 1 && d.endpoint == "siem" && d.queuedAt == ms0 + 20_000)
        let body = try payload(d)
        #expect(body["guid"] as? String == id.description && body["name"] as? String == "later one")
        #expect(body["event"] as? String == "token.revoked" && body["actor"] as? String == "alice")
        #expect((body["event_id"] as? NSNumber)?.int64Value == d.eventID && d.eventID != nil)
        #expect(!before.contains { String(decoding: d.body, as: UTF8.self).contains($0.description) })
        #expect(d.id.count == 36 && d.id == d.id.lowercased())
    }

    @Test("Queueing needs the lease: a sender that lost it stores and claims nothing")
    func leaseRequired() throws {
        let siem = try endpoint("siem")
        try pass([siem], holder: "a", at: ms0)
        _ = try revoked(1)
        let batch = try issuer.prepareWebhooks(for: [siem], schedule: .init(), nowMilliseconds: ms0 + 1_000)
        #expect(batch.count == 1)
        var schedule = WebhookSchedule()
        schedule.lease = .seconds(30)
        #expect(try issuer.takeWebhookLease(holder: "b", schedule: schedule, nowMilliseconds: ms0 + 31_000).held)
        let report = try issuer.queueWebhooks(batch, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 31_001)
        #expect(!report.isLeaseHeld && report.queued.isEmpty)
        #expect(try issuer.webhookQueueDepths().isEmpty)
        #expect(try !claim("siem", holder: "a", at: ms0 + 31_002).isLeaseHeld)
        #expect(try pass([siem], holder: "b", at: ms0 + 31_003).queued["siem"] == 1, "the new holder queues it")
    }

    @Test("Two senders that read the same cursor queue its events once: the second finds it moved")
    func cursorConflict() throws {
        let siem = try endpoint("siem")
        try pass([siem], at: ms0)
        _ = try revoked(2)
        let first = try issuer.prepareWebhooks(for: [siem], schedule: .init(), nowMilliseconds: ms0 + 1_000)
        let second = try temp.issuer(.existing).prepareWebhooks(
            for: [siem], schedule: .init(), nowMilliseconds: ms0 + 1_000)
        #expect(
            try issuer.queueWebhooks(first, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 1_001)
                .queued["siem"] == 2)
        let report = try issuer.queueWebhooks(second, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 1_002)
        #expect(report.conflicts == ["siem"] && report.queued.isEmpty)
        #expect(try issuer.webhookQueueDepths() == ["siem": 2])
    }

    @Test("Each endpoint gets its own events: revokes, leak reports with their location, deactivations")
    func filters() throws {
        let all = try endpoint("all")
        let leaks = try endpoint("leaks", [.leakReported])
        let states = try endpoint("states", [.revoked, .deactivated])
        try pass([all, leaks, states], at: ms0)
        let pair = try (0..<2).map { try issuer.issue(request("pair \($0)"), by: alice, now: t0).record.id }
        _ = try issuer.change(.revoke, pair, by: alice, now: t0 + 1)
        _ = try revoked(1, action: .deactivate)
        let leaked = try issuer.issue(request("leaked"), by: alice, now: t0)
        let location = "https://git.example/a/.env"
        #expect(try issuer.revokeLeaked([.init(token: leaked.token, location: location)], now: t0 + 2) == 1)
        let report = try pass([all, leaks, states], at: ms0 + 5_000)
        #expect(report.queued == ["all": 4, "leaks": 1, "states": 3], "one notification per token of an event")
        let events = try claim("all", at: ms0 + 5_000).deliveries.map(\.event)
        #expect(events == [.revoked, .revoked, .deactivated, .leakReported], "queue order is event order")
        let leak = try #require(try claim("leaks", at: ms0 + 5_000).deliveries.first)
        let body = try payload(leak)
        #expect(body["location"] as? String == location && body["actor"] as? String == "leak-report")
        #expect(try claim("states", at: ms0 + 5_000).deliveries.map(\.event) == [.revoked, .revoked, .deactivated])
    }

    @Test("An event of a kind an endpoint does not take is passed in one pass, however many tokens it names")
    func unwantedLargeEvent() throws {
        let leaks = try endpoint("leaks", [.leakReported])
        try pass([leaks], at: ms0)
        let records = (0..<2_500).map { makeRecord(name: "bulk-\($0)") }
        try issuer.insertForTesting(records)
        _ = try issuer.change(.revoke, records.map(\.id), by: alice, now: t0 + 2)
        let leaked = try issuer.issue(request("leaked"), by: alice, now: t0)
        let report = Issuer.LeakReport(token: leaked.token, location: "https://git.example/a")
        #expect(try issuer.revokeLeaked([report], now: t0 + 3) == 1)
        let batch = try issuer.prepareWebhooks(for: [leaks], schedule: .init(), nowMilliseconds: ms0 + 5_000)
        #expect(batch.count == 1 && !batch.hasMore, "the bulk revoke was not paged through")
        _ = try issuer.queueWebhooks(batch, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 5_000)
        let sent = try claim("leaks", at: ms0 + 5_000).deliveries
        #expect(sent.map(\.event) == [.leakReported])
        #expect(try payload(#require(sent.first))["guid"] as? String == leaked.record.id.description)
    }

    @Test("A delivery's ID is the same for the same notification and endpoint, and differs between endpoints")
    func deliveryIDs() throws {
        let a = try endpoint("a")
        let b = try endpoint("b")
        try pass([a, b], at: ms0)
        _ = try revoked(1)
        try pass([a, b], at: ms0 + 1_000)
        let first = try #require(try claim("a", at: ms0 + 1_000).deliveries.first)
        let other = try #require(try claim("b", at: ms0 + 1_000).deliveries.first)
        #expect(first.id != other.id && first.body == other.body)
        // The log read again from the start (a ledger restored from a backup): the same IDs, nothing doubled.
        try issuer.store.transaction(write: true) {
            try issuer.store.setStateForWebhookTest(cursorOf: "a", to: (first.eventID ?? 1) - 1)
        }
        _ = try issuer.finishWebhook(first, failure: "status 500", schedule: .init(), nowMilliseconds: ms0 + 1_001)
        try pass([a, b], at: ms0 + 2_000)
        #expect(try issuer.webhookQueueDepths() == ["a": 1, "b": 1])
    }

    @Test(
        "A new event under a reused audit event ID (a restored ledger lost the later ones) gets a new delivery ID",
        .tags(.sqliteOnly))
    func reusedEventID() throws {
        let a = try endpoint("a")
        let token = try issuer.issue(request("first"), by: alice, now: t0).record.id
        try pass([a], at: ms0)
        _ = try issuer.change(.deactivate, [token], by: alice, now: t0 + 1)
        try pass([a], at: ms0 + 1_000)
        let sent = try #require(try claim("a", at: ms0 + 1_000).deliveries.first)
        _ = try issuer.finishWebhook(sent, failure: nil, schedule: .init(), nowMilliseconds: ms0 + 1_001)
        // What a restore from a backup taken before that change leaves: no such event, the cursor before it.
        let lost = try #require(sent.eventID)
        try issuer.store.transaction(write: true) {
            try issuer.store.run("DELETE FROM event_tokens WHERE event = ?1", [.int(lost)])
            try issuer.store.run("DELETE FROM events WHERE id = ?1", [.int(lost)])
            try issuer.store.setStateForWebhookTest(cursorOf: "a", to: lost - 1)
        }
        // A new event about the same token, under the same ID.
        _ = try issuer.change(.revoke, [token], by: alice, now: t0 + 2)
        try pass([a], at: ms0 + 2_000)
        let next = try #require(try claim("a", at: ms0 + 2_000).deliveries.first)
        #expect(next.eventID == lost, "SQLite hands the lost event's ID out again")
        #expect(next.event == .revoked && sent.event == .deactivated)
        #expect(next.id != sent.id, "a receiver deduping on the delivery ID would drop it")
    }

    @Test("A failed attempt waits 1, 2, 4 … s; a retry that succeeds makes the endpoint's other retries due now")
    func backoff() throws {
        let siem = try endpoint("siem")
        let schedule = WebhookSchedule()
        try pass([siem], at: ms0)
        _ = try revoked(3)
        try pass([siem], at: ms0)
        var now = ms0
        let claimed = try claim("siem", limit: 2, at: now).deliveries
        #expect(claimed.count == 2)
        #expect(try claim("siem", limit: 2, at: now).deliveries.count == 1, "claimed ones are not handed out again")
        for d in claimed {
            #expect(
                try issuer.finishWebhook(d, failure: "status 503", schedule: schedule, nowMilliseconds: now)
                    == .retry(at: now + 1_000))
        }
        #expect(try claim("siem", at: now + 999).deliveries.isEmpty)
        now += 1_000
        let again = try claim("siem", limit: 1, at: now).deliveries
        #expect(again.map(\.id) == [claimed[0].id] && again[0].attempt == 2)
        #expect(
            try issuer.finishWebhook(again[0], failure: "no answer", schedule: schedule, nowMilliseconds: now)
                == .retry(at: now + 2_000))
        // claimed[1] is due too; it succeeds on its second attempt: the receiver is back.
        let second = try #require(try claim("siem", limit: 1, at: now).deliveries.first)
        #expect(second.id == claimed[1].id && second.attempt == 2)
        #expect(
            try issuer.finishWebhook(second, failure: nil, schedule: schedule, nowMilliseconds: now + 5)
                == .delivered(hastened: 1))
        let hastened = try claim("siem", at: now + 5).deliveries
        #expect(hastened.map(\.id) == [claimed[0].id], "its 2 s wait was cut short")
        #expect(try issuer.webhookQueueDepths() == ["siem": 2], "delivered ones leave; the third is still claimed")
    }

    @Test("A delivery is dropped once its next attempt would fall past the retry window")
    func givesUp() throws {
        let siem = try endpoint("siem")
        var schedule = WebhookSchedule()
        schedule.firstRetry = .milliseconds(100)
        schedule.retryFor = .milliseconds(700)
        try pass([siem], at: ms0, schedule: schedule)
        _ = try revoked(1)
        try pass([siem], at: ms0, schedule: schedule)
        var now = ms0
        var outcomes: [WebhookOutcome] = []
        while let d = try claim("siem", at: now, schedule: schedule).deliveries.first {
            let outcome = try issuer.finishWebhook(d, failure: "status 500", schedule: schedule, nowMilliseconds: now)
            outcomes.append(outcome)
            guard case .retry(let at) = outcome else { break }
            now = at
        }
        // Waits 100, 200, 400 ms (700 ms after queueing); an 800 ms wait would pass the window.
        #expect(outcomes == [.retry(at: ms0 + 100), .retry(at: ms0 + 300), .retry(at: ms0 + 700), .givenUp])
        #expect(try issuer.webhookQueueDepths().isEmpty)
    }

    @Test("A sender that dies mid-attempt: after its lease and claim run out, the next sends the same delivery")
    func takeoverAfterCrash() throws {
        let siem = try endpoint("siem")
        var schedule = WebhookSchedule()
        schedule.lease = .seconds(3)
        schedule.attemptTimeout = .seconds(2)
        try pass([siem], holder: "dead", at: ms0, schedule: schedule)
        _ = try revoked(1)
        try pass([siem], holder: "dead", at: ms0 + 100, schedule: schedule)
        let inFlight = try #require(
            try claim("siem", holder: "dead", at: ms0 + 100, schedule: schedule).deliveries.first)
        // "dead" never finishes. Another replica, on its own connection, stands by until the lease ends.
        let replica = try temp.issuer(.existing)
        #expect(try !replica.takeWebhookLease(holder: "next", schedule: schedule, nowMilliseconds: ms0 + 3_099).held)
        #expect(try replica.takeWebhookLease(holder: "next", schedule: schedule, nowMilliseconds: ms0 + 3_100).held)
        #expect(
            try claim("siem", holder: "next", at: ms0 + 4_099, schedule: schedule, on: replica).deliveries.isEmpty,
            "the claim lasts two attempt timeouts")
        let retried = try #require(
            try claim("siem", holder: "next", at: ms0 + 4_100, schedule: schedule, on: replica).deliveries.first)
        #expect(retried.id == inFlight.id && retried.body == inFlight.body && retried.attempt == 2)
        // The dead one's late outcome (it came back) is still recorded: delivered is delivered.
        #expect(
            try issuer.finishWebhook(inFlight, failure: nil, schedule: schedule, nowMilliseconds: ms0 + 4_200)
                == .delivered(hastened: 0))
        #expect(try replica.webhookQueueDepths().isEmpty)
    }

    @Test("A sender that stops hands its claims back: due at once for the next, the attempt counted")
    func handBack() throws {
        let siem = try endpoint("siem")
        try pass([siem], at: ms0)
        _ = try revoked(2)
        try pass([siem], at: ms0)
        let claimed = try claim("siem", at: ms0).deliveries
        try issuer.releaseWebhooks(claimed, nowMilliseconds: ms0 + 10)
        try issuer.releaseWebhookLease(holder: "a", nowMilliseconds: ms0 + 10)
        #expect(try issuer.takeWebhookLease(holder: "b", schedule: .init(), nowMilliseconds: ms0 + 11).held)
        let next = try claim("siem", holder: "b", at: ms0 + 11).deliveries
        #expect(next.map(\.id) == claimed.map(\.id) && next.allSatisfy { $0.attempt == 2 })
    }

    @Test("A full queue stops its endpoint's cursor: later events wait in the audit log, none is lost")
    func fullQueue() throws {
        let siem = try endpoint("siem")
        var schedule = WebhookSchedule()
        schedule.maxQueued = 2
        try pass([siem], at: ms0, schedule: schedule)
        let ids = try revoked(5)
        let bulk = try (0..<3).map { try issuer.issue(request("bulk \($0)"), by: alice, now: t0).record.id }
        _ = try issuer.change(.revoke, bulk, by: alice, now: t0 + 2)
        var delivered: [String] = []
        var now = ms0
        for _ in 0..<10 {
            let batch = try issuer.prepareWebhooks(for: [siem], schedule: schedule, nowMilliseconds: now)
            _ = try issuer.queueWebhooks(batch, holder: "a", schedule: schedule, nowMilliseconds: now)
            #expect(try issuer.webhookQueueDepths()["siem"] ?? 0 <= 2, "never past the limit, a large event in pages")
            for d in try claim("siem", at: now, schedule: schedule).deliveries {
                _ = try issuer.finishWebhook(d, failure: nil, schedule: schedule, nowMilliseconds: now)
                delivered.append(try payload(d)["guid"] as? String ?? "")
            }
            now += 1
        }
        #expect(delivered == (ids + bulk.sorted()).map(\.description), "every one, in event order")
    }

    @Test("One event naming more tokens than a pass takes is queued a page at a time, each GUID once, in order")
    func largeEventInPages() throws {
        let siem = try endpoint("siem")
        var schedule = WebhookSchedule()
        schedule.maxQueued = 1_200
        try pass([siem], at: ms0, schedule: schedule)
        let records = (0..<2_500).map { makeRecord(name: "bulk-\($0)") }
        try issuer.insertForTesting(records)
        _ = try issuer.change(.revoke, records.map(\.id), by: alice, now: t0 + 2)
        var delivered: [String] = []
        var now = ms0
        var passes = 0
        while passes < 20 {
            passes += 1
            let batch = try issuer.prepareWebhooks(for: [siem], schedule: schedule, nowMilliseconds: now)
            #expect(batch.count <= 1_000, "one pass holds at most a batch")
            _ = try issuer.queueWebhooks(batch, holder: "a", schedule: schedule, nowMilliseconds: now)
            #expect(try issuer.webhookQueueDepths()["siem"] ?? 0 <= 1_200, "never past the limit")
            // Deliver half of what waits, so the queue's limit is what stops some passes.
            for d in try claim("siem", limit: 700, at: now, schedule: schedule).deliveries {
                _ = try issuer.finishWebhook(d, failure: nil, schedule: schedule, nowMilliseconds: now)
                delivered.append(try payload(d)["guid"] as? String ?? "")
            }
            now += 1
            if delivered.count == records.count && !batch.hasMore { break }
        }
        #expect(delivered == records.map(\.id).sorted().map(\.description), "every one once, in GUID order")
        #expect(passes >= 3)
    }

    @Test("token.expiring goes once per threshold an active token crosses, to endpoints that ask for it")
    func expiring() throws {
        let soon = try endpoint("soon", [.expiring])
        let other = try endpoint("other", [.revoked])
        try pass([soon, other], at: ms0)
        let six = try issuer.issue(request("six days", expiry: .at(t0 + 6 * day)), by: alice, now: t0 + 1)
        _ = try issuer.issue(request("forty days", expiry: .at(t0 + 40 * day)), by: alice, now: t0 + 1)
        #expect(try pass([soon, other], at: ms0 + 2_000).queued == ["soon": 1])
        #expect(try pass([soon, other], at: ms0 + 3_000).queued["soon"] ?? 0 == 0, "not again")
        let d = try #require(try claim("soon", at: ms0 + 3_000).deliveries.first)
        let body = try payload(d)
        #expect(d.event == .expiring && d.eventID == nil && body["days"] as? Int == 7)
        #expect(body["guid"] as? String == six.record.id.description)
        // Five days later it crosses the 1-day threshold.
        let later = (t0 + 5 * day + 1) * 1_000
        #expect(try pass([soon, other], at: later).queued == ["soon": 1])
    }

    @Test("An expiry check larger than a pass or the queue is taken a page at a time, each token once, in index order")
    func expiryCheckInPages() throws {
        let soon = try endpoint("soon", [.expiring])
        var schedule = WebhookSchedule()
        schedule.maxQueued = 1_200
        try pass([soon], at: ms0, schedule: schedule)
        // 2,500 tokens cross 7 days between two checks (a bulk import), on three different ends.
        let records = (0..<2_500).map { makeRecord(name: "bulk-\($0)", validTo: t0 + 7 * day + 1 + Int64($0 % 3)) }
        try issuer.insertForTesting(records)
        // The expiry index's order: valid_to, then issue order.
        let order = records.indices.sorted { (records[$0].validTo ?? 0, $0) < (records[$1].validTo ?? 0, $1) }
            .map { records[$0].id.description }
        var delivered: [String] = []
        var now = ms0 + 3_000
        var passes = 0
        var sawFull = false
        while passes < 20 {
            passes += 1
            let batch = try issuer.prepareWebhooks(for: [soon], schedule: schedule, nowMilliseconds: now)
            #expect(batch.count <= 1_000, "one pass holds at most a batch")
            sawFull = sawFull || batch.fullEndpoints == ["soon"]
            _ = try issuer.queueWebhooks(batch, holder: "a", schedule: schedule, nowMilliseconds: now)
            #expect(try issuer.webhookQueueDepths()["soon"] ?? 0 <= 1_200, "never past the limit")
            for d in try claim("soon", limit: 700, at: now, schedule: schedule).deliveries {
                _ = try issuer.finishWebhook(d, failure: nil, schedule: schedule, nowMilliseconds: now)
                let body = try payload(d)
                #expect(body["days"] as? Int == 7)
                delivered.append(body["guid"] as? String ?? "")
            }
            now += 1_000
            if delivered.count == records.count && !batch.hasMore { break }
        }
        #expect(delivered == order, "every one once, by valid_to then issue order")
        #expect(passes >= 3 && sawFull, "the queue's limit stopped at least one pass")
        #expect(try pass([soon], at: now + 1_000, schedule: schedule).queued["soon"] ?? 0 == 0, "none again")
    }

    @Test("A check resumed later judges thresholds at its own time; the next check sends what was crossed since")
    func resumedExpiryCheck() throws {
        let soon = try endpoint("soon", [.expiring])
        var schedule = WebhookSchedule()
        schedule.maxQueued = 2
        try pass([soon], at: ms0, schedule: schedule)
        // Each crosses 7 days before t0 + 3.
        let records = (1...3).map { makeRecord(name: "ends-\($0)", validTo: t0 + 7 * day + Int64($0)) }
        try issuer.insertForTesting(records)
        func drain(at now: Int64) throws -> [(String, Int)] {
            try claim("soon", at: now, schedule: schedule).deliveries.map { d in
                _ = try issuer.finishWebhook(d, failure: nil, schedule: schedule, nowMilliseconds: now)
                let body = try payload(d)
                return (body["guid"] as? String ?? "", body["days"] as? Int ?? 0)
            }
        }
        #expect(try pass([soon], at: ms0 + 3_000, schedule: schedule).queued == ["soon": 2], "what the queue holds")
        let first = try drain(at: ms0 + 3_000)
        // Six and a half days later every token is within a day: the check of t0 + 3 goes on
        // (7 days for the third), then the check from there to now gives each its 1-day notice.
        let later = ms0 + (6 * day + day / 2) * 1_000
        #expect(try pass([soon], at: later, schedule: schedule).queued == ["soon": 1])
        let second = try drain(at: later)
        #expect(try pass([soon], at: later, schedule: schedule).queued == ["soon": 2])
        var third = try drain(at: later)
        #expect(try pass([soon], at: later, schedule: schedule).queued == ["soon": 1], "the rest of that check")
        third += try drain(at: later)
        let ids = records.map(\.id.description)
        #expect(first.map(\.0) == Array(ids.prefix(2)) && first.allSatisfy { $0.1 == 7 })
        #expect(second.map(\.0) == [ids[2]] && second[0].1 == 7)
        #expect(third.map(\.0) == ids && third.allSatisfy { $0.1 == 1 })
    }

    @Test("A pass reads a bounded part of the expiry index; the check goes on from there in the next")
    func expiryScanBounded() throws {
        let soon = try endpoint("soon", [.expiring])
        try pass([soon], at: ms0)
        // Tokens inside the 30-day window that cross nothing, then one that crosses 30 days.
        let quiet = (0..<(Issuer.webhookExpiryScan + 500)).map { makeRecord(name: "q\($0)", validTo: t0 + 20 * day) }
        let crossing = makeRecord(name: "crossing", validTo: t0 + 30 * day + 2)
        try issuer.insertForTesting(quiet + [crossing])
        let first = try issuer.prepareWebhooks(for: [soon], schedule: .init(), nowMilliseconds: ms0 + 3_000)
        #expect(first.count == 0 && first.hasMore, "stopped after a bounded read, more to come")
        _ = try issuer.queueWebhooks(first, holder: "a", schedule: .init(), nowMilliseconds: ms0 + 3_000)
        #expect(try pass([soon], at: ms0 + 3_000).queued == ["soon": 1])
        let d = try #require(try claim("soon", at: ms0 + 3_000).deliveries.first)
        #expect(try payload(d)["guid"] as? String == crossing.id.description && payload(d)["days"] as? Int == 30)
        #expect(try pass([soon], at: ms0 + 4_000).queued["soon"] ?? 0 == 0, "the check is done")
    }

    @Test("A token that expired before its check resumed gets no notice from it")
    func expiredBeforeResume() throws {
        let soon = try endpoint("soon", [.expiring])
        var schedule = WebhookSchedule()
        schedule.maxQueued = 1
        try pass([soon], at: ms0, schedule: schedule)
        // Both cross 1 day before t0 + 3; the second expires an hour later.
        let records = [makeRecord(name: "a", validTo: t0 + day + 1), makeRecord(name: "b", validTo: t0 + day + 2)]
        try issuer.insertForTesting(records)
        #expect(try pass([soon], at: ms0 + 3_000, schedule: schedule).queued == ["soon": 1])
        let first = try claim("soon", at: ms0 + 3_000, schedule: schedule).deliveries
        for d in first {
            _ = try issuer.finishWebhook(d, failure: nil, schedule: schedule, nowMilliseconds: ms0 + 3_000)
        }
        #expect(try first.map { try payload($0)["guid"] as? String } == [records[0].id.description])
        // Resumed two days later: both have expired.
        let later = ms0 + 2 * day * 1_000
        let batch = try issuer.prepareWebhooks(for: [soon], schedule: schedule, nowMilliseconds: later)
        #expect(batch.count == 0)
        _ = try issuer.queueWebhooks(batch, holder: "a", schedule: schedule, nowMilliseconds: later)
        #expect(try issuer.webhookQueueDepths()["soon"] ?? 0 == 0)
    }

    @Test("A queue already past its limit (the limit was lowered) passes events it does not take, without a crash")
    func queuePastItsLimit() throws {
        let leaks = try endpoint("leaks", [.leakReported, .revoked])
        try pass([leaks], at: ms0)
        _ = try revoked(3)
        #expect(try pass([leaks], at: ms0 + 1_000).queued == ["leaks": 3])
        var lowered = WebhookSchedule()
        lowered.maxQueued = 2
        _ = try revoked(1, action: .deactivate)
        _ = try issuer.issue(request("issued"), by: alice, now: t0 + 2)
        let batch = try issuer.prepareWebhooks(for: [leaks], schedule: lowered, nowMilliseconds: ms0 + 2_000)
        #expect(batch.count == 0 && batch.fullEndpoints.isEmpty)
        _ = try issuer.queueWebhooks(batch, holder: "a", schedule: lowered, nowMilliseconds: ms0 + 2_000)
        _ = try revoked(1)
        let full = try issuer.prepareWebhooks(for: [leaks], schedule: lowered, nowMilliseconds: ms0 + 3_000)
        #expect(full.count == 0 && full.fullEndpoints == ["leaks"], "a revoke it takes waits in the log")
    }

    @Test("Deliveries of an endpoint no longer configured are dropped once their retry window has passed")
    func droppedEndpoint() throws {
        let gone = try endpoint("gone")
        let kept = try endpoint("kept")
        try pass([gone, kept], at: ms0)
        _ = try revoked(1)
        try pass([gone, kept], at: ms0)
        #expect(try pass([kept], at: ms0 + 86_400_000).dropped == 0, "still inside its window")
        #expect(try pass([kept], at: ms0 + 86_400_001).dropped == 1)
        #expect(try issuer.webhookQueueDepths() == ["kept": 1])
    }

    @Test("A version 7 ledger with cursors gains the expiry check's columns; its endpoints carry on")
    func upgradesFromVersion7() throws {
        let soon = try endpoint("soon", [.expiring, .revoked])
        try pass([soon], at: ms0)
        let drop = ["expiry_target", "expiry_after_to", "expiry_after_seq"]
            .map { "ALTER TABLE webhook_endpoints DROP COLUMN \($0)" }.joined(separator: "; ")
        switch temp.store {
        case .sqlite:
            try issuer.store.db.execute("\(drop); PRAGMA user_version = 7")
        case .postgres:
            let connection = try PostgresConnection(url: try #require(temp.databaseURL))
            try connection.executeScript("\(drop); UPDATE schema_version SET version = 7")
        }
        issuer.close()
        let reopened = try temp.issuer(.existing)
        let revoked = try reopened.issue(request("revoked"), by: alice, now: t0 + 1).record.id
        _ = try reopened.change(.revoke, [revoked], by: alice, now: t0 + 1)
        let crossing = makeRecord(name: "crossing", validTo: t0 + 7 * day + 2)
        try reopened.insertForTesting([crossing])
        var schedule = WebhookSchedule()
        schedule.maxQueued = 1
        // The revoke fills the queue; the check waits, then resumes and finishes across passes.
        #expect(try pass([soon], at: ms0 + 3_000, schedule: schedule, on: reopened).queued == ["soon": 1])
        var got: [String] = []
        for step in 0..<3 {
            let now = ms0 + 3_000 + Int64(step)
            for d in try claim("soon", at: now, schedule: schedule, on: reopened).deliveries {
                _ = try reopened.finishWebhook(d, failure: nil, schedule: schedule, nowMilliseconds: now)
                got.append(try payload(d)["guid"] as? String ?? "")
            }
            try pass([soon], at: now, schedule: schedule, on: reopened)
        }
        #expect(got == [revoked.description, crossing.id.description])
    }

    @Test("A version 4 ledger gains the webhook tables; an older server's cursor is where the endpoints start")
    func upgradesFromVersion4() throws {
        // Two revokes at t0 + 1, then one at t0 + 5.
        let sent = try revoked(2)
        let unsent = try issuer.issue(request("unsent"), by: alice, now: t0 + 5).record.id
        _ = try issuer.change(.revoke, [unsent], by: alice, now: t0 + 5)
        let drop =
            "DROP TABLE members; ALTER TABLE sessions DROP COLUMN member; "
            + "DROP TABLE webhook_deliveries; DROP TABLE webhook_endpoints; DROP TABLE webhook_lease"
        // The older server had read the first of the two revokes of t0 + 1.
        let legacy = [("webhook_audit_at", t0 + 1), ("webhook_audit_seen", 1), ("webhook_expiry_checked", t0 + 1)]
        try issuer.store.transaction(write: true) {
            for (key, value) in legacy { try issuer.store.setState(key, value) }
        }
        switch temp.store {
        case .sqlite:
            try issuer.store.db.execute("\(drop); PRAGMA user_version = 4")
        case .postgres:
            let connection = try PostgresConnection(url: try #require(temp.databaseURL))
            try connection.executeScript("\(drop); UPDATE schema_version SET version = 4")
        }
        issuer.close()
        let reopened = try temp.issuer(.existing)
        let siem = try endpoint("siem")
        #expect(try pass([siem], at: ms0 + 10_000, on: reopened).queued == ["siem": 2])
        let guids = try claim("siem", at: ms0 + 10_000, on: reopened).deliveries.map {
            try payload($0)["guid"] as? String
        }
        #expect(guids == [sent[1].description, unsent.description])
        for (key, _) in legacy {
            #expect(try reopened.store.transaction(write: false) { try reopened.store.state(key) } == nil)
        }
        // A later endpoint starts at the newest event, not at the old cursor.
        #expect(try pass([siem, try endpoint("late")], at: ms0 + 11_000, on: reopened).queued["late"] ?? 0 == 0)
    }
}

extension SQLStore {
    /// Moves an endpoint's cursor back, as a ledger restored from an older backup would have it.
    func setStateForWebhookTest(cursorOf name: String, to id: Int64) throws {
        try run(
            "UPDATE webhook_endpoints SET after_event = ?2, final_through = ?2 WHERE name = ?1",
            [.text(name), .int(id)])
    }
}
