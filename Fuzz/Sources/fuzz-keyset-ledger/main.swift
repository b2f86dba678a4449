// Fuzzes Keyset(json:), the one-time import of a v0.1 ledger journal and Keyring.load
// (docs/SECURITY.md).
//
// Input byte 0 % 3 picks a mode:
// - 0: keyset JSON. Properties: an accepted keyset re-exports (json()) to JSON that parses
//   to the same keyset and the same JSON; a verifier can be built from it or refuses it
//   with KeysetError.
// - 1: ledger.jsonl bytes in a fresh temp home (on /dev/shm when present: fsync costs
//   nothing). Properties: opening the home either imports the journal (then every live token
//   resolves by GUID, the files are renamed *.imported, and an export signs a list whose
//   sequence is above the imported one) or refuses it with bad_data and leaves no database
//   and the journal where it was.
// - 2: keyring.json bytes. Properties: an accepted keyring saves and reloads to the same keys.
//
import Foundation
import FuzzSupport
import SigilIssuer
import SigilVerifier
import Synchronization

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

/// A keyring to copy into each fresh home, so opening never has to generate one.
let keyringBytes: [UInt8] = {
    let seed = home + "/seed"
    _ = mkdir(seed, 0o700)
    guard (try? Issuer(home: seed, mode: .createIfMissing, busyTimeout: 1)) != nil,
        let bytes = try? FileBytes.read(path: Keyring.path(home: seed), maxBytes: 1 << 20)
    else { preconditionFailure("seed keyring") }
    return bytes
}()
let round = Atomic<Int>(0)

func fuzzLedger(_ bytes: [UInt8]) {
    let dir = home + "/ledger-\(round.add(1, ordering: .relaxed).newValue)"
    _ = mkdir(dir, 0o700)
    defer { _ = try? FileManager.default.removeItem(atPath: dir) }
    write(keyringBytes, to: Keyring.path(home: dir))
    write(bytes, to: dir + "/ledger.jsonl")
    let issuer: Issuer
    do {
        issuer = try Issuer(home: dir, mode: .existing, busyTimeout: 1)
    } catch {
        Fuzz.require(error.reason == .badData || error.reason == .invalidInput, "import failed with \(error.reason)")
        Fuzz.require(!FileManager.default.fileExists(atPath: dir + "/sigil.db"), "a refused import left a database")
        Fuzz.require(
            FileManager.default.fileExists(atPath: dir + "/ledger.jsonl"), "a refused import moved the journal")
        return
    }
    guard
        case .importedLedger(_, let sequence, _, _)? = issuer.setupNotes.first(where: {
            if case .importedLedger = $0 { true } else { false }
        })
    else {
        Fuzz.require(false, "a journal was not imported")
        return
    }
    Fuzz.require(!FileManager.default.fileExists(atPath: dir + "/ledger.jsonl"), "the journal was not renamed")
    guard let tokens = try? issuer.tokens() else {
        Fuzz.require(false, "an imported ledger cannot be listed")
        return
    }
    for t in tokens {
        Fuzz.require((try? issuer.token(t.id.description))?.id == t.id, "token \(t.id) does not resolve")
    }
    guard sequence < UInt64.max, let actor = try? Actor(name: "fuzz") else { return }
    do {
        let exported = try issuer.exportRevocationList(to: dir + "/list.sgl", by: actor, now: 0)
        Fuzz.require(exported.list.sequence > sequence, "the export did not continue above the imported sequence")
    } catch {
        Fuzz.require(false, "export after import failed: \(error)")
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
