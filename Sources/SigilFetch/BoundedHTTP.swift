public import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    public import FoundationNetworking
#endif

/// One HTTP request that never holds more than `maxBytes + 1` bytes of body and never runs
/// longer than `timeout` seconds: `sigil revocations pull`, the CLI's remote mode (`--server`),
/// SigilHummingbird's `RevocationFollower` and sigil-server's webhooks all use it.
///
/// FoundationNetworking on Linux has no `URLSession.bytes(for:)`, and `data(for:)` buffers
/// the whole body before anyone can look at its size, so this is a data delegate: a declared
/// `Content-Length` over the limit is refused as soon as the headers arrive, the body is
/// counted chunk by chunk and the task cancelled one byte past the limit, and a timer ends
/// the whole request at the deadline (the request's own timeout is only an idle timeout).
/// The first outcome wins; later callbacks are ignored. Cancelling the calling task ends it
/// at once (``cancelled``).
///
/// ```swift
/// let http = BoundedHTTP(maxBytes: 1 << 20, timeout: 30)
/// switch await http.run(URLRequest(url: url)) {
/// case .response(let response, let body): print(response.statusCode, body.count)
/// case .tooLarge, .timedOut, .failed, .notHTTP: print("no answer")
/// }
/// ```
///
/// `Sendable`: every mutable field lives in `state`, behind a `Mutex`.
public final class BoundedHTTP: NSObject, URLSessionDataDelegate, Sendable {
    public enum Outcome: Sendable {
        /// The answer; `body` is empty for a status `readsBody` declined.
        case response(HTTPURLResponse, body: [UInt8])
        /// The body is larger than `maxBytes`: `declared` is the `Content-Length` that said
        /// so, or nil when the body itself went past the limit.
        case tooLarge(declared: Int64?)
        /// The deadline passed first.
        case timedOut
        /// The transport failed (refused connection, reset, TLS, DNS): its description; or the
        /// calling task was cancelled (``cancelled``).
        case failed(String)
        /// The answer was not HTTP.
        case notHTTP
    }

    private struct State {
        var body: [UInt8] = []
        var response: HTTPURLResponse?
        var outcome: Outcome?
        var continuation: CheckedContinuation<Outcome, Never>?
    }

    /// What ``Outcome/failed(_:)`` says when the calling task was cancelled: the request
    /// ends at once, not at its deadline.
    public static let cancelled = "cancelled"

    public let maxBytes: Int
    public let timeout: Int
    /// Whether a 3xx answer is followed. False (the default) stops at it and returns it: a
    /// bearer token or a signed webhook must go to the URL the user named and nowhere else.
    /// Only fetches that send no credential and check what they get (the signed revocation
    /// list) pass true.
    public let followsRedirects: Bool
    /// Which statuses are worth reading the body of; the others end at their headers.
    public let readsBody: @Sendable (Int) -> Bool
    private let state = Mutex(State())

    public init(
        maxBytes: Int, timeout: Int, followsRedirects: Bool = false,
        readsBody: @escaping @Sendable (Int) -> Bool = { _ in true }
    ) {
        self.maxBytes = min(maxBytes, Int.max - 1)
        self.timeout = timeout
        self.followsRedirects = followsRedirects
        self.readsBody = readsBody
    }

    /// Runs `request` and returns how it ended. Call once per instance.
    public func run(_ request: URLRequest) async -> Outcome {
        let session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)
        // Not inline and not at once, for the reasons given in `finish`; the process usually exits first.
        defer {
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.cancelGrace) { session.invalidateAndCancel() }
        }
        let task = session.dataTask(with: request)
        let deadline = DispatchWorkItem { [self] in finish(.timedOut, task) }
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let early = state.withLock { state -> Outcome? in
                    if let outcome = state.outcome { return outcome }
                    state.continuation = continuation
                    return nil
                }
                if let early {
                    continuation.resume(returning: early)
                    return
                }
                task.resume()
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout), execute: deadline)
            }
        } onCancel: {
            // A follower or webhook sender stopping (graceful shutdown) does not wait for the deadline.
            finish(.failed(Self.cancelled), task)
        }
        deadline.cancel()
        return outcome
    }

    /// Records the first outcome, resumes the waiting caller and stops the transfer.
    ///
    /// The caller is resumed first and the task cancelled from another thread: on Linux
    /// `cancel()` waits for the session's work queue, which keeps reading (and queueing
    /// body chunks for this delegate) as fast as the server sends, so cancelling inline let
    /// a fast server fill hundreds of MB before the refusal reached the caller.
    ///
    /// And only after ``cancelGrace``: FoundationNetworking traps ("a task that in not in the
    /// registry") when a task is cancelled just as it finishes on its own, which an answer
    /// judged at its headers (a webhook's 2xx, a 304) with an empty body does within
    /// microseconds; seen about once in a thousand webhook sends. A moment later such a task is
    /// done and `cancel()` does nothing, while one still sending a refused body is stopped.
    /// Its chunks meanwhile are dropped (`outcome` is set).
    private func finish(_ outcome: Outcome, _ task: URLSessionTask?) {
        let continuation = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            state.body = []
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: outcome)
        if let task { DispatchQueue.global().asyncAfter(deadline: .now() + Self.cancelGrace) { task.cancel() } }
    }

    /// How long after its outcome a transfer that still runs is cancelled (``finish(_:_:)``).
    static let cancelGrace = DispatchTimeInterval.milliseconds(500)

    public func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        // nil: the 3xx itself becomes the answer, so the caller sees where it was sent.
        completionHandler(followsRedirects ? request : nil)
    }

    public func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        guard let http = response as? HTTPURLResponse else {
            completionHandler(.cancel)
            return finish(.notHTTP, dataTask)
        }
        guard readsBody(http.statusCode) else {
            completionHandler(.cancel)
            return finish(.response(http, body: []), dataTask)
        }
        if response.expectedContentLength > Int64(maxBytes) {
            completionHandler(.cancel)
            return finish(.tooLarge(declared: response.expectedContentLength), dataTask)
        }
        state.withLock { $0.response = http }
        completionHandler(.allow)
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = state.withLock { state -> Bool in
            guard state.outcome == nil else { return false }
            // Keep at most maxBytes + 1 bytes: one more than allowed proves the body too large.
            let room = maxBytes + 1 - state.body.count
            state.body.append(contentsOf: data.prefix(room))
            return state.body.count > maxBytes
        }
        if over { finish(.tooLarge(declared: nil), dataTask) }
    }

    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        if let error { return finish(.failed(error.localizedDescription), task) }
        let (body, response) = state.withLock { ($0.body, $0.response) }
        guard let response else { return finish(.notHTTP, task) }
        finish(.response(response, body: body), nil)
    }
}
