public import Logging
import NIOCore
import Synchronization

/// Counts the server's open connections and keeps them under ``ConnectionLimits/maxConnections``.
///
/// Without a cap, idle sockets take every descriptor and the server can no longer accept the
/// connection of a client with a valid token (nor open its database). With it, a connection over
/// the cap closes the oldest connection that has no request in progress (idle between requests, or
/// still sending its head), the way nginx reuses keep-alive connections when it runs short; only
/// when every connection is busy is the new one closed. Reaching the cap logs one warning per
/// burst, and one line when the count is back under three quarters of it, with how many
/// connections were shed meanwhile.
///
/// Thread-safe: channels of every event loop admit and release through one lock, which covers
/// bookkeeping only; closing happens outside it.
public final class ConnectionRegistry: Sendable {
    struct Entry {
        enum Status {
            /// No request in progress: a candidate to close when a new connection needs the room.
            case idle
            case busy
            /// Asked to close (``CloseIfIdle``); its channel has not closed yet.
            case closing
        }

        /// Admission order: the smallest is the oldest.
        let order: Int
        let channel: any Channel
        let lifetime: ConnectionLifetime
        var status = Status.idle
    }

    private struct State {
        var nextOrder = 0
        var entries: [ObjectIdentifier: Entry] = [:]
        /// Idle connections asked to close whose channel has not closed yet.
        var closing = 0
        var inBurst = false
        var shed = 0
    }

    /// What ``admit(_:)`` decided for a new connection.
    enum Admission {
        case admitted(ConnectionLifetime)
        case refused
    }

    public let maxConnections: Int
    let logger: Logger
    private let state = Mutex(State())

    public init(maxConnections: Int, logger: Logger) {
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
    }

    /// Open connections now.
    public var count: Int { state.withLock { $0.entries.count } }

    /// Registers `channel`; closes the oldest idle connection if the cap needs room, or refuses
    /// `channel` (the caller closes it) when none is idle. Releases the entry when it closes.
    func admit(_ channel: any Channel) -> Admission {
        let id = ObjectIdentifier(channel)
        let lifetime = ConnectionLifetime()
        var evict: [any Channel] = []
        var startedBurst = false
        let admitted = state.withLock { s -> Bool in
            s.nextOrder += 1
            s.entries[id] = Entry(order: s.nextOrder, channel: channel, lifetime: lifetime)
            // Connections already asked to close do not count against the cap.
            while s.entries.count - s.closing > maxConnections {
                let oldest = s.entries.lazy.filter { $0.key != id && $0.value.status == .idle }
                    .min { $0.value.order < $1.value.order }
                if !s.inBurst {
                    s.inBurst = true
                    startedBurst = true
                }
                s.shed += 1
                guard let (oldID, entry) = oldest else {
                    s.entries[id] = nil
                    return false
                }
                s.entries[oldID]?.status = .closing
                s.closing += 1
                evict.append(entry.channel)
            }
            return true
        }
        if startedBurst {
            logger.warning(
                "connection limit reached: closing idle connections for new ones (--max-connections)",
                metadata: ["max_connections": "\(maxConnections)"])
        }
        for channel in evict { channel.pipeline.fireUserInboundEventTriggered(CloseIfIdle()) }
        guard admitted else { return .refused }
        channel.closeFuture.whenComplete { [self] _ in release(id) }
        return .admitted(lifetime)
    }

    /// The lifetime ``admit(_:)`` made for `channel`, while it is open.
    func lifetime(of channel: any Channel) -> ConnectionLifetime? {
        state.withLock { $0.entries[ObjectIdentifier(channel)]?.lifetime }
    }

    /// Notes whether the connection `id` has a request in progress.
    func setIdle(_ id: ObjectIdentifier, _ isIdle: Bool) {
        state.withLock { s in
            // A connection asked to close reports back through `keptOpen`.
            guard let status = s.entries[id]?.status, status != .closing else { return }
            s.entries[id]?.status = isIdle ? .idle : .busy
        }
    }

    /// A connection asked to close had a request in progress by then, so it stays open.
    func keptOpen(_ id: ObjectIdentifier, isIdle: Bool) {
        state.withLock { s in
            guard s.entries[id]?.status == .closing else { return }
            s.closing -= 1
            s.entries[id]?.status = isIdle ? .idle : .busy
        }
    }

    private func release(_ id: ObjectIdentifier) {
        let ended = state.withLock { s -> Int? in
            guard let entry = s.entries.removeValue(forKey: id) else { return nil }
            if entry.status == .closing { s.closing -= 1 }
            guard s.inBurst, s.entries.count <= maxConnections * 3 / 4 else { return nil }
            s.inBurst = false
            defer { s.shed = 0 }
            return s.shed
        }
        if let ended {
            logger.info(
                "connections back under the limit",
                metadata: ["shed": "\(ended)", "max_connections": "\(maxConnections)"])
        }
    }
}

/// Asks a connection's ``ConnectionGuardHandler`` to close it if no request is in progress.
struct CloseIfIdle {}
