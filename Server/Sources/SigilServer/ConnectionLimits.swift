#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long connections may sit idle or half-sent, and how many may be open at once.
///
/// A connection needs no credentials, so each limit bounds what one client can hold without
/// presenting a token: a descriptor, a NIO channel and its buffers (docs/API.md, "Connections").
///
/// ```swift
/// DescriptorLimit.raiseSoftToHard()
/// let limits = ConnectionLimits(descriptorLimit: DescriptorLimit.current.soft)
/// ```
public struct ConnectionLimits: Sendable, Equatable {
    /// How long a connection may wait between requests (keep-alive) before it is closed.
    /// A request in progress (a long poll) is never idle.
    public var idleTimeout: Duration
    /// How long a request's head (request line and headers) may take to arrive, from the
    /// connection's opening or the request's first byte. Stops clients that send half a request.
    public var headerTimeout: Duration
    /// Open connections the server keeps. Over it, a new connection closes the oldest one that
    /// has no request in progress; if every one is busy, the new connection is closed.
    public var maxConnections: Int

    /// Default idle timeout: longer than a service's pause between two long polls, short enough
    /// that forgotten keep-alive connections do not pile up.
    public static let defaultIdleTimeout: Duration = .seconds(60)
    /// Default header timeout: a real client sends its head in one packet, within milliseconds.
    public static let defaultHeaderTimeout: Duration = .seconds(10)

    /// Descriptors kept back from connections: the database (SQLite's file, `-wal` and `-shm`, or
    /// PostgreSQL's socket), the keyring and secret files, webhook deliveries, the event loops'
    /// own descriptors, and standard input, output and error. An eighth of the limit, at least 64.
    public static func reservedDescriptors(descriptorLimit: Int) -> Int {
        max(64, descriptorLimit / 8)
    }

    /// The default connection cap for a process whose soft `RLIMIT_NOFILE` is `descriptorLimit`:
    /// the limit less ``reservedDescriptors(descriptorLimit:)`` (half the limit when that is small).
    public static func defaultMaxConnections(descriptorLimit: Int) -> Int {
        let limit = max(descriptorLimit, 2)
        return max(limit / 2, limit - reservedDescriptors(descriptorLimit: limit))
    }

    public init(
        idleTimeout: Duration = Self.defaultIdleTimeout, headerTimeout: Duration = Self.defaultHeaderTimeout,
        maxConnections: Int
    ) {
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.maxConnections = maxConnections
    }

    /// The defaults for a process whose soft `RLIMIT_NOFILE` is `descriptorLimit`.
    public init(descriptorLimit: Int) {
        self.init(maxConnections: Self.defaultMaxConnections(descriptorLimit: descriptorLimit))
    }
}

/// The process's open-file limit (`RLIMIT_NOFILE`).
public enum DescriptorLimit {
    /// The soft and hard limits now (1,024 each if they cannot be read).
    public static var current: (soft: Int, hard: Int) {
        var limits = rlimit()
        guard getrlimit(resource, &limits) == 0 else { return (1024, 1024) }
        return (clamp(limits.rlim_cur), clamp(limits.rlim_max))
    }

    /// Raises the soft limit to the hard one and returns both afterwards.
    ///
    /// Many systems start services with a soft limit of 1,024 and a far higher hard one; the
    /// server needs one descriptor per connection, so it takes what it is allowed. If the
    /// raise fails, the soft limit stays as it was. Calls `getrlimit` and `setrlimit`.
    ///
    /// - Returns: The soft and hard limits now in force, and the soft limit before.
    @discardableResult
    public static func raiseSoftToHard() -> (soft: Int, hard: Int, before: Int) {
        var limits = rlimit()
        guard getrlimit(resource, &limits) == 0 else { return (1024, 1024, 1024) }
        let before = limits.rlim_cur
        var wanted = limits.rlim_max
        #if canImport(Darwin)
            // macOS refuses RLIM_INFINITY (and anything above OPEN_MAX) for the soft limit.
            wanted = min(wanted, rlim_t(OPEN_MAX))
        #endif
        if wanted > before {
            var raised = limits
            raised.rlim_cur = wanted
            if setrlimit(resource, &raised) == 0 { limits = raised }
        }
        return (clamp(limits.rlim_cur), clamp(limits.rlim_max), clamp(before))
    }

    private static func clamp(_ value: rlim_t) -> Int {
        value >= rlim_t(Int32.max) ? Int(Int32.max) : Int(value)
    }

    #if canImport(Glibc)
        private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        private static let resource = RLIMIT_NOFILE
    #endif
}
