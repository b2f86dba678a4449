import Foundation
import SigilIssuer
import SigilVerifier

/// The home's ``Issuer`` as an ``IssuerClient``: the issuer host's mode.
///
/// The issuer is opened by the first use case that needs it, so a command whose input is
/// bad fails before a home is created or read.
final class LocalIssuerClient: IssuerClient {
    let home: Home
    private var opened: Issuer?

    init(home: Home) { self.home = home }

    /// The home's issuer, opened once; `issue` may create the home.
    private func issuer(_ mode: Issuer.OpenMode = .existing) throws -> Issuer {
        if let opened { return opened }
        let issuer = try home.issuer(mode)
        opened = issuer
        return issuer
    }

    let publicationNote = "Services see this after the next revocation-list export: sigil revocations export"

    func refuseLocalOnly(_ flag: String, given: Bool, because reason: String) throws {}

    func forEachToken(
        _ filters: TokenFilters, sort: TokenSort, violatingPolicy: Bool, _ body: (TokenRecord) -> Void
    ) async throws {
        let query = TokenQuery(filter: try filters.filter(), sort: sort, violatingPolicy: violatingPolicy)
        try issuer().forEachToken(query, body)
    }

    func seesNoTokens(unfiltered: Bool) async throws -> Bool { try issuer().isEmpty() }

    func token(_ selector: String) async throws -> TokenRecord { try issuer().token(selector) }

    func issue(_ request: IssueRequest) async throws -> (token: String, record: TokenRecord) {
        let now = Home.now
        // Every check that needs no ledger runs before a home is created.
        _ = try Issuer.checkRequest(request, now: now)
        let actor = try home.actor()
        let result = try issuer(.createIfMissing).issue(request, by: actor, now: now)
        return (result.token, result.record)
    }

    func edit(
        _ selector: String, name: String?, description: String?, sealedFields: [String], sealedBody: [String: JSONValue]
    ) async throws -> TokenRecord {
        let actor = try home.actor()
        return try issuer().edit(
            selector, name: name, description: description, sealed: sealedFields, by: actor, now: Home.now)
    }

    func change(_ action: LifecycleAction, _ selection: TokenSelection, asks: Bool, yes: Bool, cascade: Bool)
        async throws -> [(id: TokenID, name: String?)]?
    {
        let actor = try home.actor()
        let issuer = try issuer()
        let result: ChangeResult
        // A bulk change of a million tokens takes about half a minute.
        let progress = ProgressLine.forCommand(action.rawValue, json: home.json)
        defer { progress.finish() }
        if !selection.allMatching, !cascade, !asks || yes {
            // Nothing to confirm: resolve and change in one transaction (10k GUIDs on stdin).
            result = try issuer.change(
                action, selectors: try selection.selectors(), by: actor, now: Home.now, progress: progress.handler)
        } else {
            let tokens = try selection.resolve(in: issuer)
            guard !tokens.isEmpty else { return nil }
            if asks, action.isPermanent || tokens.count > 1 {
                try confirm(action, tokens.map { ($0.id, $0.name) }, yes: yes)
            }
            result = try issuer.change(
                action, tokens.map(\.id), cascade: cascade, by: actor, now: Home.now, progress: progress.handler)
        }
        progress.finish()
        return result.tokens.map { ($0.id, $0.name) }
    }

    func revoke(token text: String) async throws -> TokenRecord? {
        let result = try issuer().revoke(
            token: text, by: try home.actor(), details: [("source", "revoke_by_token")], now: Home.now)
        return result.tokens.first
    }

    func events(guid: String?, actor: String?, action: AuditAction?, since: Int64?, limit: Int) async throws
        -> [AuditEvent]
    {
        let issuer = try issuer()
        var guidID: TokenID?
        if let guid {
            // A deleted token's history stays readable: resolve whole GUIDs without the ledger.
            guidID = try TokenID(uuidString: guid) ?? issuer.token(guid).id
        }
        return try issuer.events(AuditQuery(guid: guidID, actor: actor, action: action, since: since, limit: limit))
    }

    func catalog() async throws -> Catalog { try issuer().catalog() }
}
