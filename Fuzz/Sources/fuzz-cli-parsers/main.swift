// Fuzzes the parsers the CLI and the server share, from the SigilIssuer library: TimeText
// (times, durations, formatting) and the GUID / prefix resolution of `Issuer.token(_:)`.
//
// Input byte 0 % 4 picks a mode:
// - 0: parseTime. Properties: an accepted time formats to text that parses back to it;
//   a canonical `YYYY-MM-DDTHH:MM:SSZ` input formats back to the very same text; a
//   `YYYY-MM-DD` input is a UTC midnight that formatDate prints back unchanged.
// - 1: parseDuration. Properties: positive, at most 100 years, and "<seconds>s" parses to it.
// - 2: format of any Int64 (8 bytes). Property: no trap, and years 1970-9999 parse back.
// - 3: GUID selection against a fixed ledger (a temp home on /dev/shm seeded through the
//   v0.1 import, the one public way to choose GUIDs). Property: the result matches an oracle
//   (full GUID, or a unique ASCII hex prefix of 8-31 digits), or an invalid-input / not-found
//   error that does not echo the input.
//
// Fuzz/regressions/cli-parsers holds the inputs that found format-overflow and
// fullwidth-guid-prefix (docs/SECURITY.md).
import Foundation
import FuzzSupport
import SigilIssuer
import SigilVerifier

let maxFormattable: Int64 = 253_402_300_800  // 10000-01-01T00:00:00Z

func isDigit(_ c: UInt8) -> Bool { (48...57).contains(c) }

func fuzzTime(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let t = TimeText.parseTime(text) else { return }
    let formatted = TimeText.format(t)
    if t >= 0, t < maxFormattable {
        Fuzz.require(TimeText.parseTime(formatted) == t, "format(parseTime(x)) does not parse back to the same time")
    }
    let b = Array(text.utf8)
    if b.count == 20, b[10] == UInt8(ascii: "T"), b[19] == UInt8(ascii: "Z"), !(b[17] == UInt8(ascii: "6")) {
        Fuzz.require(formatted == text, "canonical time \(text) formats as \(formatted)")
    }
    if b.count == 10 {
        Fuzz.require(t % 86_400 == 0, "a date is not a UTC midnight")
        Fuzz.require(TimeText.formatDate(t) == text, "date \(text) prints as \(TimeText.formatDate(t))")
    }
}

func fuzzDuration(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let d = TimeText.parseDuration(text) else { return }
    Fuzz.require(d > 0 && d <= 100 * 31_536_000, "duration \(d) out of range")
    Fuzz.require(TimeText.parseDuration("\(d)s") == d, "duration does not round trip in seconds")
}

func fuzzFormat(_ bytes: [UInt8]) {
    var r = ByteReader(bytes)
    let t = r.i64()
    let text = TimeText.format(t)
    if t >= 0, t < maxFormattable { Fuzz.require(TimeText.parseTime(text) == t, "format(\(t)) does not parse back") }
}

let ids = [
    "0ba28b74-8a04-41ae-a9a8-b51c2231ba58", "abcdef01-0000-4000-8000-000000000001",
    "abcdef01-0000-4000-8000-000000000002", "abcdef02-1111-4111-8111-111111111111",
    "deadbeef-dead-4eef-8ead-beefdeadbeef", "ffffffff-ffff-4fff-bfff-ffffffffffff",
]
let deleted = "deadbeef-dead-4eef-8ead-beefdeadbeef"
let live = ids.filter { $0 != deleted }.compactMap(TokenID.init(uuidString:))

/// A home whose ledger holds `ids` (one of them deleted), made through the v0.1 import.
/// `nonisolated(unsafe)`: libFuzzer calls the harness from one thread, one input at a time,
/// so the non-Sendable issuer is never used concurrently.
nonisolated(unsafe) let issuer: Issuer = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    var template = Array("\(base)/sigil-fuzz-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { preconditionFailure("mkdtemp failed") }
    let home = String(cString: made)
    atexit { _ = system("rm -rf /dev/shm/sigil-fuzz-*") }
    var journal = ""
    for (n, id) in ids.enumerated() {
        journal += """
            {"at":0,"op":"issue","token":{"audience":"billing","created_at":0,"created_by":"fuzz","description":"",\
            "guid":"\(id)","kid":"k1","name":"token \(n)","scope":"all","status":"active","updated_at":0,\
            "valid_from":0}}

            """
    }
    journal += "{\"at\":1,\"guids\":[\"\(deleted)\"],\"op\":\"delete\"}\n"
    guard
        FileManager.default.createFile(
            atPath: home + "/ledger.jsonl", contents: Data(journal.utf8),
            attributes: [.posixPermissions: 0o600]),
        // `initialize`: a v0.1 journal with tokens and no keyring is a lost keyring, which only
        // an explicit init replaces (the CLI's first use refuses it).
        let opened = try? Issuer(home: home, mode: .initialize, busyTimeout: 1)
    else { preconditionFailure("fixture home") }
    return opened
}()

enum Outcome: Equatable { case found(TokenID), invalid, notFound }

func fuzzSelection(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    let expected: Outcome
    if let id = TokenID(uuidString: text) {
        expected = live.contains(id) ? .found(id) : .notFound
    } else {
        let hex = text.replacingOccurrences(of: "-", with: "").lowercased()
        let ascii = hex.utf8.allSatisfy { isDigit($0) || (97...102).contains($0) }
        if !(hex.count >= 8 && hex.count < 32 && ascii) {
            expected = .invalid
        } else {
            let matches = live.filter { $0.hexString.hasPrefix(hex) }
            expected = matches.count == 1 ? .found(matches[0]) : matches.isEmpty ? .notFound : .invalid
        }
    }
    let actual: Outcome
    do {
        actual = .found(try issuer.token(text).id)
    } catch {
        Fuzz.require(error.reason == .invalidInput || error.reason == .notFound, "unexpected reason \(error.reason)")
        // Text that is not a GUID or prefix may be a pasted token: never echoed. (A GUID or a
        // hex prefix is named back, which is what the user needs to see.)
        if case .notASelector = error.detail {
            // The message may depend on the length only: any text of that length gets the same
            // words. (A substring test failed on texts that are words of the message itself,
            // such as "characters".)
            let placeholder = String(repeating: "\u{1}", count: text.count)
            var reference = ""
            do { _ = try TokenSelector(placeholder) } catch { reference = error.message }
            Fuzz.require(error.message == reference, "the error echoes the selector")
        }
        actual = error.reason == .invalidInput ? .invalid : .notFound
    }
    Fuzz.require(actual == expected, "selection of \(text.debugDescription): expected \(expected), got \(actual)")
}

Fuzz.run { input in
    guard let mode = input.first else { return }
    let rest = Array(input.dropFirst())
    switch mode % 4 {
    case 0: fuzzTime(rest)
    case 1: fuzzDuration(rest)
    case 2: fuzzFormat(rest)
    default: fuzzSelection(rest)
    }
}
