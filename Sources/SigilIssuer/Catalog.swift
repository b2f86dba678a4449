import Foundation
public import SigilVerifier

/// The resources and actions tokens can be scoped to, and whether each action reads or writes.
/// Stored in the ledger database.
///
/// `resource.*` in a requested scope expands to the resource's actions **today**; actions
/// added later are not granted to tokens issued before.
///
/// ```swift
/// var catalog = Catalog.example
/// try catalog.add(resource: "reports", action: "export", access: .read)
/// let pairs = try catalog.expand(["devices.*", "reports.export"])
/// ```
public struct Catalog: Sendable, Hashable {
    /// The v0.1 file a home kept its catalog in; imported into the database once.
    public static let fileName = "catalog.json"
    public static let format = "sigil-catalog-v1"

    /// resource → action → access.
    public private(set) var resources: [String: [String: Access]]

    public init(resources: [String: [String: Access]] = [:]) { self.resources = resources }

    /// The issuer's own resources, which every catalog has: what tokens need to manage tokens
    /// through sigil-server's API.
    public static let issuer = Catalog(resources: [
        "tokens": [
            "list": .read, "get": .read, "create": .write, "update": .write, "deactivate": .write,
            "activate": .write, "revoke": .write, "delete": .write,
        ],
        "audit": ["list": .read],
        "members": ["list": .read, "read": .read, "create": .write, "update": .write, "delete": .write],
    ])

    /// This catalog with ``issuer``'s resources added (theirs win: their access is fixed).
    public func withIssuerResources() -> Catalog {
        var merged = resources
        for (resource, actions) in Self.issuer.resources { merged[resource] = actions }
        return Catalog(resources: merged)
    }

    /// The small example catalog a development home starts with.
    public static let example = Catalog(resources: [
        "devices": ["list": .read, "get": .read, "create": .write, "update": .write, "delete": .write],
        "users": ["list": .read, "get": .read, "invite": .write, "remove": .write],
        "invoices": ["list": .read, "get": .read, "pay": .write],
    ])

    /// Adds (or changes the access of) `resource.action`.
    public mutating func add(resource: String, action: String, access: Access) throws(IssuerError) {
        guard Scope.isValidPart(resource), Scope.isValidPart(action) else {
            throw IssuerError(
                .invalidInput, "resource and action must each match [a-z][a-z0-9_-]{0,31}",
                detail: .invalidPair(Labels.echo("\(resource).\(action)")))
        }
        resources[resource, default: [:]][action] = access
    }

    /// The access of `pair`, if the catalog knows it.
    public func access(of pair: String) -> Access? {
        let parts = pair.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        return resources[parts[0]]?[parts[1]]
    }

    /// Every `resource.action` the catalog knows, sorted.
    public var allPairs: [String] {
        resources.flatMap { r, actions in actions.keys.map { "\(r).\($0)" } }.sorted {
            $0.utf8.lexicographicallyPrecedes($1.utf8)
        }
    }

    /// Expands `resource.*` to today's actions, checks every pair is known, and returns the
    /// sorted, de-duplicated list a custom scope holds.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` listing the known pairs. Messages and details
    ///   repeat a requested item through ``Labels/echo(_:)``: never a token pasted there.
    public func expand(_ requested: [String]) throws(IssuerError) -> [String] {
        var out = Set<String>()
        for item in requested.flatMap({
            $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        })
        where !item.isEmpty {
            if item.hasSuffix(".*") {
                let resource = String(item.dropLast(2))
                guard let actions = resources[resource], !actions.isEmpty else {
                    let shown = Labels.echo(resource)
                    throw IssuerError(
                        .invalidInput,
                        "unknown resource '\(shown)' in \(shown).*. Known resources: \(resources.keys.sorted().joined(separator: ", "))",
                        detail: .unknownResource(shown, known: resources.keys.sorted()))
                }
                for action in actions.keys { out.insert("\(resource).\(action)") }
                continue
            }
            guard Scope.isValidPair(item) else {
                throw IssuerError(
                    .invalidInput, "\(Labels.echo(item)) is not resource.action (each part [a-z][a-z0-9_-]{0,31})",
                    detail: .invalidPair(Labels.echo(item)))
            }
            guard access(of: item) != nil else {
                let shown = Labels.echo(item)
                throw IssuerError(
                    .invalidInput, "unknown permission \(shown). Known: \(allPairs.joined(separator: ", "))",
                    detail: .unknownPermission(shown, known: allPairs))
            }
            out.insert(item)
        }
        guard !out.isEmpty else {
            throw IssuerError(.invalidInput, "a custom scope needs at least one resource.action", detail: .scopeSize(0))
        }
        guard out.count <= TokenClaims.maxScopeEntries else {
            throw IssuerError(
                .invalidInput, "a custom scope holds at most \(TokenClaims.maxScopeEntries) pairs, got \(out.count)",
                detail: .scopeSize(out.count))
        }
        return out.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
