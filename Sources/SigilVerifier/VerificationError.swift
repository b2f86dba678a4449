/// Why a token was refused: one stable reason code and a detail that is safe to log.
///
/// Reason codes are a contract shared with the CLI's `--json` output, its exit codes and
/// docs/FORMAT.md. Codes may be added in a minor release (``Reason`` is a struct of static
/// members, like jwt-kit's `JWTError.ErrorType`), so switch over them with a `default`.
///
/// ```swift
/// func refusalCode(_ token: String, _ verifier: Verifier) -> String? {
///     do {
///         _ = try verifier.verify(token)
///         return nil
///     } catch {
///         return error.reason.rawValue  // log this, never the token itself
///     }
/// }
/// ```
public struct VerificationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable reason code. Two reasons are equal when their codes are.
    public struct Reason: Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The wire code (`bad_signature`), as `--json`, exit codes and docs/FORMAT.md use it.
        public let rawValue: String
        /// What went wrong and how to fix it, without the detail.
        public let help: String

        private init(_ rawValue: String, help: String) {
            self.rawValue = rawValue
            self.help = help
        }

        /// The known reason with this code, or nil.
        public init?(rawValue: String) {
            guard let known = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = known
        }

        public static func == (a: Reason, b: Reason) -> Bool { a.rawValue == b.rawValue }
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
        public var description: String { rawValue }

        public static let malformed = Reason(
            "malformed",
            help:
                "The token is not a well-formed Sigil v1 token. Check it was copied whole, without spaces or line breaks."
        )
        public static let wrongAudience = Reason(
            "wrong_audience",
            help: "The token was issued for another application. Ask the issuer for a token for this audience.")
        public static let unknownKey = Reason(
            "unknown_key",
            help:
                "No key with this ID is loaded. Load the current keyset export (sigil keys export), or the key was retired."
        )
        public static let badSignature = Reason(
            "bad_signature", help: "The MAC does not match: the token was altered or issued under another secret.")
        public static let revocationsStale = Reason(
            "revocations_stale",
            help:
                "The revocation list is past its next_update (or none is loaded yet) and the policy fails closed. Refresh the list (sigil revocations pull)."
        )
        public static let revoked = Reason(
            "revoked",
            help: "This token was revoked or deleted and can never be used again. Ask the issuer for a new one.")
        public static let deactivated = Reason(
            "deactivated",
            help: "This token is deactivated. The issuer can re-activate it (sigil activate) or issue a new one.")
        public static let notYetValid = Reason(
            "not_yet_valid",
            help: "The token's validity window has not started. Wait for valid-from, or check this host's clock.")
        public static let expired = Reason("expired", help: "The token has expired. Ask the issuer for a new one.")
        public static let scopeNotGranted = Reason(
            "scope_not_granted",
            help:
                "The token is valid but its scope does not grant this permission. Issue a token with the needed scope.")

        /// Every reason this version knows, in the order the verifier checks them.
        public static let allCases: [Reason] = [
            .malformed, .wrongAudience, .unknownKey, .badSignature, .revocationsStale, .revoked, .deactivated,
            .notYetValid, .expired, .scopeNotGranted,
        ]
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
        "[\(reason.rawValue)] \(reason.help)" + (detail.isEmpty ? "" : " (\(detail))")
    }
}
