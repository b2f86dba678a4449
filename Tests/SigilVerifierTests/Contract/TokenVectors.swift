import SigilIssuer
import SigilVerifier
import Testing

/// One vector of `Tests/Vectors/tokens-v1.json` (schema in docs/FORMAT.md §7.1).
///
/// The catalogue states each expected outcome from the format's rules; nothing here asks
/// the verifier what the answer is. ``VectorFileTests`` then holds the Swift verifier to it.
struct TokenVector {
    var name: String
    var description: String
    /// Informative: every key in `keys` is HKDF(masterSecret, audience). Nil when they are not.
    var masterSecret: [UInt8]?
    var keys: [(kid: String, key: [UInt8])]
    var audience: String
    var now: Int64
    var leeway: Int64
    var permission: (name: String, access: Access)?
    var revoked: [(id: TokenID, status: RevocationStatus)]
    var token: String
    var reason: VerificationError.Reason?
    /// Set exactly when the token is valid.
    var claims: TokenClaims?

    var json: JSONText {
        .object([
            ("name", .string(name)),
            ("description", .string(description)),
            ("master_secret_hex", .optional(masterSecret.map { Hex.encode($0) })),
            (
                "keys",
                .array(keys.map { .object([("kid", .string($0.kid)), ("key_hex", .string(Hex.encode($0.key)))]) })
            ),
            ("audience", .string(audience)),
            ("now", .int(now)),
            ("leeway", .int(leeway)),
            (
                "permission",
                permission.map { .object([("name", .string($0.name)), ("access", .string($0.access.rawValue))]) }
                    ?? .null
            ),
            (
                "revoked",
                .array(
                    revoked.map {
                        .object([("guid", .string($0.id.description)), ("status", .string($0.status.name))])
                    })
            ),
            ("token", .string(token)),
            (
                "expected",
                .object([
                    ("valid", .bool(reason == nil)),
                    ("reason", .optional(reason?.rawValue)),
                    ("claims", claims.map(Self.claimsJSON) ?? .null),
                ])
            ),
        ])
    }

    static func claimsJSON(_ c: TokenClaims) -> JSONText {
        let scope: JSONText =
            switch c.scope {
            case .all: .string("all")
            case .readOnly: .string("read-only")
            case .custom(let pairs): .array(pairs.map(JSONText.string))
            }
        return .object([
            ("kid", .string(c.keyID)),
            ("audience", .string(c.audience)),
            ("guid", .string(c.id.description)),
            ("valid_from", .int(c.validFrom)),
            ("valid_to", .optional(c.validTo)),
            ("scope", scope),
        ])
    }
}

extension RevocationStatus {
    /// The vector files' spelling of a status.
    var name: String { self == .revoked ? "revoked" : "deactivated" }
}

/// Builds every token vector from fixed, test-only secrets and GUIDs (no randomness).
struct TokenVectorCatalog {
    let kBilling: [UInt8]
    let vectors: [TokenVector]

    static let k2Secret = TestKeys.otherMasterSecret
    static let anyGUID = TokenID(rawValue: .max)
    static let longPairs: [String] = (0..<47).map {
        String(repeating: "a", count: 30) + format2($0) + "." + String(repeating: "b", count: 31)
    }

    init() throws {
        let kBilling = try TestKeys.audienceKey()
        self.kBilling = kBilling
        var out: [TokenVector] = []
        let base = try TestKeys.claims()

        /// Adds a vector with the default verifier (billing, k1 from the test master secret,
        /// leeway 60, now 2026-01-01, no permission, nothing revoked).
        func add(
            _ name: String, _ description: String, token: String, reason: VerificationError.Reason?,
            claims: TokenClaims? = nil, _ edit: (inout TokenVector) -> Void = { _ in }
        ) {
            var v = TokenVector(
                name: name, description: description, masterSecret: TestKeys.masterSecret,
                keys: [("k1", kBilling)], audience: TestKeys.audience, now: TestKeys.now, leeway: 60, permission: nil,
                revoked: [], token: token, reason: reason, claims: reason == nil ? claims : nil)
            edit(&v)
            out.append(v)
        }
        func mint(_ claims: TokenClaims, secret: [UInt8] = TestKeys.masterSecret) throws -> String {
            try TestKeys.mint(claims, secret: secret)
        }
        func sealed(_ edit: (inout RawBody) -> Void) throws -> String {
            var raw = RawBody()
            edit(&raw)
            return try raw.sealed(key: kBilling)
        }
        func malformed(_ name: String, _ description: String, _ token: String) {
            add("malformed-" + name, description, token: token, reason: .malformed)
        }
        let baseToken = try mint(base)

        // MARK: Valid tokens

        add(
            "valid-all-bounded", "Scope all grants a write permission on any resource; bounded window.",
            token: baseToken, reason: nil, claims: base
        ) { $0.permission = ("devices.delete", .write) }

        let readOnly = try TestKeys.claims(id: TestKeys.id2, validTo: nil, scope: .readOnly)
        add(
            "valid-read-only-never-expires", "Read-only scope grants a read permission; valid_to 0 (never expires).",
            token: try mint(readOnly), reason: nil, claims: readOnly
        ) {
            $0.permission = ("devices.list", .read)
            $0.now = .max
        }

        let custom1 = try TestKeys.claims(scope: .custom(["devices.list"]))
        add(
            "valid-custom-one-entry", "Custom scope with one entry grants exactly that pair.",
            token: try mint(custom1), reason: nil, claims: custom1
        ) { $0.permission = ("devices.list", .read) }

        let customWrite = try TestKeys.claims(scope: .custom(["devices.delete", "devices.list"]))
        add(
            "valid-custom-write-access", "A custom pair is granted whatever the access mode (here write).",
            token: try mint(customWrite), reason: nil, claims: customWrite
        ) { $0.permission = ("devices.delete", .write) }

        let custom256 = try TestKeys.claims(id: TestKeys.id3, scope: .custom(TestKeys.pairs256))
        add(
            "valid-custom-256-entries", "The largest custom scope (256 entries); the last entry is granted.",
            token: try mint(custom256), reason: nil, claims: custom256
        ) { $0.permission = ("rp.ap", .read) }

        let customMany = try TestKeys.claims(scope: .custom(["devices.list", "invoices.read", "users.get"]))
        add(
            "valid-custom-no-permission", "Without a permission the scope is not checked.",
            token: try mint(customMany), reason: nil, claims: customMany)

        add(
            "valid-at-valid-from-minus-leeway", "now = valid_from - leeway: the first accepted second.",
            token: baseToken, reason: nil, claims: base
        ) { $0.now = TestKeys.validFrom - 60 }

        add(
            "valid-at-valid-to-plus-leeway-minus-1", "now = valid_to + leeway - 1: the last accepted second.",
            token: baseToken, reason: nil, claims: base
        ) { $0.now = TestKeys.validTo + 59 }

        add(
            "valid-leeway-0-at-valid-from", "Leeway 0: valid_from itself is valid (inclusive).",
            token: baseToken, reason: nil, claims: base
        ) {
            $0.leeway = 0
            $0.now = TestKeys.validFrom
        }

        let k2 = try TestKeys.claims(keyID: "k2")
        let k2Key = try TestKeys.audienceKey(Self.k2Secret)
        add(
            "valid-second-key", "The verifier holds k1 and k2 (from different master secrets); the token uses k2.",
            token: try mint(k2, secret: Self.k2Secret), reason: nil, claims: k2
        ) {
            $0.masterSecret = nil
            $0.keys.append(("k2", k2Key))
        }

        add(
            "valid-other-guids-listed", "Other GUIDs are revoked or deactivated; this one is not listed.",
            token: baseToken, reason: nil, claims: base
        ) { $0.revoked = [(TestKeys.id2, .revoked), (TestKeys.id3, .deactivated)] }

        let extremeOpen = try TestKeys.claims(validFrom: .min, validTo: nil)
        add(
            "valid-extreme-open-window",
            "valid_from = i64 min, never expires, now = i64 max, leeway 86400: no overflow.",
            token: try mint(extremeOpen), reason: nil, claims: extremeOpen
        ) {
            $0.now = .max
            $0.leeway = 86_400
        }

        let extremeLow = try TestKeys.claims(validFrom: .min, validTo: .min + 1)
        add(
            "valid-extreme-now-min", "Window [i64 min, i64 min + 1) at now = i64 min with leeway 86400.",
            token: try mint(extremeLow), reason: nil, claims: extremeLow
        ) {
            $0.now = .min
            $0.leeway = 86_400
        }

        let negative = try TestKeys.claims(validFrom: -1_000, validTo: 1_000)
        add(
            "valid-negative-valid-from", "Times before 1970 are ordinary signed values.",
            token: try mint(negative), reason: nil, claims: negative
        ) { $0.now = 0 }

        let longKid = "Az09_-" + String(repeating: "k", count: 26)
        let longAudience = "Az09._:-" + String(repeating: "a", count: 56)
        let longest = try TestKeys.claims(keyID: longKid, audience: longAudience)
        let longKey = try TestKeys.audienceKey(audience: longAudience)
        add(
            "valid-longest-key-id-and-audience", "32-byte key id and 64-byte audience using every allowed character.",
            token: try mint(longest), reason: nil, claims: longest
        ) {
            $0.audience = longAudience
            $0.keys = [(longKid, longKey)]
        }

        let anyBits = try TestKeys.claims(id: Self.anyGUID)
        add(
            "valid-guid-without-uuid-bits", "Verifiers do not check the GUID's version or variant bits (all ff).",
            token: try mint(anyBits), reason: nil, claims: anyBits)

        let exact = try TestKeys.claims(scope: .custom(Array(Self.longPairs.prefix(46))))
        let exactToken = try mint(exact)
        add(
            "valid-exactly-4096-characters", "The longest accepted text: 4096 characters including the prefix.",
            token: exactToken, reason: nil, claims: exact)

        // MARK: One vector per reason, and the check order

        let shipping = try mint(try TestKeys.claims(audience: "shipping"))
        add(
            "wrong-audience", "A token for audience shipping checked by a billing verifier.", token: shipping,
            reason: .wrongAudience)
        add(
            "wrong-audience-before-unknown-key", "Wrong audience and unknown key id: wrong_audience is checked first.",
            token: try mint(try TestKeys.claims(keyID: "k9", audience: "shipping")), reason: .wrongAudience)
        add(
            "unknown-key", "Key id k9 is not loaded.", token: try mint(try TestKeys.claims(keyID: "k9")),
            reason: .unknownKey)
        add(
            "unknown-key-before-bad-signature", "Unknown key id and a MAC from another secret: unknown_key first.",
            token: try mint(try TestKeys.claims(keyID: "k9"), secret: Self.k2Secret), reason: .unknownKey)
        add(
            "bad-signature-other-secret", "k1's key id but minted under another master secret.",
            token: try mint(base, secret: Self.k2Secret), reason: .badSignature)

        var tagFlipped = try TokenClaims.decodeText(baseToken)
        tagFlipped[tagFlipped.count - 1] ^= 0x01
        add(
            "bad-signature-tag-bit-flipped", "The last bit of the tag flipped.",
            token: "sgl_" + Base64URL.encode(tagFlipped), reason: .badSignature)

        var guidFlipped = try TokenClaims.decodeText(baseToken)
        guidFlipped[1 + 1 + 2 + 1 + 7] ^= 0x80  // first GUID byte
        add(
            "bad-signature-guid-bit-flipped", "One GUID bit flipped: the body still parses, the MAC does not match.",
            token: "sgl_" + Base64URL.encode(guidFlipped), reason: .badSignature)

        add(
            "bad-signature-before-expired",
            "Forged and expired: bad_signature, since nothing is trusted before the MAC.",
            token: try mint(base, secret: Self.k2Secret), reason: .badSignature
        ) { $0.now = TestKeys.validTo + 3_600 }

        let kShipping = try TestKeys.audienceKey(audience: "shipping")
        add(
            "bad-signature-key-of-another-audience",
            "A billing body MAC'd with K_shipping (same master): K_aud binds the audience.",
            token: try TokenMinter.mint(base, audienceKey: kShipping), reason: .badSignature)

        add("revoked", "The GUID is revoked.", token: baseToken, reason: .revoked) {
            $0.revoked = [(TestKeys.id1, .revoked)]
        }
        add(
            "revoked-before-expired", "Revoked and expired: revoked is checked first.", token: baseToken,
            reason: .revoked
        ) {
            $0.revoked = [(TestKeys.id1, .revoked)]
            $0.now = TestKeys.validTo + 3_600
        }
        add("deactivated", "The GUID is deactivated.", token: baseToken, reason: .deactivated) {
            $0.revoked = [(TestKeys.id1, .deactivated), (TestKeys.id2, .revoked)]
        }
        add(
            "deactivated-before-not-yet-valid", "Deactivated and not yet valid: deactivated first.", token: baseToken,
            reason: .deactivated
        ) {
            $0.revoked = [(TestKeys.id1, .deactivated)]
            $0.now = TestKeys.validFrom - 3_600
        }
        add("not-yet-valid", "now = valid_from - leeway - 1.", token: baseToken, reason: .notYetValid) {
            $0.now = TestKeys.validFrom - 61
        }
        add(
            "not-yet-valid-before-scope", "Not yet valid and out of scope: not_yet_valid first.",
            token: try mint(readOnly), reason: .notYetValid
        ) {
            $0.now = TestKeys.validFrom - 61
            $0.permission = ("devices.delete", .write)
        }
        add(
            "expired-at-valid-to-plus-leeway", "now = valid_to + leeway: the first refused second.", token: baseToken,
            reason: .expired
        ) {
            $0.now = TestKeys.validTo + 60
        }
        add(
            "expired-leeway-0-at-valid-to", "Leeway 0: valid_to itself is expired (exclusive).", token: baseToken,
            reason: .expired
        ) {
            $0.leeway = 0
            $0.now = TestKeys.validTo
        }
        add(
            "expired-before-scope", "Expired and out of scope: expired first.",
            token: try mint(try TestKeys.claims(scope: .readOnly)), reason: .expired
        ) {
            $0.now = TestKeys.validTo + 3_600
            $0.permission = ("devices.delete", .write)
        }
        add(
            "not-yet-valid-extreme", "Window [i64 max - 1, i64 max) at now = i64 min, leeway 86400: no overflow.",
            token: try mint(try TestKeys.claims(validFrom: .max - 1, validTo: .max)), reason: .notYetValid
        ) {
            $0.now = .min
            $0.leeway = 86_400
        }
        add(
            "expired-extreme", "Window [i64 min, i64 min + 1) at now = i64 max, leeway 86400: no overflow.",
            token: try mint(extremeLow), reason: .expired
        ) {
            $0.now = .max
            $0.leeway = 86_400
        }
        add(
            "scope-not-granted-read-only-write", "Read-only scope refuses a write permission.",
            token: try mint(readOnly), reason: .scopeNotGranted
        ) { $0.permission = ("devices.list", .write) }
        add(
            "scope-not-granted-custom-unlisted", "Custom scope refuses a pair it does not list.",
            token: try mint(customMany), reason: .scopeNotGranted
        ) { $0.permission = ("devices.delete", .read) }
        add(
            "scope-not-granted-custom-prefix", "Custom scope: no prefix matching (devices.lis).",
            token: try mint(custom1), reason: .scopeNotGranted
        ) { $0.permission = ("devices.lis", .read) }

        // MARK: Malformed: text level

        let payload = String(baseToken.dropFirst(4))
        let residue2 = try TokenMutationTests.token(residue: 2)
        let residue3 = try TokenMutationTests.token(residue: 3)
        let residue0 = try TokenMutationTests.token(residue: 0)
        func replacing(_ token: String, at index: Int, with c: String) -> String {
            TokenMutationTests.replacing(token, at: index, with: c)
        }
        malformed("empty", "The empty string.", "")
        malformed("prefix-only", "Just the prefix.", "sgl_")
        malformed("missing-prefix", "A valid token's base64url part without sgl_.", payload)
        malformed("uppercase-prefix", "SGL_ instead of sgl_.", "SGL_" + payload)
        malformed("leading-space", "A space before the token.", " " + baseToken)
        malformed("trailing-newline", "A line break after the token.", baseToken + "\n")
        malformed("padding-one", "Canonical text plus the one = that padding would add.", residue3 + "=")
        malformed("padding-two", "Canonical text plus the two == that padding would add.", residue2 + "==")
        malformed(
            "bad-char-plus", "Standard-alphabet + instead of a URL-alphabet character.",
            replacing(baseToken, at: 10, with: "+"))
        malformed(
            "bad-char-slash", "Standard-alphabet / instead of a URL-alphabet character.",
            replacing(baseToken, at: 10, with: "/"))
        malformed("bad-char-space", "A space inside the text.", replacing(baseToken, at: 10, with: " "))
        malformed(
            "bad-char-non-ascii", "A non-ASCII letter (U+00E9) inside the text.",
            replacing(baseToken, at: 10, with: "é"))
        malformed(
            "non-canonical-bits-2", "Length 2 mod 4: the last character's low 4 bits are not zero.",
            replacing(residue2, at: residue2.count - 5, with: String(nextAlphabetChar(residue2.last))))
        malformed(
            "non-canonical-bits-3", "Length 3 mod 4: the last character's low 2 bits are not zero.",
            replacing(residue3, at: residue3.count - 5, with: String(nextAlphabetChar(residue3.last))))
        malformed("length-1-mod-4", "A base64url part whose length is 1 mod 4.", residue0 + "A")
        malformed(
            "too-long-4097", "The 4096-character valid token plus one character (4097).", exactToken + "A")
        malformed(
            "too-long-sealed", "A correctly MAC'd body whose text is over 4096 characters (47 long entries).",
            try sealed { $0 = RawBody(custom: Self.longPairs) })
        malformed(
            "too-short", "Decodes to exactly 32 bytes: no body.",
            "sgl_" + Base64URL.encode([UInt8](repeating: 7, count: 32)))

        // MARK: Malformed: byte level, each with a correct MAC over the edited body

        malformed("version-0", "Version byte 0.", try sealed { $0.version = 0 })
        malformed("version-2", "Version byte 2 (unknown versions are malformed).", try sealed { $0.version = 2 })
        malformed("key-id-empty", "Key id length 0.", try sealed { $0.keyID = [] })
        malformed(
            "key-id-33", "Key id of 33 bytes.", try sealed { $0.keyID = Array(String(repeating: "k", count: 33).utf8) })
        malformed("key-id-bad-char", "Key id with a dot.", try sealed { $0.keyID = Array("k.1".utf8) })
        malformed("audience-empty", "Audience length 0.", try sealed { $0.audience = [] })
        malformed(
            "audience-65", "Audience of 65 bytes.",
            try sealed { $0.audience = Array(String(repeating: "a", count: 65).utf8) })
        malformed("audience-bad-char", "Audience with a slash.", try sealed { $0.audience = Array("bill/ing".utf8) })
        malformed("length-past-end", "Key id length byte pointing past the body.", try sealed { $0.keyIDLength = 250 })
        malformed("valid-to-equals-valid-from", "valid_to = valid_from.", try sealed { $0.validTo = $0.validFrom })
        malformed("valid-to-before-valid-from", "valid_to < valid_from.", try sealed { $0.validTo = $0.validFrom - 1 })
        malformed("scope-kind-0", "Scope kind 0.", try sealed { $0.scopeKind = 0 })
        malformed("scope-kind-4", "Scope kind 4.", try sealed { $0.scopeKind = 4 })
        malformed("scope-count-0", "Custom scope with count 0.", try sealed { $0 = RawBody(custom: []) })
        malformed(
            "scope-count-257", "Custom scope with 257 valid, sorted entries.",
            try sealed { $0 = RawBody(custom: TestKeys.pairs256 + ["zz.zz"]) })
        malformed(
            "scope-unsorted", "Custom entries out of bytewise order.",
            try sealed { $0 = RawBody(custom: ["users.get", "devices.list"]) })
        malformed(
            "scope-duplicate", "The same custom entry twice.",
            try sealed { $0 = RawBody(custom: ["devices.list", "devices.list"]) })
        malformed(
            "scope-uppercase", "Custom entry with an upper-case letter.",
            try sealed { $0 = RawBody(custom: ["devices.List"]) })
        malformed("scope-no-dot", "Custom entry without a dot.", try sealed { $0 = RawBody(custom: ["deviceslist"]) })
        malformed(
            "scope-two-dots", "Custom entry with a second dot.",
            try sealed { $0 = RawBody(custom: ["devices.list.all"]) })
        malformed(
            "scope-empty-part", "Custom entry with an empty resource.", try sealed { $0 = RawBody(custom: [".list"]) })
        malformed(
            "scope-part-33", "Custom entry whose resource is 33 bytes.",
            try sealed { $0 = RawBody(custom: [String(repeating: "d", count: 33) + ".list"]) })
        malformed(
            "scope-digit-first", "Custom entry part starting with a digit.",
            try sealed { $0 = RawBody(custom: ["1devices.list"]) })
        malformed("scope-entry-length-2", "Custom entry of 2 bytes (a.).", try sealed { $0 = RawBody(custom: ["a."]) })
        malformed(
            "scope-count-exceeds-entries", "Count 2 with one entry: the scope is truncated.",
            try sealed {
                $0 = RawBody(custom: ["devices.list"])
                $0.scopeCount = 2
            })
        malformed(
            "trailing-byte-all", "A zero byte after scope kind 1, inside the MAC'd body.",
            try sealed { $0.trailing = [0] })
        malformed(
            "trailing-byte-custom", "A zero byte after a custom scope, inside the MAC'd body.",
            try sealed {
                $0 = RawBody(custom: ["devices.list"])
                $0.trailing = [0]
            })
        malformed(
            "byte-after-tag", "A valid token's bytes plus one zero byte after the tag.",
            "sgl_" + Base64URL.encode(try TokenClaims.decodeText(baseToken) + [0]))
        let body = base.body()
        let cut = Array(body.dropLast())
        malformed(
            "truncated-body", "The body without its scope kind byte, MAC'd as is.",
            "sgl_" + Base64URL.encode(cut + (try #require(hmacSHA256(key: kBilling, message: cut)))))

        vectors = out
    }
}
