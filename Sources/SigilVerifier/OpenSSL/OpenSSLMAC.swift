internal import COpenSSL  // the verifier's only import of COpenSSL
import Synchronization

/// The verifier's door to libcrypto. Nothing of OpenSSL (`OpaquePointer`, `EVP_*`, `CInt`) leaves this file.
///
/// It holds only what a service needs: HMAC-SHA256, constant-time comparison and Ed25519
/// verification (plus `cleanse`, which ``KeyedHMAC`` needs). Key derivation, signing and
/// randomness are the issuer's and live in `SigilIssuerCrypto` (`IssuerOpenSSL.swift`), which
/// extends this enum, so a service that links only `SigilVerifier` cannot mint or sign.
///
/// Every function checks OpenSSL's return code and reports failure as `false`/`nil`;
/// callers turn that into their own error types.
package enum OpenSSL {
    /// HMAC-SHA256 of `message` under `key` into `output` (32 bytes).
    /// Calls `EVP_MAC_init`, `EVP_MAC_update`, `EVP_MAC_final` through a fresh context.
    package static func hmacSHA256(
        key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) -> Bool {
        precondition(output.count == 32, "output must be exactly 32 bytes")
        guard let ctx = sigil_hmac_sha256_new(key.baseAddress?.assumingMemoryBound(to: UInt8.self), key.count)
        else { return false }
        defer { EVP_MAC_CTX_free(ctx) }
        return compute(ctx, message, output)
    }

    /// Constant-time equality of two equally long buffers. Calls `CRYPTO_memcmp`.
    /// Buffers of different lengths are unequal (the length is not secret).
    package static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return a.count == 0 }
        return CRYPTO_memcmp(pa, pb, a.count) == 0
    }

    /// Overwrites `buffer` with zeros in a way the optimiser keeps. Calls `OPENSSL_cleanse`.
    ///
    /// It stays in the verifier, not in `SigilIssuerCrypto`, because ``KeyedHMAC`` wipes its
    /// copy of the key with it on deinit; zeroing is hygiene, not issuer-only crypto. The issuer
    /// uses this same function through `SigilVerifier`.
    package static func cleanse(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        OPENSSL_cleanse(base, buffer.count)
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` under `publicKey` (32 bytes).
    /// Calls `EVP_PKEY_new_raw_public_key` and `EVP_DigestVerify`.
    package static func ed25519Verify(
        publicKey: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, signature: UnsafeRawBufferPointer
    ) -> Bool {
        guard publicKey.count == 32, signature.count == 64 else { return false }
        // OpenSSL rejects a NULL message pointer even with length 0.
        var empty: UInt8 = 0
        return withUnsafeMutablePointer(to: &empty) { emptyPointer in
            let messagePointer =
                message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyPointer)
            return sigil_ed25519_verify(
                publicKey.baseAddress?.assumingMemoryBound(to: UInt8.self), messagePointer, message.count,
                signature.baseAddress?.assumingMemoryBound(to: UInt8.self), signature.count) == 1
        }
    }

    fileprivate static func compute(
        _ ctx: OpaquePointer, _ message: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer
    ) -> Bool {
        var empty: UInt8 = 0
        return withUnsafeMutablePointer(to: &empty) { emptyPointer in
            let m = message.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyPointer)
            return sigil_hmac_compute(ctx, m, message.count, output.baseAddress?.assumingMemoryBound(to: UInt8.self))
                == 1
        }
    }
}

/// An HMAC-SHA256 key whose OpenSSL state (the hashed ipad/opad) is prepared once, then
/// reused by every call, from any thread.
///
/// OpenSSL contexts are not thread-safe, so each of 16 slots holds its own keyed context
/// and a busy flag, 128 bytes apart so that no two slots share a cache line. A thread first
/// tries "its" slot (``ThreadSlot``), so threads verifying at once touch disjoint memory;
/// only if that slot is busy does it scan the others. A slot's context is created by the
/// first thread that uses it, from that thread's malloc arena, which keeps contexts of
/// different threads apart too. If every slot is busy, the call uses a temporary context.
package final class KeyedHMAC: @unchecked Sendable {
    package static let slotCount = 16
    private static let stride = 128

    // Invariant: slot i's context pointer is read or written only by the thread that won
    // slot i's busy flag (acquire on claim, release on return), so each context is used by
    // one thread at a time and its creation is published to the next claimant.
    private let slots: UnsafeMutableRawPointer
    // Kept only to key new contexts; wiped in deinit.
    private let key: UnsafeMutableRawBufferPointer
    private let keyCount: Int

    /// Prepares the key. Returns nil if OpenSSL cannot key a context with it.
    package init?(key: [UInt8]) {
        // Fail early (and check the key works) rather than on the first verify.
        guard let probe = key.withUnsafeBufferPointer({ sigil_hmac_sha256_new($0.baseAddress, $0.count) }) else {
            return nil
        }
        let region = UnsafeMutableRawPointer.allocate(byteCount: Self.slotCount * Self.stride, alignment: Self.stride)
        for i in 0..<Self.slotCount {
            (region + i * Self.stride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
            (region + i * Self.stride + 64).bindMemory(to: OpaquePointer?.self, capacity: 1)
                .initialize(to: i == 0 ? probe : nil)
        }
        slots = region
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(key.count, 1), alignment: 1)
        copy.initializeMemory(as: UInt8.self, repeating: 0)
        key.withUnsafeBytes { copy.copyMemory(from: $0) }
        self.key = copy
        keyCount = key.count
    }

    deinit {
        for i in 0..<Self.slotCount {
            if let ctx = contextPointer(i).pointee { EVP_MAC_CTX_free(ctx) }
            contextPointer(i).deinitialize(count: 1)
            busyPointer(i).deinitialize(count: 1)
        }
        slots.deallocate()
        OpenSSL.cleanse(key)
        key.deallocate()
    }

    @inline(__always)
    private func busyPointer(_ i: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (slots + i * Self.stride).assumingMemoryBound(to: Atomic<Int>.self)
    }

    @inline(__always)
    private func contextPointer(_ i: Int) -> UnsafeMutablePointer<OpaquePointer?> {
        (slots + i * Self.stride + 64).assumingMemoryBound(to: OpaquePointer?.self)
    }

    private func newContext() -> OpaquePointer? {
        sigil_hmac_sha256_new(key.baseAddress?.assumingMemoryBound(to: UInt8.self), keyCount)
    }

    /// Writes HMAC-SHA256(key, message) into `output` (32 bytes). Allocates nothing in Swift.
    package func authenticate(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        precondition(output.count == 32, "output must be exactly 32 bytes")
        let mask = Self.slotCount - 1
        let preferred = ThreadSlot.current & mask
        for step in 0..<Self.slotCount {
            let i = (preferred + step) & mask
            let busy = busyPointer(i)
            // A plain load first: a busy slot is skipped without writing its cache line.
            guard busy.pointee.load(ordering: .relaxed) == 0,
                busy.pointee.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
            else { continue }
            defer { busy.pointee.store(0, ordering: .releasing) }
            if contextPointer(i).pointee == nil { contextPointer(i).pointee = newContext() }
            guard let ctx = contextPointer(i).pointee else { return false }
            return OpenSSL.compute(ctx, message, output)
        }
        // Every slot is busy: a private context keeps the call wait-free.
        guard let ctx = newContext() else { return false }
        defer { EVP_MAC_CTX_free(ctx) }
        return OpenSSL.compute(ctx, message, output)
    }
}
