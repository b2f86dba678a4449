public import HummingbirdCore
public import Logging
public import NIOCore
import NIOHTTPTypes

/// Hummingbird's HTTP/1 child channel with sigil-server's connection limits.
///
/// Around ``HTTP1Channel`` (which closes connections idle for ``ConnectionLimits/idleTimeout``)
/// it adds:
/// - admission through ``ConnectionRegistry``, which keeps connections under the cap;
/// - a header deadline: a request head must be complete within
///   ``ConnectionLimits/headerTimeout`` of the connection's opening or of the request's first
///   byte, or the connection closes (Hummingbird's idle timer alone would let a client that
///   sends half a request hold its connection for the whole idle timeout);
/// - a prelude run before the application's responder with the connection's
///   ``ConnectionLifetime``, so a long poll waits cheaply and ends when its client goes.
///
/// ```swift
/// let server = GuardedHTTP1Channel.builder(limits: limits, registry: registry) { request, connection in
///     await revocations.holdLongPoll(request, connection: connection)
/// }
/// let app = Application(router: router, server: server)
/// ```
public struct GuardedHTTP1Channel: ServerChildChannel {
    public typealias Value = HTTP1Channel.Value
    /// Runs before the application's responder, outside its middleware, with the request's
    /// connection: the place for waits that must cost little (the revocation long poll).
    public typealias Prelude = @Sendable (Request, ConnectionLifetime) async -> Void

    let responder: HTTPChannelHandler.Responder
    let limits: ConnectionLimits
    let registry: ConnectionRegistry
    let prelude: Prelude

    public init(
        responder: @escaping HTTPChannelHandler.Responder, limits: ConnectionLimits, registry: ConnectionRegistry,
        prelude: @escaping Prelude = { _, _ in }
    ) {
        self.responder = responder
        self.limits = limits
        self.registry = registry
        self.prelude = prelude
    }

    /// A server builder for ``Hummingbird/Application``'s `server` parameter.
    public static func builder(
        limits: ConnectionLimits, registry: ConnectionRegistry, prelude: @escaping Prelude = { _, _ in }
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedHTTP1Channel(responder: responder, limits: limits, registry: registry, prelude: prelude)
        }
    }

    /// Runs on the new channel's event loop (NIO's child channel initializer).
    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard case .admitted(let lifetime) = registry.admit(channel) else {
            // A failed setup is dropped, not closed, by NIO's async server: close it here.
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(ConnectionRefused())
        }
        do {
            let activity = ConnectionActivity(id: ObjectIdentifier(channel), registry: registry, lifetime: lifetime)
            // Most requests are a few hundred bytes; NIO's default first read buffer (2 KB) stays
            // with the connection, so start smaller (reads grow the buffer when they fill it).
            try channel.syncOptions?.setOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            try channel.pipeline.syncOperations.addHandler(
                RequestHeadTimer(activity: activity, timeout: TimeAmount(limits.headerTimeout), logger: logger))
            let progress = NIOLoopBound(RequestProgressHandler(activity: activity), eventLoop: channel.eventLoop)
            let configuration = HTTP1Channel.Configuration(
                additionalChannelHandlers: [progress.value], idleTimeout: TimeAmount(limits.idleTimeout))
            return HTTP1Channel(responder: responder, configuration: configuration).setup(
                channel: channel, logger: logger)
        } catch {
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        // Looked up, not fetched from the pipeline: a hop to the event loop would cost the
        // connection's task a kilobyte of stack for as long as it lives.
        let lifetime = registry.lifetime(of: value.channel) ?? ConnectionLifetime()
        let (responder, prelude) = (self.responder, self.prelude)
        let http1 = HTTP1Channel(responder: {
            (request: Request, writer: consuming ResponseWriter, channel: any Channel) in
            await prelude(request, lifetime)
            try await responder(request, writer, channel)
        })
        await http1.handle(value: value, logger: logger)
    }
}

/// A connection over the cap with no idle connection to make room.
struct ConnectionRefused: Error {}

/// What a connection's two handlers share. Lives on the channel's event loop only.
final class ConnectionActivity {
    let id: ObjectIdentifier
    let registry: ConnectionRegistry
    let lifetime: ConnectionLifetime
    /// Between a request's end (or the connection's opening) and the next head.
    var awaitingHead = true
    /// Heads read whose response has not ended.
    var requestsInProgress = 0
    var headDeadline: Scheduled<Void>?
    private var reportedIdle = true

    init(id: ObjectIdentifier, registry: ConnectionRegistry, lifetime: ConnectionLifetime) {
        self.id = id
        self.registry = registry
        self.lifetime = lifetime
    }

    /// Nothing in progress: the connection may be closed to make room for a new one.
    var isIdle: Bool { awaitingHead && requestsInProgress == 0 }

    func report() {
        let idle = isIdle
        guard idle != reportedIdle else { return }
        reportedIdle = idle
        registry.setIdle(id, idle)
    }

    func cancelDeadline() {
        headDeadline?.cancel()
        headDeadline = nil
    }
}

/// First in the pipeline, on raw bytes: starts the header deadline when a connection opens or a
/// new request's first bytes arrive, closes an idle connection on ``CloseIfIdle``, and tells the
/// connection's ``ConnectionLifetime`` when the client goes.
final class RequestHeadTimer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let activity: ConnectionActivity
    let timeout: TimeAmount
    let logger: Logger

    init(activity: ConnectionActivity, timeout: TimeAmount, logger: Logger) {
        self.activity = activity
        self.timeout = timeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startDeadline(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        activity.cancelDeadline()
    }

    func channelActive(context: ChannelHandlerContext) {
        startDeadline(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        activity.cancelDeadline()
        activity.lifetime.markClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A pipelined head behind a request in progress is left to the idle timer, so the
        // deadline never cuts a response (a long poll) short.
        if activity.awaitingHead, activity.requestsInProgress == 0 { startDeadline(context) }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { activity.lifetime.markClosed() }
        guard event is CloseIfIdle else { return context.fireUserInboundEventTriggered(event) }
        if activity.isIdle {
            context.close(promise: nil)
        } else {
            activity.registry.keptOpen(activity.id, isIdle: false)
        }
    }

    private func startDeadline(_ context: ChannelHandlerContext) {
        guard activity.headDeadline == nil else { return }
        let logger = self.logger
        activity.headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            logger.debug("closing a connection whose request head did not arrive in time")
            context.close(promise: nil)
        }
    }
}

/// After HTTP decoding: stops the header deadline when a head is complete, and tells the
/// registry whether a request is in progress.
final class RequestProgressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let activity: ConnectionActivity

    init(activity: ConnectionActivity) {
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            activity.cancelDeadline()
            activity.awaitingHead = false
            activity.requestsInProgress += 1
            activity.report()
        case .end:
            activity.awaitingHead = true
            activity.report()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            activity.requestsInProgress = max(0, activity.requestsInProgress - 1)
            activity.report()
        }
        context.write(data, promise: promise)
    }
}
