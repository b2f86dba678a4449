import Foundation
import SigilIssuer
import Testing

/// Which ledger store a use-case test runs on; ``TempHome`` reads it to pick its database.
enum StoreUnderTest: String, Sendable {
    case sqlite
    case postgres

    /// The store of the running test: SQLite unless ``BothStores`` is running the PostgreSQL pass.
    @TaskLocal static var current: StoreUnderTest = .sqlite

    /// `SIGIL_TEST_DATABASE_URL`: a PostgreSQL database the tests may fill with schemas
    /// (scripts/postgres-test.sh starts a throwaway cluster and sets it).
    static var postgresURL: String? {
        guard let url = ProcessInfo.processInfo.environment["SIGIL_TEST_DATABASE_URL"], !url.isEmpty else {
            return nil
        }
        return url
    }
}

extension Tag {
    /// Tests about SQLite's own file (copying `sigil.db` as a backup): not run on PostgreSQL.
    @Tag static var sqliteOnly: Self
}

/// Runs every test of a suite twice: on SQLite, then, when `SIGIL_TEST_DATABASE_URL` is set,
/// again from a fresh suite value on PostgreSQL, each test in a schema of its own.
///
/// The suite's `init` makes its ``TempHome`` inside each pass, so the issuer factory follows
/// ``StoreUnderTest/current``. An error thrown in the PostgreSQL pass says so; `#expect`
/// failures print which pass was running on stderr. Without the variable the PostgreSQL pass is
/// skipped, and the test "The use-case suites also run on PostgreSQL" says why.
struct BothStores: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? { testCase == nil ? nil : self }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await StoreUnderTest.$current.withValue(.sqlite) { try await function() }
        guard StoreUnderTest.postgresURL != nil, !test.tags.contains(.sqliteOnly) else { return }
        do {
            try await StoreUnderTest.$current.withValue(.postgres) { try await function() }
        } catch {
            throw PostgresPassFailure(underlying: "\(error)")
        }
    }
}

/// An error from a test's PostgreSQL pass, named as such.
struct PostgresPassFailure: Error, CustomStringConvertible {
    let underlying: String
    var description: String { "[PostgreSQL pass] \(underlying)" }
}

extension Trait where Self == BothStores {
    /// Runs the suite's tests on SQLite and, when `SIGIL_TEST_DATABASE_URL` is set, on PostgreSQL.
    static var bothStores: Self { BothStores() }
}

@Suite("PostgreSQL test database")
struct PostgresAvailability {
    @Test(
        "The use-case suites also run on PostgreSQL",
        .enabled(
            if: StoreUnderTest.postgresURL != nil,
            "SIGIL_TEST_DATABASE_URL is unset: the use-case suites ran on SQLite only. Run scripts/postgres-test.sh for the PostgreSQL pass."
        ))
    func reachable() throws {
        let url = try #require(StoreUnderTest.postgresURL)
        let schema = try PostgresSchema(url: url)
        let issuer = try Issuer(
            home: NSTemporaryDirectory() + "sigil-pg-\(UUID().uuidString)", database: schema.url, mode: .createIfMissing
        )
        defer { try? FileManager.default.removeItem(atPath: issuer.home) }
        #expect(issuer.databasePath.hasPrefix("postgres"))
        #expect(try issuer.isEmpty())
    }
}

/// A schema of its own in the test database, so tests do not see each other's rows; dropped at deinit.
final class PostgresSchema {
    let name: String
    /// The test database's URL with `search_path` set to this schema.
    let url: String
    private let admin: PostgresConnection

    init(url base: String) throws {
        name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        admin = try PostgresConnection(url: base)
        try admin.executeScript("SET client_min_messages = warning; CREATE SCHEMA \(name)")
        url = base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(name)"
    }

    deinit {
        try? admin.executeScript("DROP SCHEMA \(name) CASCADE")
        admin.close()
    }
}
