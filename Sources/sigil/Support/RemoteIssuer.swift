import Foundation
import SigilFetch
import SigilIssuer
import SigilVerifier

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// sigil-server as the CLI's issuer (remote mode: `--server URL` or `SIGIL_SERVER`).
///
/// Each method is one use case over the HTTP API (docs/API.md) and answers the same values
/// the local ``Issuer`` does (``TokenRecord``, ``AuditEvent``, ``Catalog``), so every
/// command renders both modes with the same code. The server decides every rule (scope,
/// delegation, reach, labels, windows); this type only speaks HTTP and maps the answers.
///
/// ```swift
/// if let remote = try RemoteIssuer.open(global) {
///     let rows = try await remote.tokens(filters, sort: .created)
/// }
/// ```
///
/// The caller's token is read from a private file (``SecureFile``'s checks: mode 600, no
/// link, the caller's own) and only ever sent as `Authorization: Bearer`: never in a URL,
/// an error, a log or stdout. Redirects are not followed, so it never reaches another host.
/// Every request is bounded by ``maxResponseBytes`` and the `SIGIL_SERVER_TIMEOUT` deadline.
struct RemoteIssuer: Sendable {
    /// The server's URL as given, without a trailing slash; it holds no user or password.
    let base: String
    /// Where the token came from, for messages.
    let tokenFile: String
    /// Whole-request deadline in seconds (`SIGIL_SERVER_TIMEOUT`, default 30).
    let timeout: Int
    private let token: String

    /// The largest answer read: a page of 1,000 rows is about 450 KB.
    static let maxResponseBytes = 16 << 20
    /// The API's largest page.
    static let pageSize = PageRequest.maxLimit

    /// The remote issuer the options name, or nil in local mode.
    ///
    /// - Throws: ``CLIFailure`` 64 for a bad URL, `--home` together with a server, or no token
    ///   file; 66 for a missing token file; 77 for one others can read (with the `chmod`
    ///   fix), a symbolic link or another user's; 65 for a file that holds no token.
    static func open(_ global: GlobalOptions) throws -> RemoteIssuer? {
        guard let server = global.serverURL else {
            if global.tokenFile != nil {
                throw CLIFailure.usage(
                    "--token-file goes with --server URL (or SIGIL_SERVER): it is the caller's token")
            }
            return nil
        }
        if global.home != nil {
            throw CLIFailure.usage(
                "--home and --server exclude each other: a home is used on the issuer host, a server from anywhere"
                    + (global.server == nil ? " (SIGIL_SERVER is set; unset it to use --home)" : ""))
        }
        let base = try checkedBase(server)
        guard let path = global.tokenFile ?? ProcessInfo.processInfo.environment["SIGIL_TOKEN_FILE"], !path.isEmpty
        else {
            throw CLIFailure.usage(
                "remote mode needs the caller's token: pass --token-file FILE (one sgl_… token, mode 600) or set SIGIL_TOKEN_FILE"
            )
        }
        let token = try readToken(file: path)
        return RemoteIssuer(base: base, tokenFile: path, timeout: try timeoutSetting(), token: token)
    }

    /// `url` if it is an http(s) URL sigil can send a token to, without its trailing slash.
    static func checkedBase(_ url: String) throws -> String {
        let example = "like http://127.0.0.1:8080 or https://issuer.example"
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parts.host, !host.isEmpty
        else {
            throw CLIFailure.usage(
                "--server '\(Terminal.safe(String(url.prefix(200))))' is not an http(s) URL \(example)")
        }
        // Not echoed: a user or password in the URL may be a secret.
        guard parts.user == nil, parts.password == nil else {
            throw CLIFailure.usage(
                "--server must not carry a user or password; the caller's token comes from --token-file")
        }
        guard parts.query == nil, parts.fragment == nil else {
            throw CLIFailure.usage("--server takes the server's base URL \(example), without ? or #")
        }
        if scheme == "http", !IPAddress.isLoopback(host: host) {
            Console.warning(
                "--server \(Terminal.safe(url)) is plain http to another host: the token crosses the network in clear text. Use https (a TLS proxy in front of sigil-server; docs/API.md)."
            )
        }
        var text = url
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// `SIGIL_SERVER_TIMEOUT`: seconds, 1-3600, default 30.
    static func timeoutSetting() throws -> Int {
        guard let text = ProcessInfo.processInfo.environment["SIGIL_SERVER_TIMEOUT"], !text.isEmpty else { return 30 }
        guard let value = Int(text), (1...3_600).contains(value) else {
            throw CLIFailure.usage("SIGIL_SERVER_TIMEOUT must be 1-3600 seconds (got '\(Terminal.safe(text))')")
        }
        return value
    }

    /// The token in `file`, checked like a secret file (mode, owner, no link) and trimmed.
    static func readToken(file: String) throws -> String {
        let bytes: [UInt8]
        do {
            bytes = try SecureFile.read(file, maxBytes: TokenClaims.maxTextLength + tokenLineAllowance)
        } catch {
            // `error` is an IssuerError (typed throws): permissions stay 77 with their fix.
            switch error.reason {
            case .notFound:
                throw CLIFailure(
                    Exit.noInput,
                    "no token file at \(file): write the caller's token into it (umask 077; one line, sgl_…), or give another --token-file",
                    reason: "not_found")
            case .badData:
                throw CLIFailure(
                    Exit.dataError, "\(error.message); the token file must be a regular file with one sgl_… token",
                    reason: "bad_token_file")
            default:
                throw error
            }
        }
        // Never echoed: whatever the file holds may be a secret.
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("sgl_"), text.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw CLIFailure(
                Exit.dataError,
                "\(file) does not hold a token: it must be one line with the caller's sgl_… token and nothing else",
                reason: "bad_token_file")
        }
        return text
    }

    // MARK: Use cases

    /// Every token the filters match that the caller reaches, in `sort` order (all pages).
    func tokens(_ filters: TokenFilters, sort: TokenSort? = nil, violatingPolicy: Bool = false) async throws
        -> [TokenRecord]
    {
        let query: [(String, String?)] = [
            ("name", filters.name), ("guid", filters.guid), ("scope", filters.scope),
            ("audience", filters.audience), ("status", filters.status?.rawValue), ("sort", sort?.rawValue),
            ("violating_policy", violatingPolicy ? "true" : nil),
        ]
        return try await pages("/v1/tokens", query: query, limit: nil, of: WireToken.self).map(\.record)
    }

    /// The token a selector names: a whole GUID (`GET /v1/tokens/{guid}`) or a unique prefix
    /// of at least 8 hex digits (looked up in the listing).
    func token(_ selector: String) async throws -> TokenRecord {
        switch try Self.parse(selector) {
        case .id(let id): return try await fetch(WireToken.self, "GET", "/v1/tokens/\(id)").record
        case .prefix(let hex): return try await byPrefix(hex)
        }
    }

    /// The GUID a selector names; a prefix is looked up, a whole GUID is taken as it is.
    func id(_ selector: String) async throws -> TokenID {
        switch try Self.parse(selector) {
        case .id(let id): return id
        case .prefix(let hex): return try await byPrefix(hex).id
        }
    }

    /// The row of `id`, or nil when the caller may change the token but not read it (403).
    func rowIfReadable(_ id: TokenID) async throws -> TokenRecord? {
        do {
            return try await fetch(WireToken.self, "GET", "/v1/tokens/\(id)").record
        } catch let failure as CLIFailure where failure.reason == "insufficient_scope" {
            return nil
        }
    }

    /// `POST /v1/tokens`: the token text (shown once) and its row.
    func issue(_ request: IssueRequest) async throws -> (token: String, record: TokenRecord) {
        // An `.after` expiry goes as expires_in: the server counts it on its own clock.
        let row = try await fetch(WireToken.self, "POST", "/v1/tokens", body: WireIssueRequest(request))
        guard let token = row.token else { throw unexpected("the created token is missing") }
        return (token, row.record)
    }

    /// `PATCH /v1/tokens/{guid}`. Sealed fields are sent as asked, for the server to refuse.
    func edit(_ id: TokenID, _ patch: WireTokenPatch) async throws -> TokenRecord {
        try await fetch(WireToken.self, "PATCH", "/v1/tokens/\(id)", body: patch).record
    }

    /// `POST /v1/tokens/bulk`: all or nothing. Returns the tokens whose state changed.
    func change(_ action: LifecycleAction, _ ids: [TokenID], cascade: Bool) async throws -> [TokenID] {
        let body = WireBulkRequest(action: action, guids: ids, cascade: cascade)
        return try await fetch(WireBulkResult.self, "POST", "/v1/tokens/bulk", body: body).guids
    }

    /// `POST /v1/tokens/revoke-by-token`: the server verifies the token's tag, then revokes it.
    func revoke(token: String) async throws -> TokenRecord {
        try await fetch(WireToken.self, "POST", "/v1/tokens/revoke-by-token", body: WireTokenText(token)).record
    }

    /// `GET /v1/audit`, newest first, up to `limit` events (as many pages as that takes).
    func events(guid: TokenID?, actor: String?, action: AuditAction?, since: Int64?, limit: Int) async throws
        -> [AuditEvent]
    {
        let query: [(String, String?)] = [
            ("guid", guid?.description), ("actor", actor), ("action", action?.rawValue),
            ("since", since.map(TimeText.format)),
        ]
        return try await pages("/v1/audit", query: query, limit: limit, of: WireEvent.self).map(\.event)
    }

    /// `GET /v1/catalog`.
    func catalog() async throws -> Catalog {
        try await fetch(WireCatalog.self, "GET", "/v1/catalog").catalog
    }

    // MARK: Members (/v1/members)

    /// `POST /v1/members`.
    func addMember(_ request: MemberRequest) async throws -> Member {
        try await fetch(WireMember.self, "POST", "/v1/members", body: WireMemberRequest(request)).member
    }

    /// `GET /v1/members`: every page, optionally of one status.
    func members(status: MemberStatus?) async throws -> [Member] {
        try await pages("/v1/members", query: [("status", status?.rawValue)], limit: nil, of: WireMember.self)
            .map(\.member)
    }

    /// The member a selector names: `GET /v1/members/{id}` for an ID; an email is looked up in
    /// the listing (the API addresses members by ID).
    func member(_ selector: String) async throws -> Member {
        if let id = Issuer.memberID(selector) {
            return try await fetch(WireMember.self, "GET", "/v1/members/\(id)").member
        }
        // The issuer's own rule says whether this is an email (invalid_input, 64, if not).
        let email = try MemberEmail(selector).text
        guard let found = try await members(status: nil).first(where: { $0.email == email }) else {
            throw Issuer.memberNotFound(email)
        }
        return found
    }

    /// `PATCH /v1/members/{id}`.
    func editMember(_ id: TokenID, _ edit: MemberEdit) async throws -> Member {
        try await fetch(WireMember.self, "PATCH", "/v1/members/\(id)", body: WireMemberEdit(edit)).member
    }

    /// `POST /v1/members/{id}/suspend`.
    func suspendMember(_ id: TokenID, cascade: Bool) async throws -> MemberSuspension {
        let answer = try await fetch(
            WireMemberSuspension.self, "POST", "/v1/members/\(id)/suspend", body: WireMemberSuspend(cascade: cascade))
        return MemberSuspension(member: answer.member.member, deactivated: answer.deactivated)
    }

    /// `POST /v1/members/{id}/activate`.
    func activateMember(_ id: TokenID) async throws -> Member {
        try await fetch(WireMember.self, "POST", "/v1/members/\(id)/activate").member
    }

    /// `DELETE /v1/members/{id}` (204).
    func removeMember(_ id: TokenID) async throws {
        _ = try await exchange("DELETE", "/v1/members/\(id)", query: [], body: nil)
    }

    // MARK: Selectors

    /// A whole GUID or a prefix, parsed as the local CLI parses it (``TokenSelector``).
    static func parse(_ selector: String) throws -> TokenSelector { try TokenSelector(selector) }

    private func byPrefix(_ hex: String) async throws -> TokenRecord {
        let matches = try await fetch(
            WirePage<WireToken>.self, "GET", "/v1/tokens", query: [("guid", hex), ("limit", "6")]
        ).items.map(\.record)
        return try TokenSelector.unique(matches, prefix: hex)
    }

    // MARK: HTTP

    /// Follows `next_cursor` until the last page, or until `limit` items.
    private func pages<Item: WireListItem>(
        _ path: String, query: [(String, String?)], limit: Int?, of: Item.Type
    ) async throws -> [Item] {
        var out: [Item] = []
        var cursor: String? = nil
        repeat {
            let size = min(Self.pageSize, (limit ?? Int.max) - out.count)
            var q = query + [("limit", String(size))]
            if let cursor { q.append(("cursor", cursor)) }
            let page = try await fetch(WirePage<Item>.self, "GET", path, query: q)
            out += page.items
            cursor = page.nextCursor
        } while cursor != nil && out.count < (limit ?? Int.max)
        return out
    }

    /// One request whose answer is a wire type (``WireToken``, ``WirePage``, …).
    private func fetch<T: Decodable>(
        _ type: T.Type, _ method: String, _ path: String, query: [(String, String?)] = [],
        body: (any Encodable & Sendable)? = nil
    ) async throws -> T {
        let bytes = try await exchange(method, path, query: query, body: body)
        do {
            return try Wire.decoder.decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                throw CLIFailure(
                    Exit.unavailable, "\(base) answered without JSON: is --server the base URL of a sigil-server?",
                    reason: "unavailable")
            }
            let field = error.field.map { "field \($0)" } ?? "\(T.self)"
            throw unexpected(field)
        }
    }

    /// Query values are percent-encoded as RFC 3986 unreserved characters only.
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// One request; answers the body of a 2xx, and throws a ``CLIFailure`` otherwise.
    private func exchange(
        _ method: String, _ path: String, query: [(String, String?)], body: (any Encodable & Sendable)?
    ) async throws -> [UInt8] {
        let items = query.compactMap { name, value in
            value.map { "\(name)=\($0.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? "")" }
        }
        let address = base + path + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
        guard let url = URL(string: address) else {
            throw CLIFailure.usage("--server \(Terminal.safe(base)) does not make a valid URL with \(path)")
        }
        var request = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: TimeInterval(timeout))
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        request.setValue("sigil/\(Sigil.version)", forHTTPHeaderField: "User-Agent")
        if let body {
            request.httpBody = Data(Wire.encode(body))
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let http = BoundedHTTP(maxBytes: Self.maxResponseBytes, timeout: timeout, followsRedirects: false)
        switch await http.run(request) {
        case .response(let response, let bytes):
            let status = response.statusCode
            guard (200..<300).contains(status) else {
                throw failure(
                    status: status, body: try? Wire.decoder.decode(WireError.self, from: Data(bytes)),
                    response: response)
            }
            return bytes
        case .tooLarge:
            throw CLIFailure(
                Exit.unavailable,
                "the answer from \(base) is larger than \(Self.maxResponseBytes >> 20) MiB; stopped reading there. Is --server a sigil-server?",
                reason: "unavailable")
        case .timedOut:
            throw CLIFailure(
                Exit.unavailable,
                "\(base) did not answer within \(timeout) s; nothing is known to have changed. Retry, or raise SIGIL_SERVER_TIMEOUT.",
                reason: "unavailable")
        case .failed(let description):
            throw CLIFailure(
                Exit.unavailable,
                "cannot reach sigil-server at \(base): \(scrub(description)). Check --server and that the server runs.",
                reason: "unavailable")
        case .notHTTP:
            throw CLIFailure(Exit.unavailable, "\(base) did not answer with HTTP", reason: "unavailable")
        }
    }

    /// The failure for an HTTP error status: the server's message (scrubbed, escaped), and the
    /// exit code of its `code` through ``ErrorContract``, the table local mode exits by; an
    /// answer without a known code (a proxy, a redirect) is 69.
    private func failure(status: Int, body: WireError?, response: HTTPURLResponse) -> CLIFailure {
        var failure = described(status: status, body: body, response: response)
        // The server's code, passed on as it is: the same `code` a local failure shows.
        failure.contractCode = body?.code.map { scrub(String($0.prefix(64))) }
        return failure
    }

    private func described(status: Int, body: WireError?, response: HTTPURLResponse) -> CLIFailure {
        let code = body.map { scrub(String($0.error.prefix(64))) } ?? "http_\(status)"
        let said = body.map { scrub(String($0.message.prefix(1_000))) } ?? "HTTP \(status)"
        let verification = body?.fields["reason"]
        let exit = ErrorContract.exitCode(code: body?.code, verification: verification) ?? Exit.unavailable
        switch status {
        case 401:
            let reason = verification.map { scrub(String($0.prefix(64))) } ?? "refused"
            return CLIFailure(
                exit,
                "\(base) refused the token in \(tokenFile) (\(reason)): \(said). Use a valid, active token of the issuer.",
                reason: code)
        case 403:
            let scope = body?.fields["scope"].map { "; too wide or missing: \(scrub(String($0.prefix(200))))" }
            return CLIFailure(
                exit, "\(said) (HTTP 403 \(code)\(scope ?? "")): the token in \(tokenFile) may not do this",
                reason: code)
        case 422 where code == "token_not_verified":
            // revoke --token: the verify reason is the --json error, as in local mode.
            let reason = verification.flatMap(VerificationError.Reason.init(rawValue:))
            return CLIFailure(exit, said, reason: reason?.rawValue ?? code)
        case 429:
            let after = response.value(forHTTPHeaderField: "Retry-After").flatMap(Int.init).map { " in \($0) s" }
            return CLIFailure(
                exit, "\(said) (HTTP 429): too many failed authentications from here; retry\(after ?? " later")",
                reason: code)
        case 300..<400:
            return CLIFailure(
                exit,
                "\(base) answered HTTP \(status), a redirect; sigil does not follow redirects with a token. Give the final URL with --server.",
                reason: "redirect")
        case 500...:
            return CLIFailure(exit, "\(base) answered HTTP \(status) \(code): \(said). Retry later.", reason: code)
        default:
            return CLIFailure(exit, said, reason: code)
        }
    }

    /// Text from the server, safe to print: control characters escaped, and the caller's
    /// token, or anything that looks like a token, cut out should a server or proxy echo one.
    private func scrub(_ text: String) -> String {
        var out = text.replacingOccurrences(of: token, with: "[token]")
        while let range = out.range(of: "sgl_") {
            let rest = out[range.upperBound...].prefix {
                $0.isASCII && ($0.isLetter || $0.isNumber || "-_=".contains($0))
            }
            out.replaceSubrange(range.lowerBound..<rest.endIndex, with: "[token]")
        }
        return Terminal.safe(out)
    }

    private func unexpected(_ what: String) -> CLIFailure {
        CLIFailure(
            Exit.unavailable,
            "\(base) answered in a shape this sigil (\(Sigil.version)) cannot read (\(what)); is it a sigil-server of the same version?",
            reason: "unavailable")
    }
}

extension DecodingError {
    /// The path of the field that failed, for a message; nil at the top level.
    var field: String? {
        let path: [any CodingKey]
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: return nil
        }
        guard !path.isEmpty else { return nil }
        return path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
