// Fuzzes Keyset(json:), the ledger journal reader and Keyring.load (docs/SECURITY.md).
//
// Input byte 0 % 3 picks a mode:
// - 0: keyset JSON. Properties: an accepted keyset re-exports (json()) to JSON that parses
//   to the same keyset and the same JSON; a verifier can be built from it or refuses it
//   with KeysetError.
// - 1: ledger.jsonl bytes in a temp home (on /dev/shm when present: fsync costs nothing).
//   Properties: a ledger that loads still loads after the next append (with one more
//   record), and compaction keeps every token, the issue order and the export sequence.
// - 2: keyring.json bytes. Properties: an accepted keyring saves and reloads to the same keys.
//
// Fuzz/regressions/keyset-ledger holds the input that found ledger-blank-tail (docs/SECURITY.md).
import Foundation
import FuzzSupport
import SigilIssuer
import SigilVerifier

#if canImport(Glibc)
import Glibc
#endif

let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
let home: String = {
    var template = Array("\(base)/sigil-fuzz-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { preconditionFailure("mkdtemp failed") }
    return String(cString: made)
}()
let home2 = home + "/second"
_ = mkdir(home2, 0o700)

func write(_ bytes: [UInt8], to path: String) {
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot create \(path)")
    _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func sameKeys(_ a: Keyset, _ b: Keyset) -> Bool {
    a.audience == b.audience && a.tokenKeys.map(\.keyID) == b.tokenKeys.map(\.keyID)
        && a.tokenKeys.map(\.key) == b.tokenKeys.map(\.key) && a.revocationKeys == b.revocationKeys
}

func fuzzKeyset(_ bytes: [UInt8]) {
    guard let keyset = try? Keyset(json: bytes) else { return }
    let json = keyset.json()
    guard let again = try? Keyset(json: json) else {
        Fuzz.require(false, "an accepted keyset's export does not parse")
        return
    }
    Fuzz.require(sameKeys(keyset, again), "keyset export round trip changed the keys")
    Fuzz.require(again.json() == json, "keyset export is not canonical")
    do { _ = try Verifier(keyset: keyset) } catch {
        Fuzz.require(!error.message.isEmpty, "a verifier refusal without a message")
    }
}

func fuzzLedger(_ bytes: [UInt8]) {
    let ledger = Ledger(home: home)
    write(bytes, to: ledger.path)
    guard let state = try? ledger.load() else { return }
    // Compaction keeps everything but tombstones expired at Int64.min (valid_to = Int64.min).
    let early = Int64.min
    do { try ledger.compact(state, now: early) } catch {
        Fuzz.require(false, "compaction failed: \(error)")
    }
    guard let compacted = try? ledger.load() else {
        Fuzz.require(false, "the compacted ledger does not load")
        return
    }
    let kept = state.order.filter { id in state.tokens[id].map { !($0.isDeleted && $0.hasExpired(at: early)) } ?? false }
    Fuzz.require(compacted.order == kept, "compaction changed the token order")
    for id in kept { Fuzz.require(compacted.tokens[id] == state.tokens[id], "compaction changed token \(id)") }
    Fuzz.require(compacted.exportSequence == state.exportSequence, "compaction lost the export sequence (\(state.exportSequence) → \(compacted.exportSequence), warnings \(compacted.warnings)): \(String(decoding: (try? SecureFile.read(ledger.path)) ?? [], as: UTF8.self))")
    Fuzz.require(compacted.warnings.isEmpty, "a compacted ledger has warnings")

    // The next writer must leave a ledger that loads.
    write(bytes, to: ledger.path)
    do {
        try ledger.append([JournalRecord(op: .export, at: 0, sequence: 1)])
    } catch {
        Fuzz.require(false, "append to a loadable ledger failed: \(error)")
    }
    do {
        let after = try ledger.load()
        Fuzz.require(after.recordCount == state.recordCount + 1, "append did not add exactly one record")
        Fuzz.require(after.exportSequence == max(state.exportSequence, 1), "the appended record was not applied")
    } catch {
        Fuzz.require(false, "a ledger that loaded is unreadable after one append: \(error)")
    }
}

func fuzzKeyring(_ bytes: [UInt8]) {
    write(bytes, to: Keyring.path(home: home))
    guard let ring = try? Keyring.load(home: home) else { return }
    do { try ring.save(home: home2) } catch { Fuzz.require(false, "an accepted keyring cannot be saved: \(error)") }
    guard let again = try? Keyring.load(home: home2) else {
        Fuzz.require(false, "a saved keyring does not load")
        return
    }
    Fuzz.require(again.tokenKeys.map(\.keyID) == ring.tokenKeys.map(\.keyID), "key IDs changed")
    Fuzz.require(again.tokenKeys.map(\.secret) == ring.tokenKeys.map(\.secret), "secrets changed")
    Fuzz.require(again.tokenKeys.map(\.state) == ring.tokenKeys.map(\.state), "states changed")
    Fuzz.require(again.revocationKeys.map(\.seed) == ring.revocationKeys.map(\.seed), "seeds changed")
    Fuzz.require(again.activeKey.keyID == ring.activeKey.keyID, "the active key changed")
}

atexit { _ = try? FileManager.default.removeItem(atPath: home) }
Fuzz.run { input in
    guard let mode = input.first else { return }
    let rest = Array(input.dropFirst())
    switch mode % 3 {
    case 0: fuzzKeyset(rest)
    case 1: fuzzLedger(rest)
    default: fuzzKeyring(rest)
    }
}
