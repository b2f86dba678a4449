import Crypto
import Foundation
import SigilVerifier

/// The in-flight sign-in (`state`, `nonce`, PKCE verifier, deadline), sealed in a short-lived
/// cookie so that whichever replica receives the callback can finish it: no server-side state.
///
/// Sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the OIDC client secret, the
/// one secret every replica of a deployment already shares on disk (`--oidc-client-secret-file`):
/// no new key to distribute, and changing the client secret voids flows in progress (10 minutes
/// at most). The cookie is `HttpOnly`, scoped to `Path=/v1/oidc/callback` and `SameSite=Lax`:
/// the provider sends the browser back with a cross-site top-level GET, which a `Strict`
/// cookie would not join (docs/DESIGN.md, #25).
///
/// ```swift
/// let sealer = OIDCFlowCookie(secret: settings.clientSecret, context: settings.issuer)
/// let value = try sealer.seal(flow)
/// let back = sealer.open(value, now: now)   // nil: forged, altered or expired
/// ```
package struct OIDCFlowCookie: Sendable {
    static let name = "sigil_oidc_flow"

    /// One started sign-in.
    package struct Flow: Codable, Sendable, Equatable {
        package let state: String
        package let nonce: String
        package let verifier: String
        package let expiresAt: Int64
    }

    private let key: SymmetricKey

    package init(secret: [UInt8], context: String) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret), salt: Array("sigil-oidc-flow-cookie-v1".utf8),
            info: Array(context.utf8), outputByteCount: 32)
    }

    /// A new flow: 256-bit random `state`, `nonce` and PKCE verifier.
    package static func start(now: Int64, lifetime: Int64) -> Flow {
        Flow(
            state: randomText(), nonce: randomText(), verifier: randomText(), expiresAt: now + lifetime)
    }

    /// 32 random bytes, base64url (43 characters: a valid PKCE verifier).
    static func randomText() -> String {
        Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
    package static func challenge(of verifier: String) -> String {
        Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8))))
    }

    package func seal(_ flow: Flow) throws -> String {
        let plain = try JSONEncoder().encode(flow)
        guard let combined = try AES.GCM.seal(plain, using: key).combined else {
            throw CocoaError(.coderInvalidValue)
        }
        return Base64URL.encode(combined)
    }

    /// The flow in `value`, or nil when it was not sealed here, was altered, or has expired.
    package func open(_ value: String, now: Int64) -> Flow? {
        guard value.utf8.count <= 1_024, let bytes = Base64URL.decode(value),
            let box = try? AES.GCM.SealedBox(combined: bytes), let plain = try? AES.GCM.open(box, using: key),
            let flow = try? JSONDecoder().decode(Flow.self, from: plain), now <= flow.expiresAt
        else { return nil }
        return flow
    }

    /// `Set-Cookie` for a started flow.
    static func cookie(_ value: String, maxAge: Int64, secure: Bool) -> String {
        "\(name)=\(value); Path=\(OIDCController.callbackPath); Max-Age=\(maxAge); HttpOnly; SameSite=Lax"
            + (secure ? "; Secure" : "")
    }

    /// `Set-Cookie` that drops the flow cookie (every callback ends its flow, well or not).
    static func clearing(secure: Bool) -> String {
        "\(name)=; Path=\(OIDCController.callbackPath); Max-Age=0; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
    }
}
