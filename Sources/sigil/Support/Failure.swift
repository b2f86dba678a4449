import ArgumentParser
import Foundation
import SigilIssuer
import SigilVerifier

/// A failure the CLI reports: message on stderr, then exit with `code`.
struct CLIFailure: Error {
    let code: Int32
    let message: String
    /// The stable reason code shown in `--json` errors.
    let reason: String
    /// The error contract's code (``IssuerError/Code``) the exit code comes from: `code` in
    /// `--json` errors, the same key and value sigil-server's error bodies carry, so a script
    /// reads one code locally and remotely. Nil for failures that are not the issuer's.
    var contractCode: String?

    init(_ code: Int32, _ message: String, reason: String = "error", contractCode: String? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
        self.contractCode = contractCode
    }

    static func usage(_ message: String) -> CLIFailure { CLIFailure(Exit.usage, message, reason: "usage") }
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
        var failure = render(error)
        failure.contractCode = error.code.rawValue
        report(failure, json: json)
        return ExitCode(failure.code)
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
    if json {
        Console.json(
            WireError(
                error: failure.reason, message: failure.message, code: failure.contractCode, exitCode: failure.code))
    }
}
