import SigilIssuer
import SigilVerifier
import Testing

@Suite("One error contract: each issuer error has one exit code and one HTTP status")
struct ErrorContractTests {
    /// The contract, stated once: code, exit code, HTTP status, the body's `error`.
    static let table: [(IssuerError.Code, Int32, Int, String)] = [
        (.invalidInput, 64, 422, "invalid_input"),
        (.invalidSelector, 64, 400, "bad_request"),
        (.sealedField, 64, 422, "sealed_field"),
        (.outsidePolicy, 64, 422, "outside_policy"),
        (.tokenNotVerified, 64, 422, "token_not_verified"),
        (.badData, 65, 500, "internal"),
        (.conflict, 65, 409, "conflict"),
        (.sequenceExhausted, 65, 503, "sequence_exhausted"),
        (.notFound, 66, 404, "not_found"),
        (.unavailable, 69, 503, "unavailable"),
        (.queryTimedOut, 69, 503, "query_timeout"),
        (.cannotWrite, 73, 500, "internal"),
        (.lockBusy, 75, 503, "unavailable"),
        (.permissions, 77, 500, "internal"),
        (.forbidden, 77, 403, "insufficient_scope"),
    ]

    @Test("The table covers every code")
    func everyCode() {
        #expect(Set(Self.table.map(\.0)) == Set(IssuerError.Code.allCases))
        #expect(Self.table.count == IssuerError.Code.allCases.count)
    }

    @Test(
        "Each code maps to its exit code, status and error", .bug(id: 21, "a busy ledger was 75 locally, 69 remotely"),
        arguments: table)
    func entry(code: IssuerError.Code, exit: Int32, status: Int, error: String) {
        let entry = ErrorContract.entry(for: code)
        #expect(entry.exitCode == exit && entry.httpStatus == status && entry.httpError == error)
        // What a remote client reads back from the body's `code` is the same exit code.
        #expect(ErrorContract.exitCode(code: code.rawValue, verification: nil) == exit)
    }

    @Test("Every reason's plain error has the code of the same name", arguments: IssuerError.Reason.allCases)
    func reasons(reason: IssuerError.Reason) {
        #expect(IssuerError(reason, "x").code.rawValue == reason.rawValue)
    }

    @Test(
        "Details refine the code",
        arguments: [
            (IssuerError.Detail.sealedField("scope"), IssuerError.Reason.invalidInput, IssuerError.Code.sealedField),
            (.notASelector(length: 3), .invalidInput, .invalidSelector),
            (.ambiguousPrefix("abcdef01", matches: []), .invalidInput, .invalidSelector),
            (.emptyFilter("name"), .invalidInput, .invalidSelector),
            (.sequenceExhausted(last: 9), .conflict, .sequenceExhausted),
            (.tokenNotVerified(.badSignature), .badData, .tokenNotVerified),
            (.databaseBusy(path: "p", seconds: 1), .lockBusy, .lockBusy),
            (.queryTimedOut(seconds: 5), .unavailable, .queryTimedOut),
        ])
    func details(detail: IssuerError.Detail, reason: IssuerError.Reason, code: IssuerError.Code) {
        #expect(IssuerError(reason, "x", detail: detail).code == code)
    }

    @Test("A token that does not verify exits with the verify code of why, both ways")
    func tokenNotVerified() {
        let error = IssuerError(.badData, "x", detail: .tokenNotVerified(.badSignature))
        #expect(ErrorContract.exitCode(for: error) == 13)
        #expect(ErrorContract.exitCode(code: "token_not_verified", verification: "bad_signature") == 13)
        #expect(ErrorContract.exitCode(code: "no_such_code", verification: nil) == nil)
    }
}
