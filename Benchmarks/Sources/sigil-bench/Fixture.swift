import CBenchSupport
import SigilIssuer
import SigilVerifier

/// Everything the in-process benchmarks verify: keys, tokens, a 1M-entry signed revocation list.
///
/// All of it is generated from fixed seeds (named test-only), so every run measures the same bytes.
struct Fixture {
    static let audience = "billing"
    static let keyID = "k-bench"
    static let revocationKeyID = "r-bench"
    /// Test-only secrets: never used outside this benchmark.
    static let testOnlyMasterSecret = [UInt8](repeating: 0x5a, count: 32)
    static let testOnlyRevocationSeed = [UInt8](repeating: 0x42, count: 32)
    static let revocationCount = 1_000_000
    /// The permission checked against the custom token: the last of its 8 pairs (longest scan).
    static let customPairs = [
        "devices.create", "devices.delete", "devices.get", "devices.list",
        "invoices.get", "invoices.list", "users.get", "users.list",
    ]

    let now: Int64
    let audienceKey: [UInt8]
    let tokenID: TokenID
    var token: String
    let customToken: String
    let permission: Permission
    let forgedWhole: String
    let forgedFirstByte: String
    let forgedLastByte: String
    /// The token's decoded body and tag, for the C limit.
    let body: [UInt8]
    let tag: [UInt8]

    let listBytes: [UInt8]
    let revocationKeys: [RevocationKey]
    let revocationPublicKey: [UInt8]
    let store: RevocationStore
    /// The delta (docs/FORMAT.md §4.3) from the 1M-entry list (sequence 1) to the list that
    /// adds one revoked GUID to it (sequence 2): what followers fetch after one revoke.
    let oneRevokeDelta: [UInt8]
    /// Verifies with `store` (1M entries) as its revocation source.
    let verifier: Verifier
    /// The same keys, no revocation source: shows what the store lookup costs.
    let bareVerifier: Verifier

    init() throws {
        now = Verifier.unixNow()
        audienceKey = try TokenMinter.audienceKey(masterSecret: Self.testOnlyMasterSecret, audience: Self.audience)

        var random = SplitMix64(seed: 0x5167_11)
        tokenID = Self.randomTokenID(&random)
        let claims = try TokenClaims(
            keyID: Self.keyID, audience: Self.audience, id: tokenID, validFrom: now - 3_600,
            validTo: now + 30 * 86_400, scope: .all)
        token = try TokenMinter.mint(claims, audienceKey: audienceKey)
        let customClaims = try TokenClaims(
            keyID: Self.keyID, audience: Self.audience, id: Self.randomTokenID(&random), validFrom: now - 3_600,
            validTo: now + 30 * 86_400, scope: .custom(Self.customPairs))
        customToken = try TokenMinter.mint(customClaims, audienceKey: audienceKey)
        guard let permission = Permission("users.list", access: .read) else { throw BenchError("bad permission") }
        self.permission = permission

        guard let decoded = Base64URL.decode(token.dropFirst(TokenClaims.prefix.count)) else {
            throw BenchError("minted token does not decode")
        }
        body = Array(decoded.dropLast(TokenClaims.tagLength))
        tag = Array(decoded.suffix(TokenClaims.tagLength))
        func forged(_ change: (inout [UInt8]) -> Void) -> String {
            var bytes = decoded
            change(&bytes)
            return TokenClaims.prefix + Base64URL.encode(bytes)
        }
        let tagStart = decoded.count - TokenClaims.tagLength
        forgedWhole = forged { for i in tagStart..<$0.count { $0[i] ^= 0xff } }
        forgedFirstByte = forged { $0[tagStart] ^= 0x01 }
        forgedLastByte = forged { $0[$0.count - 1] ^= 0x01 }

        // A 1M-entry list of random GUIDs (the token's own GUID is not among them).
        var entries: [(TokenID, RevocationStatus)] = []
        entries.reserveCapacity(Self.revocationCount)
        for i in 0..<Self.revocationCount {
            entries.append((Self.randomTokenID(&random), i % 4 == 0 ? .deactivated : .revoked))
        }
        listBytes = try RevocationListBuilder.build(
            entries: entries, sequence: 1, issuedAt: now, nextUpdate: now + 86_400, keyID: Self.revocationKeyID,
            seed: Self.testOnlyRevocationSeed)
        var publicKey = [UInt8](repeating: 0, count: 32)
        guard bench_ed25519_public(Self.testOnlyRevocationSeed, &publicKey) == 1 else {
            throw BenchError("OpenSSL could not derive the Ed25519 public key")
        }
        revocationPublicKey = publicKey
        revocationKeys = [try RevocationKey(keyID: Self.revocationKeyID, publicKey: publicKey)]
        store = RevocationStore(keys: revocationKeys)
        try store.load(bytes: listBytes)
        guard store.list.count == Self.revocationCount else { throw BenchError("the store did not load 1M entries") }

        // The next list: the same entries and one more revoked GUID (a new random one, so it
        // lands somewhere in the middle), signed as sequence 2; the delta carries its signature.
        entries.append((Self.randomTokenID(&random), .revoked))
        entries.sort { $0.0 < $1.0 }
        let nextBytes = try RevocationListBuilder.build(
            entries: entries, sequence: 2, issuedAt: now + 1, nextUpdate: now + 86_401, keyID: Self.revocationKeyID,
            seed: Self.testOnlyRevocationSeed)
        let next = try RevocationList(verifying: nextBytes, keys: revocationKeys)
        oneRevokeDelta = RevocationDeltaBuilder.build(from: store.list, to: next)
        guard
            try RevocationDelta(parsing: oneRevokeDelta).applied(to: store.list, keys: revocationKeys).bytes
                == next.bytes
        else { throw BenchError("the one-revoke delta does not rebuild the next list") }

        let keys = [try TokenKey(keyID: Self.keyID, key: audienceKey)]
        verifier = try Verifier(audience: Self.audience, keys: keys, revocations: store)
        bareVerifier = try Verifier(audience: Self.audience, keys: keys)
        try check()
    }

    /// Each input fails or succeeds the way its benchmark assumes.
    private func check() throws {
        guard try verifier.verify(token, for: nil, at: now).id == tokenID else {
            throw BenchError("verify returned another id")
        }
        _ = try verifier.verify(customToken, for: permission, at: now)
        for forged in [forgedWhole, forgedFirstByte, forgedLastByte] {
            do {
                _ = try verifier.verify(forged, for: nil, at: now)
                throw BenchError("a forged token verified")
            } catch let error as VerificationError {
                guard error.reason == .badSignature else {
                    throw BenchError("forged token failed with \(error.reason)")
                }
            }
        }
    }

    /// An RFC 9562 version-4 GUID from `random`.
    static func randomTokenID(_ random: inout SplitMix64) -> TokenID {
        let high = random.next() & ~0xF000 | 0x4000  // version 4 in bits 48-51
        let low = random.next() & ~(0xC000 << 48) | (0x8000 << 48)  // RFC 9562 variant
        return TokenID(rawValue: UInt128(high) << 64 | UInt128(low))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
