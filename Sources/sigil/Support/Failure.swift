import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

/// sysexits(3) codes and the verify codes, a contract with users' scripts (docs/CLI.md).
enum Exit {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let noInput: Int32 = 66
    static let unavailable: Int32 = 69
    static let cannotCreate: Int32 = 73
    static let tempFail: Int32 = 75
    static let noPermission: Int32 = 77

    /// verify: 10 + the reason's position, in the order the verifier checks.
    static func code(for reason: VerificationError.Reason) -> Int32 {
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
        }
    }

    static func code(for reason: IssuerError.Reason) -> Int32 {
        switch reason {
        case .invalidInput: usage
        case .badData, .conflict: dataError
        case .notFound: noInput
        case .cannotWrite: cannotCreate
        case .lockBusy: tempFail
        case .permissions: noPermission
        }
    }

    static func code(for reason: RevocationListError.Reason) -> Int32 {
        switch reason {
        case .malformed, .tooLarge, .unsupportedVersion: dataError
        case .unknownKey: 20
        case .badSignature: 21
        case .rollback: 22
        case .equivocation: 23
        case .io: noInput
        }
    }
}

/// A failure the CLI reports: message on stderr, then exit with `code`.
struct CLIFailure: Error {
    let code: Int32
    let message: String
    /// The stable reason code shown in `--json` errors.
    let reason: String

    init(_ code: Int32, _ message: String, reason: String = "error") {
        self.code = code
        self.message = message
        self.reason = reason
    }

    static func usage(_ message: String) -> CLIFailure { CLIFailure(Exit.usage, message, reason: "usage") }
}

enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("sigil: error: \(message)\n".utf8))
    }
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }
    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("sigil: warning: \(message)\n".utf8))
    }
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// One JSON value on stdout, keys sorted so output is stable for scripts and tests.
    static func json(_ value: Any) {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return }
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}

/// Runs a command body and turns every library error into a message and an exit code.
func guarded(json: Bool = false, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        throw translate(error, json: json)
    }
}

/// `guarded` for the one command that awaits (pull over HTTP).
func guardedAsync(json: Bool = false, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        throw translate(error, json: json)
    }
}

/// Reports `error` and returns the `ExitCode` to throw; unknown errors pass through.
private func translate(_ error: any Error, json: Bool) -> any Error {
    do {
        throw error
    } catch let error as ValidationError {
        report(CLIFailure.usage(error.message), json: json)
        return ExitCode(Exit.usage)
    } catch let failure as CLIFailure {
        report(failure, json: json)
        return ExitCode(failure.code)
    } catch let error as IssuerError {
        report(CLIFailure(Exit.code(for: error.reason), error.message, reason: error.reason.rawValue), json: json)
        return ExitCode(Exit.code(for: error.reason))
    } catch let error as RevocationListError {
        report(CLIFailure(Exit.code(for: error.reason), error.description, reason: error.reason.rawValue), json: json)
        return ExitCode(Exit.code(for: error.reason))
    } catch let error as KeysetError {
        report(CLIFailure(Exit.dataError, error.message, reason: "bad_keyset"), json: json)
        return ExitCode(Exit.dataError)
    } catch {
        return error
    }
}

func report(_ failure: CLIFailure, json: Bool) {
    Console.error(failure.message)
    if json { Console.json(["error": failure.reason, "message": failure.message, "exit_code": Int(failure.code)]) }
}
