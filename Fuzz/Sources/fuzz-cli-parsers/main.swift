// Fuzzes the CLI's own parsers: TimeText (times, durations, formatting) and the GUID /
// prefix resolution of TokenSelection. CLISources/ links to the real files in
// Sources/sigil/Support, so this compiles the code the CLI runs.
//
// Input byte 0 % 4 picks a mode:
// - 0: parseTime. Properties: an accepted time formats to text that parses back to it;
//   a canonical `YYYY-MM-DDTHH:MM:SSZ` input formats back to the very same text; a
//   `YYYY-MM-DD` input is a UTC midnight that formatDate prints back unchanged.
// - 1: parseDuration. Properties: positive, at most 100 years, and "<seconds>s" parses to it.
// - 2: format of any Int64 (8 bytes). Property: no trap, and years 1970-9999 parse back.
// - 3: GUID selection against a fixed ledger. Property: the result matches an oracle
//   (full GUID, or a unique ASCII hex prefix of 8-31 digits), or a usage / not-found error.
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

let state: LedgerState = {
    var state = LedgerState()
    let ids = [
        "0ba28b74-8a04-41ae-a9a8-b51c2231ba58", "abcdef01-0000-4000-8000-000000000001",
        "abcdef01-0000-4000-8000-000000000002", "abcdef02-1111-4111-8111-111111111111",
        "deadbeef-dead-4eef-8ead-beefdeadbeef", "ffffffff-ffff-4fff-bfff-ffffffffffff",
    ]
    for (n, text) in ids.enumerated() {
        guard let id = TokenID(uuidString: text),
            let claims = try? TokenClaims(keyID: "k1", audience: "billing", id: id, validFrom: 0, validTo: nil, scope: .all)
        else { preconditionFailure("fixture") }
        var record = TokenRecord(claims: claims, name: "token \(n)", description: "", createdBy: "fuzz", now: 0)
        if text.hasPrefix("deadbeef") { record.deletedAt = 1 }
        state.tokens[id] = record
        state.order.append(id)
    }
    return state
}()

// Parsing arguments is costly; the empty selection is parsed once and copied.
let emptySelection: TokenSelection = {
    do { return try TokenSelection.parse([]) } catch { preconditionFailure("empty selection parses") }
}()

enum Outcome: Equatable { case found(TokenID), usage, notFound }

func fuzzSelection(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard text != "-" else { return }  // "-" reads stdin
    let live = state.liveTokens
    let expected: Outcome
    if let id = TokenID(uuidString: text) {
        expected = live.contains { $0.id == id } ? .found(id) : .notFound
    } else {
        let hex = text.replacingOccurrences(of: "-", with: "").lowercased()
        let ascii = hex.utf8.allSatisfy { isDigit($0) || (97...102).contains($0) }
        if !(hex.count >= 8 && hex.count < 32 && ascii) {
            expected = .usage
        } else {
            let matches = live.filter { $0.id.hexString.hasPrefix(hex) }
            expected = matches.count == 1 ? .found(matches[0].id) : matches.isEmpty ? .notFound : .usage
        }
    }
    var selection = emptySelection
    selection.guids = [text]
    let actual: Outcome
    do {
        let found = try selection.resolve(in: state, catalog: Catalog())
        Fuzz.require(found.count == 1, "one GUID resolved to \(found.count) tokens")
        actual = .found(found[0].id)
    } catch let failure as CLIFailure {
        actual = failure.code == Exit.usage ? .usage : .notFound
        Fuzz.require(failure.code == Exit.usage || failure.code == Exit.noInput, "unexpected exit code \(failure.code)")
    } catch {
        Fuzz.require(false, "resolve threw \(error)")
        return
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
