import Foundation
import SigilIssuer
import SigilIssuerCrypto
package import SigilVerifier

/// Writes the conformance cases every runner answers: deterministic for a seed, built with
/// the issuer's own minting (``TokenMinter``) and list signing (``RevocationListBuilder``).
///
/// Damaged tokens and lists start from those bytes; where a damaged body must still carry a
/// matching MAC or signature (so that the parser, not the MAC check, decides), it is sealed
/// again with the same OpenSSL calls the issuer uses. Every key comes from the seed: these
/// are test-only keys, never a real keyring's.
///
/// ```swift
/// let cases = try CaseGenerator(seed: 1).cases(count: 6_000)
/// for c in cases { print(c.line) }
/// ```
package struct CaseGenerator {
    /// One case: a label for people (`scripts/conformance.sh` shows it in a diff) and its JSON line.
    package struct Case: Sendable {
        package let label: String
        package let line: String
        package let fields: CaseJSON
    }

    /// Where a case's list comes from.
    package enum List {
        case none
        case bytes([UInt8])
        /// Text as given, for lists that are not base64 at all.
        case text(String)
    }

    /// The default number of cases (the CI floor is 5,000).
    package static let defaultCount = 6_000
    /// 2026-01-01T00:00:00Z: the "now" of most cases.
    package static let now: Int64 = 1_767_225_600

    package let audience = "billing"
    package let otherAudience = "other.svc"
    package let k1 = "test-only-k1"
    package let k2 = "test-only-k2"
    package let k3 = "test-only-k3"
    package let r1 = "test-only-r1"
    package let r2 = "test-only-r2"
    package let r9 = "test-only-r9"

    let masterK1: [UInt8]
    let masterK1Wrong: [UInt8]
    let masterK2: [UInt8]
    let masterK3: [UInt8]
    let seedR1: [UInt8]
    let seedR1Wrong: [UInt8]
    let seedR2: [UInt8]
    let seedR9: [UInt8]
    let audienceKeyK1: [UInt8]
    package private(set) var keyset: CaseJSON

    private var random: SplitMix64
    private var cases: [Case] = []

    /// - Parameter seed: Chooses every key, GUID and random case; the same seed writes the same cases.
    /// - Throws: An issuer error if deriving a test key fails (OpenSSL broken).
    package init(seed: UInt64) throws {
        random = SplitMix64(seed: seed)
        masterK1 = random.bytes(32)
        masterK1Wrong = random.bytes(32)
        masterK2 = random.bytes(32)
        masterK3 = random.bytes(32)
        seedR1 = random.bytes(32)
        seedR1Wrong = random.bytes(32)
        seedR2 = random.bytes(32)
        seedR9 = random.bytes(32)
        audienceKeyK1 = try TokenMinter.audienceKey(masterSecret: masterK1, audience: "billing")
        keyset = .null
        keyset = try makeKeyset(
            audience: audience, tokenKeys: [(k1, masterK1), (k2, masterK2)],
            revocationKeys: [(r1, seedR1), (r2, seedR2)])
    }

    // MARK: - Building blocks

    /// A keyset v1 object as `sigil keys export` writes it, for `audience`.
    package func makeKeyset(
        audience: String, tokenKeys: [(String, [UInt8])], revocationKeys: [(String, [UInt8])]
    ) throws -> CaseJSON {
        var tokens: [CaseJSON] = []
        for (kid, master) in tokenKeys {
            let key = try TokenMinter.audienceKey(masterSecret: master, audience: audience)
            tokens.append(.object(["kid": .string(kid), "key": .string(Base64URL.encode(key))]))
        }
        let signing: [CaseJSON] = revocationKeys.map { kid, seed in
            .object([
                "kid": .string(kid),
                "public_key": .string(Base64URL.encode(OpenSSL.ed25519PublicKey(seed: seed) ?? [])),
            ])
        }
        return .object([
            "format": .string(Keyset.format), "audience": .string(audience), "token_keys": .array(tokens),
            "revocation_keys": .array(signing),
        ])
    }

    /// A version-4 GUID from the seeded generator.
    package mutating func newID() -> TokenID {
        var bytes = random.bytes(16)
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        return TokenID(bytes: bytes) ?? TokenID(rawValue: 0)
    }

    /// A token minted by the issuer's ``TokenMinter``.
    package func mint(
        kid: String? = nil, master: [UInt8]? = nil, audience: String? = nil, id: TokenID,
        from: Int64 = CaseGenerator.now - 3_600, to: Int64? = CaseGenerator.now + 86_400, scope: Scope = .all
    ) throws -> String {
        let claims = try TokenClaims(
            keyID: kid ?? k1, audience: audience ?? self.audience, id: id, validFrom: from, validTo: to, scope: scope)
        return try TokenMinter.mint(claims, masterSecret: master ?? masterK1)
    }

    /// `sgl_` + base64url(bytes), whatever the bytes are.
    package static func text(_ bytes: [UInt8]) -> String { TokenClaims.prefix + Base64URL.encode(bytes) }

    /// `body || tag` of a token's text.
    package static func decoded(_ token: String) -> [UInt8] { Base64URL.decode(token.dropFirst(4)) ?? [] }

    /// A body sealed with K_aud of k1, so it passes the MAC check and only the parser can refuse it.
    package func sealed(_ body: [UInt8], key: [UInt8]? = nil) -> String {
        var tag = [UInt8](repeating: 0, count: 32)
        let k = key ?? audienceKeyK1
        _ = k.withUnsafeBytes { key in
            body.withUnsafeBytes { body in
                tag.withUnsafeMutableBytes { OpenSSL.hmacSHA256(key: key, message: body, into: $0) }
            }
        }
        return Self.text(body + tag)
    }

    /// A list built and signed by the issuer's ``RevocationListBuilder``.
    package func list(
        _ entries: [(TokenID, RevocationStatus)], sequence: UInt64 = 7, nextUpdate: Int64? = CaseGenerator.now + 3_600,
        kid: String? = nil, seed: [UInt8]? = nil
    ) throws -> [UInt8] {
        try RevocationListBuilder.build(
            entries: entries, sequence: sequence, issuedAt: Self.now - 60, nextUpdate: nextUpdate, keyID: kid ?? r1,
            seed: seed ?? seedR1)
    }

    /// `bytes` (a list whose body was edited) signed again, so only the parser can refuse it.
    package func resigned(_ bytes: [UInt8], seed: [UInt8]? = nil) -> [UInt8] {
        let body = Array(bytes.dropLast(RevocationList.signatureSize))
        let message = RevocationList.signingContext + body
        let signature = message.withUnsafeBytes { OpenSSL.ed25519Sign(seed: seed ?? seedR1, message: $0) } ?? []
        return body + signature
    }

    /// Appends one case. Defaults: the main keyset, no list, audience billing, no permission,
    /// now 2026-01-01, leeway 60, fail_open.
    package mutating func add(
        _ label: String, token: CaseJSON, keyset: CaseJSON? = nil, list: List = .none, audience: CaseJSON? = nil,
        permission: String? = nil, access: String? = nil, now: Int64 = CaseGenerator.now,
        leeway: CaseJSON? = .int(60), whenNoList: String = "fail_open"
    ) {
        let revocations: CaseJSON =
            switch list {
            case .none: .null
            case .bytes(let bytes): .string(Data(bytes).base64EncodedString())
            case .text(let text): .string(text)
            }
        var fields: [(String, CaseJSON)] = [
            ("keyset", keyset ?? self.keyset), ("revocations", revocations), ("token", token),
            ("audience", audience ?? .string(self.audience)),
            ("permission", permission.map(CaseJSON.string) ?? .null), ("access", access.map(CaseJSON.string) ?? .null),
            ("now", .int(now)),
        ]
        if let leeway { fields.append(("leeway", leeway)) }
        fields.append(("when_no_list", .string(whenNoList)))
        var line = "{"
        for (i, (key, value)) in fields.enumerated() {
            line += (i > 0 ? "," : "") + CaseJSON.quoted(key) + ":" + value.compact
        }
        line += "}"
        var object: [String: CaseJSON] = [:]
        for (key, value) in fields { object[key] = value }
        cases.append(Case(label: label, line: line, fields: .object(object)))
    }

    package mutating func add(
        _ label: String, _ token: String, keyset: CaseJSON? = nil, list: List = .none, audience: String? = nil,
        permission: String? = nil, access: String? = nil, now: Int64 = CaseGenerator.now, leeway: Int64 = 60,
        whenNoList: String = "fail_open"
    ) {
        add(
            label, token: .string(token), keyset: keyset, list: list, audience: audience.map(CaseJSON.string),
            permission: permission, access: access, now: now, leeway: .int(leeway), whenNoList: whenNoList)
    }

    // MARK: - The cases

    /// The systematic cases, then seeded random ones up to `count` (or every `k`-th systematic
    /// case, spread over all groups, if `count` is smaller). Nil: systematic, at least ``defaultCount``.
    package mutating func cases(count: Int?) throws -> [Case] {
        cases = []
        try systematic()
        let target = count ?? max(Self.defaultCount, cases.count)
        if target < cases.count {
            let all = cases
            cases = (0..<target).map { all[$0 * all.count / target] }
        }
        var n = 0
        while cases.count < target {
            try randomCase(n)
            n += 1
        }
        return cases
    }

    private mutating func systematic() throws {
        let custom = Scope.custom(["devices.list", "devices.write", "invoices.read"])
        let idAll = newID()
        let idRead = newID()
        let idCustom = newID()
        let idRevoked = newID()
        let idDeactivated = newID()
        var others: [(TokenID, RevocationStatus)] = []
        for i in 0..<8 { others.append((newID(), i % 3 == 0 ? .deactivated : .revoked)) }
        let standard = try list([(idRevoked, .revoked), (idDeactivated, .deactivated)] + others)
        let tAll = try mint(id: idAll, scope: .all)
        let tRead = try mint(id: idRead, scope: .readOnly)
        let tCustom = try mint(id: idCustom, scope: custom)
        let bases: [(String, String)] = [("all", tAll), ("read-only", tRead), ("custom", tCustom)]

        // Valid tokens of the three scope kinds, under both keys, with and without a list.
        for (kind, scope) in [("all", Scope.all), ("read-only", .readOnly), ("custom", custom)] {
            for kid in [k1, k2] {
                for i in 0..<4 {
                    let token = try mint(kid: kid, master: kid == k1 ? masterK1 : masterK2, id: newID(), scope: scope)
                    add(
                        "valid \(kind) \(kid) #\(i)", token, list: i % 2 == 0 ? .bytes(standard) : .none,
                        whenNoList: i == 3 ? "fail_closed" : "fail_open")
                }
            }
        }

        try permissions(bases, list: standard)
        for (kind, token) in bases { textMutations(kind, token, list: standard) }
        for (kind, token) in bases { bodyMutations(kind, token, list: standard) }
        try bodyRules(list: standard)
        try keysAndAudiences(list: standard)
        try revocations(idRevoked: idRevoked, idDeactivated: idDeactivated, others: others, standard: standard)
        try windows(list: standard)
        try damagedLists(tAll, idRevoked: idRevoked, idDeactivated: idDeactivated)
        try staleness(tAll, idRevoked: idRevoked)
        try malformedCases(tAll, list: standard)
    }

    private mutating func permissions(_ bases: [(String, String)], list: [UInt8]) throws {
        let wanted: [(String?, String?)] = [
            (nil, nil), (nil, "write"), ("devices.list", "read"), ("devices.list", "write"), ("devices.write", "write"),
            ("devices.write", "read"), ("invoices.read", "read"), ("invoices.read", "write"), ("invoices.pay", "write"),
            ("zz.top", "read"), ("devices.lis", "read"), ("devices.listx", "read"), ("device.list", "read"),
            ("devices.list", nil), ("devices.write", nil), ("devices.write", "WRITE"), ("devices.list", "admin"),
            ("a.b", "read"), ("a.b", "write"),
            (String(repeating: "r", count: 32) + "." + String(repeating: "a", count: 32), "write"),
            ("Devices.list", "read"), ("devices", "read"), ("devices.list.x", "read"), ("", "read"),
            (String(repeating: "r", count: 33) + ".a", "read"), ("1devices.list", "read"),
        ]
        for (kind, token) in bases {
            for (name, access) in wanted {
                add(
                    "permission \(kind) \(name ?? "none") \(access ?? "null")", token, list: .bytes(list),
                    permission: name, access: access)
            }
        }
        // The widest custom scope (256 entries) and a token of exactly 4,096 characters.
        let many = (0..<256).map { String(format: "r%03d.a", $0) }
        let wide = try mint(id: newID(), scope: .custom(many))
        for name in ["r000.a", "r128.a", "r255.a", "r256.a", "r12.a"] {
            add("permission 256-entry scope \(name)", wide, permission: name, access: "write")
        }
        let longest = try longestToken()
        add("4096-character token", longest, permission: "devices.list", access: "read")
        add("4096-character token, listed permission", longest, permission: longestPermission, access: "write")
        add("4097-character token", longest + "A")
        let longestBody = Array(Self.decoded(longest).dropLast(32))
        add("4098-character token, sealed", sealed(longestBody + [0]))
    }

    private var longestPermission: String {
        String(repeating: "z", count: 32) + "." + String(repeating: "z", count: 32)
    }

    /// A custom-scope token whose text is exactly 4,096 characters (3,069 decoded bytes).
    private mutating func longestToken() throws -> String {
        // Body: 1 + 1 + 12 + 1 + 7 + 16 + 16 + 1 + 2 = 57 bytes before the entries; 3,069 - 32 - 57 = 2,980.
        var pairs: [String] = []
        for i in 0..<44 {
            let resource = String(format: "r%02d", i) + String(repeating: "x", count: 29)
            pairs.append(resource + "." + String(repeating: "a", count: 32))  // 66 bytes with its length
        }
        // 44 × 66 = 2,904; 76 bytes left: one entry of 66 and one of 10.
        pairs.append("s." + String(repeating: "b", count: 7))  // 10 bytes with its length
        pairs.append(longestPermission)  // 66
        pairs.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let token = try mint(id: newID(), scope: .custom(pairs))
        precondition(token.utf8.count == 4_096, "the longest token is \(token.utf8.count) characters")
        return token
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Every single-character change, truncation and extension of the token's text.
    private mutating func textMutations(_ kind: String, _ token: String, list: [UInt8]) {
        let text = Array(token.utf8)
        let foreign: [String] = ["=", "+", "/", " ", ".", "\u{e9}", "\n", "\u{0}", "~", "%"]
        for i in 0..<text.count {
            let at = Self.alphabet.firstIndex(of: text[i]) ?? 0
            for (step, name) in [(1, "next"), (32, "far")] {
                var changed = text
                changed[i] = Self.alphabet[(at + step) % 64]
                add("text \(kind) char \(i) \(name)", String(decoding: changed, as: UTF8.self), list: .bytes(list))
            }
            var changed = String(decoding: text[..<i], as: UTF8.self)
            changed += foreign[i % foreign.count] + String(decoding: text[(i + 1)...], as: UTF8.self)
            add("text \(kind) char \(i) foreign", changed, list: .bytes(list))
        }
        for n in 0..<text.count {
            add("text \(kind) truncated to \(n)", String(decoding: text[..<n], as: UTF8.self), list: .bytes(list))
        }
        for suffix in ["A", "Q", "g", "w", "=", "==", "\n", " ", "AA", "AAA", "AAAA", "sgl_", "\u{e9}", token] {
            add("text \(kind) extended by \(suffix.utf8.count)", token + suffix, list: .bytes(list))
        }
        for prefix in [" ", "Bearer ", "SGL_", "sgl_sgl_", "\u{feff}"] {
            add("text \(kind) prefixed", prefix + token, list: .bytes(list))
        }
        add("text \(kind) prefix sgl-", "sgl-" + token.dropFirst(4), list: .bytes(list))
        add(
            "text \(kind) padded", token + String(repeating: "=", count: (4 - (text.count - 4) % 4) % 4),
            list: .bytes(list))
    }

    /// Every single-byte change, truncation and extension of `body || tag`: as is (the MAC
    /// check refuses most) and sealed again (the parser or the claims decide).
    private mutating func bodyMutations(_ kind: String, _ token: String, list: [UInt8]) {
        let bytes = Self.decoded(token)
        let body = Array(bytes.dropLast(32))
        for i in 0..<bytes.count {
            for mask: UInt8 in [0x01, 0x80] {
                var changed = bytes
                changed[i] ^= mask
                add("bytes \(kind) byte \(i) ^ \(mask)", Self.text(changed), list: .bytes(list))
            }
        }
        for i in 0..<body.count {
            for (mask, name) in [(UInt8(0x01), "^1"), (0xff, "^ff"), (0, "=0")] {
                var changed = body
                changed[i] = mask == 0 ? 0 : changed[i] ^ mask
                if changed == body { continue }
                add("body \(kind) byte \(i) \(name), sealed", sealed(changed), list: .bytes(list))
            }
        }
        for n in 0..<bytes.count {
            add("bytes \(kind) truncated to \(n)", Self.text(Array(bytes[..<n])), list: .bytes(list))
        }
        for n in 0..<body.count {
            add("body \(kind) truncated to \(n), sealed", sealed(Array(body[..<n])), list: .bytes(list))
        }
        for tail: [UInt8] in [[0], [1], [0xff], [0, 0], Array(repeating: 0, count: 32)] {
            add("bytes \(kind) extended by \(tail.count)", Self.text(bytes + tail), list: .bytes(list))
        }
        for tail: [UInt8] in [[0], [1], [3], [0xff], [3, UInt8(ascii: "a"), UInt8(ascii: "."), UInt8(ascii: "b")]] {
            add("body \(kind) extended by \(tail.count), sealed", sealed(body + tail), list: .bytes(list))
        }
        add("bytes \(kind) twice", Self.text(bytes + bytes), list: .bytes(list))
    }

    /// Bodies that break one rule of FORMAT.md §1 each, sealed so the parser must notice.
    private mutating func bodyRules(list: [UInt8]) throws {
        let id = newID()
        func body(
            _ scope: Scope = .all, kid: String? = nil, audience: String? = nil, from: Int64 = Self.now - 10,
            to: Int64? = Self.now + 10
        ) throws -> [UInt8] {
            try TokenClaims(
                keyID: kid ?? k1, audience: audience ?? self.audience, id: id, validFrom: from, validTo: to,
                scope: scope
            ).body()
        }
        let base = try body()
        let kidAt = 1
        let audAt = 2 + k1.utf8.count
        let timesAt = audAt + 1 + audience.utf8.count + 16
        let scopeAt = timesAt + 16
        func replacing(_ bytes: [UInt8], _ range: Range<Int>, with new: [UInt8]) -> [UInt8] {
            var out = bytes
            out.replaceSubrange(range, with: new)
            return out
        }
        func be(_ v: Int64) -> [UInt8] {
            (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (56 - 8 * UInt64($0))) }
        }
        var rules: [(String, [UInt8])] = []
        for version: UInt8 in [0, 2, 0xff] {
            rules.append(("version \(version)", replacing(base, 0..<1, with: [version])))
        }
        let kidRange = kidAt..<(kidAt + 1 + k1.utf8.count)
        for kid in [
            "", "k", String(repeating: "k", count: 32), String(repeating: "k", count: 33), "k.1", "k:1", "k 1",
            "k\u{e9}",
        ] {
            let bytes = Array(kid.utf8)
            rules.append(("kid '\(kid)'", replacing(base, kidRange, with: [UInt8(bytes.count)] + bytes)))
        }
        rules.append(("kid length past the end", replacing(base, kidAt..<(kidAt + 1), with: [0xff])))
        let audRange = audAt..<(audAt + 1 + audience.utf8.count)
        for aud in [
            "", "b", String(repeating: "b", count: 64), String(repeating: "b", count: 65), "billing/x", "bill ing",
            "billing.", "a:b", "Billing",
        ] {
            let bytes = Array(aud.utf8)
            rules.append(("audience '\(aud)'", replacing(base, audRange, with: [UInt8(bytes.count)] + bytes)))
        }
        let timeRange = timesAt..<(timesAt + 16)
        for (from, to) in [
            (Self.now, Self.now), (Self.now, Self.now - 1), (Self.now, 0), (0, 0), (-1, 0), (0, -1),
            (Int64.min, Int64.max), (Int64.max, Int64.min), (Int64.max, 0), (Int64.min, Int64.min + 1),
            (-5, -4), (Int64.max - 1, Int64.max),
        ] {
            rules.append(("window \(from)..\(to)", replacing(base, timeRange, with: be(from) + be(to))))
        }
        for kind: UInt8 in [0, 4, 0xff] {
            rules.append(("scope kind \(kind)", replacing(base, scopeAt..<(scopeAt + 1), with: [kind])))
        }
        rules.append(("scope all with a count", base + [0, 1, 3] + Array("a.b".utf8)))
        rules.append(("scope read-only with trailing byte", replacing(base, scopeAt..<(scopeAt + 1), with: [2, 0])))
        func customScope(_ entries: [[UInt8]], count: Int? = nil) -> [UInt8] {
            let n = count ?? entries.count
            var scope: [UInt8] = [3, UInt8(n >> 8), UInt8(n & 0xff)]
            for e in entries { scope += [UInt8(e.count)] + e }
            return replacing(base, scopeAt..<(scopeAt + 1), with: scope)
        }
        let e: (String) -> [UInt8] = { Array($0.utf8) }
        let scopes: [(String, [UInt8])] = [
            ("custom count 0", customScope([], count: 0)),
            ("custom count 1 without entry", customScope([], count: 1)),
            ("custom count 2 with one entry", customScope([e("a.b")], count: 2)),
            ("custom count 1 with two entries", customScope([e("a.b"), e("a.c")], count: 1)),
            ("custom count 257", customScope((0..<257).map { e(String(format: "r%03d.a", $0)) })),
            ("custom count 256", customScope((0..<256).map { e(String(format: "r%03d.a", $0)) })),
            ("custom unsorted", customScope([e("b.a"), e("a.b")])),
            ("custom duplicate", customScope([e("a.b"), e("a.b")])),
            ("custom prefix order", customScope([e("a.b"), e("a.bc")])),
            ("custom prefix order reversed", customScope([e("a.bc"), e("a.b")])),
            ("custom entry length 2", customScope([e("ab")])),
            ("custom entry a.", customScope([e("a.")])),
            ("custom entry .a", customScope([e(".ab")])),
            ("custom entry no dot", customScope([e("abc")])),
            ("custom entry two dots", customScope([e("a.b.c")])),
            ("custom entry upper", customScope([e("A.b")])),
            ("custom entry digit first", customScope([e("1.b")])),
            ("custom entry action digit first", customScope([e("a.1")])),
            ("custom entry dash", customScope([e("a-b.c_d")])),
            ("custom entry part 32", customScope([e(String(repeating: "a", count: 32) + ".b")])),
            ("custom entry part 33", customScope([e(String(repeating: "a", count: 33) + ".b")])),
            ("custom entry action 33", customScope([e("a." + String(repeating: "b", count: 33))])),
            ("custom entry space", customScope([e("a .b")])),
            ("custom entry non-ASCII", customScope([e("a.b\u{e9}")])),
            ("custom entry length past end", customScope([]) + [0, 1, 200]),
        ]
        rules += scopes
        for (name, bytes) in rules {
            let token = sealed(bytes)
            add("rule \(name)", token, list: .bytes(list))
            add("rule \(name), permission a.b", token, list: .bytes(list), permission: "a.b", access: "read")
            add("rule \(name), leeway 0, far now", token, list: .bytes(list), now: 0, leeway: 0)
        }
    }

    private mutating func keysAndAudiences(list: [UInt8]) throws {
        let keysets: [(String, CaseJSON)] = [
            ("main", keyset),
            (
                "only k2",
                try makeKeyset(audience: audience, tokenKeys: [(k2, masterK2)], revocationKeys: [(r1, seedR1)])
            ),
            ("no token keys", try makeKeyset(audience: audience, tokenKeys: [], revocationKeys: [(r1, seedR1)])),
            (
                "k1 holds another key",
                try makeKeyset(
                    audience: audience, tokenKeys: [(k1, masterK1Wrong), (k2, masterK2)],
                    revocationKeys: [(r1, seedR1)])
            ),
            (
                "k1 and k2 swapped",
                try makeKeyset(
                    audience: audience, tokenKeys: [(k1, masterK2), (k2, masterK1)],
                    revocationKeys: [(r1, seedR1)])
            ),
            (
                "other audience",
                try makeKeyset(
                    audience: otherAudience, tokenKeys: [(k1, masterK1), (k3, masterK3)],
                    revocationKeys: [(r1, seedR1)])
            ),
            (
                "upper-case kid",
                try makeKeyset(
                    audience: audience, tokenKeys: [("TEST-ONLY-K1", masterK1)],
                    revocationKeys: [(r1, seedR1)])
            ),
            (
                "32-character kid",
                try makeKeyset(
                    audience: audience, tokenKeys: [(String(repeating: "k", count: 32), masterK1)],
                    revocationKeys: [(r1, seedR1)])
            ),
            (
                "many keys",
                try makeKeyset(
                    audience: audience,
                    tokenKeys: (0..<20).map { ("test-only-m\($0)", masterK3) } + [(k1, masterK1)],
                    revocationKeys: [(r1, seedR1)])
            ),
        ]
        let custom = Scope.custom(["devices.list"])
        var tokens: [(String, String)] = []
        for (kind, scope) in [("all", Scope.all), ("read-only", .readOnly), ("custom", custom)] {
            tokens += [
                ("k1 \(kind)", try mint(id: newID(), scope: scope)),
                ("k2 \(kind)", try mint(kid: k2, master: masterK2, id: newID(), scope: scope)),
                ("unknown k3 \(kind)", try mint(kid: k3, master: masterK3, id: newID(), scope: scope)),
                ("k1 wrong secret \(kind)", try mint(master: masterK1Wrong, id: newID(), scope: scope)),
                ("k1 for other audience \(kind)", try mint(audience: otherAudience, id: newID(), scope: scope)),
                (
                    "k3 for other audience \(kind)",
                    try mint(kid: k3, master: masterK3, audience: otherAudience, id: newID(), scope: scope)
                ),
            ]
        }
        for audience in [
            "billing2", "billin", "Billing", "billing.", "b", String(repeating: "a", count: 64), "x:billing",
        ] {
            tokens.append(("audience \(audience)", try mint(audience: audience, id: newID())))
        }
        tokens.append(("32-character kid", try mint(kid: String(repeating: "k", count: 32), id: newID())))
        tokens.append(("upper-case kid", try mint(kid: "TEST-ONLY-K1", id: newID())))
        for (keysetName, keysetValue) in keysets {
            for (tokenName, token) in tokens {
                add(
                    "keys: \(tokenName) against keyset \(keysetName)", token, keyset: keysetValue, list: .bytes(list),
                    audience: keysetName == "other audience" ? otherAudience : audience)
            }
        }
        // The case's audience, not the keyset's, is the verifier's.
        for (tokenName, token) in tokens.prefix(12) {
            for aud in [otherAudience, "billing2"] {
                add("audience \(aud) asked: \(tokenName)", token, list: .bytes(list), audience: aud)
            }
            add("audience omitted: \(tokenName)", token: .string(token), list: .bytes(list), audience: .null)
        }
        for bad in ["", "bill ing", String(repeating: "a", count: 65), "billing/"] {
            add("invalid service audience '\(bad)'", tokens[0].1, list: .bytes(list), audience: bad)
        }
    }

    private mutating func revocations(
        idRevoked: TokenID, idDeactivated: TokenID, others: [(TokenID, RevocationStatus)], standard: [UInt8]
    ) throws {
        let custom = Scope.custom(["devices.list"])
        var big: [(TokenID, RevocationStatus)] = [(idRevoked, .revoked), (idDeactivated, .deactivated)]
        for i in 0..<2_000 { big.append((newID(), i % 2 == 0 ? .revoked : .deactivated)) }
        let bigList = try list(big, sequence: 9)
        let neighbours = try list([
            (TokenID(rawValue: idRevoked.rawValue &- 1), .revoked),
            (TokenID(rawValue: idRevoked.rawValue &+ 1), .revoked),
            (TokenID(rawValue: idDeactivated.rawValue &- 1), .deactivated),
            (TokenID(rawValue: idDeactivated.rawValue &+ 1), .deactivated),
        ])
        let swapped = try list([(idRevoked, .deactivated), (idDeactivated, .revoked)])
        let byR2 = try list([(idRevoked, .revoked), (idDeactivated, .deactivated)], kid: r2, seed: seedR2)
        let empty = try list([])
        let noNext = try list([(idRevoked, .revoked), (idDeactivated, .deactivated)], nextUpdate: nil)
        let extremes = try list([(TokenID(rawValue: 0), .revoked), (TokenID(rawValue: .max), .deactivated)])
        // GUIDs on both sides of the first byte's high bit: entries sort as unsigned bytes.
        let highBit = try list(Self.highBitIDs.map { ($0, .revoked) })
        let lists: [(String, List)] = [
            ("standard", .bytes(standard)), ("2,002 entries", .bytes(bigList)), ("neighbours", .bytes(neighbours)),
            ("statuses swapped", .bytes(swapped)), ("signed by r2", .bytes(byR2)), ("empty", .bytes(empty)),
            ("no next_update", .bytes(noNext)), ("GUIDs 0 and max", .bytes(extremes)),
            ("GUIDs around the high bit", .bytes(highBit)), ("no list", .none),
            ("url-safe base64", .text(Base64URL.encode(standard))),
        ]
        var tokens: [(String, String)] = []
        for (kind, scope) in [("all", Scope.all), ("read-only", .readOnly), ("custom", custom)] {
            tokens += [
                ("revoked \(kind)", try mint(id: idRevoked, scope: scope)),
                ("deactivated \(kind)", try mint(id: idDeactivated, scope: scope)),
                ("listed other \(kind)", try mint(id: others[1].0, scope: scope)),
                ("unlisted \(kind)", try mint(id: newID(), scope: scope)),
            ]
        }
        tokens += [
            ("GUID 0", try mint(id: TokenID(rawValue: 0))), ("GUID max", try mint(id: TokenID(rawValue: .max))),
            ("GUID 7f..", try mint(id: Self.highBitIDs[1])), ("GUID 80..", try mint(id: Self.highBitIDs[2])),
            ("GUID ff..00", try mint(id: Self.highBitIDs[3])),
            ("GUID 80..01 (unlisted)", try mint(id: TokenID(rawValue: Self.highBitIDs[2].rawValue + 1))),
            ("revoked, expired", try mint(id: idRevoked, from: Self.now - 1_000, to: Self.now - 500)),
            ("revoked, not yet valid", try mint(id: idRevoked, from: Self.now + 1_000, to: Self.now + 5_000)),
            ("deactivated, expired", try mint(id: idDeactivated, from: Self.now - 1_000, to: Self.now - 500)),
            ("revoked, k2", try mint(kid: k2, master: masterK2, id: idRevoked)),
            ("revoked, wrong secret", try mint(master: masterK1Wrong, id: idRevoked)),
            ("revoked, other audience", try mint(audience: otherAudience, id: idRevoked)),
            ("revoked, unknown key", try mint(kid: k3, master: masterK3, id: idRevoked)),
        ]
        for (listName, list) in lists {
            for (tokenName, token) in tokens {
                for policy in ["fail_open", "fail_closed"] {
                    add(
                        "revocation: \(tokenName) with list \(listName), \(policy)", token, list: list,
                        permission: tokenName.hasSuffix("read-only") ? nil : "devices.list", access: "write",
                        whenNoList: policy)
                }
            }
        }
    }

    private mutating func windows(list: [UInt8]) throws {
        let from = Self.now
        let to = Self.now + 1_000
        let bounded = try mint(id: newID(), from: from, to: to, scope: .readOnly)
        for leeway: Int64 in [0, 1, 60, 3_600, 86_400] {
            for (name, now) in [
                ("from-L-1", from - leeway - 1), ("from-L", from - leeway), ("from-L+1", from - leeway + 1),
                ("from", from), ("to-1", to - 1), ("to", to), ("to+L-1", to + leeway - 1),
                ("to+L", to + leeway), ("to+L+1", to + leeway + 1),
            ] {
                add(
                    "window leeway \(leeway) now \(name)", bounded, list: .bytes(list), permission: "a.b",
                    access: "read",
                    now: now, leeway: leeway)
            }
        }
        for (name, leeway) in [
            ("omitted", nil), ("null", CaseJSON.null), ("string", .string("0")), ("86401", .int(86_401)),
            ("-1", .int(-1)), ("1.5", .double(1.5)),
        ] as [(String, CaseJSON?)] {
            for now in [from - 61, from - 60, to + 59, to + 60] {
                add(
                    "window leeway \(name) now \(now - Self.now)", token: .string(bounded), list: .bytes(list),
                    now: now, leeway: leeway)
            }
        }
        let forever = try mint(id: newID(), from: from, to: nil, scope: .all)
        for (name, now) in [
            ("from-61", from - 61), ("from-60", from - 60), ("max", Int64.max), ("max-60", Int64.max - 60),
            ("min", Int64.min),
        ] {
            for leeway: Int64 in [0, 60] {
                add(
                    "never expiring now \(name) leeway \(leeway)", forever, list: .bytes(list), now: now, leeway: leeway
                )
            }
        }
        let extremes: [(String, Int64, Int64?)] = [
            ("min..max", .min, .max), ("min..min+1", .min, .min + 1), ("max-1..max", .max - 1, .max),
            ("max..forever", .max, nil), ("min..forever", .min, nil), ("-86400..-1", -86_400, -1), ("-1..1", -1, 1),
            ("0..forever", 0, nil), ("1..2", 1, 2),
        ]
        let nows: [Int64] = [
            .min, .min + 1, .min + 59, .min + 60, .min + 61, -86_461, -86_400, -61, -60, -1, 0, 1, 2, 61,
            .max - 61, .max - 60, .max - 1, .max,
        ]
        for (name, f, t) in extremes {
            let token = try mint(id: newID(), from: f, to: t)
            for now in nows {
                for leeway: Int64 in [0, 60] {
                    add("extreme window \(name) now \(now) leeway \(leeway)", token, now: now, leeway: leeway)
                }
            }
        }
    }

    private mutating func damagedLists(_ token: String, idRevoked: TokenID, idDeactivated: TokenID) throws {
        let small = try list([(idRevoked, .revoked), (idDeactivated, .deactivated)])
        let revoked = try mint(id: idRevoked)
        var damaged: [(String, List)] = []
        for i in 0..<small.count {
            var changed = small
            changed[i] ^= 0x01
            damaged.append(("byte \(i) ^1", .bytes(changed)))
        }
        for n in 0..<small.count { damaged.append(("truncated to \(n)", .bytes(Array(small[..<n])))) }
        for tail: [UInt8] in [[0], Array(repeating: 0, count: 17), Array(repeating: 0, count: 64)] {
            damaged.append(("extended by \(tail.count)", .bytes(small + tail)))
        }
        damaged.append(("signature of r1 under another seed", .bytes(resigned(small, seed: seedR1Wrong))))
        damaged.append(("signed by r2's seed as r1", .bytes(resigned(small, seed: seedR2))))
        damaged.append(("signed by unknown r9", .bytes(try list([(idRevoked, .revoked)], kid: r9, seed: seedR9))))
        damaged.append(("signature zero", .bytes(Array(small.dropLast(64)) + Array(repeating: 0, count: 64))))
        let versionAt = 4
        let kidAt = 5
        let countAt = 6 + r1.utf8.count + 24
        let entriesAt = countAt + 4
        for version: UInt8 in [0, 2, 0xff] {
            var changed = small
            changed[versionAt] = version
            damaged.append(("version \(version), signed", .bytes(resigned(changed))))
        }
        var magic = small
        magic[0] = UInt8(ascii: "X")
        damaged.append(("magic XGLR, signed", .bytes(resigned(magic))))
        var unsorted = small
        let first = Array(small[entriesAt..<(entriesAt + 17)])
        let second = Array(small[(entriesAt + 17)..<(entriesAt + 34)])
        unsorted.replaceSubrange(entriesAt..<(entriesAt + 34), with: second + first)
        damaged.append(("unsorted, signed", .bytes(resigned(unsorted))))
        var duplicate = small
        duplicate.replaceSubrange(entriesAt..<(entriesAt + 34), with: first + first)
        damaged.append(("duplicate GUID, signed", .bytes(resigned(duplicate))))
        for status: UInt8 in [0, 3, 0xff] {
            var changed = small
            changed[entriesAt + 16] = status
            damaged.append(("status \(status), signed", .bytes(resigned(changed))))
        }
        // Counts whose entry bytes overflow 32-bit arithmetic must still be refused, not wrapped.
        for count: UInt32 in [0, 1, 3, 0x0F0F_0F0F, 0x8000_0000, 0xFFFF_FFFF] {
            var changed = small
            for k in 0..<4 { changed[countAt + k] = UInt8(truncatingIfNeeded: count >> (24 - 8 * UInt32(k))) }
            damaged.append(("count \(count), signed", .bytes(resigned(changed))))
        }
        for (name, kid) in [
            ("empty", ""), ("33 characters", String(repeating: "r", count: 33)), ("dot", "r.1"),
            ("r9", r9),
        ] {
            var changed = small
            let bytes = Array(kid.utf8)
            changed.replaceSubrange(kidAt..<(kidAt + 1 + r1.utf8.count), with: [UInt8(bytes.count)] + bytes)
            damaged.append(("kid \(name), signed", .bytes(resigned(changed))))
        }
        damaged += [
            ("empty bytes", .text("")), ("not base64", .text("!!!!")), ("one base64 character", .text("A")),
            ("padding only", .text("====")), ("magic only", .bytes(RevocationList.magic)),
        ]
        let noSigningKeys = try makeKeyset(audience: audience, tokenKeys: [(k1, masterK1)], revocationKeys: [])
        for (i, (name, list)) in damaged.enumerated() {
            let policy = i % 2 == 0 ? "fail_open" : "fail_closed"
            add("damaged list \(name), \(policy)", i % 3 == 0 ? revoked : token, list: list, whenNoList: policy)
        }
        add("list with no signing key in the keyset", token, keyset: noSigningKeys, list: .bytes(small))
        add(
            "list with no signing key in the keyset, fail_closed", token, keyset: noSigningKeys, list: .bytes(small),
            whenNoList: "fail_closed")
        add("valid small list, revoked token", revoked, list: .bytes(small))
        add("valid small list, other token", token, list: .bytes(small))
    }

    private mutating func staleness(_ token: String, idRevoked: TokenID) throws {
        let revoked = try mint(id: idRevoked)
        let forever = try mint(id: newID(), to: nil)
        let next = Self.now + 10
        let list = try self.list([(idRevoked, .revoked)], nextUpdate: next)
        let past = try self.list([(idRevoked, .revoked)], nextUpdate: Self.now - 86_400 * 365)
        let minimum = try self.list([(idRevoked, .revoked)], nextUpdate: .min)
        let none = try self.list([(idRevoked, .revoked)], nextUpdate: nil)
        for policy in ["fail_open", "fail_closed"] {
            for (name, now) in [
                ("next-1", next - 1), ("next", next), ("next+1", next + 1), ("next+1y", next + 31_536_000),
            ] {
                add(
                    "stale list at \(name), \(policy), valid token", token, list: .bytes(list), now: now,
                    whenNoList: policy)
                add(
                    "stale list at \(name), \(policy), revoked token", revoked, list: .bytes(list), now: now,
                    whenNoList: policy)
                add(
                    "stale list at \(name), \(policy), token never expires", forever, list: .bytes(list),
                    now: now + 100_000, whenNoList: policy)
            }
            for (name, bytes) in [("a year ago", past), ("Int64.min", minimum), ("never", none)] {
                add("list stale since \(name), \(policy)", token, list: .bytes(bytes), whenNoList: policy)
                add("list stale since \(name), \(policy), revoked", revoked, list: .bytes(bytes), whenNoList: policy)
            }
            // No list at all: only fail_closed refuses, and only a token whose MAC matched.
            let unlisted: [(String, String)] = [
                ("valid", token), ("revoked GUID", revoked),
                ("expired", try mint(id: newID(), from: Self.now - 100, to: Self.now - 90)),
                ("not yet valid", try mint(id: newID(), from: Self.now + 1_000, to: Self.now + 2_000)),
                ("wrong secret", try mint(master: masterK1Wrong, id: newID())),
                ("unknown key", try mint(kid: k3, master: masterK3, id: newID())),
                ("other audience", try mint(audience: otherAudience, id: newID())),
                ("malformed", "sgl_AAAA"), ("read-only, write asked", try mint(id: newID(), scope: .readOnly)),
            ]
            for (name, t) in unlisted {
                add("no list, \(policy), \(name)", t, permission: "devices.list", access: "write", whenNoList: policy)
            }
            add(
                "when_no_list omitted-like value, \(policy)", token: .string(token), list: .none,
                whenNoList: policy == "fail_open" ? "FAIL_CLOSED" : "closed")
        }
    }

    private mutating func malformedCases(_ token: String, list: [UInt8]) throws {
        add("token null", token: .null, list: .bytes(list))
        add("token a number", token: .int(1), list: .bytes(list))
        add("token empty", "", list: .bytes(list))
        add("token sgl_", "sgl_", list: .bytes(list))
        add("token prefix only, fail_closed", "sgl_", whenNoList: "fail_closed")
        // Fields of the wrong type fall back as the reference's `case.get` checks do.
        add("revocations a number", token: .string(token), list: .none, permission: nil)
        cases[cases.count - 1] = Self.replacing(cases[cases.count - 1], "revocations", with: .int(5))
        add("revocations an object, fail_closed", token: .string(token), whenNoList: "fail_closed")
        cases[cases.count - 1] = Self.replacing(cases[cases.count - 1], "revocations", with: .object([:]))
        add("permission a number", token: .string(token), list: .bytes(list))
        cases[cases.count - 1] = Self.replacing(cases[cases.count - 1], "permission", with: .int(1))
        add("audience a number", token: .string(token), list: .bytes(list))
        cases[cases.count - 1] = Self.replacing(cases[cases.count - 1], "audience", with: .int(1))
        let bad: [(String, CaseJSON)] = [
            (
                "format v2",
                .object([
                    "format": .string("sigil-keyset-v2"), "audience": .string(audience),
                    "token_keys": .array([]), "revocation_keys": .array([]),
                ])
            ),
            (
                "short key",
                .object([
                    "format": .string(Keyset.format), "audience": .string(audience),
                    "token_keys": .array([
                        .object([
                            "kid": .string(k1), "key": .string(Base64URL.encode([UInt8](repeating: 1, count: 31))),
                        ])
                    ]),
                    "revocation_keys": .array([]),
                ])
            ),
            (
                "padded key",
                .object([
                    "format": .string(Keyset.format), "audience": .string(audience),
                    "token_keys": .array([
                        .object(["kid": .string(k1), "key": .string(Base64URL.encode(audienceKeyK1) + "=")])
                    ]),
                    "revocation_keys": .array([]),
                ])
            ),
            (
                "duplicate kid",
                .object([
                    "format": .string(Keyset.format), "audience": .string(audience),
                    "token_keys": .array([
                        .object(["kid": .string(k1), "key": .string(Base64URL.encode(audienceKeyK1))]),
                        .object(["kid": .string(k1), "key": .string(Base64URL.encode(audienceKeyK1))]),
                    ]),
                    "revocation_keys": .array([]),
                ])
            ),
            (
                "bad audience",
                .object([
                    "format": .string(Keyset.format), "audience": .string("bill ing"),
                    "token_keys": .array([]), "revocation_keys": .array([]),
                ])
            ),
            (
                "no revocation_keys",
                .object([
                    "format": .string(Keyset.format), "audience": .string(audience),
                    "token_keys": .array([]),
                ])
            ),
            ("null", .null),
        ]
        for (name, value) in bad {
            add("invalid keyset \(name)", token: .string(token), keyset: value, list: .bytes(list))
        }
    }

    /// GUIDs 00.., 7f.., 80.., ff..00: a verifier that compares bytes as signed sees them out of order.
    static let highBitIDs: [TokenID] = [0x00, 0x7f, 0x80, 0xff].map { TokenID(rawValue: UInt128($0) << 120) }

    /// `c` with one field replaced, keeping the protocol's field order.
    static func replacing(_ c: Case, _ key: String, with value: CaseJSON) -> Case {
        guard case .object(var fields) = c.fields else { return c }
        fields[key] = value
        let order = [
            "keyset", "revocations", "token", "audience", "permission", "access", "now", "leeway", "when_no_list",
        ]
        let line =
            "{"
            + order.compactMap { k in fields[k].map { CaseJSON.quoted(k) + ":" + $0.compact } }
            .joined(separator: ",") + "}"
        return Case(label: c.label, line: line, fields: .object(fields))
    }

    /// A seeded random case: a base token with 1-4 changes (text, bytes, or sealed body), a
    /// random time, permission and list.
    private mutating func randomCase(_ n: Int) throws {
        let scopes: [Scope] = [.all, .readOnly, .custom(["devices.list", "invoices.read"])]
        let scope = scopes[Int(random.next() % 3)]
        let from = Self.now - Int64(random.next() % 10_000)
        let to: Int64? = random.next() % 5 == 0 ? nil : from + 1 + Int64(random.next() % 20_000)
        let id = newID()
        let token = try mint(id: id, from: from, to: to, scope: scope)
        var label = "random \(n)"
        var text = token
        switch random.next() % 4 {
        case 0:
            var chars = Array(token.utf8)
            for _ in 0...(random.next() % 4) {
                chars[Int(random.next() % UInt64(chars.count))] = Self.alphabet[Int(random.next() % 64)]
            }
            text = String(decoding: chars, as: UTF8.self)
            label += " text"
        case 1:
            var body = Array(Self.decoded(token).dropLast(32))
            for _ in 0...(random.next() % 2) {
                body[Int(random.next() % UInt64(body.count))] ^= UInt8(1 << (random.next() % 8))
            }
            text = sealed(body)
            label += " sealed body"
        default: break
        }
        let revoked = random.next() % 3 == 0
        let entries: [(TokenID, RevocationStatus)] =
            revoked ? [(id, random.next() % 2 == 0 ? .revoked : .deactivated)] : []
        let nextUpdate = Self.now + Int64(random.next() % 7_200) - 3_600
        let list: List =
            random.next() % 6 == 0
            ? .none : .bytes(try self.list(entries + [(newID(), .revoked)], nextUpdate: nextUpdate))
        let permissions = ["devices.list", "devices.write", "invoices.read", "zz.top"]
        let permission: String? = random.next() % 3 == 0 ? nil : permissions[Int(random.next() % 4)]
        let now = from + Int64(random.next() % 30_000) - 5_000
        add(
            label, text, list: list, permission: permission, access: random.next() % 2 == 0 ? "read" : "write",
            now: now, leeway: Int64(random.next() % 3) * 60,
            whenNoList: random.next() % 2 == 0 ? "fail_open" : "fail_closed")
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast and the same on every platform, so a
/// seed names one set of cases everywhere.
package struct SplitMix64 {
    private var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    package mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}
