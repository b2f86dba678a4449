import Foundation
import SigilIssuer
import SigilVerifier

/// sigil-server as an ``IssuerClient`` (remote mode), over ``RemoteIssuer``.
///
/// The server decides every rule; this type only turns a command's selection into the
/// API's requests and the answers into the values the local mode returns.
struct RemoteIssuerClient: IssuerClient {
    let remote: RemoteIssuer

    /// The most GUIDs one change sends: one page's worth (the bulk route is all or nothing,
    /// and its body must stay under the server's 64 KiB limit; a GUID takes 39 bytes there).
    static let bulkLimit = PageRequest.maxLimit

    let publicationNote = "sigil-server publishes the new revocation list within about a second."

    func refuseLocalOnly(_ flag: String, given: Bool, because reason: String) throws {
        guard !given else { throw CLIFailure.usage("\(flag) does not apply with --server: \(reason)") }
    }

    func forEachToken(
        _ filters: TokenFilters, sort: TokenSort, violatingPolicy: Bool, _ body: (TokenRecord) -> Void
    ) async throws {
        // The server checks the filters; an empty one is its 400 (exit 64).
        for t in try await remote.tokens(filters, sort: sort, violatingPolicy: violatingPolicy) { body(t) }
    }

    /// The API shows no ledger-wide count: an empty unfiltered listing is the answer.
    func seesNoTokens(unfiltered: Bool) async throws -> Bool { unfiltered }

    func token(_ selector: String) async throws -> TokenRecord { try await remote.token(selector) }

    func issue(_ request: IssueRequest) async throws -> (token: String, record: TokenRecord) {
        // The server checks everything (labels, audience, window, delegation).
        try await remote.issue(request)
    }

    func edit(
        _ selector: String, name: String?, description: String?, sealedFields: [String], sealedBody: [String: JSONValue]
    ) async throws -> TokenRecord {
        let id = try await remote.id(selector)
        return try await remote.edit(id, WireTokenPatch(name: name, description: description, sealed: sealedBody))
    }

    func revoke(token text: String) async throws -> TokenRecord? { try await remote.revoke(token: text) }

    func events(guid: String?, actor: String?, action: AuditAction?, since: Int64?, limit: Int) async throws
        -> [AuditEvent]
    {
        var guidID: TokenID?
        if let guid { guidID = try await remote.id(guid) }
        return try await remote.events(guid: guidID, actor: actor, action: action, since: since, limit: limit)
    }

    func catalog() async throws -> Catalog { try await remote.catalog() }

    /// One `POST /v1/tokens/bulk`, all or nothing as locally. Returns what the local change
    /// reports (the selected tokens, then any descendant `--cascade` changed), with names
    /// when there are at most 20 to print.
    func change(_ action: LifecycleAction, _ selection: TokenSelection, asks: Bool, yes: Bool, cascade: Bool)
        async throws -> [(id: TokenID, name: String?)]?
    {
        var ids: [TokenID] = []
        var names: [TokenID: String] = [:]
        var seen = Set<TokenID>()
        if selection.allMatching {
            for t in try await remote.tokens(selection.filters) where seen.insert(t.id).inserted {
                ids.append(t.id)
                names[t.id] = t.name
            }
            if ids.isEmpty { return nil }
        } else {
            for selector in try selection.selectors() {
                let id: TokenID
                switch try TokenSelector(selector) {
                case .id(let whole): id = whole
                case .prefix:
                    let t = try await remote.token(selector)
                    id = t.id
                    names[t.id] = t.name
                }
                if seen.insert(id).inserted { ids.append(id) }
            }
        }
        guard ids.count <= Self.bulkLimit else {
            throw CLIFailure.usage(
                "\(ids.count) tokens selected, but one change through --server takes at most \(Self.bulkLimit) (all or nothing, within the server's 64 KiB body limit); split the GUIDs into parts (split -l \(Self.bulkLimit)) and run once per part"
            )
        }
        // Names for the prompt and the report; a token the caller may change but not read stays nameless.
        func name(_ missing: [TokenID]) async throws {
            for id in missing where names[id] == nil {
                if let t = try await remote.rowIfReadable(id) { names[id] = t.name }
            }
        }
        if ids.count <= 20 { try await name(ids) }
        if asks, action.isPermanent || ids.count > 1 { try confirm(action, ids.map { ($0, names[$0]) }, yes: yes) }
        let changed = try await remote.change(action, ids, cascade: cascade)
        // Locally the report lists descendants a cascade revoked after the selected tokens.
        let all = ids + changed.filter { seen.insert($0).inserted }
        if all.count <= 20 { try await name(all) }
        return all.map { ($0, names[$0]) }
    }
}
