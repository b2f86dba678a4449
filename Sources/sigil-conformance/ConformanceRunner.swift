import Foundation
import SigilVerifier

/// Answers conformance cases with SigilVerifier's public API, exactly as a service would
/// use it: a ``Keyset``, a ``RevocationStore`` that loads the case's list, a ``Verifier``
/// with the case's audience and leeway, and a ``Permission``.
///
/// The protocol is the one of `interop/python/src/sigil_verify/conformance.py`, field by
/// field, including which missing or mistyped field falls back to which default, because
/// every language's runner is compared with this one line by line.
///
/// ```swift
/// var runner = ConformanceRunner()
/// let answer = runner.answer(line: #"{"keyset": {...}, "token": "sgl_...", ...}"#)
/// print(answer)   // {"valid":true,"guid":"..."}
/// ```
package struct ConformanceRunner {
    /// A case's answer, written as Python's `json.dumps(..., separators=(",", ":"))` does.
    package enum Answer: Equatable, Sendable, CustomStringConvertible {
        case valid(guid: String)
        case refused(reason: String)
        case listError(String)
        /// The case could not be run (a keyset, audience, leeway or permission no service
        /// could configure). Runners agree on the kind, not on the message.
        case error(String)

        package var description: String {
            switch self {
            case .valid(let guid): CaseJSON.line(["valid": .bool(true), "guid": .string(guid)])
            case .refused(let reason): CaseJSON.line(["valid": .bool(false), "reason": .string(reason)])
            case .listError(let reason): CaseJSON.line(["valid": .bool(false), "list_error": .string(reason)])
            case .error(let message): CaseJSON.line(["error": .string(message)])
            }
        }
    }

    /// Parsed keysets by their compact JSON: a run repeats the same few keysets thousands of times.
    private var keysets: [String: Result<Keyset, KeysetError>] = [:]

    package init() {}

    /// The answer to one line of JSON.
    package mutating func answer(line: String) -> Answer {
        guard let value = CaseJSON.parse(line) else { return .error("ValueError: the line is not JSON") }
        guard case .object = value else { return .error("TypeError: a case is a JSON object") }
        return answer(value)
    }

    /// The answer to one case, its checks in the reference runner's order: keyset, list,
    /// verifier configuration, permission, then the token.
    package mutating func answer(_ testCase: CaseJSON) -> Answer {
        guard let keysetValue = testCase["keyset"] else { return .error("KeyError: keyset") }
        let keyset: Keyset
        switch parsedKeyset(keysetValue) {
        case .success(let parsed): keyset = parsed
        case .failure(let error): return .error("KeysetError: \(error.message)")
        }
        let audience = testCase["audience"]?.string ?? keyset.audience
        let noList: RevocationStore.NoListPolicy =
            testCase["when_no_list"]?.string == "fail_closed" ? .failClosed : .failOpen
        let store = RevocationStore(keys: keyset.revocationKeys, noListPolicy: noList)
        if let text = testCase["revocations"]?.string {
            guard let bytes = Self.listBytes(text) else { return .listError("malformed") }
            do {
                try store.load(bytes: bytes)
            } catch {
                return .listError(error.reason.rawValue)
            }
        }
        // Python's reference takes any int as the leeway (and refuses bools and huge ones in its
        // Verifier), anything else means the default.
        let leeway: Int64
        switch testCase["leeway"] {
        case .int(let value)?: leeway = value
        case .bool?, .bigInteger?: return .error("KeysetError: leeway must be 0...86400 seconds")
        default: leeway = Verifier.defaultLeeway
        }
        let verifier: Verifier
        do {
            verifier = try Verifier(audience: audience, keys: keyset.tokenKeys, leeway: leeway, revocations: store)
        } catch {
            return .error("KeysetError: \(error.message)")
        }
        var permission: Permission? = nil
        if let name = testCase["permission"]?.string {
            let access: Access = testCase["access"]?.string == "write" ? .write : .read
            guard let wanted = Permission(name, access: access) else {
                return .error("ValueError: permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}")
            }
            permission = wanted
        }
        do {
            let token = try verifier.verify(
                testCase["token"]?.string ?? "", for: permission, at: Self.now(testCase["now"]))
            return .valid(guid: token.id.description)
        } catch {
            return .refused(reason: error.reason.rawValue)
        }
    }

    /// The case's clock: an int, or a bool as the int Python sees in it; otherwise the system's.
    private static func now(_ value: CaseJSON?) -> Int64? {
        switch value {
        case .int(let value)?: value
        case .bool(let value)?: value ? 1 : 0
        default: nil
        }
    }

    private mutating func parsedKeyset(_ value: CaseJSON) -> Result<Keyset, KeysetError> {
        let text = value.compact
        if let known = keysets[text] { return known }
        let parsed = Result { () throws(KeysetError) in try Keyset(json: Array(text.utf8)) }
        keysets[text] = parsed
        return parsed
    }

    /// A list's bytes from standard base64, or, as the reference also accepts, base64url with
    /// or without padding; nil if neither decodes.
    package static func listBytes(_ text: String) -> [UInt8]? {
        if let data = Data(base64Encoded: text) { return Array(data) }
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard).map { Array($0) }
    }

    /// Answers every line of `input` in order, one line each on `output`; blank lines are skipped.
    package mutating func run(readLine: () -> String?, write: (String) -> Void) {
        while let line = readLine() {
            guard line.contains(where: { !$0.isWhitespace }) else { continue }
            write(answer(line: line).description + "\n")
        }
    }
}
