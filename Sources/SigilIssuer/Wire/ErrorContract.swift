public import SigilVerifier

extension IssuerError {
    /// The stable code of a failure: what the CLI's exit code and the API's HTTP status are
    /// derived from, and what an API error body carries in `code`.
    ///
    /// Finer than ``Reason`` where a front end answers differently (a sealed field, a selector,
    /// an exhausted sequence). Codes may be added: clients switch with a `default`.
    public enum Code: String, Sendable, CaseIterable {
        // Each ``Reason``, under its own raw value: the code of an error no detail refines.
        case invalidInput = "invalid_input", badData = "bad_data", notFound = "not_found", cannotWrite = "cannot_write"
        case lockBusy = "lock_busy", permissions, conflict, forbidden, unavailable
        // Codes a ``Detail`` refines a reason into (see ``code``).
        /// A GUID selector or a filter value is malformed, ambiguous or empty.
        case invalidSelector = "invalid_selector"
        case sealedField = "sealed_field"
        case outsidePolicy = "outside_policy"
        /// A token given by value does not verify with the issuer's keys.
        case tokenNotVerified = "token_not_verified"
        case sequenceExhausted = "sequence_exhausted"
        /// A read ran past the store's time limit and was stopped.
        case queryTimedOut = "query_timeout"
    }

    /// This error's ``Code``: its ``reason``'s, refined by its ``detail``.
    public var code: Code {
        switch detail {
        case .sealedField: .sealedField
        case .outsidePolicy: .outsidePolicy
        case .notASelector, .ambiguousPrefix, .emptyFilter: .invalidSelector
        case .tokenNotVerified: .tokenNotVerified
        case .sequenceExhausted: .sequenceExhausted
        case .queryTimedOut: .queryTimedOut
        // Every reason's raw value is a code (ReasonCodeTests states it).
        default: Code(rawValue: reason.rawValue) ?? .badData
        }
    }
}

/// sysexits(3) codes the CLI exits with, a contract with users' scripts (docs/CLI.md).
public enum ExitStatus {
    public static let usage: Int32 = 64
    public static let dataError: Int32 = 65
    public static let noInput: Int32 = 66
    public static let unavailable: Int32 = 69
    public static let cannotCreate: Int32 = 73
    public static let tempFail: Int32 = 75
    public static let noPermission: Int32 = 77
}

/// The one error contract: each ``IssuerError/Code`` with its CLI exit code and its HTTP
/// status, stated once, so a failure exits the same way locally and through sigil-server.
///
/// ```swift
/// let entry = ErrorContract.entry(for: error.code)
/// exit(entry.exitCode)                  // the CLI
/// // sigil-server answers entry.httpStatus with {"error": entry.httpError, "code": …}
/// ```
public enum ErrorContract {
    /// How one code shows at the two front ends.
    public struct Entry: Sendable, Hashable {
        /// The CLI's exit code (``ExitStatus``).
        public let exitCode: Int32
        /// The API's status (a plain number: this module does not know HTTP types).
        public let httpStatus: Int
        /// The API body's `error` field, kept as it was before `code` existed.
        public let httpError: String

        init(_ exitCode: Int32, _ httpStatus: Int, _ httpError: String) {
            self.exitCode = exitCode
            self.httpStatus = httpStatus
            self.httpError = httpError
        }
    }

    /// The table.
    public static func entry(for code: IssuerError.Code) -> Entry {
        switch code {
        case .invalidInput: Entry(ExitStatus.usage, 422, "invalid_input")
        case .invalidSelector: Entry(ExitStatus.usage, 400, "bad_request")
        case .sealedField: Entry(ExitStatus.usage, 422, "sealed_field")
        case .outsidePolicy: Entry(ExitStatus.usage, 422, "outside_policy")
        // The exit code says why the token failed: see ``exitCode(for:verification:)``.
        case .tokenNotVerified: Entry(ExitStatus.usage, 422, "token_not_verified")
        case .badData: Entry(ExitStatus.dataError, 500, "internal")
        case .conflict: Entry(ExitStatus.dataError, 409, "conflict")
        case .sequenceExhausted: Entry(ExitStatus.dataError, 503, "sequence_exhausted")
        case .notFound: Entry(ExitStatus.noInput, 404, "not_found")
        case .unavailable: Entry(ExitStatus.unavailable, 503, "unavailable")
        case .queryTimedOut: Entry(ExitStatus.unavailable, 503, "query_timeout")
        case .cannotWrite: Entry(ExitStatus.cannotCreate, 500, "internal")
        case .lockBusy: Entry(ExitStatus.tempFail, 503, "unavailable")
        case .permissions: Entry(ExitStatus.noPermission, 500, "internal")
        case .forbidden: Entry(ExitStatus.noPermission, 403, "insufficient_scope")
        }
    }

    /// The exit code of `error`: its code's, or for a token that does not verify, the verify
    /// exit code of why (10 malformed, 12 another issuer's key, 13 forged).
    public static func exitCode(for error: IssuerError) -> Int32 {
        if case .tokenNotVerified(let why) = error.detail { return exitCode(for: why) }
        return entry(for: error.code).exitCode
    }

    /// The exit code of an API error body: its `code` through the table, and for
    /// `token_not_verified` its `reason`. Nil for a body without a known code.
    public static func exitCode(code: String?, verification reason: String?) -> Int32? {
        guard let code = code.flatMap(IssuerError.Code.init(rawValue:)) else { return nil }
        if code == .tokenNotVerified, let why = reason.flatMap(VerificationError.Reason.init(rawValue:)) {
            return exitCode(for: why)
        }
        return entry(for: code).exitCode
    }

    /// `sigil verify`: 10 + the reason's position, in the order the verifier checks.
    public static func exitCode(for reason: VerificationError.Reason) -> Int32 {
        switch reason {
        case .malformed: 10
        case .wrongAudience: 11
        case .unknownKey: 12
        case .badSignature: 13
        case .revoked: 14
        case .deactivated: 15
        case .notYetValid: 16
        case .expired: 17
        case .scopeNotGranted: 18
        case .revocationsStale: 19
        default: ExitStatus.dataError  // a reason newer than this table; Reason is extensible
        }
    }
}
