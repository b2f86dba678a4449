import Foundation
public import Logging
public import ServiceLifecycle
import SigilFetch
public import SigilIssuer
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Sends webhooks (docs/WEBHOOKS.md) by driving the issuer's webhook calls; every rule (the
/// lease, cursors, what is queued, the retry schedule) is ``Issuer``'s.
///
/// Each replica runs one; only the holder of the ledger's lease sends. The holder renews its
/// lease every third of its length, queues what the audit log holds after each endpoint's
/// cursor every `pollInterval`, and keeps up to `concurrency` claimed deliveries per endpoint
/// in flight, each POSTed once through ``BoundedHTTP`` (never following a redirect, its answer
/// judged at the headers), then recorded. The others check the lease every `pollInterval` and
/// take it over once it runs out. At graceful shutdown it hands unsent claims back and ends
/// its lease, so another replica takes over at its next check.
///
/// ```swift
/// let hooks = WebhookService(issuer: queue, endpoints: endpoints, logger: logger)
/// // added to the server's ServiceGroup
/// ```
public final class WebhookService: Service, Sendable {
    let issuer: IssuerQueue
    let endpoints: [WebhookEndpoint]
    let schedule: WebhookSchedule
    let pollInterval: Duration
    let concurrency: Int
    let logger: Logger
    /// This process's ID in the lease: host, process ID and a random part.
    public let holder: String
    /// Claimed deliveries being sent, by delivery ID.
    private let inFlight = Mutex<[String: WebhookDelivery]>([:])
    /// Endpoints a finished send freed a slot of: the loop, woken, claims for them at once.
    private let freed = Mutex<Set<String>>([])
    /// Wakes the loop before its tick when a send finished.
    private let wakeup = Wakeup()
    /// Whether the last lease check found another holder (logged once per stand-by).
    private let standingBy = Mutex(false)

    /// The most sends in flight per endpoint that may be asked for.
    public static let maxConcurrency = 16
    /// The longest the loop sleeps before it looks at its clocks again (no database access
    /// unless something is due); a finished send wakes it at once.
    static let tick = Duration.milliseconds(100)

    public init(
        issuer: IssuerQueue, endpoints: [WebhookEndpoint], schedule: WebhookSchedule = WebhookSchedule(),
        pollInterval: Duration = .seconds(10), concurrency: Int = 4, logger: Logger
    ) {
        self.issuer = issuer
        self.endpoints = endpoints
        self.schedule = schedule
        self.pollInterval = pollInterval
        self.concurrency = max(1, min(Self.maxConcurrency, concurrency))
        self.logger = logger
        var name = [CChar](repeating: 0, count: 256)
        let host =
            gethostname(&name, name.count - 1) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "host"
        let random = Secrets.hex((0..<4).map { _ in UInt8.random(in: 0...255) })
        holder = "\(host.prefix(40))/\(getpid())/\(random)"
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
        await stop()
    }

    // MARK: The loop

    private func loop() async {
        await withDiscardingTaskGroup { group in
            var isHolder = false
            var nextLeaseCheck = ContinuousClock.now
            var nextPoll = ContinuousClock.now
            var nextClaim: [String: ContinuousClock.Instant] = [:]
            let renewEvery = schedule.lease / 3
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if now >= nextLeaseCheck {
                    let held = await takeLease(wasHolder: isHolder)
                    if held, !isHolder {
                        nextPoll = now
                        nextClaim = [:]
                    }
                    isHolder = held
                    nextLeaseCheck = now + (isHolder ? renewEvery : pollInterval)
                }
                if isHolder, now >= nextPoll {
                    let (wait, queued) = await queue()
                    nextPoll = now + wait
                    for name in queued { nextClaim[name] = now }
                }
                for name in freed.withLock({ f in
                    defer { f = [] }
                    return f
                }) {
                    nextClaim[name] = now
                }
                if isHolder {
                    for endpoint in endpoints where now >= nextClaim[endpoint.name] ?? now {
                        let free = concurrency - inFlight.withLock { $0.values.count { $0.endpoint == endpoint.name } }
                        guard free > 0 else {
                            nextClaim[endpoint.name] = now + pollInterval
                            continue
                        }
                        guard let claim = await claim(endpoint, free) else {
                            nextClaim[endpoint.name] = now + pollInterval
                            continue
                        }
                        guard claim.isLeaseHeld else {
                            logger.warning("webhook lease lost; standing by", metadata: ["holder": "\(holder)"])
                            isHolder = false
                            nextLeaseCheck = now + pollInterval
                            break
                        }
                        for delivery in claim.deliveries {
                            inFlight.withLock { $0[delivery.id] = delivery }
                            group.addTask { await self.deliver(delivery, to: endpoint) }
                        }
                        // A full claim: more may be due, claimed when a slot frees. Else sleep
                        // until the next is due, looking again at least every poll; an empty
                        // queue fills only through this sender's own polls, which wake it, so
                        // it is looked at rarely (no write transaction per idle poll).
                        var next = now + pollInterval
                        if claim.deliveries.count < free {
                            if let due = claim.nextDue {
                                next = min(next, now + .milliseconds(max(0, due - Issuer.currentMilliseconds())))
                            } else {
                                next = now + pollInterval * 6
                            }
                        }
                        nextClaim[endpoint.name] = next
                    }
                }
                await wakeup.wait(upTo: Self.tick)
            }
        }
    }

    /// Takes or renews the lease; whether this process holds it. Logs each change of hands.
    private func takeLease(wasHolder: Bool) async -> Bool {
        let holder = self.holder
        let schedule = self.schedule
        do {
            let (held, lease) = try await issuer.write { try $0.takeWebhookLease(holder: holder, schedule: schedule) }
            let wasStandingBy = standingBy.withLock { was in
                defer { was = !held }
                return was
            }
            if held, !wasHolder {
                logger.notice("webhook sender lease taken", metadata: ["holder": "\(holder)"])
            } else if !held, wasHolder {
                logger.warning("webhook lease lost; standing by", metadata: ["holder": "\(holder)"])
            } else if !held, !wasStandingBy {
                logger.info(
                    "webhook lease held by another sender; standing by",
                    metadata: [
                        "holder": "\(lease.holder)",
                        "expires_in_ms": "\(lease.expiresAt - Issuer.currentMilliseconds())",
                    ])
            }
            return held
        } catch is CancellationError {
            return wasHolder
        } catch {
            logger.error("webhook lease check failed", metadata: ["error": "\(error)"])
            // Without a renewal the lease runs out; claims check it, so keep going until then.
            return wasHolder
        }
    }

    /// Queues what the audit log holds after each endpoint's cursor; how long until the next
    /// poll, and which endpoints got deliveries.
    private func queue() async -> (Duration, [String]) {
        let endpoints = self.endpoints
        let schedule = self.schedule
        let holder = self.holder
        do {
            let batch = try await issuer.read { try $0.prepareWebhooks(for: endpoints, schedule: schedule) }
            let report = try await issuer.write { try $0.queueWebhooks(batch, holder: holder, schedule: schedule) }
            if !report.conflicts.isEmpty {
                logger.warning(
                    "webhook cursor moved under this sender; reading again",
                    metadata: ["endpoints": "\(report.conflicts.joined(separator: ","))"])
                return (.zero, [])
            }
            if report.dropped > 0 {
                ServerMetrics.shared.webhookDelivery(.dropped, count: report.dropped)
                logger.error(
                    "webhooks of endpoints no longer configured dropped after their retry window",
                    metadata: ["count": "\(report.dropped)"])
            }
            for name in batch.fullEndpoints {
                logger.warning(
                    "webhook queue full; later events wait in the audit log",
                    metadata: ["endpoint": "\(name)", "max_queued": "\(schedule.maxQueued)"])
            }
            let wait: Duration =
                batch.hasMore ? .zero : batch.waitsForGap ? min(pollInterval, .milliseconds(250)) : pollInterval
            return (wait, report.queued.filter { $0.value > 0 }.map(\.key))
        } catch is CancellationError {
            return (pollInterval, [])
        } catch {
            logger.error("webhook poll failed", metadata: ["error": "\(error)"])
            return (pollInterval, [])
        }
    }

    private func claim(_ endpoint: WebhookEndpoint, _ limit: Int) async -> WebhookClaim? {
        let (holder, schedule, name) = (self.holder, self.schedule, endpoint.name)
        do {
            return try await issuer.write {
                try $0.claimWebhooks(for: name, limit: limit, holder: holder, schedule: schedule)
            }
        } catch is CancellationError {
            return nil
        } catch {
            logger.error("webhook claim failed", metadata: ["endpoint": "\(name)", "error": "\(error)"])
            return nil
        }
    }

    /// Sends one claimed delivery and records how it went. A send cut short by shutdown
    /// records nothing: ``stop()`` hands it back.
    private func deliver(_ delivery: WebhookDelivery, to endpoint: WebhookEndpoint) async {
        let failure = await send(delivery, to: endpoint)
        if Task.isCancelled { return }
        let schedule = self.schedule
        var meta: Logger.Metadata = [
            "endpoint": "\(endpoint.name)", "event": "\(delivery.event.rawValue)", "delivery": "\(delivery.id)",
            "attempt": "\(delivery.attempt)",
        ]
        if let failure { meta["reason"] = "\(failure)" }
        do {
            let outcome = try await issuer.write {
                try $0.finishWebhook(delivery, failure: failure, schedule: schedule)
            }
            switch outcome {
            case .delivered(let hastened):
                ServerMetrics.shared.webhookDelivery(.delivered)
                if hastened > 0 { meta["retries_now_due"] = "\(hastened)" }
                logger.info("webhook delivered", metadata: meta)
            case .retry(let at):
                ServerMetrics.shared.webhookDelivery(.failed)
                meta["retry_in_ms"] = "\(max(0, at - Issuer.currentMilliseconds()))"
                logger.warning("webhook failed, will retry", metadata: meta)
            case .givenUp:
                ServerMetrics.shared.webhookDelivery(.givenUp)
                logger.error("webhook given up", metadata: meta)
            }
        } catch {
            // The claim runs out and the delivery is tried again: at least once.
            meta["error"] = "\(error)"
            logger.error("webhook outcome not recorded; it will be sent again", metadata: meta)
        }
        inFlight.withLock { _ = $0.removeValue(forKey: delivery.id) }
        freed.withLock { _ = $0.insert(endpoint.name) }
        wakeup.signal()
    }

    /// Hands back what was claimed but not finished and ends the lease, on a task of its own:
    /// the service's task is cancelled by now, and the writes must still run.
    private func stop() async {
        let unsent = inFlight.withLock { Array($0.values) }
        let holder = self.holder
        let done = Task { [issuer] () -> Int? in
            if !unsent.isEmpty { try? await issuer.write { try $0.releaseWebhooks(unsent) } }
            try? await issuer.write { try $0.releaseWebhookLease(holder: holder) }
            return try? await issuer.read { try $0.webhookQueueDepths().values.reduce(0, +) }
        }
        let queued = await done.value
        logger.info(
            "webhook sender stopped",
            metadata: ["handed_back": "\(unsent.count)", "queued": "\(queued.map(String.init) ?? "unknown")"])
    }

    // MARK: Sending

    /// Nil when the receiver answered 2xx; else why not (no payload, no secret, no URL).
    func send(_ delivery: WebhookDelivery, to endpoint: WebhookEndpoint) async -> String? {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let signature: String
        do {
            signature = try WebhookSigner.signature(secret: endpoint.secret, timestamp: timestamp, body: delivery.body)
        } catch {
            return "signing failed"
        }
        let seconds = schedule.attemptTimeoutSeconds
        var request = URLRequest(url: endpoint.url, timeoutInterval: Double(seconds))
        request.httpMethod = "POST"
        request.httpBody = Data(delivery.body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(delivery.event.rawValue, forHTTPHeaderField: "X-Sigil-Event")
        request.setValue(delivery.id, forHTTPHeaderField: "X-Sigil-Delivery")
        request.setValue("\(timestamp)", forHTTPHeaderField: "X-Sigil-Timestamp")
        request.setValue(signature, forHTTPHeaderField: "X-Sigil-Signature")
        // Never followed: a 3xx would carry the signed headers to a URL nobody configured. The
        // status is the answer: no body is read, however large or slow.
        let http = BoundedHTTP(maxBytes: 0, timeout: seconds, followsRedirects: false, readsBody: { _ in false })
        switch await http.run(request) {
        case .response(let answer, _):
            switch answer.statusCode {
            case 200..<300: return nil
            case 300..<400: return "status \(answer.statusCode) (redirects are not followed)"
            default: return "status \(answer.statusCode)"
            }
        case .tooLarge: return "the answer is too large"
        case .timedOut: return "no answer within \(seconds) s"
        case .failed(let why): return why
        case .notHTTP: return "no HTTP response"
        }
    }
}

/// One task's sleep that another can cut short: ``wait(upTo:)`` returns after the duration, at
/// ``signal()``, or when the waiting task is cancelled. A signal with no waiter is kept for the
/// next wait.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
        /// A wait that ended (its time ran out, or its task was cancelled) before it was stored.
        var ended: UInt64?
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w.continuation
        }
        waiter?.resume()
    }

    /// Resumes the waiter `id`, or makes it return at once if it is not stored yet.
    private func end(_ id: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter, w.id == id else {
                s.ended = id
                return nil
            }
            s.waiter = nil
            return w.continuation
        }
        waiter?.resume()
    }

    /// One waiter at a time (the service's loop).
    func wait(upTo timeout: Duration) async {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.end(id)
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.pending || s.ended == id || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = (id, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            end(id)
        }
    }
}
