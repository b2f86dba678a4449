/// When webhooks are tried again, how long for, and how long the sender's lease lasts: the
/// rules ``Issuer``'s webhook calls apply, in one place (docs/WEBHOOKS.md, "Delivery").
///
/// Retries back off exponentially: after the n-th failed attempt the next comes
/// `firstRetry × 2^(n-1)` later, at most `longestRetry`. A delivery whose next attempt would
/// fall more than `retryFor` after it was queued is dropped instead. The defaults: 1, 2, 4 …
/// 2048 s, then hourly, for 24 hours (35 attempts).
///
/// ```swift
/// var schedule = WebhookSchedule()
/// schedule.retryFor = .seconds(3_600)
/// schedule.retryDelay(afterAttempt: 3)   // 4_000 ms
/// ```
public struct WebhookSchedule: Sendable, Hashable {
    /// The wait after the first failed attempt.
    public var firstRetry: Duration = .seconds(1)
    /// The longest wait between two attempts.
    public var longestRetry: Duration = .seconds(3_600)
    /// How long after it was queued a delivery is still tried.
    public var retryFor: Duration = .seconds(86_400)
    /// How long one attempt may take (connect, send, the answer's status).
    public var attemptTimeout: Duration = .seconds(10)
    /// How long the sender's lease lasts unless renewed; the holder renews it every third of it.
    public var lease: Duration = .seconds(30)
    /// The most deliveries one endpoint may have queued. Past it the endpoint's cursor stops and
    /// later events wait in the audit log, so nothing is dropped: it bounds the queue table.
    public var maxQueued = 100_000

    /// The bounds each setting is held to, in seconds, wherever it is configured: a lease
    /// shorter than 2 s cannot be renewed every third of it, and a retry window past 30 days or
    /// an attempt past 2 minutes would hold deliveries or a sender's slot without bound.
    public static let leaseSeconds = 2...3_600
    public static let retryForSeconds = 1...(30 * 86_400)
    public static let firstRetrySeconds = 0.1...3_600.0
    public static let attemptTimeoutSeconds = 1...120

    public init() {}

    /// Milliseconds in `d`, at least 1.
    static func milliseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        let total = seconds.multipliedReportingOverflow(by: 1_000)
        guard !total.overflow else { return Int64.max / 4 }
        return max(1, min(Int64.max / 4, total.partialValue + attoseconds / 1_000_000_000_000_000))
    }

    /// Milliseconds to wait after the `attempt`-th failed attempt (1 for the first).
    public func retryDelay(afterAttempt attempt: Int) -> Int64 {
        let first = Self.milliseconds(firstRetry)
        let longest = Self.milliseconds(longestRetry)
        let doublings = max(0, min(attempt - 1, 62))
        let (delay, overflow) = first.multipliedReportingOverflow(by: Int64(1) << doublings)
        return overflow ? longest : min(longest, delay)
    }

    /// When a delivery queued at `queuedAt` is tried again after its `attempt`-th attempt failed
    /// at `now` (Unix milliseconds), or nil when that would be past ``retryFor``: it is dropped.
    public func nextAttempt(afterAttempt attempt: Int, failedAt now: Int64, queuedAt: Int64) -> Int64? {
        let next = now + retryDelay(afterAttempt: attempt)
        return next - queuedAt <= Self.milliseconds(retryFor) ? next : nil
    }

    /// ``attemptTimeout`` in whole seconds, rounded up, at least 1: what a bounded fetch takes.
    public var attemptTimeoutSeconds: Int { Int((Self.milliseconds(attemptTimeout) + 999) / 1_000) }

    /// When a claimed delivery whose sender stopped answering is due again: two attempt
    /// timeouts after the claim, so a send still in flight finishes (or times out) first.
    func claimEnds(at now: Int64) -> Int64 {
        now + 2 * Self.milliseconds(attemptTimeout)
    }

    /// The waits between attempts of a delivery that always fails, in milliseconds: what
    /// docs/WEBHOOKS.md tabulates.
    public func retryDelays() -> [Int64] {
        var out: [Int64] = []
        var at: Int64 = 0
        var attempt = 1
        while let next = nextAttempt(afterAttempt: attempt, failedAt: at, queuedAt: 0), out.count < 10_000 {
            out.append(next - at)
            at = next
            attempt += 1
        }
        return out
    }
}
