public import Hummingbird
import Logging

/// Logs one line per request: method, route pattern, status, latency and the caller's GUID.
///
/// Never the path's values beyond the pattern, a header, a query or a body: tokens travel in
/// `Authorization` and in a create's answer, and neither is ever written to the log.
/// Runs outermost, so it sees the status ``ErrorMiddleware`` chose.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = ServerContext

    public init() {}

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = ErrorMiddleware.response(for: error, logger: context.logger)
        }
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)",
            "route": "\(context.endpointPath ?? "(no route)")",
            "status": "\(response.status.code)",
            "ms": "\((ms * 10).rounded() / 10)",
        ]
        if let id = context.record.callerID { metadata["caller"] = "\(id)" }
        context.logger.info("request", metadata: metadata)
        return response
    }
}
