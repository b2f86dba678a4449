import Foundation
public import Hummingbird
import NIOCore
import SigilIssuer

/// `GET /v1/revocations`: the newest signed revocation list, for services and `sigil revocations pull`.
///
/// No token needed: the list is signed, and services fetch it to learn what to refuse.
/// `ETag: "<sequence>"`; a matching `If-None-Match` is 304. With `?wait=S` (0 < S ≤ 60) and a
/// matching `If-None-Match`, the request is held until a newer list is stored (then 200) or S
/// seconds pass (then 304): a long poll that hears about a revoke within about a second.
public struct RevocationsController: Sendable {
    let issuer: IssuerQueue
    let broadcaster: RevocationBroadcaster

    public init(issuer: IssuerQueue, broadcaster: RevocationBroadcaster) {
        self.issuer = issuer
        self.broadcaster = broadcaster
    }

    public static let maxWait = 60.0

    public func addRoutes(to group: RouterGroup<ServerContext>) {
        group.get("revocations", use: latest)
    }

    @Sendable func latest(_ request: Request, context: ServerContext) async throws -> Response {
        let q = try QueryValues(request)
        var wait: Double?
        if let text = try q.string("wait") {
            guard let s = Double(text), s.isFinite, s > 0, s <= Self.maxWait else {
                throw APIError.badRequest("wait must be a number of seconds above 0 and at most 60")
            }
            wait = s
        }
        let tags = Self.entityTags(request.headers[values: .ifNoneMatch])
        var list = try await current()
        if let wait, Self.matches(tags, list.sequence) {
            await broadcaster.wait(newerThan: list.sequence, timeout: .milliseconds(Int64(wait * 1000)))
            list = try await current()
        }
        var headers: HTTPFields = [.eTag: "\"\(list.sequence)\"", .cacheControl: "no-store"]
        if Self.matches(tags, list.sequence) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/octet-stream"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: list.bytes)))
    }

    /// The newest stored list, read from the database now (the CLI may have exported one).
    func current() async throws -> (sequence: UInt64, bytes: [UInt8]) {
        guard let list = try await issuer.run({ try $0.latestRevocationList() }) else {
            // The server publishes one at start-up, so this means the database was replaced.
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
