// Fuzzes the token parser and the verifier (docs/SECURITY.md, "Fuzzing").
//
// Input byte 0 picks a mode:
// - even: the rest is token text. Properties: `decodeUnverified` and `verify` agree on
//   `malformed`; an accepted text re-encodes to the same bytes; a text whose MAC matched is
//   exactly the token minted from its claims with the fixed key; no message echoes the token.
// - odd: the rest describes claims. They are minted with the fixed key; half the inputs then
//   get one bit flipped. Properties: a minted token decodes to its claims, verifies exactly
//   when an independent window/scope oracle says so; a flipped token never passes the MAC.
import FuzzSupport
import SigilIssuer
import SigilVerifier

let key = [UInt8](repeating: 0x5a, count: 32)
let now: Int64 = 1_767_225_600
let preMAC: Set<VerificationError.Reason> = [.malformed, .wrongAudience, .unknownKey, .badSignature]

// Verifiers per audience and key ID (each holds prepared HMAC contexts); bounded.
nonisolated(unsafe) var verifiers: [String: Verifier] = [:]
func verifier(audience: String, keyID: String) -> Verifier {
    let name = audience + "\u{0}" + keyID
    if let v = verifiers[name] { return v }
    if verifiers.count > 256 { verifiers.removeAll() }
    // Both values were validated by TokenClaims, so this cannot fail.
    guard let tokenKey = try? TokenKey(keyID: keyID, key: key),
        let v = try? Verifier(audience: audience, keys: [tokenKey])
    else { preconditionFailure("verifier for a valid audience and key ID") }
    verifiers[name] = v
    return v
}
let billing = verifier(audience: "billing", keyID: "k1")

func decode(_ text: String) -> Result<TokenClaims, VerificationError> {
    do { return .success(try TokenClaims.decodeUnverified(text)) } catch { return .failure(error) }
}

func verify(_ v: Verifier, _ text: String, _ permission: Permission?, at time: Int64)
    -> Result<VerifiedToken, VerificationError>
{
    do { return .success(try v.verify(text, for: permission, at: time)) } catch { return .failure(error) }
}

func checkNoEcho(_ error: VerificationError, _ text: String) {
    guard text.utf8.count >= 16 else { return }
    // Bytes, not Foundation's `contains`, which on Linux stops at a NUL: a text of ")" and NULs
    // was reported as echoed by any message holding ")".
    let message = Array(error.description.utf8)
    let needle = Array(text.utf8)
    let echoed =
        message.count >= needle.count
        && (0...(message.count - needle.count)).contains { message[$0..<($0 + needle.count)].elementsEqual(needle) }
    Fuzz.require(!echoed, "error message echoes the token")
}

/// Mode even: arbitrary token text.
func fuzzText(_ bytes: ArraySlice<UInt8>) {
    let text = String(decoding: bytes, as: UTF8.self)
    let decoded = decode(text)
    let claimsForVerifier = try? decoded.get()
    let v = claimsForVerifier.map { verifier(audience: $0.audience, keyID: $0.keyID) } ?? billing
    let verified = verify(v, text, nil, at: claimsForVerifier?.validFrom ?? now)
    switch (decoded, verified) {
    case (.failure(let e), .failure(let f)):
        Fuzz.require(e.reason == .malformed, "decodeUnverified threw \(e.reason)")
        Fuzz.require(f.reason == .malformed, "decode says malformed, verify says \(f.reason)")
        checkNoEcho(e, text)
        checkNoEcho(f, text)
    case (.failure(let e), .success):
        Fuzz.require(false, "verify accepted what decodeUnverified refused (\(e.reason))")
    case (.success(let claims), _):
        if case .failure(let f) = verified {
            Fuzz.require(f.reason != .malformed, "decodeUnverified accepted what verify calls malformed")
            checkNoEcho(f, text)
        }
        // Canonical: the accepted text is the only encoding of these claims and tag.
        guard let raw = Base64URL.decode(text.dropFirst(4)),
            raw.count > 32
        else {
            Fuzz.require(false, "accepted text does not base64url-decode")
            return
        }
        let tag = raw.suffix(32)
        Fuzz.require(
            TokenClaims.prefix + Base64URL.encode(claims.body() + tag) == text,
            "accepted token does not re-encode to itself")
        let macMatched: Bool
        switch verified {
        case .success: macMatched = true
        case .failure(let f): macMatched = !preMAC.contains(f.reason)
        }
        if macMatched {
            let minted = try? TokenMinter.mint(claims, audienceKey: key)
            Fuzz.require(minted == text, "a token passed the MAC check but is not the token minted from its claims")
        }
    }
}

/// Mode odd: claims built from the input, minted, maybe flipped.
func fuzzClaims(_ bytes: ArraySlice<UInt8>) {
    var r = ByteReader(Array(bytes))
    let keyID = r.byte() & 7 == 0 ? r.string(from: Alphabet.keyID + [0x2e, 0xc3], max: 33) : "k1"
    let audience = r.byte() & 3 == 0 ? r.string(from: Alphabet.audience + [0x20, 0xd0], max: 65) : "billing"
    guard let id = TokenID(bytes: r.bytes(16)) else { return }
    let validFrom = r.i64()
    let toRaw = r.i64()
    let validTo: Int64? = r.byte() & 1 == 0 ? nil : toRaw
    let scope: Scope
    switch r.byte() % 3 {
    case 0: scope = .all
    case 1: scope = .readOnly
    default:
        let count = Int(r.byte()) + Int(r.byte() & 1)
        var pairs: [String] = []
        for _ in 0..<count {
            let resource = r.string(from: Alphabet.scopePart, max: 6)
            let action = r.string(from: Alphabet.scopePart, max: 6)
            pairs.append(resource + "." + action)
        }
        if r.byte() & 7 != 0 {
            pairs = Array(Set(pairs)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
        scope = .custom(pairs)
    }
    let time: Int64
    switch r.byte() % 4 {
    case 0: time = validFrom
    case 1: time = (validTo ?? validFrom) &- 1
    case 2: time = validFrom &+ Int64(Int8(bitPattern: r.byte())) &* 16
    default: time = r.i64()
    }
    let permission: Permission?
    switch r.byte() % 3 {
    case 0: permission = nil
    case 1:
        if case .custom(let pairs) = scope, let first = pairs.first {
            permission = Permission(first, access: r.byte() & 1 == 0 ? .read : .write)
        } else {
            permission = Permission("devices.list", access: .read)
        }
    default:
        permission = Permission(
            r.string(from: Alphabet.scopePart, max: 6) + "." + r.string(from: Alphabet.scopePart, max: 6),
            access: r.byte() & 1 == 0 ? .read : .write)
    }
    let flip = r.byte()
    let flipAt = Int(r.byte()) << 8 | Int(r.byte())
    let flipMask = r.byte() | 1

    guard
        let claims = try? TokenClaims(
            keyID: keyID, audience: audience, id: id, validFrom: validFrom, validTo: validTo, scope: scope)
    else { return }
    let token: String
    do {
        token = try TokenMinter.mint(claims, audienceKey: key)
    } catch {
        Fuzz.require(
            4 + Base64URL.encodedLength(claims.body().count + 32) > TokenClaims.maxTextLength,
            "mint refused a token of legal length: \(error)")
        return
    }
    Fuzz.require((try? TokenClaims.decodeUnverified(token)) == claims, "a minted token does not decode to its claims")
    let v = verifier(audience: audience, keyID: keyID)

    if flip & 1 == 0 {
        // Independent oracle in 128-bit arithmetic: leeway 60 s at both ends.
        let expected: VerificationError.Reason?
        if Int128(time) + 60 < Int128(validFrom) {
            expected = .notYetValid
        } else if let validTo, Int128(time) - 60 >= Int128(validTo) {
            expected = .expired
        } else if let permission, !scope.grants(permission) {
            expected = .scopeNotGranted
        } else {
            expected = nil
        }
        switch verify(v, token, permission, at: time) {
        case .success(let ok):
            Fuzz.require(
                expected == nil, "verify accepted a token the oracle refuses (\(String(describing: expected)))")
            Fuzz.require(
                ok.id == id && ok.validFrom == validFrom && ok.validTo == validTo
                    && ok.scopeKind.rawValue == scope.kindCode,
                "verify returned other claims than minted")
        case .failure(let e):
            Fuzz.require(e.reason == expected, "verify said \(e.reason), the oracle \(String(describing: expected))")
        }
    } else {
        guard var raw = Base64URL.decode(token.dropFirst(4)) else {
            Fuzz.require(false, "minted token does not decode")
            return
        }
        raw[flipAt % raw.count] ^= flipMask
        let forged = TokenClaims.prefix + Base64URL.encode(raw)
        switch verify(v, forged, permission, at: time) {
        case .success:
            Fuzz.require(false, "a token with a flipped bit verified")
        case .failure(let e):
            Fuzz.require(preMAC.contains(e.reason), "a flipped token got past the MAC check (\(e.reason))")
        }
    }
}

Fuzz.run { input in
    guard let mode = input.first else { return }
    let rest = Array(input.dropFirst())[...]
    if mode & 1 == 0 { fuzzText(rest) } else { fuzzClaims(rest) }
}
