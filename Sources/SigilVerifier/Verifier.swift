#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A token key as a service holds it: the key ID and K_aud, the 32-byte HMAC key derived
/// for one audience. Never the master secret.
public struct TokenKey: Sendable {
    public let keyID: String
    public let key: [UInt8]

    /// - Throws: ``KeysetError`` if the ID is not `[A-Za-z0-9_-]{1,32}` or the key is not 32 bytes.
    public init(keyID: String, key: [UInt8]) throws(KeysetError) {
        guard TokenClaims.isValidKeyID(keyID) else { throw KeysetError("token key id is not [A-Za-z0-9_-]{1,32}") }
        guard key.count == 32 else { throw KeysetError("token key \(keyID) must be 32 bytes, got \(key.count)") }
        self.keyID = keyID
        self.key = key
    }
}

/// What a verified token says, returned by the allocation-free ``Verifier/verify(_:for:at:)``.
public struct VerifiedToken: Sendable, Hashable {
    public let id: TokenID
    public let validFrom: Int64
    /// Nil when the token never expires.
    public let validTo: Int64?
    /// Which kind of scope the token carries.
    public let scopeKind: ScopeKind
}

/// The wire code of a token's scope kind.
public enum ScopeKind: UInt8, Sendable, Hashable {
    case all = 1, readOnly = 2, custom = 3
}

/// What a revocation source says about a token whose MAC already matched.
public enum RevocationCheck: Sendable, Hashable {
    case clear, deactivated, revoked
    /// The source's list is past its `next_update` and its policy is to fail closed.
    case stale
}

/// Anything that can tell the verifier whether a GUID was deactivated or revoked.
///
/// ``RevocationStore`` is the implementation services use. The verifier calls it on every
/// verify, from any thread, after the MAC matched, so it must be fast and must not block.
/// A source is a shared object (`AnyObject`): the verifier keeps it alive and calls it
/// without reference counting, whatever its concrete type.
public protocol RevocationSource: AnyObject, Sendable {
    func check(_ id: TokenID, at now: Int64) -> RevocationCheck
}

/// Verifies Sigil v1 tokens offline for one audience.
///
/// An immutable value, safe to share across threads and tasks. The HMAC state of each key is
/// prepared once in `init`; a successful ``verify(_:for:at:)`` allocates nothing.
///
/// ```swift
/// let keyset = try Keyset(contentsOf: "/etc/billing/keyset.json")
/// let verifier = try Verifier(keyset: keyset, revocations: store)
/// let token = try verifier.verify(bearer, for: Permission(literal: "invoices.read", access: .read))
/// ```
public struct Verifier: @unchecked Sendable {
    // @unchecked: the buffers below point into `tables`, which this value keeps alive and
    // which is never written after init; the hot path reads them without ARC traffic, so
    // threads sharing one verifier do not bounce reference counts between cores. (Reading a
    // class reference out of raw memory or `unowned(unsafe)` and calling it is not enough:
    // the compiler retains and releases it around the call. Key entries hold
    // `KeyedHMAC.Unretained` values instead, and the revocation source is called through
    // `tables`, whose `let` it borrows. Nor may a closure on the hot path capture `self` or the
    // permission: the compiler copies them into its context, see `verify(text:permission:now:)`.)

    /// The default clock-skew leeway applied to both ends of the validity window, in seconds.
    public static let defaultLeeway: Int64 = 60

    public let audience: String
    public let leeway: Int64
    private let tables: Tables
    private let audienceBytes: UnsafeBufferPointer<UInt8>
    private let keyEntries: UnsafeBufferPointer<KeyEntry>

    struct KeyEntry {
        let keyID: UnsafeBufferPointer<UInt8>
        /// The states of one of `Tables.macs`, which keeps them alive; no reference count.
        let mac: KeyedHMAC.Unretained
    }

    /// Owns every buffer the hot path reads through raw pointers.
    final class Tables: @unchecked Sendable {
        // Invariant: written only in init, freed only in deinit.
        let macs: [KeyedHMAC]
        let revocations: (any RevocationSource)?
        let audience: UnsafeMutableBufferPointer<UInt8>
        let keyIDs: [UnsafeMutableBufferPointer<UInt8>]
        let entries: UnsafeMutableBufferPointer<KeyEntry>

        init(audience: [UInt8], keys: [([UInt8], KeyedHMAC)], revocations: (any RevocationSource)?) {
            func copy(_ bytes: [UInt8]) -> UnsafeMutableBufferPointer<UInt8> {
                let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
                _ = buffer.initialize(from: bytes)
                return UnsafeMutableBufferPointer(rebasing: buffer[0..<bytes.count])
            }
            self.audience = copy(audience)
            keyIDs = keys.map { copy($0.0) }
            macs = keys.map(\.1)
            self.revocations = revocations
            let storage = UnsafeMutableBufferPointer<KeyEntry>.allocate(capacity: max(keys.count, 1))
            for (i, (id, mac)) in zip(keyIDs, macs).enumerated() {
                storage.initializeElement(
                    at: i, to: KeyEntry(keyID: UnsafeBufferPointer(id), mac: mac.unretained))
            }
            entries = UnsafeMutableBufferPointer(rebasing: storage[0..<keys.count])
        }

        deinit {
            audience.baseAddress?.deallocate()
            for id in keyIDs { id.baseAddress?.deallocate() }
            entries.baseAddress?.deallocate()
        }
    }

    /// Creates a verifier for `audience` that accepts tokens under any of `keys`.
    ///
    /// - Parameters:
    ///   - audience: This service's audience; a token for any other is `wrong_audience`.
    ///   - keys: K_aud per key ID, as `sigil keys export` writes them.
    ///   - leeway: Clock skew tolerated at both ends of the window (default 60 s).
    ///   - revocations: Consulted after the MAC matched; nil skips revocation checks.
    /// - Throws: ``KeysetError`` for an invalid audience, duplicate key IDs, or if OpenSSL fails.
    public init(
        audience: String, keys: [TokenKey], leeway: Int64 = Verifier.defaultLeeway,
        revocations: (any RevocationSource)? = nil
    ) throws(KeysetError) {
        guard TokenClaims.isValidAudience(audience) else {
            throw KeysetError("audience is not \(TokenClaims.audiencePattern)")
        }
        guard leeway >= 0, leeway <= 86_400 else { throw KeysetError("leeway must be 0...86400 seconds") }
        var prepared: [([UInt8], KeyedHMAC)] = []
        for key in keys {
            guard !prepared.contains(where: { $0.0 == Array(key.keyID.utf8) }) else {
                throw KeysetError("key id \(key.keyID) appears twice")
            }
            guard let mac = KeyedHMAC(key: key.key) else { throw KeysetError("OpenSSL could not prepare an HMAC key") }
            prepared.append((Array(key.keyID.utf8), mac))
        }
        self.audience = audience
        self.leeway = leeway
        let tables = Tables(audience: Array(audience.utf8), keys: prepared, revocations: revocations)
        self.tables = tables
        audienceBytes = UnsafeBufferPointer(tables.audience)
        keyEntries = UnsafeBufferPointer(tables.entries)
    }

    /// Creates a verifier from a keyset export (its audience and token keys).
    public init(keyset: Keyset, leeway: Int64 = Verifier.defaultLeeway, revocations: (any RevocationSource)? = nil)
        throws(KeysetError)
    {
        try self.init(audience: keyset.audience, keys: keyset.tokenKeys, leeway: leeway, revocations: revocations)
    }

    /// The key IDs this verifier accepts.
    public var keyIDs: [String] { keyEntries.map { String(decoding: $0.keyID, as: UTF8.self) } }

    /// Verifies `token` and, if given, that its scope grants `permission`.
    ///
    /// Checks run in this order and the first failure is thrown: `malformed`,
    /// `wrong_audience`, `unknown_key`, `bad_signature`, then, only for a token whose MAC
    /// matched, `revocations_stale`, `revoked`, `deactivated`, `not_yet_valid`, `expired`,
    /// `scope_not_granted`. Runs over the token's UTF-8 bytes and a stack buffer; allocates
    /// nothing on success or on a forged tag.
    ///
    /// ```swift
    /// let token = try verifier.verify(bearer, for: Routes.deleteDevice)
    /// ```
    ///
    /// - Parameters:
    ///   - token: The token text exactly as the client sent it.
    ///   - permission: The permission the request needs, or nil to check the token only.
    ///   - now: Unix seconds to check the window at; nil uses the system clock.
    /// - Returns: The token's GUID, window and scope kind.
    /// - Throws: ``VerificationError``. Its message never contains `token`.
    public func verify(_ token: String, for permission: Permission? = nil, at now: Int64? = nil)
        throws(VerificationError) -> VerifiedToken
    {
        let result = token.utf8.withContiguousStorageIfAvailable { text in
            Result { () throws(VerificationError) in try verify(text: text, permission: permission, now: now) }
        }
        if let result { return try result.get() }
        let copy = Array(token.utf8)
        return try copy.withUnsafeBufferPointer { text throws(VerificationError) in
            try verify(text: text, permission: permission, now: now)
        }
    }

    /// Verifies `token` like ``verify(_:for:at:)`` and returns all its claims (allocates).
    public func verifyClaims(_ token: String, for permission: Permission? = nil, at now: Int64? = nil)
        throws(VerificationError) -> TokenClaims
    {
        _ = try verify(token, for: permission, at: now)
        return try TokenClaims.decodeUnverified(token)
    }

    private func verify(text: UnsafeBufferPointer<UInt8>, permission: Permission?, now: Int64?)
        throws(VerificationError) -> VerifiedToken
    {
        let payload = try TokenLayout.payload(of: text)
        guard let byteCount = Base64URL.decodedLength(payload.count), byteCount > TokenClaims.tagLength else {
            throw VerificationError(.malformed, "too short or an impossible base64url length")
        }
        // Only trivial values go into the closures below: a closure that captures `self` or
        // `permission` makes the compiler copy them, a retain and a release per verify on
        // reference counts (the tables', a shared permission's name) that every thread writes.
        let audienceBytes = audienceBytes
        let keyEntries = keyEntries
        let access = permission?.access
        func authenticated(_ name: UnsafeBufferPointer<UInt8>?) throws(VerificationError) -> Authenticated {
            try withUnsafeTemporaryAllocation(byteCount: byteCount, alignment: 8) { raw throws(VerificationError) in
                try Self.authenticate(
                    decoded: raw, payload: payload, audience: audienceBytes, keys: keyEntries, name: name,
                    access: access)
            }
        }
        let token =
            if let name = permission?.nameBytes {
                try name.withUnsafeBufferPointer { name throws(VerificationError) in try authenticated(name) }
            } else {
                try authenticated(nil)
            }

        let time = now ?? Self.unixNow()
        // Borrowed from `tables` (a `let` of an immutable final class): no retain around the call.
        let check = tables.revocations?.check(token.id, at: time) ?? .clear
        switch check {
        case .clear: break
        case .stale: throw VerificationError(.revocationsStale)
        case .revoked: throw VerificationError(.revoked)
        case .deactivated: throw VerificationError(.deactivated)
        }
        // Saturating arithmetic: hostile times near Int64's ends must not trap.
        let (early, earlyOverflow) = time.addingReportingOverflow(leeway)
        if !earlyOverflow, early < token.validFrom { throw VerificationError(.notYetValid) }
        if token.validTo != 0 {
            let (late, lateOverflow) = time.subtractingReportingOverflow(leeway)
            if !lateOverflow, late >= token.validTo { throw VerificationError(.expired) }
        }
        guard token.granted else { throw VerificationError(.scopeNotGranted) }
        return VerifiedToken(
            id: token.id, validFrom: token.validFrom, validTo: token.validTo == 0 ? nil : token.validTo,
            scopeKind: ScopeKind(rawValue: token.scopeKind) ?? .custom)
    }

    /// What ``authenticate(decoded:payload:audience:keys:name:access:)`` read from a token whose
    /// MAC matched: the rest of the checks (revocation, window, scope) are made in this order
    /// after it, so a token that fails several reports the same reason as before.
    private struct Authenticated {
        let id: TokenID
        let validFrom: Int64
        let validTo: Int64
        let scopeKind: UInt8
        /// Whether the scope grants the permission asked for (true when none was).
        let granted: Bool
    }

    /// Decodes the token into `raw`, checks its layout, audience, key and MAC, and reads what
    /// the later checks need. Static, on trivial values only: see ``verify(text:permission:now:)``.
    private static func authenticate(
        decoded raw: UnsafeMutableRawBufferPointer, payload: UnsafeBufferPointer<UInt8>,
        audience expectedAudience: UnsafeBufferPointer<UInt8>, keys: UnsafeBufferPointer<KeyEntry>,
        name: UnsafeBufferPointer<UInt8>?, access: Access?
    ) throws(VerificationError) -> Authenticated {
        guard Base64URL.decode(payload, into: raw.bindMemory(to: UInt8.self)) else {
            throw VerificationError(.malformed, "not canonical unpadded base64url")
        }
        let bytes = UnsafeRawBufferPointer(raw)
        let layout = try TokenLayout(bytes)
        let b = bytes.bindMemory(to: UInt8.self)

        let audience = UnsafeBufferPointer(rebasing: b[layout.audience])
        guard bytesEqual(expectedAudience, audience) else { throw VerificationError(.wrongAudience) }

        let keyID = UnsafeBufferPointer(rebasing: b[layout.keyID])
        var found = -1
        for (i, entry) in keys.enumerated() where bytesEqual(entry.keyID, keyID) {
            found = i
            break
        }
        guard found >= 0 else { throw VerificationError(.unknownKey) }

        // The MAC covers the raw body bytes; nothing in the body is trusted before this.
        let matched = withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { expected -> Bool in
            let body = UnsafeRawBufferPointer(rebasing: bytes[0..<layout.bodyCount])
            let computed = keys[found].mac.authenticate(body, into: expected)
            guard computed else { return false }
            let tag = UnsafeRawBufferPointer(rebasing: bytes[layout.bodyCount...])
            return OpenSSL.constantTimeEqual(UnsafeRawBufferPointer(expected), tag)
        }
        guard matched else { throw VerificationError(.badSignature) }

        var granted = true
        if let name, let access {
            granted =
                switch layout.scopeKind {
                case 1: true
                case 2: access == .read
                default: layout.scopeContains(name, in: bytes)
                }
        }
        return Authenticated(
            id: TokenID(reading: bytes, at: layout.idOffset), validFrom: layout.validFrom, validTo: layout.validTo,
            scopeKind: layout.scopeKind, granted: granted)
    }

    /// The system's wall clock in Unix seconds. Calls `clock_gettime(CLOCK_REALTIME)`.
    public static func unixNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }
}
