public import Hummingbird
import Logging
import SigilVerifier
import Synchronization

/// Logs one line per request and counts it in ``ServerMetrics``: request ID, method, route
/// template, status, duration, caller kind and the caller's GUID prefix.
///
/// The request ID is the client's `X-Request-Id` when it is valid (``RequestIdentifier``), else
/// Hummingbird's own; either way it is answered in `X-Request-Id` and carried by every log line
/// of the request (as `hb.request.id`, which the JSON log writes as `request_id`).
///
/// Never the path's values beyond the template, another header, a query or a body: tokens
/// travel in `Authorization` and in a create's answer, session IDs in `Cookie`, and none of them
/// is ever written to the log. Of the caller only the kind (`token`, `session`, `anonymous`)
/// and the first 8 hex digits of its GUID are written.
/// Runs outermost, so it sees the status ``ErrorMiddleware`` chose.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    let metrics: ServerMetrics

    public init(metrics: ServerMetrics = .shared) {
        self.metrics = metrics
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        let id =
            RequestIdentifier.accepted(RequestIdentifier.header.map { request.headers[values: $0] } ?? [])
            ?? context.logger[metadataKey: "hb.request.id"]?.description ?? ""
        context.logger[metadataKey: "hb.request.id"] = .string(id)
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ErrorMiddleware.response(for: error, logger: context.logger)
        }
        if let name = RequestIdentifier.header { response.headers[name] = id }
        let elapsed = ContinuousClock.now - start
        // Hummingbird names an unmatched request's endpoint "NotFound": one label for all of them.
        let route = context.endpointPath.flatMap { $0 == "NotFound" ? nil : $0 }
        metrics.request(
            route: route, method: request.method.rawValue, status: response.status.code, duration: elapsed)
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "route": .string(route ?? ServerMetrics.unmatchedRoute),
            "status": .stringConvertible(response.status.code),
            "duration_ms": .stringConvertible((ms * 100).rounded() / 100),
            "caller": .string(RequestRecord.CallerKind.anonymous.rawValue),
        ]
        if let caller = context.record.caller {
            metadata["caller"] = .string(caller.kind.rawValue)
            metadata["guid"] = .string(String(caller.id.description.prefix(8)))
        }
        context.logger.info("request", metadata: metadata)
        return response
    }
}

/// What a request's log line needs from inside the middleware chain.
final class RequestRecord: Sendable {
    /// How the caller proved who it is.
    enum CallerKind: String, Sendable {
        case token, session, anonymous
    }

    private let state = Mutex<(id: TokenID, kind: CallerKind)?>(nil)

    /// The authenticated caller, once there is one.
    var caller: (id: TokenID, kind: CallerKind)? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    /// The caller's GUID; setting it alone records a token caller.
    var callerID: TokenID? {
        get { caller?.id }
        set { caller = newValue.map { ($0, .token) } }
    }
}

/// The `X-Request-Id` a client may send: taken when valid, else replaced.
///
/// Valid: exactly one header, 1 to ``maxLength`` bytes of ASCII letters, digits, `-`, `_`, `.`
/// and `:` (a UUID, a hex ID or a proxy's `host:counter` fit), and not starting with `sgl_`, so a
/// token pasted into the wrong header never reaches the log.
public enum RequestIdentifier {
    /// `X-Request-Id` (a valid name: never nil).
    public static let header = HTTPFields.Element.Name("X-Request-Id")
    /// The longest ID taken.
    public static let maxLength = 64

    /// The ID in `values` if valid, else nil.
    public static func accepted(_ values: [String]) -> String? {
        guard values.count == 1, isValid(values[0]) else { return nil }
        return values[0]
    }

    /// Whether `text` may be used as a request ID.
    public static func isValid(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (1...maxLength).contains(bytes.count), !text.lowercased().hasPrefix("sgl_") else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: ":"):
                true
            default: false
            }
        }
    }
}
