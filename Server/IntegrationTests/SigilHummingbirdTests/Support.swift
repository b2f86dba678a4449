import Foundation
import Logging
import SigilIssuer
import SigilVerifier
import Synchronization

/// A fresh keyring per test (random keys, never written to disk), the service's keyset for
/// audience `devices`, and helpers that mint tokens and sign lists the way the issuer does.
struct Fixture {
    static let audience = "devices"
    let ring: Keyring
    /// Another issuer's keyring: what it signs must be refused.
    let stranger: Keyring
    let keyset: Keyset

    init() throws {
        let now = Int64(Date().timeIntervalSince1970)
        ring = Keyring.generate(now: now)
        stranger = Keyring.generate(now: now)
        keyset = try ring.keyset(audience: Self.audience)
    }

    func token(
        id: TokenID = TokenMinter.newTokenID(), scope: Scope = .all, audience: String = Fixture.audience,
        validFrom: Int64? = nil, validTo: Int64? = nil
    ) throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        let claims = try TokenClaims(
            keyID: ring.tokenKeys[0].keyID, audience: audience, id: id, validFrom: validFrom ?? now - 60,
            validTo: validTo ?? now + 3_600, scope: scope)
        return try TokenMinter.mint(claims, masterSecret: ring.tokenKeys[0].secret)
    }

    /// A signed list; `byStranger` signs it with the other issuer's key under our key ID.
    func list(_ entries: [(TokenID, RevocationStatus)], sequence: UInt64, byStranger: Bool = false) throws -> [UInt8] {
        let signer = ring.revocationKeys[0]
        let seed = byStranger ? stranger.revocationKeys[0].seed : signer.seed
        return try RevocationListBuilder.build(
            entries: entries, sequence: sequence, issuedAt: Int64(Date().timeIntervalSince1970), nextUpdate: nil,
            keyID: signer.keyID, seed: seed)
    }
}

/// A swift-log handler that keeps every record, so tests can read what was logged.
final class LogCapture: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
        var text: String { message + " " + metadata.map { "\($0)=\($1)" }.sorted().joined(separator: " ") }
    }
    private let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func logger(_ label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(capture: self) }
        logger.logLevel = .debug
        return logger
    }

    func append(_ record: Record) { records.withLock { $0.append(record) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all: [String: String] = [:]
            for (key, value) in metadata { all[key] = "\(value)" }
            for (key, value) in event.metadata ?? [:] { all[key] = "\(value)" }
            capture.append(Record(level: event.level, message: "\(event.message)", metadata: all))
        }
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns how long it took.
func eventually(
    within timeout: Duration = .seconds(5), _ condition: () -> Bool
) async throws -> Duration? {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < timeout {
        if condition() { return clock.now - start }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition() ? clock.now - start : nil
}
