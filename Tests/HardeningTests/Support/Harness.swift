import Foundation
import SigilIssuer
import SigilTestSupport
import SigilVerifier
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the `sigil` binary of this build (``SigilBinary/path``) the way every hardening test does.
enum Sigil {
    /// 2027-01-15T08:00:00Z: every command runs at this fixed time unless told otherwise.
    static let now: Int64 = 1_800_000_000

    /// Runs `sigil` with only the variables given (plus PATH), from the home's parent folder.
    /// A `wrapper` (say `["/usr/bin/strace", "-f"]`) runs first, with `sigil`'s path and
    /// `arguments` after its own.
    static func run(
        _ arguments: [String], home: String, stdin: [UInt8] = [], env: [String: String] = [:], wrapper: [String] = []
    ) async throws -> CommandResult {
        let child = ChildProcess(
            wrapper.first ?? SigilBinary.path,
            wrapper.isEmpty ? arguments : Array(wrapper.dropFirst()) + [SigilBinary.path] + arguments,
            environment: environment(home: home, env), stdin: .bytes(stdin),
            directory: (home as NSString).deletingLastPathComponent)
        return CommandResult(try await child.run(), arguments: arguments)
    }

    static func environment(home: String, _ extra: [String: String]) -> [String: String] {
        var env = [
            "PATH": "/usr/bin:/bin", "SIGIL_HOME": home, "SIGIL_NOW": String(now), "USER": "tester",
            "SWIFT_BACKTRACE": "enable=no", "HOME": (home as NSString).deletingLastPathComponent,
        ]
        for (k, v) in extra { env[k] = v }
        return env.filter { !$0.value.isEmpty }
    }

    /// Runs `sigil` under umask 000, so only sigil's own modes protect what it creates.
    static let openUmask = ["/bin/sh", "-c", "umask 000 && exec \"$0\" \"$@\""]
}

/// Known secrets for homes the tests write themselves: fixed bytes, never random.
enum Known {
    static let secret = [UInt8](repeating: 0xA7, count: 32)
    static let seed = [UInt8](repeating: 0x3C, count: 32)
    static let keyID = "k-test-only"
    static let revocationKeyID = "r-test-only"
    static let audience = "billing"

    /// `keyring.json` in the format Keyring.swift writes (sigil-keyring-v1).
    static var keyringJSON: [UInt8] {
        let text = """
            {
              "format" : "sigil-keyring-v1",
              "revocation_keys" : [
                { "created_at" : 1767225600, "kid" : "\(revocationKeyID)", "seed" : "\(Base64URL.encode(seed))" }
              ],
              "token_keys" : [
                { "created_at" : 1767225600, "kid" : "\(keyID)", "secret" : "\(Base64URL.encode(secret))", "state" : "active" }
              ]
            }

            """
        return Array(text.utf8)
    }

    static var audienceKey: [UInt8] {
        // 32 bytes by construction; a failure here is a test bug.
        (try? TokenMinter.audienceKey(masterSecret: secret, audience: audience)) ?? []
    }

    static var verifier: Verifier {
        get throws { try Verifier(audience: audience, keys: [TokenKey(keyID: keyID, key: audienceKey)]) }
    }

    static var revocationKey: RevocationKey {
        get throws {
            let ring = try JSONDecoder().decode(
                Keyring.SigningKey.self,
                from: Data(#"{"kid":"\#(revocationKeyID)","seed":"\#(Base64URL.encode(seed))","created_at":0}"#.utf8))
            return try RevocationKey(keyID: revocationKeyID, publicKey: ring.publicKey)
        }
    }

    static let guid = TokenID(rawValue: 0x0ba2_8b74_8a04_41ae_a9a8_b51c_2231_ba58)

    static func claims(
        keyID: String = keyID, audience: String = audience, id: TokenID = guid, validFrom: Int64 = Sigil.now - 3600,
        validTo: Int64? = Sigil.now + 86_400, scope: Scope = .all
    ) throws -> TokenClaims {
        try TokenClaims(keyID: keyID, audience: audience, id: id, validFrom: validFrom, validTo: validTo, scope: scope)
    }

    /// A token minted with the known secret for `claims`.
    static func token(_ claims: TokenClaims) throws -> String {
        try TokenMinter.mint(
            claims, audienceKey: TokenMinter.audienceKey(masterSecret: secret, audience: claims.audience))
    }
}

/// Token texts built byte by byte, for layouts TokenClaims refuses to build.
enum RawToken {
    static func body(
        version: UInt8 = 1, keyID: [UInt8] = Array(Known.keyID.utf8), audience: [UInt8] = Array("billing".utf8),
        validFrom: Int64 = Sigil.now, validTo: Int64 = Sigil.now + 60, scopeKind: UInt8 = 1, scope: [UInt8] = []
    ) -> [UInt8] {
        var b: [UInt8] = [version, UInt8(truncatingIfNeeded: keyID.count)] + keyID
        b += [UInt8(truncatingIfNeeded: audience.count)] + audience + Known.guid.bytes
        for v in [UInt64(bitPattern: validFrom), UInt64(bitPattern: validTo)] {
            for s in stride(from: 56, through: 0, by: -8) { b.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        }
        return b + [scopeKind] + scope
    }

    /// `count` then each entry with its length byte.
    static func customScope(_ entries: [String], count: Int? = nil) -> [UInt8] {
        let n = count ?? entries.count
        return [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            + entries.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    }

    /// `sgl_` + base64url(body || 32 zero bytes): the tag never matches, the layout decides.
    static func text(_ body: [UInt8], tag: [UInt8] = [UInt8](repeating: 0, count: 32)) -> String {
        TokenClaims.prefix + Base64URL.encode(body + tag)
    }
}

/// A home folder with the known keyring, the example catalog and one issued token, built
/// with the issuer library (no process), so each CLI case starts from the same bytes.
///
/// The database is closed (checkpointed, no -wal left) before the value is returned, so a
/// snapshot holds all of it in `sigil.db`.
struct Home {
    let path: String
    let token: String
    let guid: TokenID

    static let files = ["keyring.json", "sigil.db", "revocations.seq"]

    init(in scratch: TempFolder, name: String = "home") throws {
        path = scratch.path(name)
        try Self.mkdir(path)
        try writeFile(Known.keyringJSON, to: path + "/keyring.json")
        let claims = try Known.claims(validFrom: Sigil.now - 86_400, validTo: Sigil.now + 30 * 86_400)
        token = try Known.token(claims)
        guid = claims.id
        let record = TokenRecord(
            claims: claims, name: "ci deploy", description: "", createdBy: "tester", now: Sigil.now - 86_400)
        try Self.withIssuer(path) { issuer in
            try issuer.store.transaction(write: true) {
                for (resource, actions) in Catalog.example.resources {
                    for (action, access) in actions {
                        try issuer.store.putCatalogEntry(resource: resource, action: action, access: access)
                    }
                }
            }
            try issuer.insertForTesting([record])
        }
    }

    /// Opens the home's issuer in this process, runs `body`, and closes it (a checkpoint:
    /// the -wal's content moves into sigil.db).
    @discardableResult
    static func withIssuer<T>(_ home: String, _ body: (Issuer) throws -> T) throws -> T {
        let issuer = try Issuer(home: home, mode: .existing)
        defer { issuer.close() }
        return try body(issuer)
    }

    static func mkdir(_ path: String, mode: mode_t = 0o700) throws {
        guard Glibc.mkdir(path, mode) == 0 || errno == EEXIST else { throw POSIXError(.EIO) }
        _ = chmod(path, mode)
    }

    /// The permission bits of `path` itself (not a link's target); nil if missing.
    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o777 : nil
    }

    /// The bytes of the home's secret and state files (nil for a missing file).
    func snapshot() -> [String: [UInt8]?] {
        var out: [String: [UInt8]?] = [:]
        for name in Self.files { out[name] = readFile(path + "/" + name) }
        return out
    }

    func run(
        _ arguments: [String], stdin: [UInt8] = [], env: [String: String] = [:], wrapper: [String] = []
    ) async throws -> CommandResult {
        try await Sigil.run(arguments, home: path, stdin: stdin, env: env, wrapper: wrapper)
    }

    /// Runs `sigil --json ARGS` and parses its stdout (nil when it is not JSON).
    func json(_ arguments: [String]) async throws -> (CommandResult, Any?) {
        let run = try await run(["--json"] + arguments)
        return (run, try? JSONSerialization.jsonObject(with: Data(run.stdoutBytes), options: [.fragmentsAllowed]))
    }
}

/// Is this process able to mount a tmpfs (root with CAP_SYS_ADMIN, not in a locked-down
/// container)? Checked once by mounting and unmounting a scratch tmpfs.
enum Mounts {
    static let available: Bool = {
        guard getuid() == 0, let scratch = try? TempFolder("mount-probe") else { return false }
        let dir = scratch.path("m")
        guard (try? Home.mkdir(dir)) != nil else { return false }
        guard mount("tmpfs", dir, "tmpfs", 0, "size=16k") == 0 else { return false }
        umount2(dir, Int32(MNT_DETACH))
        return true
    }()

    static func tmpfs(_ dir: String, options: String) throws {
        guard mount("tmpfs", dir, "tmpfs", 0, options) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
    }

    /// EBUSY means some process holds a file there open for writing: a child another test
    /// spawned at the moment this one wrote its fixture inherits the descriptor for as long as
    /// it runs. Such children are short-lived, so retry for a few seconds.
    static func remountReadOnly(_ dir: String) throws {
        for _ in 0..<50 {
            if mount("tmpfs", dir, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), nil) == 0 { return }
            guard errno == EBUSY else { break }
            usleep(100_000)
        }
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
    }

    static func unmount(_ dir: String) { umount2(dir, Int32(MNT_DETACH)) }
}
