import Synchronization

/// Tells a request handler that its client went away (closed its side of the connection).
///
/// Hummingbird does not cancel a handler whose connection closes: it runs until it returns, and
/// only then finds that it cannot write. A long poll would hold its waiter until `wait` seconds
/// pass. ``GuardedHTTP1Channel`` makes one per connection and hands it to its prelude (the long
/// poll), which registers one action with ``onClose(_:)``.
///
/// ```swift
/// connection.onClose { waiter.resume() }
/// defer { connection.clearOnClose() }
/// ```
///
/// An HTTP/1 client does not half-close a connection while it waits for a response, so the end of
/// its input is taken as its leaving; one that does gets its long poll answered at once.
///
/// Thread-safe. One action at a time: an HTTP/1 connection serves one request at a time.
public final class ConnectionLifetime: Sendable {
    private struct State {
        var isClosed = false
        var action: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    /// Records that the client went away and runs the action, if any. Called on the channel's
    /// event loop when the client closes its side (input closed: Hummingbird allows half-closed
    /// connections, so a client's close shows as that until a write fails) or the channel closes.
    func markClosed() {
        let action = state.withLock { s -> (@Sendable () -> Void)? in
            s.isClosed = true
            defer { s.action = nil }
            return s.action
        }
        action?()
    }

    /// Whether the connection has closed.
    public var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Runs `action` once when the connection closes, or now if it already has; replaces an
    /// action set before.
    public func onClose(_ action: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s -> Bool in
            if s.isClosed { return true }
            s.action = action
            return false
        }
        if runNow { action() }
    }

    /// Forgets the action ``onClose(_:)`` set.
    public func clearOnClose() {
        state.withLock { $0.action = nil }
    }
}
