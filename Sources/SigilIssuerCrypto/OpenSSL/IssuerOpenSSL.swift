internal import COpenSSL  // the issuer's one import of COpenSSL; the verifier's is OpenSSLMAC.swift
package import SigilVerifier

/// The issuer's half of the door to libcrypto: key derivation, signing and randomness.
///
/// Services never need these, so they live in a target the verifier does not link: a service
/// that links only `SigilVerifier` gets HMAC-SHA256, `CRYPTO_memcmp` and Ed25519 verify, and
/// nothing that mints secrets or signs. As in `OpenSSLMAC.swift`, nothing of OpenSSL
/// (`OpaquePointer`, `EVP_*`, `CInt`) leaves this file, and every function checks OpenSSL's
/// return code and reports failure as `false`/`nil`.
extension OpenSSL {
    /// HKDF-SHA256 (RFC 5869 extract + expand). Calls `EVP_KDF_derive` with the "HKDF" KDF.
    /// An empty `salt` means "not provided" (HashLen zero bytes), as RFC 5869 section 2.2 says.
    package static func hkdfSHA256(ikm: [UInt8], salt: [UInt8], info: [UInt8], outputLength: Int) -> [UInt8]? {
        guard outputLength > 0, outputLength <= 255 * 32 else { return nil }
        var out = [UInt8](repeating: 0, count: outputLength)
        let ok = ikm.withUnsafeBufferPointer { i in
            salt.withUnsafeBufferPointer { s in
                info.withUnsafeBufferPointer { f in
                    out.withUnsafeMutableBufferPointer { o in
                        sigil_hkdf_sha256(
                            i.baseAddress, i.count, s.baseAddress, s.count, f.baseAddress, f.count,
                            o.baseAddress, o.count)
                    }
                }
            }
        }
        return ok == 1 ? out : nil
    }

    /// Fills `buffer` with cryptographically secure random bytes. Calls `RAND_bytes`.
    package static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let base = buffer.baseAddress else { return true }
        guard buffer.count <= Int(Int32.max) else { return false }
        return RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1
    }

    /// `count` random bytes from `RAND_bytes`; traps only if the system RNG is broken,
    /// because continuing without randomness would mint guessable secrets.
    package static func randomBytes(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBytes { randomBytes($0) }
        precondition(ok, "RAND_bytes failed: the system random number generator is unavailable")
        return out
    }

    /// Ed25519 signature (64 bytes) of `message` with the 32-byte `seed`.
    /// Calls `EVP_PKEY_new_raw_private_key`, `EVP_DigestSignInit` and `EVP_DigestSign`.
    package static func ed25519Sign(seed: [UInt8], message: UnsafeRawBufferPointer) -> [UInt8]? {
        guard seed.count == 32 else { return nil }
        var sig = [UInt8](repeating: 0, count: 64)
        let ok = seed.withUnsafeBufferPointer { s in
            sig.withUnsafeMutableBufferPointer { o in
                sigil_ed25519_sign(
                    s.baseAddress, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count,
                    o.baseAddress)
            }
        }
        return ok == 1 ? sig : nil
    }

    /// The Ed25519 public key of a 32-byte seed.
    /// Calls `EVP_PKEY_new_raw_private_key` and `EVP_PKEY_get_raw_public_key`.
    package static func ed25519PublicKey(seed: [UInt8]) -> [UInt8]? {
        guard seed.count == 32 else { return nil }
        var pub = [UInt8](repeating: 0, count: 32)
        let ok = seed.withUnsafeBufferPointer { s in
            pub.withUnsafeMutableBufferPointer { sigil_ed25519_public(s.baseAddress, $0.baseAddress) }
        }
        return ok == 1 ? pub : nil
    }
}
