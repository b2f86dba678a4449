import Foundation
public import SigilIssuer

/// How sigil-server signs people in with an OpenID Connect provider (`--oidc-*`, docs/MEMBERS.md).
///
/// Built once at start-up from the options; every value is checked here, so the flow never
/// meets a bad one. The client secret is read from a 0600 file with the keyring's rules.
///
/// ```swift
/// let settings = try OIDCSettings(
///     issuer: "https://id.example.com/realms/acme", clientID: "sigil",
///     clientSecret: try Secrets.readFile("/etc/sigil/oidc-secret"),
///     redirectURL: "https://sigil.example.com/v1/oidc/callback")
/// ```
public struct OIDCSettings: Sendable {
    /// The provider's issuer identifier: discovery is read from
    /// `<issuer>/.well-known/openid-configuration`, whose `issuer` must equal it exactly.
    public let issuer: String
    public let clientID: String
    /// The client secret (sent to the token endpoint with HTTP Basic; also the key material of
    /// the flow cookie, ``OIDCFlowCookie``). Never logged.
    let clientSecret: [UInt8]
    /// The callback URL registered at the provider: `<public origin>/v1/oidc/callback`.
    public let redirectURL: String
    /// The name shown on the console's button ("Sign in with <name>").
    public let displayName: String
    /// When set, only emails in this domain (after `@`, case-insensitive) may sign in.
    public let allowedDomain: String?
    /// The least time between two JWKS fetches caused by an unknown `kid`.
    public let jwksRefreshInterval: Int
    /// How far `exp` and `iat` may be off the server's clock, in seconds.
    public let clockSkew: Int
    /// How long a started sign-in may take at the provider, in seconds (the flow cookie's life).
    public static let flowLifetime: Int64 = 600
    /// Bounds of the options, checked here and shown in `--help`.
    public static let refreshBounds = 1...86_400
    public static let skewBounds = 0...300

    /// Checks every value.
    ///
    /// - Throws: ``IssuerError`` `invalid_input` naming the option and the fix.
    public init(
        issuer: String, clientID: String, clientSecret: [UInt8], redirectURL: String, displayName: String? = nil,
        allowedDomain: String? = nil, jwksRefreshInterval: Int = 300, clockSkew: Int = 60
    ) throws(IssuerError) {
        guard let issuerURL = URL(string: issuer), Self.isAcceptable(issuerURL), issuerURL.query == nil,
            issuerURL.fragment == nil
        else {
            throw IssuerError(
                .invalidInput,
                "--oidc-issuer must be an https:// URL without query or fragment (http:// only for a loopback host), like https://id.example.com/realms/acme"
            )
        }
        guard !clientID.isEmpty, clientID.utf8.count <= 256, !clientID.contains(where: { $0.isWhitespace }) else {
            throw IssuerError(.invalidInput, "--oidc-client-id must be 1 to 256 bytes without spaces")
        }
        guard let redirect = URL(string: redirectURL), Self.isAcceptable(redirect), redirect.query == nil,
            redirect.path.hasSuffix(OIDCController.callbackPath)
        else {
            throw IssuerError(
                .invalidInput,
                "--oidc-redirect-url must be this server's public https:// URL ending in \(OIDCController.callbackPath) (http:// only for a loopback host), registered at the provider"
            )
        }
        let name = (displayName ?? issuerURL.host ?? "your identity provider").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 64 else {
            throw IssuerError(.invalidInput, "--oidc-provider-name must be 1 to 64 characters")
        }
        if let allowedDomain {
            let valid =
                allowedDomain.utf8.count <= 253 && !allowedDomain.isEmpty
                && allowedDomain.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
                && !allowedDomain.hasPrefix(".") && !allowedDomain.hasSuffix(".") && allowedDomain.contains(".")
            guard valid else {
                throw IssuerError(.invalidInput, "--oidc-allowed-domain must be a domain name like example.com")
            }
        }
        guard Self.refreshBounds.contains(jwksRefreshInterval) else {
            throw IssuerError(.invalidInput, "--oidc-jwks-refresh-seconds must be \(Self.refreshBounds)")
        }
        guard Self.skewBounds.contains(clockSkew) else {
            throw IssuerError(.invalidInput, "--oidc-clock-skew must be \(Self.skewBounds) seconds")
        }
        guard clientSecret.count >= 8 else {
            throw IssuerError(.invalidInput, "--oidc-client-secret-file must hold the client secret (8 bytes at least)")
        }
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURL = redirectURL
        self.displayName = name
        self.allowedDomain = allowedDomain?.lowercased()
        self.jwksRefreshInterval = jwksRefreshInterval
        self.clockSkew = clockSkew
    }

    /// https, or http to a loopback host (tests, a provider on the same machine).
    static func isAcceptable(_ url: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty, url.user == nil else {
            return false
        }
        if scheme == "https" { return true }
        return scheme == "http" && (host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host == "::1")
    }

    /// Whether `email` may sign in under ``allowedDomain``.
    func allows(email: String) -> Bool {
        guard let allowedDomain else { return true }
        guard let at = email.lastIndex(of: "@") else { return false }
        return email[email.index(after: at)...].lowercased() == allowedDomain
    }
}
