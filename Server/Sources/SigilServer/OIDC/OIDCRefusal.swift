public import Hummingbird
public import SigilIssuer

/// Why a single sign-on was refused: the issuer's ``SignInRefusal`` (recorded in the audit as
/// `sign-in-refused`, its words shown on the refusal page) with the HTTP status of that page.
///
/// Never a 500: a refusal is the person's or the provider's problem, and the page says which.
/// Two answers are not refusals of the person and are not audited: a server that holds its
/// maximum of sessions (`sessions_full`) and a server without single sign-on (`not_configured`).
public struct OIDCRefusal: Error, Sendable, Equatable {
    /// The stable reason code (audit detail, log, page).
    public let reason: String
    /// What the person reads: what happened and what to do.
    public let message: String
    public let status: HTTPResponse.Status
    /// The reason the issuer records; nil for the two answers that are not refusals.
    public let audited: SignInRefusal?

    init(_ refusal: SignInRefusal, _ status: HTTPResponse.Status) {
        reason = refusal.rawValue
        message = refusal.message
        self.status = status
        audited = refusal
    }

    init(unaudited reason: String, _ status: HTTPResponse.Status, _ message: String) {
        self.reason = reason
        self.message = message
        self.status = status
        audited = nil
    }

    /// The page for a refusal the issuer decided (not a member, suspended).
    init(_ refusal: SignInRefusal) {
        let known = Self.all.first { $0.audited == refusal }
        self.init(refusal, known?.status ?? .forbidden)
    }

    public static let stateMismatch = Self(.stateMismatch, .badRequest)
    public static let providerError = Self(.providerError, .forbidden)
    public static let codeRejected = Self(.codeRejected, .badRequest)
    public static let nonceMismatch = Self(.nonceMismatch, .unauthorized)
    public static let expired = Self(.expired, .unauthorized)
    public static let issuedInFuture = Self(.issuedInFuture, .unauthorized)
    public static let wrongAudience = Self(.wrongAudience, .unauthorized)
    public static let wrongIssuer = Self(.wrongIssuer, .unauthorized)
    public static let unknownKey = Self(.unknownKey, .unauthorized)
    public static let badSignature = Self(.badSignature, .unauthorized)
    public static let badToken = Self(.badToken, .unauthorized)
    public static let emailMissing = Self(.emailMissing, .forbidden)
    public static let emailUnverified = Self(.emailUnverified, .forbidden)
    public static let domainNotAllowed = Self(.domainNotAllowed, .forbidden)
    public static let notAMember = Self(.notAMember, .forbidden)
    public static let memberSuspended = Self(.memberSuspended, .forbidden)
    public static let memberRemoved = Self(.memberRemoved, .forbidden)
    /// The provider cannot be reached or answered 5xx (503: try later).
    public static let providerUnavailable = Self(.providerUnavailable, .serviceUnavailable)
    /// The provider answered what cannot be used (502: the provider's or the configuration's fault).
    public static let providerBadAnswer = Self(.providerUnavailable, .badGateway)
    /// The token endpoint refused the client's own credentials (`invalid_client`): the
    /// configuration's fault, logged for the operator (502).
    public static let clientRejected = Self(.providerError, .badGateway)
    /// The server could not finish (the ledger locked or unwritable): not a refusal of the person.
    public static let tryAgain = Self(
        unaudited: "try_again", .serviceUnavailable,
        "The server could not finish signing you in just now. Try again in a minute.")
    public static let sessionsFull = Self(
        unaudited: "sessions_full", .serviceUnavailable,
        "The server holds its maximum of console sessions. Try again in a few minutes.")
    /// Too many refused sign-ins from this address: the failed-authentication limit (429), so a
    /// flood of forged callbacks costs neither the provider nor the audit log anything.
    public static let tooManyRefusals = Self(
        unaudited: "too_many_requests", .tooManyRequests,
        "Too many refused sign-ins from this address. Wait a minute, then start again.")
    public static let notConfigured = Self(
        unaudited: "not_configured", .notFound, "Single sign-on is not configured on this server.")

    /// Whether the client controls this failure, so it is charged to the address's
    /// failed-authentication budget; provider-side failures (502, 503) are not.
    public var isChargedToClient: Bool {
        audited != nil && status != .badGateway && status != .serviceUnavailable
    }

    package static let all: [Self] = [
        stateMismatch, providerError, codeRejected, nonceMismatch, expired, issuedInFuture, wrongAudience, wrongIssuer,
        unknownKey, badSignature, badToken, emailMissing, emailUnverified, domainNotAllowed, notAMember,
        memberSuspended, memberRemoved, providerUnavailable,
    ]
}
