import Foundation
import SigilIssuerCrypto
public import SigilVerifier
import Synchronization

/// The issuer's secrets: token master secrets by key ID (one active for issuing) and the
/// Ed25519 seed that signs revocation lists. Stored as `<home>/keyring.json`, mode 0600.
///
/// Rotation follows add → distribute → promote: a `pending` key is exported to services
/// but issues nothing; `promote` makes it the issuing key; the previous key keeps verifying
/// until `retire`.
///
/// ```swift
/// var keyring = try Keyring.load(home: "keys")
/// let pending = try keyring.addTokenKey(now: now)
/// try keyring.promote(pending.keyID)
/// try keyring.save(home: "keys")
/// ```
public struct Keyring: Sendable {
    public static let fileName = "keyring.json"
    public static let format = "sigil-keyring-v1"

    /// `pending`: new, exported, not issuing yet. `active`: the issuing key. `verifying`: a
    /// former issuing key that still verifies until retired. `retired`: secret destroyed.
    public enum KeyState: String, Codable, Sendable, CaseIterable {
        case pending, active, verifying, retired
    }

    public struct TokenMasterKey: Codable, Sendable {
        public var keyID: String
        @KeyBytes public var secret: [UInt8]
        public var state: KeyState
        public var createdAt: Int64

        enum CodingKeys: String, CodingKey { case keyID = "kid", secret, state, createdAt = "created_at" }

        mutating func retire() {
            state = .retired
            _secret.destroy()
        }
    }

    /// An Ed25519 key that signs revocation lists. Rotates like token keys: `pending` (in
    /// keysets, so services accept its lists, but not signing), `active` (signs), `verifying`
    /// (a former signer services still accept), `retired` (seed destroyed, out of keysets).
    public struct SigningKey: Codable, Sendable {
        public var keyID: String
        @KeyBytes public var seed: [UInt8]
        public var createdAt: Int64
        /// nil only while reading a v0.1 keyring, which had no states: its newest key signed.
        public var state: KeyState?
        enum CodingKeys: String, CodingKey { case keyID = "kid", seed, createdAt = "created_at", state }

        mutating func retire() {
            state = .retired
            _seed.destroy()
        }

        /// The Ed25519 public key services verify lists with.
        public var publicKey: [UInt8] { OpenSSL.ed25519PublicKey(seed: seed) ?? [] }
    }

    /// 32 key bytes, written as base64url text; anything else is refused when the file is read.
    @propertyWrapper
    public struct KeyBytes: Codable, Sendable {
        public var wrappedValue: [UInt8]

        public init(wrappedValue: [UInt8]) { self.wrappedValue = wrappedValue }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            guard let bytes = Base64URL.decode(try c.decode(String.self)), bytes.count == 32 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not 32 bytes of base64url")
            }
            wrappedValue = bytes
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(Base64URL.encode(wrappedValue))
        }

        /// Overwrites the bytes where they lie, then holds random ones: a retired key is gone for good.
        mutating func destroy() {
            wrappedValue.withUnsafeMutableBytes { OpenSSL.cleanse($0) }
            wrappedValue = OpenSSL.randomBytes(count: 32)
        }
    }

    private struct Wire: Codable {
        var format: String
        var token_keys: [TokenMasterKey]
        var revocation_keys: [SigningKey]
    }

    public private(set) var tokenKeys: [TokenMasterKey]
    public private(set) var revocationKeys: [SigningKey]
    /// Audience keys derived so far, shared by every copy of this keyring.
    private let derived = DerivedKeys()

    /// K_aud by key ID and audience. A master secret never changes under its key ID, so a
    /// key derived once stays right; bounded, since audiences come from callers' tokens.
    private final class DerivedKeys: Sendable {
        let keys = Mutex<[String: [UInt8]]>([:])
    }

    /// The audience key `master` gives `audience` (``TokenMinter/audienceKey(masterSecret:audience:)``),
    /// derived once per keyring and kept.
    ///
    /// ```swift
    /// let ring = try Keyring.load(home: "keys")
    /// let key = try ring.audienceKey(ring.activeKey, audience: "billing")
    /// ```
    ///
    /// - Throws: ``IssuerError`` `invalid_input` for an audience that is not one.
    public func audienceKey(_ master: TokenMasterKey, audience: String) throws(IssuerError) -> [UInt8] {
        let name = master.keyID + "\u{0}" + audience
        if let key = derived.keys.withLock({ $0[name] }) { return key }
        let key = try TokenMinter.audienceKey(masterSecret: master.secret, audience: audience)
        derived.keys.withLock { keys in
            if keys.count >= 4_096 { keys.removeAll() }
            keys[name] = key
        }
        return key
    }

    /// A new keyring with one active token key and one revocation signing key.
    public static func generate(now: Int64) -> Keyring {
        var ring = Keyring(tokenKeys: [], revocationKeys: [])
        ring.tokenKeys.append(
            TokenMasterKey(
                keyID: newKeyID("k", now), secret: OpenSSL.randomBytes(count: 32), state: .active, createdAt: now))
        ring.revocationKeys.append(
            SigningKey(keyID: newKeyID("r", now), seed: OpenSSL.randomBytes(count: 32), createdAt: now, state: .active))
        return ring
    }

    init(tokenKeys: [TokenMasterKey], revocationKeys: [SigningKey]) {
        self.tokenKeys = tokenKeys
        var keys = revocationKeys
        // A v0.1 keyring had no states: its newest key signed and every other one verified.
        if keys.allSatisfy({ $0.state == nil }) {
            for i in keys.indices { keys[i].state = i == keys.count - 1 ? .active : .verifying }
        }
        self.revocationKeys = keys
    }

    /// `k20261123-3fa9c1`: a prefix, the UTC date and 24 random bits, so IDs sort by age.
    static func newKeyID(_ prefix: String, _ now: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(now))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        let random = OpenSSL.randomBytes(count: 3).map { String(format: "%02x", $0) }.joined()
        return String(format: "%@%04d%02d%02d-%@", prefix, c.year ?? 0, c.month ?? 0, c.day ?? 0, random)
    }

    public static func path(home: String) -> String { home + "/" + fileName }

    public static func exists(home: String) -> Bool {
        var st = stat()
        return lstat(path(home: home), &st) == 0
    }

    /// Loads `<home>/keyring.json`, refusing it if others can read it.
    ///
    /// A keyring read before is given again while the file is unchanged (same inode, size,
    /// mode, change and modification times), so a server reads it once and again only after
    /// a rotation replaced it, or after ``forgetLoaded()`` (sigil-server's SIGHUP).
    public static func load(home: String) throws(IssuerError) -> Keyring {
        if let ring = try loadIfPresent(home: home) { return ring }
        return try read(path(home: home))
    }

    /// ``load(home:)``, or nil when `<home>/keyring.json` does not exist: one `lstat` tells
    /// both, where ``exists(home:)`` then ``load(home:)`` made two on every issue.
    static func loadIfPresent(home: String) throws(IssuerError) -> Keyring? {
        let file = path(home: home)
        var st = stat()
        guard lstat(file, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            return try read(file)
        }
        let identity = FileIdentity(st)
        if let ring = loaded.withLock({ $0[file].flatMap { $0.identity == identity ? $0.ring : nil } }) {
            return ring
        }
        let ring = try read(file)
        loaded.withLock { cache in
            // A handful of homes per process; a test run that makes thousands starts over.
            if cache.count >= 64 { cache.removeAll() }
            cache[file] = (identity, ring)
        }
        return ring
    }

    /// Drops every keyring kept by ``load(home:)``: the next load reads the file again.
    public static func forgetLoaded() { loaded.withLock { $0.removeAll() } }

    /// What tells one version of the keyring file from the next: an atomic save makes a new
    /// inode, an edit in place a new size or time, a chmod a new ctime.
    private struct FileIdentity: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, mode: UInt32
        var modified: Int, modifiedNanos: Int, changed: Int, changedNanos: Int

        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mode = UInt32(st.st_mode)
            modified = st.st_mtim.tv_sec
            modifiedNanos = st.st_mtim.tv_nsec
            changed = st.st_ctim.tv_sec
            changedNanos = st.st_ctim.tv_nsec
        }
    }

    private static let loaded = Mutex<[String: (identity: FileIdentity, ring: Keyring)]>([:])

    private static func read(_ file: String) throws(IssuerError) -> Keyring {
        // One descriptor for the checks and the read: O_NOFOLLOW, regular, one link, ours, 0600.
        var bytes = try SecureFile.read(file)
        defer { bytes.withUnsafeMutableBytes { OpenSSL.cleanse($0) } }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch {
            throw IssuerError(.badData, "\(file) is not a valid \(format) keyring. Restore it from your backup.")
        }
        guard wire.format == format else {
            throw IssuerError(.badData, "\(file) has format \(wire.format), expected \(format)")
        }
        let ring = Keyring(tokenKeys: wire.token_keys, revocationKeys: wire.revocation_keys)
        guard ring.tokenKeys.filter({ $0.state == .active }).count == 1,
            ring.tokenKeys.allSatisfy({ TokenClaims.isValidKeyID($0.keyID) }),
            ring.revocationKeys.filter({ $0.state == .active }).count == 1,
            ring.revocationKeys.allSatisfy({ TokenClaims.isValidKeyID($0.keyID) && $0.state != nil })
        else {
            throw IssuerError(.badData, "\(file) must hold exactly one active token key and a revocation key")
        }
        return ring
    }

    /// Writes the keyring atomically with mode 0600.
    public func save(home: String) throws(IssuerError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard
            var bytes = try? Array(
                encoder.encode(Wire(format: Self.format, token_keys: tokenKeys, revocation_keys: revocationKeys)))
        else { throw IssuerError(.badData, "cannot encode the keyring") }
        defer { bytes.withUnsafeMutableBytes { OpenSSL.cleanse($0) } }
        bytes.append(0x0a)
        try SecureFile.writeAtomically(bytes, to: Self.path(home: home))
    }

    /// The key new tokens are issued with.
    public var activeKey: TokenMasterKey {
        // `load` and every mutation keep exactly one active key.
        guard let key = tokenKeys.first(where: { $0.state == .active }) else {
            preconditionFailure("keyring invariant broken: no active token key")
        }
        return key
    }

    /// The key that signs revocation lists now.
    public var signingKey: SigningKey {
        // `load` and every mutation keep exactly one active signing key.
        guard let key = revocationKeys.first(where: { $0.state == .active }) else {
            preconditionFailure("keyring invariant broken: no active revocation key")
        }
        return key
    }

    /// Adds a pending revocation-list key: in keysets (services accept lists it signs), not
    /// signing until promoted.
    public mutating func addRevocationKey(now: Int64) -> SigningKey {
        let key = SigningKey(
            keyID: Self.newKeyID("r", now), seed: OpenSSL.randomBytes(count: 32), createdAt: now, state: .pending)
        revocationKeys.append(key)
        return key
    }

    /// The key with `keyID`, if any.
    public func tokenKey(_ keyID: String) -> TokenMasterKey? { tokenKeys.first { $0.keyID == keyID } }

    /// Adds a pending key: exported to services, not used for issuing until promoted.
    public mutating func addTokenKey(now: Int64) -> TokenMasterKey {
        let key = TokenMasterKey(
            keyID: Self.newKeyID("k", now), secret: OpenSSL.randomBytes(count: 32), state: .pending, createdAt: now)
        tokenKeys.append(key)
        return key
    }

    /// Makes `keyID` the issuing key; the previous active key stays valid for verification.
    public mutating func promote(_ keyID: String) throws(IssuerError) {
        if let index = revocationKeys.firstIndex(where: { $0.keyID == keyID }) {
            switch revocationKeys[index].state {
            case .active: return
            case .retired:
                throw IssuerError(
                    .conflict, "key \(keyID) is retired and cannot sign again; add a new key",
                    detail: .keyRetired(keyID))
            default: break
            }
            for i in revocationKeys.indices where revocationKeys[i].state == .active {
                revocationKeys[i].state = .verifying
            }
            revocationKeys[index].state = .active
            return
        }
        guard let index = tokenKeys.firstIndex(where: { $0.keyID == keyID }) else {
            throw IssuerError(.notFound, "no token key \(keyID)", detail: .keyNotFound(keyID))
        }
        switch tokenKeys[index].state {
        case .active: return
        case .retired:
            throw IssuerError(
                .conflict, "key \(keyID) is retired and cannot issue again; add a new key", detail: .keyRetired(keyID))
        case .pending, .verifying: break
        }
        for i in tokenKeys.indices where tokenKeys[i].state == .active { tokenKeys[i].state = .verifying }
        tokenKeys[index].state = .active
    }

    /// Stops a key from verifying: tokens under it become `unknown_key` once services load the new keyset.
    public mutating func retire(_ keyID: String) throws(IssuerError) {
        func refuse(_ isActive: Bool, _ role: String) throws(IssuerError) {
            guard isActive else { return }
            throw IssuerError(
                .conflict, "key \(keyID) \(role); promote another key before retiring it", detail: .keyIsActive(keyID))
        }
        if let index = revocationKeys.firstIndex(where: { $0.keyID == keyID }) {
            try refuse(revocationKeys[index].state == .active, "signs revocation lists")
            revocationKeys[index].retire()
            return
        }
        guard let index = tokenKeys.firstIndex(where: { $0.keyID == keyID }) else {
            throw IssuerError(.notFound, "no token key \(keyID)", detail: .keyNotFound(keyID))
        }
        try refuse(tokenKeys[index].state == .active, "is the issuing key")
        tokenKeys[index].retire()
    }

    /// The public keys of the revocation keys that are not retired: what checks a list signed
    /// by this keyring.
    public func revocationPublicKeys() throws(IssuerError) -> [RevocationKey] {
        do {
            return try revocationKeys.filter { $0.state != .retired }.map { key throws(KeysetError) in
                try RevocationKey(keyID: key.keyID, publicKey: key.publicKey)
            }
        } catch {
            throw IssuerError(.invalidInput, error.message)
        }
    }

    /// The keyset a service of `audience` needs: K_aud of every non-retired key and the
    /// revocation public keys. Never a master secret.
    public func keyset(audience: String) throws(IssuerError) -> Keyset {
        var keys: [TokenKey] = []
        for master in tokenKeys where master.state != .retired {
            let derived = try audienceKey(master, audience: audience)
            do { keys.append(try TokenKey(keyID: master.keyID, key: derived)) } catch {
                throw IssuerError(.badData, error.message)
            }
        }
        let revocation = try revocationPublicKeys()
        do {
            return try Keyset(audience: audience, tokenKeys: keys, revocationKeys: revocation)
        } catch {
            throw IssuerError(.invalidInput, error.message)
        }
    }
}
