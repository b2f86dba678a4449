import Foundation
import SigilIssuer
import SigilVerifier

/// The issuer a command that can run remotely (``ServerUse/remote``) talks to: the home's
/// ``Issuer`` on the issuer host (``LocalIssuerClient``), or sigil-server with `--server`
/// (``RemoteIssuerClient``).
///
/// A command parses, calls one of these use cases and renders the answer; it never asks
/// which mode it runs in. Both implementations answer the same values, so the text, the
/// `--json` shapes and the exit codes are the same either way.
///
/// ```swift
/// let client = try issuerClient(global, actor: actorOption)
/// let record = try await client.token("3f2a9c1e")
/// ```
protocol IssuerClient {
    /// The closing note after a change: when services see it.
    var publicationNote: String { get }

    /// Refuses `flag` when it has no meaning in this mode (64, with `reason`).
    func refuseLocalOnly(_ flag: String, given: Bool, because reason: String) throws

    /// Calls `body` with every token the filters match, in `sort` order.
    func forEachToken(
        _ filters: TokenFilters, sort: TokenSort, violatingPolicy: Bool, _ body: (TokenRecord) -> Void
    ) async throws

    /// Whether the caller has no token at all, asked after a listing came back empty;
    /// `unfiltered` says whether that listing had no filters.
    func seesNoTokens(unfiltered: Bool) async throws -> Bool

    /// The token a whole GUID or a unique prefix names.
    func token(_ selector: String) async throws -> TokenRecord

    /// Issues a token: its text (shown once) and its row.
    func issue(_ request: IssueRequest) async throws -> (token: String, record: TokenRecord)

    /// Renames or redescribes a token; sealed fields are passed on for the issuer to refuse,
    /// as `sealedFields` (the library's names) and `sealedBody` (the API's values).
    func edit(
        _ selector: String, name: String?, description: String?, sealedFields: [String], sealedBody: [String: JSONValue]
    ) async throws -> TokenRecord

    /// Changes the selected tokens, all or nothing, after confirming when `asks`. Returns the
    /// tokens changed (names where known), or nil when `--all-matching` matched nothing.
    func change(_ action: LifecycleAction, _ selection: TokenSelection, asks: Bool, yes: Bool, cascade: Bool)
        async throws -> [(id: TokenID, name: String?)]?

    /// Revokes the token `text` once its tag verifies; nil when nothing was revoked.
    func revoke(token text: String) async throws -> TokenRecord?

    /// Audit events, newest first; `guid` is a selector.
    func events(guid: String?, actor: String?, action: AuditAction?, since: Int64?, limit: Int) async throws
        -> [AuditEvent]

    /// The catalog of resources and actions.
    func catalog() async throws -> Catalog
}

extension IssuerClient {
    /// Every token the filters match, in `sort` order.
    func tokens(_ filters: TokenFilters, sort: TokenSort, violatingPolicy: Bool) async throws -> [TokenRecord] {
        var out: [TokenRecord] = []
        try await forEachToken(filters, sort: sort, violatingPolicy: violatingPolicy) { out.append($0) }
        return out
    }
}

/// The issuer `global` names: sigil-server with `--server` (or `SIGIL_SERVER`), else the home.
///
/// Opening touches nothing: the home is opened by the first use case that needs it.
///
/// - Throws: ``CLIFailure``: the remote-mode checks of ``RemoteIssuer/open(_:)``, and 64
///   for `--actor` with a server (its audit log names the calling token).
func issuerClient(_ global: GlobalOptions, actor: ActorOption? = nil) throws -> any IssuerClient {
    if let remote = try RemoteIssuer.open(global) {
        let client = RemoteIssuerClient(remote: remote)
        try client.refuseLocalOnly(
            "--actor", given: actor?.actor != nil,
            because: "the server's audit log names the calling token (token:GUID)")
        return client
    }
    return LocalIssuerClient(home: Home(global, actor: actor))
}
