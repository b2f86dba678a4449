import Foundation
public import Hummingbird
import NIOCore
import SigilIssuer
import SigilVerifier

/// `GET /v1/revocations`: the newest signed revocation list, for services and `sigil revocations pull`.
///
/// No token needed: the list is signed, and services fetch it to learn what to refuse.
/// `ETag: "<sequence>"`; a matching `If-None-Match` is 304. With `?wait=S` (0 < S ≤ 60) and a
/// matching `If-None-Match`, the request is held until a newer list is stored (then 200) or S
/// seconds pass (then 304): a long poll that hears about a revoke within about a second.
///
/// The holding happens in ``holdLongPoll(_:connection:)``, which ``GuardedHTTP1Channel`` runs
/// before the request enters the router: a request waiting inside the middleware chain keeps
/// every middleware's async frame (about 30 KB in a debug build), one waiting at the connection
/// keeps a few hundred bytes. The route then answers the conditional GET as it stands.
///
/// `?since=SEQ` (the sequence the caller holds) answers a delta (docs/FORMAT.md §4.3) when the
/// server still holds list SEQ in its ``RevocationHistory``, else the full list; the media type
/// says which. The list is public and signed, so plain GETs are cacheable for `maxAge` seconds
/// (a CDN or proxy cache may answer followers; docs/API.md); long polls are `no-store`.
public struct RevocationsController: Sendable {
    let issuer: IssuerQueue
    let broadcaster: RevocationBroadcaster
    let maxAge: Int

    public init(issuer: IssuerQueue, broadcaster: RevocationBroadcaster, maxAge: Int = Self.defaultMaxAge) {
        self.issuer = issuer
        self.broadcaster = broadcaster
        self.maxAge = maxAge
    }

    public static let maxWait = 60.0
    /// Seconds a cache may keep the list (`--list-max-age`): a revoke reaches followers behind a
    /// cache within this plus their poll.
    public static let defaultMaxAge = 1
    public static let maxMaxAge = 3_600
    /// The media type of a full list.
    public static let listMediaType = "application/vnd.sigil.revocations"

    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("revocations", use: latest)
    }

    @Sendable func latest(_ request: Request, context: ServerContext) async throws -> Response {
        // Refuses a bad `wait` (400); a good one was served by `holdLongPoll` already.
        let q = try QueryValues(request)
        let wait = try Self.waitSeconds(q)
        let since = try Self.since(q)
        let tags = Self.entityTags(request.headers[values: .ifNoneMatch])
        let list = try current()
        // A long poll's answer depends on when it was asked: no cache may hand it to another.
        var headers: HTTPFields = [
            .eTag: "\"\(list.sequence)\"", .cacheControl: wait == nil ? "public, max-age=\(maxAge)" : "no-store",
        ]
        if Self.matches(tags, list.sequence) {
            return Response(status: .notModified, headers: headers)
        }
        if let since, let delta = broadcaster.history.delta(since: since, to: list.sequence) {
            headers[.contentType] = RevocationDelta.mediaType
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: delta)))
        }
        headers[.contentType] = Self.listMediaType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: list.body))
    }

    /// `?since=SEQ`: the sequence of the list the caller holds, nil when absent.
    ///
    /// - Throws: ``APIError`` 400 unless SEQ is a decimal sequence number.
    static func since(_ q: QueryValues) throws -> UInt64? {
        guard let text = try q.string("since") else { return nil }
        guard text.utf8.count <= 20, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let n = UInt64(text) else {
            throw APIError.badRequest("since must be the sequence of the list you hold (a decimal number)")
        }
        return n
    }

    /// Holds a long poll (`GET /v1/revocations?wait=S` whose `If-None-Match` names the current
    /// list) until a newer list is published, S seconds pass, or `connection`'s client goes away;
    /// returns at once for any other request, or one the route will refuse.
    ///
    /// - Parameters:
    ///   - request: Any request, before routing.
    ///   - connection: The request's connection, so a client that leaves frees its waiter at once.
    public func holdLongPoll(_ request: Request, connection: ConnectionLifetime?) async {
        // Only GET /v1/revocations declares `wait`; any unknown parameter is the router's 400.
        guard request.method == .get, let q = try? QueryValues(request), q.allowed.contains("wait"), q.unknown == nil,
            let wait = (try? Self.waitSeconds(q)) ?? nil, let list = broadcaster.current,
            Self.matches(Self.entityTags(request.headers[values: .ifNoneMatch]), list.sequence)
        else { return }
        await broadcaster.wait(
            newerThan: list.sequence, timeout: .milliseconds(Int64(wait * 1000)), connection: connection)
    }

    /// `?wait=S` in seconds, nil when absent.
    ///
    /// - Throws: ``APIError`` 400 unless 0 < S ≤ ``maxWait``.
    static func waitSeconds(_ q: QueryValues) throws -> Double? {
        guard let text = try q.string("wait") else { return nil }
        guard let s = Double(text), s.isFinite, s > 0, s <= maxWait else {
            throw APIError.badRequest("wait must be a number of seconds above 0 and at most 60")
        }
        return s
    }

    /// The newest list, as the publisher holds it: no database read, so serving the list never
    /// waits behind other callers' queries (the publisher picks up lists the CLI exports).
    func current() throws -> PublishedList {
        guard let list = broadcaster.current else {
            // The server publishes one before it listens, so this means it is still starting.
            throw APIError(.serviceUnavailable, "unavailable", "no revocation list is stored yet; try again shortly")
        }
        return list
    }

    /// The entity tags of `If-None-Match` headers: sequences, or nil for `*`.
    static func entityTags(_ values: [String]) -> [UInt64?] {
        values.flatMap { $0.split(separator: ",") }.compactMap { raw -> UInt64?? in
            var tag = raw.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return .some(nil) }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            guard tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") else { return nil }
            guard let n = UInt64(tag.dropFirst().dropLast()) else { return nil }
            return .some(n)
        }
    }

    static func matches(_ tags: [UInt64?], _ sequence: UInt64) -> Bool {
        tags.contains { $0 == nil || $0 == sequence }
    }
}
