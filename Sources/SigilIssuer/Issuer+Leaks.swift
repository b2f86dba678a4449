import Foundation
public import SigilVerifier

/// What this issuer can tell about a token found by value (in a log, a repository, a leak
/// report): whether its tag verifies with one of its keys, and if so the ledger's record.
public struct TokenIdentity: Sendable {
    /// The token's claims, trustworthy only when ``verified`` is true.
    public let claims: TokenClaims
    /// Nil when the tag verifies with this issuer's key; else why it does not (`unknown_key`
    /// for another issuer's key or a retired one, whose secret is gone; `bad_signature` for
    /// a forgery).
    public let failure: VerificationError.Reason?
    /// The ledger's record, for a verified token the ledger knows (deleted ones included).
    public let record: TokenRecord?

    public var verified: Bool { failure == nil }
}

extension Issuer {
    /// Checks a token's tag against this issuer's keys and finds its record. A retired key's
    /// secret is destroyed, so its tokens are `unknown_key` here as at every service.
    ///
    /// ```swift
    /// let identity = try issuer.identify(text)
    /// if identity.verified, let record = identity.record { print(record.name, record.status) }
    /// ```
    ///
    /// - Parameters:
    ///   - text: The token.
    ///   - given: The keyring, when the caller checks many tokens (a scan) and read it once.
    ///   - lookUp: Whether to read the token's record; revoking needs only the GUID.
    /// - Returns: The claims, why the tag does not verify (nil if it does) and the record.
    /// - Throws: ``IssuerError`` `bad_data` (detail `tokenNotVerified(.malformed)`) for text
    ///   that is not a token; errors reading the keyring or the database.
    public func identify(_ text: String, keyring given: Keyring? = nil, lookUp: Bool = true) throws(IssuerError)
        -> TokenIdentity
    {
        let claims: TokenClaims
        do {
            claims = try TokenClaims.decodeUnverified(text)
        } catch {
            throw IssuerError(
                .badData, "not a Sigil token: \(error.description)", detail: .tokenNotVerified(error.reason))
        }
        let ring: Keyring
        if let given { ring = given } else { ring = try keyring() }
        guard let master = ring.tokenKey(claims.keyID), master.state != .retired else {
            return TokenIdentity(claims: claims, failure: .unknownKey, record: nil)
        }
        let key = try TokenMinter.audienceKey(masterSecret: master.secret, audience: claims.audience)
        do {
            let verifier = try Verifier(
                audience: claims.audience, keys: [TokenKey(keyID: claims.keyID, key: key)], leeway: 0)
            // At valid-from the window always holds, so only the tag can fail.
            _ = try verifier.verify(text, at: claims.validFrom)
        } catch let error as VerificationError {
            return TokenIdentity(claims: claims, failure: error.reason, record: nil)
        } catch {
            return TokenIdentity(claims: claims, failure: .badSignature, record: nil)
        }
        let record = lookUp ? try? token(claims.id.description) : nil
        return TokenIdentity(claims: claims, failure: nil, record: record)
    }

    /// Revokes the token given by value, after its tag verifies with this issuer's keys: a
    /// leaked token is revoked without anyone looking up its GUID, and nobody revokes other
    /// people's tokens by guessing GUIDs.
    ///
    /// ```swift
    /// let result = try issuer.revoke(token: leaked, by: Actor(name: "alice"))
    /// ```
    ///
    /// - Throws: ``IssuerError`` `bad_data` with detail `tokenNotVerified(reason)` when the
    ///   token is malformed, from another issuer or forged (nothing changes);
    ///   `not_found` when it verifies but the ledger has no live record of it.
    public func revoke(
        token text: String, by actor: Actor, details: [(String, String)] = [], now: Int64 = Issuer.currentTime()
    ) throws(IssuerError) -> ChangeResult {
        try change(.revoke, [try verifiedID(text)], by: actor, details: details, now: now)
    }

    /// ``revoke(token:by:details:now:)`` for an API caller, who needs `tokens.revoke` and reach
    /// over the token's audience like any revoke.
    public func revoke(token text: String, as caller: Caller, now: Int64 = Issuer.currentTime()) throws(IssuerError)
        -> ChangeResult
    {
        try change(.revoke, [try verifiedID(text)], as: caller, now: now)
    }

    /// One token a secret scanner found, with where it was found (GitLab's Token Revocation
    /// API sends `location`, a URL of the file).
    public struct LeakReport: Sendable {
        public let token: String
        public let location: String

        public init(token: String, location: String) {
            self.token = token
            self.location = location
        }
    }

    /// The longest `location` kept in the audit log; a report's text is not trusted.
    public static let maxLeakLocationBytes = 1_000

    /// Revokes every reported token whose tag verifies, as actor `leak-report` with the
    /// location in the audit event; forged, foreign, unknown and already-deleted tokens are
    /// skipped without a trace, so the caller learns nothing about which tokens exist.
    ///
    /// ```swift
    /// let revoked = try issuer.revokeLeaked([Issuer.LeakReport(token: t, location: "https://git.example/x")])
    /// ```
    ///
    /// - Returns: How many tokens this call revoked (for the server's log, not the reporter).
    public func revokeLeaked(_ reports: [LeakReport], now: Int64 = Issuer.currentTime()) throws(IssuerError) -> Int {
        let actor = try Actor(name: "leak-report")
        var revoked = 0
        for report in reports {
            guard let id = try? verifiedID(report.token) else { continue }
            let location = Self.leakLocation(report.location)
            do {
                let result = try change(
                    .revoke, [id], by: actor, details: [("location", location), ("source", "leak_report")], now: now)
                revoked += result.changed.count
            } catch  where error.reason == .notFound {
                continue  // deleted, or never in this ledger
            }
        }
        return revoked
    }

    /// A reported `location` as the audit log keeps it: every control, format or separator
    /// character (general categories Cc, Cf, Zl, Zp: bidi overrides such as U+202E, zero-width
    /// spaces and joiners, U+FEFF, line breaks) written as `\u{202E}`, so nothing in the text
    /// can reorder or hide what a reader of the audit log sees, then cut to
    /// ``maxLeakLocationBytes`` on a character boundary.
    ///
    /// ```swift
    /// Issuer.leakLocation("https://git.example/\u{202E}txt.exe")  // "https://git.example/\\u{202E}txt.exe"
    /// ```
    public static func leakLocation(_ text: String) -> String {
        var out = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let piece: String
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse:
                piece = "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default:
                piece = String(scalar)
            }
            bytes += piece.utf8.count
            guard bytes <= maxLeakLocationBytes else { break }
            out += piece
        }
        return out
    }

    private func verifiedID(_ text: String) throws(IssuerError) -> TokenID {
        let identity = try identify(text, lookUp: false)
        if let failure = identity.failure {
            throw IssuerError(
                .badData, "the token does not verify with this issuer's keys (\(failure.rawValue)); nothing revoked",
                detail: .tokenNotVerified(failure))
        }
        return identity.claims.id
    }

    /// Live (active) tokens whose expiry falls within `seconds` from `now`, soonest first.
    ///
    /// ```swift
    /// for t in try issuer.expiring(within: 30 * 86_400) { print(t.name, t.validTo ?? 0) }
    /// ```
    public func expiring(within seconds: Int64, now: Int64 = Issuer.currentTime()) throws(IssuerError) -> [TokenRecord]
    {
        // A range of the expiry index: the webhook sender asks every second, on a ledger of millions.
        let (end, overflow) = now.addingReportingOverflow(max(0, seconds))
        return try transaction(write: false) {
            try store.activeTokens(
                expiringAfter: now, through: overflow ? .max : end, resumingAfter: nil, limit: nil
            ).map(\.token)
        }
    }
}
