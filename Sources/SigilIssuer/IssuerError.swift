public import SigilVerifier

/// Why an issuer operation failed: a stable ``reason`` (front ends map it to an exit code or
/// an HTTP status), a ``detail`` with the data a front end needs to explain it, and a plain
/// ``message``.
///
/// The message names no command, flag or environment variable: front ends add their own
/// fix-its from ``detail``. It never holds a secret or a token.
///
/// ```swift
/// do {
///     _ = try issuer.issue(request, by: actor)
/// } catch let error as IssuerError {
///     if case .unknownPermission(let pair, let known) = error.detail { print(pair, known) }
/// }
/// ```
public struct IssuerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broad kind of failure. Its raw value is also a ``Code``: the exit code and HTTP
    /// status of each are ``ErrorContract``'s, stated there only.
    public enum Reason: String, Sendable, CaseIterable {
        /// Bad arguments or input the caller can fix.
        case invalidInput = "invalid_input"
        /// Data on disk or on stdin is not in the expected format.
        case badData = "bad_data"
        /// A GUID, key, file or resource does not exist.
        case notFound = "not_found"
        /// A file could not be written.
        case cannotWrite = "cannot_write"
        /// Another process holds the database's write lock past the timeout.
        case lockBusy = "lock_busy"
        /// A file's permissions or owner are unsafe, or access was denied.
        case permissions
        /// The operation is not allowed in the current state.
        case conflict
        /// The caller's rights do not cover the request.
        case forbidden
        /// The ledger database cannot be reached: a bad URL, a server that is down, refused
        /// credentials (sigil-server refuses to start).
        case unavailable
    }

    /// What exactly went wrong, with the data to explain it. Cases may be added.
    public enum Detail: Sendable, Hashable {
        case none
        /// A custom scope names a pair the catalog does not know.
        case unknownPermission(String, known: [String])
        /// `resource.*` names a resource the catalog does not know.
        case unknownResource(String, known: [String])
        /// Not `resource.action`.
        case invalidPair(String)
        /// A custom scope with no pair, or more than the format allows.
        case scopeSize(Int)
        /// A field that is sealed into the token at issue.
        case sealedField(String)
        /// The token's state forbids the change (activating a revoked token).
        case forbiddenChange(TokenID, name: String, status: TokenStatus, action: LifecycleAction)
        /// No live token has this GUID or GUID prefix.
        case tokenNotFound(String)
        /// A GUID prefix matches several tokens.
        case ambiguousPrefix(String, matches: [TokenID])
        /// A selector is neither a GUID nor a prefix of at least 8 hex digits (the text is not kept:
        /// people paste tokens there by mistake).
        case notASelector(length: Int)
        /// A filter value is empty or blank.
        case emptyFilter(String)
        /// A label (name, description, creator, actor) is refused.
        case invalidLabel(field: String, problem: String)
        /// The audience does not match the format's charset or length.
        case invalidAudience(length: Int)
        /// The expiry has already passed.
        case windowInPast(validTo: Int64)
        /// The expiry is not after valid-from.
        case windowReversed(validFrom: Int64, validTo: Int64)
        /// The window is longer than the audience's lifetime policy allows, or never expires
        /// where the policy does not allow that.
        case outsidePolicy(LifetimePolicy, validFrom: Int64, validTo: Int64?)
        /// The home folder does not exist.
        case noHome(String)
        /// The home path exists but is not a folder.
        case homeNotAFolder(String)
        /// A keyring already exists (its issuing key ID).
        case keyringExists(path: String, keyID: String)
        /// The home's keyring is missing while the ledger holds tokens: a new one could verify
        /// none of them, so none was made.
        case keyringMissing(home: String)
        /// The database's write lock stayed taken for this many seconds.
        case databaseBusy(path: String, seconds: Double)
        /// The database file is damaged or not a database.
        case databaseCorrupt(path: String)
        /// The database (or its folder or file system) cannot be written.
        case readOnly(path: String)
        /// The PostgreSQL database cannot be reached (its URL, without the password).
        case databaseUnavailable(location: String)
        /// The database was made by a newer Sigil.
        case databaseTooNew(path: String, found: Int, supported: Int)
        /// No token key with this ID.
        case keyNotFound(String)
        /// The key is retired; it cannot issue again.
        case keyRetired(String)
        /// The key is the issuing key and cannot be retired.
        case keyIsActive(String)
        /// The caller may not grant or touch this (what was too wide).
        case insufficientScope(String)
        /// A token given by value does not verify with this issuer's keys (why not).
        case tokenNotVerified(VerificationError.Reason)
        /// The revocation-list sequence reached its largest value (the last one signed): no
        /// further list can be signed, and services refuse lower ones (`conflict`).
        case sequenceExhausted(last: UInt64)
        /// A read ran past the store's ``LedgerStore/queryTimeLimit`` and was stopped.
        case queryTimedOut(seconds: Double)
        /// No member has this ID (or email).
        case memberNotFound(String)
        /// A member with this email (lower-cased) already exists.
        case memberExists(email: String)
        /// A single sign-on was refused, and why.
        case signInRefused(SignInRefusal)
    }

    public let reason: Reason
    public let detail: Detail
    public let message: String

    public init(_ reason: Reason, _ message: String, detail: Detail = .none) {
        self.reason = reason
        self.message = message
        self.detail = detail
    }

    public var description: String { message }

    /// `conflict`: the list sequence cannot go above `last`, so nothing was signed.
    static func sequenceExhausted(_ last: UInt64) -> IssuerError {
        IssuerError(
            .conflict,
            "the revocation-list sequence is exhausted: \(last) is the largest a list can carry and services refuse lower ones, so no further list can be signed and later changes are not published; start a new list series with a new revocation-list key (docs/DATABASE.md, \"Sequence exhaustion\")",
            detail: .sequenceExhausted(last: last))
    }

    /// `unavailable`: a read ran longer than `seconds` and was stopped.
    static func queryTimedOut(_ seconds: Double) -> IssuerError {
        IssuerError(
            .unavailable,
            "the query ran longer than \(seconds) s and was stopped; narrow the filters (name, audience, status, guid) or ask for a smaller page",
            detail: .queryTimedOut(seconds: seconds))
    }
}
