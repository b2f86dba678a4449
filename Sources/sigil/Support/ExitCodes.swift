import SigilIssuer
import SigilVerifier

/// The exit codes, a contract with users' scripts (docs/CLI.md). The issuer's and the verify
/// codes come from SigilIssuer's ``ErrorContract``, the table sigil-server's answers map back
/// through too, so a failure exits the same way locally and with `--server`.
enum Exit {
    static let usage = ExitStatus.usage
    static let dataError = ExitStatus.dataError
    static let noInput = ExitStatus.noInput
    static let unavailable = ExitStatus.unavailable
    static let cannotCreate = ExitStatus.cannotCreate
    static let tempFail = ExitStatus.tempFail
    static let noPermission = ExitStatus.noPermission

    /// verify: 10 + the reason's position, in the order the verifier checks.
    static func code(for reason: VerificationError.Reason) -> Int32 { ErrorContract.exitCode(for: reason) }

    /// The exit code of an issuer error (``ErrorContract``).
    static func code(for error: IssuerError) -> Int32 { ErrorContract.exitCode(for: error) }

    static func code(for reason: RevocationListError.Reason) -> Int32 {
        switch reason {
        case .malformed, .tooLarge, .unsupportedVersion: dataError
        case .unknownKey: 20
        case .badSignature: 21
        case .rollback: 22
        case .equivocation: 23
        case .deltaBaseMismatch: 24
        case .io: noInput
        }
    }
}
