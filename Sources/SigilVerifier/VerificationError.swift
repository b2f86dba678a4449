/// Why a token was refused: one stable reason code and a detail that is safe to log.
///
/// Reason codes are a contract shared with the CLI's `--json` output, its exit codes and
/// docs/FORMAT.md. Codes may be added, so switch over them with a `default`.
///
/// ```swift
/// do {
///     _ = try verifier.verify(token)
/// } catch {
///     log("refused: \(error.reason.rawValue)")   // never log the token itself
/// }
/// ```
public struct VerificationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable reason codes, in the order the verifier checks them.
    public enum Reason: String, Sendable, CaseIterable {
        case malformed
        case wrongAudience = "wrong_audience"
        case unknownKey = "unknown_key"
        case badSignature = "bad_signature"
        case revocationsStale = "revocations_stale"
        case revoked
        case deactivated
        case notYetValid = "not_yet_valid"
        case expired
        case scopeNotGranted = "scope_not_granted"
    }

    /// What went wrong, for code to match on.
    public let reason: Reason
    /// Safe context: a key ID, a length, an offset, a time. Never a token, key or MAC.
    public let detail: String

    public init(_ reason: Reason, _ detail: String = "") {
        self.reason = reason
        self.detail = detail
    }

    /// What went wrong and how to fix it.
    public var description: String {
        let help =
            switch reason {
            case .malformed:
                "The token is not a well-formed Sigil v1 token. Check it was copied whole, without spaces or line breaks."
            case .wrongAudience:
                "The token was issued for another application. Ask the issuer for a token for this audience."
            case .unknownKey:
                "No key with this ID is loaded. Load the current keyset export (sigil keys export), or the key was retired."
            case .badSignature:
                "The MAC does not match: the token was altered or issued under another secret."
            case .revocationsStale:
                "The revocation list is past its next_update and the policy fails closed. Refresh the list (sigil revocations pull)."
            case .revoked:
                "This token was revoked or deleted and can never be used again. Ask the issuer for a new one."
            case .deactivated:
                "This token is deactivated. The issuer can re-activate it (sigil activate) or issue a new one."
            case .notYetValid:
                "The token's validity window has not started. Wait for valid-from, or check this host's clock."
            case .expired:
                "The token has expired. Ask the issuer for a new one."
            case .scopeNotGranted:
                "The token is valid but its scope does not grant this permission. Issue a token with the needed scope."
            }
        return "[\(reason.rawValue)] \(help)" + (detail.isEmpty ? "" : " (\(detail))")
    }
}
