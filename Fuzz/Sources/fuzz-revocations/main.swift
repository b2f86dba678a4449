// Fuzzes the revocation-list parser, signature check and store (docs/SECURITY.md, "Fuzzing").
//
// Input byte 0 picks a mode:
// - even: the rest is a list file. Properties: a list that verifies also parses; a parsed
//   list has strictly ascending entries, answers `status(of:)` for each of them, and
//   re-encodes (RevocationListBuilder with the same header) to the same bytes before the
//   signature, and to the very same bytes when it verified (Ed25519 is deterministic).
// - odd: the rest describes entries and a header. The built list verifies and holds the
//   merged entries; one flipped byte makes it fail; the store keeps the old list when given
//   the forgery, a rollback or an equivocation.
import FuzzSupport
import SigilIssuer
import SigilVerifier

let seed = [UInt8](repeating: 0x17, count: 32)
let otherSeed = [UInt8](repeating: 0x29, count: 32)
let publicKey = ed25519PublicKey(seed: seed)
let keys: [RevocationKey] = {
    guard let key = try? RevocationKey(keyID: "r1", publicKey: publicKey) else {
        fatalError("the harness's fixed revocation key is refused")
    }
    return [key]
}()

func fuzzFile(_ bytes: [UInt8]) {
    var parsed: RevocationList? = nil
    do { parsed = try RevocationList.parseUnverified(bytes) } catch {
        Fuzz.require(
            error.reason != .badSignature && error.reason != .unknownKey, "parseUnverified checked a signature")
    }
    var verified: RevocationList? = nil
    do { verified = try RevocationList(verifying: bytes, keys: keys) } catch {
        if parsed == nil {
            Fuzz.require(
                [.malformed, .unsupportedVersion, .tooLarge].contains(error.reason),
                "unparseable list refused as \(error.reason)")
        }
    }
    if verified != nil { Fuzz.require(parsed != nil, "a list verified but does not parse") }
    guard let list = parsed else { return }
    Fuzz.require(Array(list.bytes) == bytes, "the list does not keep its bytes")
    let entries = list.entries
    Fuzz.require(entries.count == list.count, "entry count")
    for (a, b) in zip(entries, entries.dropFirst()) { Fuzz.require(a.id < b.id, "entries not strictly ascending") }
    for entry in entries.prefix(64) {
        Fuzz.require(list.status(of: entry.id) == entry.status, "status(of:) disagrees with entries")
        let next = TokenID(rawValue: entry.id.rawValue &+ 1)
        if !entries.contains(where: { $0.id == next }) {
            Fuzz.require(list.status(of: next) == nil, "status(of:) finds an unlisted GUID")
        }
    }
    guard
        let rebuilt = try? RevocationListBuilder.build(
            entries: entries.map { ($0.id, $0.status) }, sequence: list.sequence, issuedAt: list.issuedAt,
            nextUpdate: list.nextUpdate, keyID: list.keyID, seed: seed)
    else {
        Fuzz.require(false, "a parsed list cannot be rebuilt")
        return
    }
    Fuzz.require(rebuilt.dropLast(64) == bytes.dropLast(64), "parse then build does not reproduce the signed bytes")
    if verified != nil { Fuzz.require(rebuilt == bytes, "a verified list re-signs differently") }
}

func fuzzBuild(_ input: [UInt8]) {
    var r = ByteReader(input)
    let keyID = r.byte() & 3 == 0 ? r.string(from: Alphabet.keyID, max: 32) : "r1"
    guard TokenClaims.isValidKeyID(keyID) else { return }
    let count = Int(r.byte())
    var entries: [(TokenID, RevocationStatus)] = []
    for _ in 0..<count {
        let kind = r.byte()
        let id: TokenID
        if kind & 1 == 0 {
            id = TokenID(rawValue: UInt128(r.byte()))  // small IDs collide: duplicates
        } else {
            id = TokenID(bytes: r.bytes(16)) ?? TokenID(rawValue: 0)
        }
        entries.append((id, kind & 2 == 0 ? .deactivated : .revoked))
    }
    let sequence = r.u64()
    let issuedAt = r.i64()
    let nextRaw = r.i64()
    let nextUpdate: Int64? = r.byte() & 1 == 0 ? nil : nextRaw
    let flipAt = Int(r.byte()) << 8 | Int(r.byte())
    let flipMask = r.byte() | 1

    guard
        let bytes = try? RevocationListBuilder.build(
            entries: entries, sequence: sequence, issuedAt: issuedAt, nextUpdate: nextUpdate, keyID: keyID, seed: seed)
    else {
        Fuzz.require(false, "build failed for a valid key ID")
        return
    }
    guard let myKey = try? RevocationKey(keyID: keyID, publicKey: publicKey) else {
        Fuzz.require(false, "a key ID the builder accepted is refused as a revocation key")
        return
    }
    let myKeys = [myKey]
    let list: RevocationList
    do { list = try RevocationList(verifying: bytes, keys: myKeys) } catch {
        Fuzz.require(false, "a freshly built list does not verify: \(error)")
        return
    }
    // The oracle: the strongest status per GUID, ascending.
    var merged: [TokenID: RevocationStatus] = [:]
    for (id, status) in entries where merged[id] != .revoked { merged[id] = status }
    let expected = merged.sorted { $0.key < $1.key }
    let got = list.entries
    Fuzz.require(got.count == expected.count, "entry count \(got.count) != \(expected.count)")
    for (g, e) in zip(got, expected) { Fuzz.require(g.id == e.key && g.status == e.value, "entries differ") }
    Fuzz.require(
        list.sequence == sequence && list.issuedAt == issuedAt
            && list.nextUpdate == (nextUpdate == 0 ? nil : nextUpdate)
            && list.keyID == keyID, "header differs")

    var forged = bytes
    forged[flipAt % forged.count] ^= flipMask
    do {
        _ = try RevocationList(verifying: forged, keys: myKeys)
        Fuzz.require(false, "a list with a flipped byte verified")
    } catch {}

    // The store keeps what it has when handed a forgery, an equivocation or a rollback.
    // Each of those costs Ed25519 operations, so only one input in four checks them.
    guard flipMask & 0x06 == 0 else { return }
    let store = RevocationStore(keys: myKeys)
    guard (try? store.load(bytes: bytes)) != nil else {
        Fuzz.require(false, "the store refused a valid list")
        return
    }
    for (id, status) in expected.prefix(8) {
        let check = store.check(id, at: issuedAt)
        Fuzz.require(
            check == .stale || check == (status == .revoked ? .revoked : .deactivated), "store check disagrees")
    }
    _ = try? store.load(bytes: forged)
    Fuzz.require(store.list.hasSameBytes(as: list), "a forged list replaced the one in force")
    if let other = try? RevocationListBuilder.build(
        entries: [(TokenID(rawValue: 1), .revoked)], sequence: sequence, issuedAt: issuedAt &+ 1, nextUpdate: nil,
        keyID: keyID, seed: seed)
    {
        do {
            try store.load(bytes: other)
            Fuzz.require(false, "an equivocating list was installed")
        } catch {
            Fuzz.require(error.reason == .equivocation, "equivocation refused as \(error.reason)")
        }
    }
    if sequence > 0,
        let older = try? RevocationListBuilder.build(
            entries: [], sequence: sequence - 1, issuedAt: issuedAt, nextUpdate: nil, keyID: keyID, seed: seed)
    {
        do {
            try store.load(bytes: older)
            Fuzz.require(false, "a rollback was installed")
        } catch {
            Fuzz.require(error.reason == .rollback, "rollback refused as \(error.reason)")
        }
    }
    if let foreign = try? RevocationListBuilder.build(
        entries: [], sequence: sequence &+ 1, issuedAt: issuedAt, nextUpdate: nil, keyID: keyID, seed: otherSeed)
    {
        Fuzz.require((try? store.load(bytes: foreign)) == nil, "a list signed with another seed was installed")
    }
    Fuzz.require(store.list.hasSameBytes(as: list), "the list in force changed")
}

Fuzz.run { input in
    guard let mode = input.first else { return }
    let rest = Array(input.dropFirst())
    if mode & 1 == 0 { fuzzFile(rest) } else { fuzzBuild(rest) }
}
