import Foundation
import Hummingbird
import SigilIssuer
import SigilVerifier

/// Query-string and path values, parsed strictly: anything malformed is 400 `bad_request`.
///
/// Each route declares the parameters it takes in ``parameters``; ``QueryParametersMiddleware``
/// refuses any other (a typo such as `?stauts=revoked` must not list every token), and a handler
/// may read only declared names.
struct QueryValues {
    /// The query parameters each route takes, by method and path; every other route takes none.
    static let parameters: [String: Set<String>] = [
        "GET /v1/tokens": [
            "name", "guid", "scope", "audience", "status", "sort", "limit", "cursor", "violating_policy",
            "created_by_me",
        ],
        "GET /v1/audit": ["guid", "actor", "action", "since", "limit", "cursor"],
        "GET /v1/members": ["status", "limit", "cursor"],
        "GET /v1/revocations": ["wait", "since"],
    ]

    /// Decoded (name, value) pairs in order: `+` is a space, `%XX` a byte (form encoding).
    let pairs: [(String, String)]
    /// The names this route declares.
    let allowed: Set<String>

    init(_ request: Request) throws {
        let path = request.uri.path.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
        allowed = Self.parameters["\(request.method.rawValue) /\(path)"] ?? []
        var pairs: [(String, String)] = []
        for part in (request.uri.query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) throws -> String {
                guard let text = Self.formDecoded(s) else {
                    throw APIError.badRequest(
                        "the query string has a malformed %-escape: each % takes two hex digits and the "
                            + "decoded bytes must be UTF-8; write a literal % as %25")
                }
                return text
            }
            pairs.append((try decode(kv[0]), kv.count > 1 ? try decode(kv[1]) : ""))
        }
        self.pairs = pairs
    }

    /// `text` form-decoded (`+` is a space, `%XX` a byte), or nil when an escape is not `%` and
    /// two hex digits or the bytes are not UTF-8. Byte by byte: Foundation's
    /// `replacingOccurrences` and `removingPercentEncoding` were 6 % of a page listing's CPU.
    ///
    /// ```swift
    /// QueryValues.formDecoded("a+b%2Fc")  // "a b/c"
    /// QueryValues.formDecoded("%zz")      // nil
    /// ```
    static func formDecoded(_ text: Substring) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else {
            return String(text)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let byte = utf8[i]
            i = utf8.index(after: i)
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard i != utf8.endIndex, let high = hexValue(utf8[i]) else { return nil }
                i = utf8.index(after: i)
                guard i != utf8.endIndex, let low = hexValue(utf8[i]) else { return nil }
                i = utf8.index(after: i)
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The first parameter the route does not declare, if any.
    var unknown: String? { pairs.map(\.0).first { !allowed.contains($0) } }

    /// The value of `name`; a repeated parameter is refused rather than guessed at.
    func string(_ name: String) throws -> String? {
        precondition(allowed.contains(name), "\(name) is read but not declared in QueryValues.parameters")
        let values = pairs.filter { $0.0 == name }.map(\.1)
        guard values.count <= 1 else { throw APIError.badRequest("give \(name) at most once") }
        return values.first
    }

    /// `true` or `false` exactly; `default` when absent.
    func bool(_ name: String, default value: Bool = false) throws -> Bool {
        guard let text = try string(name) else { return value }
        switch text {
        case "true": return true
        case "false": return false
        default: throw APIError.badRequest("\(name) must be true or false")
        }
    }

    /// A value of a `RawRepresentable` enum (status, sort, action).
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type) throws -> T?
    where T.RawValue == String {
        guard let text = try string(name) else { return nil }
        guard let value = T(rawValue: text) else {
            throw APIError.badRequest("\(name) must be one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// The page `limit` and `cursor` ask for. ``PageRequest`` holds the limits and the cursor's
    /// meaning; its `IssuerError` names the parameter.
    func page() throws -> PageRequest {
        // Text that is not an integer is out of range too: PageRequest's one message says so.
        let limit = try string("limit").map { Int($0) ?? 0 } ?? PageRequest.defaultLimit
        return try PageRequest(limit: limit, cursor: try string("cursor"))
    }
}

/// A whole GUID from the path or a body; a prefix, a token or anything else is 400.
extension QueryValues {
    /// Builds issuer values (a filter, an actor name, a page) from query values: the issuer's
    /// rule decides, and since the bad value is in the URL, not a body, it is 400 `bad_request`
    /// with the issuer's message and code (a body value would be 422). The one place that says
    /// so, for every route.
    func values<T>(_ build: () throws -> T) throws -> T {
        do {
            return try build()
        } catch let error as IssuerError {
            throw APIError(.badRequest, "bad_request", error.message, contract: error.code)
        }
    }
}

func parseGUID(_ text: String, field: String = "guid") throws -> TokenID {
    do {
        return try TokenSelector.wholeID(text, field: field)
    } catch {
        throw APIError.badRequest(error.message)  // a path, query or body value: 400 as before
    }
}

extension ServerContext {
    /// The `{guid}` path parameter as a ``TokenID``.
    func guidParameter() throws -> TokenID {
        try parseGUID(parameters.get("guid") ?? "")
    }
}

/// Refuses, with 400 `bad_request` naming it, a query parameter the route does not declare in
/// ``QueryValues/parameters``; paths that are no route are left to the router's 404.
///
/// ```swift
/// router.add(middleware: QueryParametersMiddleware(routes: app.routeTable()))
/// ```
struct QueryParametersMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    /// The registered routes: a path and method that are no route are left to the 404 or 405.
    let routes: RouteTable

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // A method the path does not take is left to the 405, an unknown path to the 404.
        // The provider's redirect back may carry parameters of its own (`iss`, `session_state`).
        if let query = request.uri.query, !query.isEmpty, request.uri.path != OIDCController.callbackPath,
            routes.allowedMethods(for: request.uri.path)?.contains(request.method) == true
        {
            let values = try QueryValues(request)
            if let name = values.unknown {
                let shown = name.utf8.count <= 40 ? name : "(\(name.utf8.count) bytes)"
                let known = values.allowed.sorted().joined(separator: ", ")
                throw APIError.badRequest(
                    "unknown query parameter \(shown); "
                        + (known.isEmpty ? "this route takes none" : "this route takes: \(known)"))
            }
        }
        return try await next(request, context)
    }
}
