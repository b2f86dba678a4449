public import Hummingbird

/// Why a single sign-on was refused: the reason recorded in the audit (`sign-in-refused`) and
/// shown on the refusal page, with the HTTP status of that page.
///
/// Never a 500: a refusal is the person's or the provider's problem, and the page says which.
public struct OIDCRefusal: Error, Sendable, Equatable {
    /// The stable reason code (audit detail, log, page).
    public let reason: String
    /// What the person reads: what happened and what to do.
    public let message: String
    public let status: HTTPResponse.Status

    init(_ reason: String, _ status: HTTPResponse.Status, _ message: String) {
        self.reason = reason
        self.status = status
        self.message = message
    }

    /// The started sign-in is unknown, expired or not this browser's (`state`, flow cookie).
    public static let badState = Self(
        "state_mismatch", .badRequest,
        "This sign-in was not started here, took longer than 10 minutes, or was already used. Start again.")
    /// The provider answered the callback with an error (the person cancelled, consent refused).
    public static let providerError = Self(
        "provider_error", .forbidden, "The identity provider did not sign you in. Start again, or ask an administrator."
    )
    /// The token endpoint refused the code: replayed, expired, or not issued to this client.
    public static let codeRefused = Self(
        "code_rejected", .badRequest,
        "The identity provider refused the sign-in code (it was used already or expired). Start again.")
    public static let badNonce = Self(
        "nonce_mismatch", .unauthorized, "The identity token does not belong to this sign-in (nonce). Start again.")
    public static let expired = Self(
        "expired", .unauthorized,
        "The identity token has expired. Start again; if it persists, check this server's clock.")
    public static let issuedInFuture = Self(
        "issued_in_future", .unauthorized,
        "The identity token was issued in the future: check the clocks of this server and the provider.")
    public static let wrongAudience = Self(
        "wrong_audience", .unauthorized, "The identity token was issued for another application (audience).")
    public static let wrongIssuer = Self(
        "wrong_issuer", .unauthorized, "The identity token was issued by another provider than the configured one.")
    public static let unknownKey = Self(
        "unknown_key", .unauthorized,
        "The identity token is signed with a key the provider does not publish (yet). Try again in a few minutes.")
    public static let badSignature = Self(
        "bad_signature", .unauthorized, "The identity token's signature does not verify with the provider's key.")
    public static let badToken = Self(
        "bad_token", .unauthorized,
        "The identity token is malformed, lacks a required claim or uses an algorithm other than RS256 or ES256.")
    public static let emailMissing = Self(
        "email_missing", .forbidden, "Your identity provider did not share your email address. Ask an administrator.")
    public static let emailUnverified = Self(
        "email_unverified", .forbidden,
        "Your identity provider has not verified your email address. Verify it there, then sign in again.")
    public static let domainNotAllowed = Self(
        "domain_not_allowed", .forbidden, "Your email address is not in the domain this Sigil accepts.")
    public static let notAMember = Self(
        "not_a_member", .forbidden,
        "You are not a member of this Sigil. Ask an administrator to add your email address.")
    public static let memberSuspended = Self(
        "member_suspended", .forbidden, "Your membership is suspended. Ask an administrator.")
    public static let providerUnavailable = Self(
        "provider_unavailable", .serviceUnavailable,
        "The identity provider cannot be reached or answered badly. Try again later, or sign in with a token.")
    public static let providerBadAnswer = Self(
        "provider_unavailable", .badGateway, "The identity provider answered in a way this server cannot use.")
    public static let sessionsFull = Self(
        "sessions_full", .serviceUnavailable,
        "The server holds its maximum of console sessions. Try again in a few minutes.")
    public static let notConfigured = Self(
        "not_configured", .notFound, "Single sign-on is not configured on this server.")
}
