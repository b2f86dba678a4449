import Foundation
import SigilIssuer
import SigilVerifier
import Testing

/// Five live tokens and one tombstone with chosen GUIDs, names, scopes and windows.
struct QueryFixture {
    static let deployCI = "3f2a9c1e-aaaa-4aaa-8aaa-000000000001"
    static let reporting = "3f2a9c1e-bbbb-4bbb-8bbb-000000000002"
    static let grafana = "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90"
    static let ciUsers = "abcdef01-1111-4111-8111-111111111111"
    static let arger = "abc12345-2222-4222-8222-222222222222"
    static let deleted = "3f2a9c1e-cccc-4ccc-8ccc-000000000003"

    /// Short names for the table columns.
    static let names = [
        deployCI: "deployCI", reporting: "reporting", grafana: "grafana", ciUsers: "ciUsers", arger: "arger",
    ]

    static func records() throws -> [TokenRecord] {
        [
            makeRecord(
                id: try guid(deployCI), name: "Deploy Billing CI", audience: "billing", scope: .all,
                validTo: t0 + 1_000, createdAt: t0 - 50),
            makeRecord(
                id: try guid(reporting), name: "billing reporting", audience: "billing", scope: .readOnly,
                validTo: nil, status: .inactive, createdAt: t0 - 40),
            makeRecord(
                id: try guid(grafana), name: "Grafana reader", audience: "metrics",
                scope: .custom(["devices.list", "invoices.pay"]), validTo: t0 + 500, createdAt: t0 - 30),
            makeRecord(
                id: try guid(ciUsers), name: "ci deploy users", audience: "users", scope: .custom(["users.invite"]),
                validTo: t0 + 2_000, status: .revoked, createdAt: t0 - 20),
            makeRecord(
                id: try guid(arger), name: "Ärger Name", audience: "metrics", scope: .custom(["devices.get"]),
                validTo: t0 + 100, createdAt: t0 - 10),
            makeRecord(
                id: try guid(deleted), name: "Deploy deleted", audience: "billing", scope: .all, status: .revoked,
                createdAt: t0 - 5, deletedAt: t0 - 1),
        ]
    }
}

@Suite("Listing, counting and resolving tokens", .bothStores)
struct QueryTests: IssuerSuite {
    let fixture: IssuerFixture

    init() throws { fixture = try IssuerFixture(seeding: try QueryFixture.records()) }

    /// The fixture names of what `query` lists, in order.
    func listed(_ query: TokenQuery) throws -> [String] {
        let names = try issuer.tokens(query).map { QueryFixture.names[$0.id.description] ?? "?\($0.name)" }
        var streamed: [String] = []
        try issuer.forEachToken(query) { streamed.append(QueryFixture.names[$0.id.description] ?? "?\($0.name)") }
        #expect(streamed == names)
        #expect(try issuer.count(query) == names.count)
        return names
    }

    func listed(_ filter: TokenFilter) throws -> [String] { try listed(TokenQuery(filter: filter)) }

    @Test(
        "The name filter needs every word, case-insensitively",
        arguments: [
            ("deploy", ["deployCI", "ciUsers"]),
            ("DEPLOY ci", ["deployCI", "ciUsers"]),
            ("  ci   deploy ", ["deployCI", "ciUsers"]),
            ("billing", ["deployCI", "reporting"]),
            ("deploy billing", ["deployCI"]),
            ("ärger", ["arger"]),
            ("ÄRGER", ["arger"]),
            ("eport", ["reporting"]),
            ("nomatch", []),
            ("%", []),
            ("'; DROP TABLE tokens; --", []),
        ])
    func nameFilter(name: String, expected: [String]) throws {
        #expect(try listed(TokenFilter(name: name)) == expected)
        #expect(try issuer.tokens().count == 5)
    }

    @Test(
        "The GUID filter takes a hex prefix of any length, with hyphens and either case",
        arguments: [
            ("3f2a9c1e", ["deployCI", "reporting"]),
            ("3F2A9C1E-AAAA", ["deployCI"]),
            ("3f2a9c1e-bb", ["reporting"]),
            ("3f2a9c1eb", ["reporting"]),
            ("abc", ["ciUsers", "arger"]),
            ("abcdef0", ["ciUsers"]),
            ("a", ["ciUsers", "arger"]),
            ("0", ["grafana"]),
            ("0b0e5c6a2f4d4c1e9a535d3f1e2b7c90", ["grafana"]),
            ("0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90", ["grafana"]),
            ("f", []),
            ("3f2a9c1ec", []),
        ])
    func guidFilter(prefix: String, expected: [String]) throws {
        #expect(try listed(TokenFilter(guidPrefix: prefix)) == expected)
    }

    @Test("The scope filter by kind", arguments: [("all", ["deployCI"]), ("read-only", ["reporting"])])
    func scopeKindFilter(scope: String, expected: [String]) throws {
        #expect(try listed(TokenFilter(scope: scope)) == expected)
        #expect(try listed(TokenFilter(scope: scope, audience: "billing")) == expected)
    }

    @Test(
        "The scope filter by pair: tokens that grant it (read-only grants reads, never writes)",
        arguments: [
            ("devices.list", ["deployCI", "reporting", "grafana"]),
            ("devices.get", ["deployCI", "reporting", "arger"]),
            ("invoices.pay", ["deployCI", "grafana"]),
            ("users.invite", ["deployCI", "ciUsers"]),
            ("devices.create", ["deployCI"]),
            ("reports.view", ["deployCI"]),
        ])
    func scopeFilter(scope: String, expected: [String]) throws {
        #expect(try listed(TokenFilter(scope: scope)) == expected)
        #expect(
            try listed(TokenQuery(filter: TokenFilter(scope: scope), audiences: ["metrics"]))
                == expected.filter {
                    ["grafana", "arger"].contains($0)
                })
    }

    @Test("Audience, status and combined filters")
    func otherFilters() throws {
        #expect(try listed(TokenFilter(audience: "billing")) == ["deployCI", "reporting"])
        #expect(try listed(TokenFilter(audience: "metrics")) == ["grafana", "arger"])
        #expect(try listed(TokenFilter(audience: "Billing")).isEmpty)
        #expect(try listed(TokenFilter(status: .active)) == ["deployCI", "grafana", "arger"])
        #expect(try listed(TokenFilter(status: .inactive)) == ["reporting"])
        #expect(try listed(TokenFilter(status: .revoked)) == ["ciUsers"])
        #expect(try listed(TokenFilter(name: "deploy", status: .revoked)) == ["ciUsers"])
        #expect(
            try listed(
                TokenFilter(
                    name: "billing", guidPrefix: "3f2a9c1eb", scope: "read-only",
                    audience: "billing", status: .inactive)) == ["reporting"])
        #expect(TokenFilter.everything.isEmpty)
        #expect(try !TokenFilter(status: .active).isEmpty)
    }

    @Test(
        "The audiences restriction limits every query to those audiences",
        arguments: [
            (["billing", "users"], nil, ["deployCI", "reporting", "ciUsers"]),
            (["metrics"], nil, ["grafana", "arger"]),
            ([], nil, []),
            (["nobody"], nil, []),
            (["billing"], "metrics", []),
            (["billing", "metrics"], "metrics", ["grafana", "arger"]),
        ] as [(Set<String>, String?, [String])])
    func audiences(reach: Set<String>, audience: String?, expected: [String]) throws {
        #expect(try listed(TokenQuery(filter: TokenFilter(audience: audience), audiences: reach)) == expected)
    }

    @Test(
        "Sorts: issue order, name, status, expiry with never-expiring last",
        arguments: [
            (TokenSort.created, ["deployCI", "reporting", "grafana", "ciUsers", "arger"]),
            (.name, ["reporting", "ciUsers", "deployCI", "grafana", "arger"]),
            (.status, ["deployCI", "grafana", "arger", "reporting", "ciUsers"]),
            (.expires, ["arger", "grafana", "deployCI", "ciUsers", "reporting"]),
        ])
    func sorts(sort: TokenSort, expected: [String]) throws {
        #expect(try listed(TokenQuery(sort: sort)) == expected)
    }

    @Test("Deleted tokens are in no listing, count or filter")
    func deletedExcluded() throws {
        #expect(try issuer.count(TokenQuery()) == 5)
        #expect(try listed(TokenFilter(name: "deleted")).isEmpty)
        #expect(try listed(TokenFilter(guidPrefix: "3f2a9c1ec")).isEmpty)
        #expect(try !issuer.isEmpty())
        #expect(try issuer.stored(try guid(QueryFixture.deleted))?.isDeleted == true)
    }

    @Test(
        "Blank filter values are refused: they would match every token",
        arguments: [
            ("name", ""), ("name", "   "), ("guid", ""), ("guid", " \t"), ("scope", ""), ("scope", "  "),
            ("audience", ""), ("audience", " "),
        ])
    func blankFilter(field: String, value: String) throws {
        let error = expectIssuerError(.invalidInput) {
            switch field {
            case "name": try TokenFilter(name: value)
            case "guid": try TokenFilter(guidPrefix: value)
            case "scope": try TokenFilter(scope: value)
            default: try TokenFilter(audience: value)
            }
        }
        #expect(error?.detail == .emptyFilter(field))
    }

    @Test(
        "A GUID filter that is not a hex prefix is refused",
        arguments: ["xyz", "3f2a-zz", "-", "--", "0x12", "３f", String(repeating: "a", count: 33), "sgl_AAAA"])
    func badGuidFilter(prefix: String) throws {
        let error = expectIssuerError(.invalidInput) { try TokenFilter(guidPrefix: prefix) }
        #expect(isInvalidLabel(error, field: "guid"))
    }

    @Test(
        "A scope filter that is not a kind or a pair is refused", arguments: ["devices", "Devices.list", "everything"])
    func badScopeFilter(scope: String) throws {
        let error = expectIssuerError(.invalidInput) { try TokenFilter(scope: scope) }
        #expect(error?.detail == .invalidPair(scope))
    }

    @Test(
        "Paging with limit and offset visits every row exactly once, in order", arguments: [1, 2, 3, 5, 7, 30, 31, 100])
    func paging(limit: Int) throws {
        try issuer.insertForTesting((0..<25).map { makeRecord(name: "bulk \($0)", createdAt: t0 + Int64($0)) })
        for sort in TokenSort.allCases {
            let all = try issuer.tokens(TokenQuery(sort: sort)).map(\.id)
            #expect(all.count == 30)
            var seen: [TokenID] = []
            var offset = 0
            while true {
                let page = try issuer.tokens(TokenQuery(sort: sort, limit: limit, offset: offset))
                #expect(page.count <= limit)
                #expect(try issuer.count(TokenQuery(sort: sort, limit: limit, offset: offset)) == 30)
                if page.isEmpty { break }
                seen += page.map(\.id)
                offset += limit
            }
            #expect(seen == all, "sort \(sort)")
            #expect(Set(seen).count == 30)
        }
        let filtered = TokenQuery(filter: try TokenFilter(name: "bulk"), limit: limit, offset: 20)
        #expect(try issuer.tokens(filtered).count == max(0, min(limit, 5)))
        #expect(try issuer.count(filtered) == 25)
    }

    // MARK: Resolving selectors

    @Test(
        "A whole GUID, with or without hyphens, in either case, or a unique prefix of 8+ hex digits",
        arguments: [
            (QueryFixture.grafana, QueryFixture.grafana),
            ("0b0e5c6a2f4d4c1e9a535d3f1e2b7c90", QueryFixture.grafana),
            ("0B0E5C6A-2F4D-4C1E-9A53-5D3F1E2B7C90", QueryFixture.grafana),
            ("0b0e5c6a", QueryFixture.grafana),
            ("0b0e5c6a-2f", QueryFixture.grafana),
            ("abcdef01", QueryFixture.ciUsers),
            ("ABC12345", QueryFixture.arger),
            ("3f2a9c1e-a", QueryFixture.deployCI),
            ("3f2a9c1eb", QueryFixture.reporting),
        ])
    func resolves(selector: String, expected: String) throws {
        #expect(try issuer.token(selector).id == (try guid(expected)))
        #expect(try issuer.resolve([selector]).map(\.id) == [try guid(expected)])
    }

    @Test("resolve keeps the order given and drops repeats")
    func resolveMany() throws {
        let ids = try issuer.resolve([QueryFixture.grafana, "abcdef01", "0b0e5c6a2f4d4c1e9a535d3f1e2b7c90", "abc12345"])
        #expect(
            ids.map(\.id) == [
                try guid(QueryFixture.grafana), try guid(QueryFixture.ciUsers), try guid(QueryFixture.arger),
            ])
    }

    @Test(
        "Text that is not a GUID or an 8-digit hex prefix is refused without echoing it",
        arguments: [
            "3f2a9c1", "", "zzzzzzzz", "0b0e5c6g", "3f2a9c1e-aaaa-4aaa-8aaa-00000000000g",
            "3f2a9c1eaaaa4aaa8aaa0000000000011", "ghp_secretsecret", "３f2a9c1e",
        ])
    func notASelector(selector: String) throws {
        let error = expectIssuerError(.invalidInput, hiding: selector.count > 3 ? [selector] : []) {
            try issuer.token(selector)
        }
        #expect(error?.detail == .notASelector(length: selector.count))
        let many = expectIssuerError(.invalidInput) { try issuer.resolve([QueryFixture.grafana, selector]) }
        #expect(many?.detail == .notASelector(length: selector.count))
    }

    @Test("A token pasted as a selector is refused and never repeated")
    func pastedToken() throws {
        let issued = try issuer.issue(request(), by: try Actor(name: "alice"), now: t0)
        let error = expectIssuerError(.invalidInput, hiding: [issued.token, String(issued.token.dropFirst(4))]) {
            try issuer.token(issued.token)
        }
        #expect(error?.detail == .notASelector(length: issued.token.count))
    }

    @Test("A prefix several live tokens share is ambiguous and lists them")
    func ambiguous() throws {
        let error = expectIssuerError(.invalidInput) { try issuer.token("3f2a9c1e") }
        #expect(
            error?.detail
                == .ambiguousPrefix(
                    "3f2a9c1e", matches: [try guid(QueryFixture.deployCI), try guid(QueryFixture.reporting)]))
        let hyphenated = expectIssuerError(.invalidInput) { try issuer.resolve(["3F2A-9C1E"]) }
        #expect(
            hyphenated?.detail
                == .ambiguousPrefix(
                    "3f2a9c1e", matches: [try guid(QueryFixture.deployCI), try guid(QueryFixture.reporting)]))
    }

    @Test("An ambiguous prefix lists at most five matches")
    func ambiguousMany() throws {
        let ids = try (0..<7).map { try guid("deadbeef-0000-4000-8000-00000000000\($0)") }
        try issuer.insertForTesting(ids.map { makeRecord(id: $0) })
        let error = expectIssuerError(.invalidInput) { try issuer.token("deadbeef") }
        #expect(error?.detail == .ambiguousPrefix("deadbeef", matches: Array(ids.prefix(5))))
    }

    @Test(
        "Unknown and deleted tokens are not found",
        arguments: [
            ("deadbeef", "deadbeef"),
            ("deadbeef-0000-4000-8000-000000000000", "deadbeef-0000-4000-8000-000000000000"),
            (QueryFixture.deleted, QueryFixture.deleted),
            ("3f2a9c1e-cc", "3f2a9c1ecc"),
            ("3F2A9C1ECCCC4CCC8CCC000000000003", QueryFixture.deleted),
        ])
    func notFound(selector: String, reported: String) throws {
        let error = expectIssuerError(.notFound) { try issuer.token(selector) }
        #expect(error?.detail == .tokenNotFound(reported))
    }
}
