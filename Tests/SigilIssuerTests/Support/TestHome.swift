import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fixed clock every test runs at (2027-01-15): nothing reads the system time.
let t0: Int64 = 1_800_000_000
let day: Int64 = 86_400

/// A fresh temporary folder per test, removed when the test's suite value goes away.
///
/// `home` is a not-yet-existing folder inside it, so tests can open it in any mode.
final class TempHome {
    /// The temporary folder, removed with this value.
    let folder: TempFolder
    let root: String
    var home: String { root + "/home" }
    var database: String { home + "/sigil.db" }
    /// The store this home's issuers use (``StoreUnderTest/current`` when it was made).
    let store: StoreUnderTest
    /// On PostgreSQL: the fresh schema every issuer of this home shares.
    private let schema: PostgresSchema?

    init() throws {
        folder = try TempFolder("issuer-tests")
        root = folder.root
        store = StoreUnderTest.current
        if store == .postgres, let url = StoreUnderTest.postgresURL {
            schema = try PostgresSchema(url: url)
        } else {
            schema = nil
        }
    }

    /// What `Issuer(home:database:)` gets: nil (the home's SQLite file) or the schema's URL.
    var databaseURL: String? { schema?.url }

    func path(_ name: String) -> String { home + "/" + name }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// Creates `home` as an empty 0700 folder.
    func makeFolder(mode: Int = 0o700) throws {
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: false, attributes: [.posixPermissions: mode])
    }

    /// An issuer on this home, created with the development keyring and example catalog if missing.
    func issuer(_ mode: Issuer.OpenMode = .createIfMissing, busyTimeout: Double = 5) throws -> Issuer {
        try Issuer(home: home, database: databaseURL, mode: mode, busyTimeout: busyTimeout)
    }
}

func permissions(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// The CLI's command words: a library message naming `sigil <command>` gives CLI advice.
private let commandWords = [
    "init", "issue", "list", "show", "edit", "deactivate", "activate", "revoke", "delete", "revocations", "keys",
    "catalog", "ledger", "log", "verify", "inspect", "--",
]

/// Checks what every library message must respect: no token or other secret text, no CLI
/// command and no `--flag` (front ends add their own fix-its).
func expectCleanMessage(
    _ error: IssuerError, hiding secrets: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
) {
    let message = error.message
    for secret in secrets where !secret.isEmpty {
        #expect(!message.contains(secret), "the message repeats a secret: \(message)", sourceLocation: sourceLocation)
    }
    #expect(!message.contains("--"), "a library message names a flag: \(message)", sourceLocation: sourceLocation)
    for word in commandWords {
        #expect(
            !message.contains("sigil \(word)"), "a library message names a command: \(message)",
            sourceLocation: sourceLocation)
    }
    #expect(!message.isEmpty, sourceLocation: sourceLocation)
    #expect(error.description == message, sourceLocation: sourceLocation)
}

/// Expects `body` to throw an ``IssuerError`` with `reason` and a clean message; returns it
/// so the caller can match its detail.
@discardableResult
func expectIssuerError<R>(
    _ reason: IssuerError.Reason, hiding secrets: [String] = [], sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> IssuerError? {
    let error = #expect(throws: IssuerError.self, sourceLocation: sourceLocation) { _ = try body() }
    guard let error else { return nil }
    #expect(error.reason == reason, "got \(error.reason): \(error.message)", sourceLocation: sourceLocation)
    expectCleanMessage(error, hiding: secrets, sourceLocation: sourceLocation)
    return error
}

/// Whether the error's detail is `invalidLabel` for `field`.
func isInvalidLabel(_ error: IssuerError?, field: String) -> Bool {
    guard case .invalidLabel(let f, let problem) = error?.detail else { return false }
    return f == field && !problem.isEmpty
}

func guid(_ text: String) throws -> TokenID {
    try #require(TokenID(uuidString: text), "bad GUID literal \(text)")
}

/// A ledger row for `insertForTesting`, with the fields a test cares about.
func makeRecord(
    id: TokenID = TokenMinter.newTokenID(), name: String = "fixture", description: String = "",
    audience: String = "billing", scope: Scope = .all, validFrom: Int64 = t0 - 1_000, validTo: Int64? = t0 + 365 * day,
    keyID: String = "k1", status: TokenStatus = .active, createdAt: Int64 = t0 - 1_000, revokedAt: Int64? = nil,
    createdBy: String = "fixture", deletedAt: Int64? = nil, parent: TokenID? = nil
) -> TokenRecord {
    TokenRecord(
        id: id, name: name, description: description, audience: audience, scope: scope, validFrom: validFrom,
        validTo: validTo, keyID: keyID, status: status, createdAt: createdAt, updatedAt: createdAt,
        revokedAt: revokedAt ?? (status == .revoked ? createdAt : nil), createdBy: createdBy, deletedAt: deletedAt,
        parent: parent)
}

/// A request for a token that passes every rule.
func request(
    _ name: String = "CI deploy", audience: String = "billing", scope: ScopeRequest = .all, validFrom: Int64? = nil,
    expiry: Expiry = .default, createdBy: String? = nil, description: String = ""
) -> IssueRequest {
    IssueRequest(
        name: name, description: description, audience: audience, scope: scope, validFrom: validFrom, expiry: expiry,
        createdBy: createdBy)
}

extension Issuer {
    /// Events of one action, newest first.
    func events(_ action: AuditAction) throws -> [AuditEvent] { try events(AuditQuery(action: action)) }

    /// The stored row, deleted or not.
    func stored(_ id: TokenID) throws -> TokenRecord? { try store.token(id) }
}
