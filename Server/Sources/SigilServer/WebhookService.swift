public import Foundation
public import Logging
public import ServiceLifecycle
import SigilFetch
import SigilIssuer
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Sends webhooks (docs/WEBHOOKS.md): polls the ledger for due notifications, queues them in a
/// bounded queue, stores the cursor, and POSTs each signed, retrying with exponential backoff.
///
/// ```swift
/// let hooks = WebhookService(issuer: queue, url: url, secret: secret, logger: logger)
/// // added to the server's ServiceGroup
/// ```
public final class WebhookService: Service, Sendable {
    struct Item: Sendable {
        var notification: WebhookNotification
        var delivery: String
        var attempts: Int
        var due: ContinuousClock.Instant
    }

    let issuer: IssuerQueue
    let url: URL
    let secret: [UInt8]
    let logger: Logger
    let pollInterval: Duration
    let maxAttempts: Int
    let maxQueue: Int
    let timeout: Double
    private let queue = Mutex<[Item]>([])

    /// The most of a receiver's answer body that is read; nothing in it is used.
    static let maxAnswerBytes = 16 * 1024

    public init(
        issuer: IssuerQueue, url: URL, secret: [UInt8], logger: Logger, pollInterval: Duration = .seconds(10),
        maxAttempts: Int = 6, maxQueue: Int = 1_000, timeout: Double = 10
    ) {
        self.issuer = issuer
        self.url = url
        self.secret = secret
        self.logger = logger
        self.pollInterval = pollInterval
        self.maxAttempts = maxAttempts
        self.maxQueue = maxQueue
        self.timeout = timeout
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPoll: ContinuousClock.Instant? = nil
            while !Task.isCancelled {
                let now = ContinuousClock.now
                if lastPoll.map({ now - $0 >= self.pollInterval }) ?? true {
                    lastPoll = now
                    await self.poll()
                }
                await self.deliverDue()
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        let left = queue.withLock { $0.count }
        if left > 0 { logger.warning("webhooks not delivered at shutdown", metadata: ["count": "\(left)"]) }
    }

    func poll() async {
        do {
            let batch = try await issuer.write { try $0.pendingWebhooks() }
            let dropped = queue.withLock { q -> Int in
                for n in batch.notifications {
                    q.append(Item(notification: n, delivery: UUID().uuidString.lowercased(), attempts: 0, due: .now))
                }
                let over = max(0, q.count - maxQueue)
                q.removeFirst(over)
                return over
            }
            if dropped > 0 { logger.error("webhook queue full: oldest dropped", metadata: ["count": "\(dropped)"]) }
            try await issuer.write { try $0.commitWebhooks(batch) }
        } catch {
            logger.error("webhook poll failed", metadata: ["error": "\(error)"])
        }
    }

    func deliverDue() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let next = queue.withLock { q -> Item? in
                guard let i = q.firstIndex(where: { $0.due <= now }) else { return nil }
                return q.remove(at: i)
            }
            guard var item = next else { return }
            item.attempts += 1
            let meta: Logger.Metadata = [
                "event": "\(item.notification.event)", "delivery": "\(item.delivery)", "attempt": "\(item.attempts)",
            ]
            let failure = await send(item)
            guard let failure else {
                logger.info("webhook delivered", metadata: meta)
                continue
            }
            if item.attempts >= maxAttempts {
                logger.error("webhook given up", metadata: meta.merging(["reason": "\(failure)"]) { a, _ in a })
                continue
            }
            // 1 s, 2 s, 4 s, ... capped at 5 minutes.
            let wait = Duration.seconds(min(300, 1 << (item.attempts - 1)))
            item.due = ContinuousClock.now + wait
            logger.warning("webhook failed, will retry", metadata: meta.merging(["reason": "\(failure)"]) { a, _ in a })
            queue.withLock { $0.append(item) }
        }
    }

    /// Nil when the receiver answered 2xx; else why not (no payload, no secret).
    func send(_ item: Item) async -> String? {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let signature: String
        do {
            signature = try WebhookSigner.signature(secret: secret, timestamp: timestamp, body: item.notification.body)
        } catch {
            return "signing failed"
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(item.notification.body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(item.notification.event, forHTTPHeaderField: "X-Sigil-Event")
        request.setValue(item.delivery, forHTTPHeaderField: "X-Sigil-Delivery")
        request.setValue("\(timestamp)", forHTTPHeaderField: "X-Sigil-Timestamp")
        request.setValue(signature, forHTTPHeaderField: "X-Sigil-Signature")
        // Never followed: a 3xx would carry the signed headers to a URL nobody configured, and
        // the answer's body is read no further than a few KiB.
        let http = BoundedHTTP(
            maxBytes: Self.maxAnswerBytes, timeout: max(1, Int(timeout.rounded(.up))), followsRedirects: false)
        switch await http.run(request) {
        case .response(let answer, _):
            switch answer.statusCode {
            case 200..<300: return nil
            case 300..<400: return "status \(answer.statusCode) (redirects are not followed)"
            default: return "status \(answer.statusCode)"
            }
        case .tooLarge: return "the answer's body is larger than \(Self.maxAnswerBytes) bytes"
        case .timedOut: return "no answer within \(timeout) s"
        case .failed(let why): return why
        case .notHTTP: return "no HTTP response"
        }
    }
}
