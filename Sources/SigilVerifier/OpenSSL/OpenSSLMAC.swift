internal import COpenSSL  // the verifier's only import of COpenSSL

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

/// An HMAC-SHA256 key prepared once, then used by every call, from any thread, without a
/// lock or an allocation.
///
/// `init` hashes the ipad- and opad-masked key block into two SHA-256 states (RFC 2104);
/// each ``authenticate(_:into:)`` copies them onto the stack and finishes the two hashes
/// there (`SHA256_Update`, `SHA256_Final`), so threads share only read-only memory. The
/// EVP_MAC path this replaced allocated twice per MAC inside OpenSSL 3.0 and needed a pool
/// of per-thread contexts; docs/DESIGN.md ("Hot path") says why, Benchmarks/README.md has the figures.
package final class KeyedHMAC: @unchecked Sendable {
    // @unchecked: `states` (inner at 0, outer at 1) is written only in init and wiped and
    // freed only in deinit; calls only read it. The states are as secret as the key.
    private let states: UnsafeMutablePointer<sigil_sha256_state>

    /// Prepares the key. Returns nil if OpenSSL's SHA-256 fails (it does not in practice).
    package init?(key: [UInt8]) {
        let states = UnsafeMutablePointer<sigil_sha256_state>.allocate(capacity: 2)
        states.initialize(repeating: sigil_sha256_state(), count: 2)
        let prepared = key.withUnsafeBufferPointer { key in
            sigil_hmac_sha256_prepare(key.baseAddress, key.count, states, states + 1) == 1
        }
        guard prepared else {
            Self.wipe(states)
            return nil
        }
        self.states = states
    }

    deinit { Self.wipe(states) }

    private static func wipe(_ states: UnsafeMutablePointer<sigil_sha256_state>) {
        OpenSSL.cleanse(UnsafeMutableRawBufferPointer(start: states, count: 2 * MemoryLayout<sigil_sha256_state>.size))
        states.deinitialize(count: 2)
        states.deallocate()
    }

    /// Writes HMAC-SHA256(key, message) into `output` (32 bytes). Allocates nothing.
    /// Calls `SHA256_Update` and `SHA256_Final` on stack copies of the prepared states.
    package func authenticate(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        unretained.authenticate(message, into: output)
    }

    /// The prepared states without a reference to this object, for the verify hot path.
    ///
    /// Calling a method on a `KeyedHMAC` read through `unowned(unsafe)` or from raw memory
    /// costs a `swift_retain` and a `swift_release` on it: two atomic writes to one cache line
    /// that every thread verifying under this key shares, which stopped 2 threads from
    /// scaling (Benchmarks/README.md, 2026-12-05). An ``Unretained`` is a plain pointer: copying
    /// and calling it writes nothing shared. Its owner must keep this `KeyedHMAC` alive while
    /// it is used, as `Verifier.Tables` does.
    package var unretained: Unretained { Unretained(states: UnsafeRawPointer(states)) }

    /// A ``KeyedHMAC``'s read-only states, held by address: no reference count.
    package struct Unretained: @unchecked Sendable {
        // @unchecked: the states are never written after the KeyedHMAC's init; whoever holds
        // this keeps that KeyedHMAC alive.
        fileprivate let states: UnsafeRawPointer

        /// Writes HMAC-SHA256(key, message) into `output` (32 bytes). Allocates nothing and
        /// writes only to `output` and the caller's stack.
        /// Calls `SHA256_Update` and `SHA256_Final` on stack copies of the prepared states.
        package func authenticate(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer)
            -> Bool
        {
            precondition(output.count == 32, "output must be exactly 32 bytes")
            let inner = states.assumingMemoryBound(to: sigil_sha256_state.self)
            // SHA256_Update accepts a NULL pointer only with length 0, which is what an empty
            // buffer has.
            return sigil_hmac_sha256_prepared(
                inner, inner + 1, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                output.baseAddress?.assumingMemoryBound(to: UInt8.self)) == 1
        }
    }
}
