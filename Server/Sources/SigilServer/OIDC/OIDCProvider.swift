import Foundation
import JWTKit
import SigilFetch
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The server's side of one OpenID Connect provider: discovery, the JWKS and the token
/// endpoint, over ``BoundedHTTP`` (the bounded fetch sigil-server's webhooks and followers use:
/// at most ``maxBytes`` of body, ``timeout`` seconds per request, no redirect followed, so the
/// client secret goes to the discovered token endpoint and nowhere else).
///
/// Discovery is read on first use and kept for ``discoveryLifetime``; its `issuer` must equal
/// the configured one exactly. The JWKS is read on first use and again only when an ID token
/// names an unknown `kid` and the last read is older than the settings' refresh interval, so a
/// flood of forged `kid`s cannot turn the server against the provider.
///
/// Thread-safe: the cached documents sit behind a `Mutex`; fetches happen outside it.
final class OIDCProvider: Sendable {
    let settings: OIDCSettings
    static let maxBytes = 256 * 1024
    static let timeout = 10
    static let discoveryLifetime: Int64 = 3_600

    /// What discovery says (the fields used).
    struct Discovery: Sendable, Equatable {
        let authorizationEndpoint: String
        let tokenEndpoint: String
        let jwksURI: String
        /// Whether the token endpoint takes the secret in the form (`client_secret_post`) only.
        let postsSecret: Bool
    }

    private struct State {
        var discovery: (Discovery, fetchedAt: Int64)?
        var keys: [String: JWK] = [:]
        var keysFetchedAt: Int64?
    }
    private let state = Mutex(State())

    init(settings: OIDCSettings) { self.settings = settings }

    /// The provider could not be reached, or answered what cannot be used.
    enum Failure: Error, Equatable {
        case unavailable(String)
        case badAnswer(String)

        var refusal: OIDCRefusal {
            switch self {
            case .unavailable: .providerUnavailable
            case .badAnswer: .providerBadAnswer
            }
        }
    }

    /// Discovery, cached.
    func discovery(now: Int64) async throws(Failure) -> Discovery {
        if let (cached, at) = state.withLock({ $0.discovery }), now - at < Self.discoveryLifetime { return cached }
        let base = settings.issuer.hasSuffix("/") ? String(settings.issuer.dropLast()) : settings.issuer
        let object = try await json(URLRequest(url: try url(base + "/.well-known/openid-configuration")))
        guard let issuer = object["issuer"] as? String else { throw .badAnswer("discovery has no issuer") }
        guard issuer == settings.issuer else {
            throw .badAnswer("discovery names issuer \(issuer.prefix(200)), not the configured one")
        }
        guard let authorization = object["authorization_endpoint"] as? String,
            let token = object["token_endpoint"] as? String, let jwks = object["jwks_uri"] as? String
        else { throw .badAnswer("discovery lacks authorization_endpoint, token_endpoint or jwks_uri") }
        for endpoint in [authorization, token, jwks] {
            guard let u = URL(string: endpoint), OIDCSettings.isAcceptable(u) else {
                throw .badAnswer("discovery names an endpoint that is not https")
            }
        }
        let methods = object["token_endpoint_auth_methods_supported"] as? [String] ?? ["client_secret_basic"]
        let found = Discovery(
            authorizationEndpoint: authorization, tokenEndpoint: token, jwksURI: jwks,
            postsSecret: !methods.contains("client_secret_basic") && methods.contains("client_secret_post"))
        state.withLock { $0.discovery = (found, now) }
        return found
    }

    /// The key `kid` names: from the cached JWKS, else from a fresh one when the last read is
    /// older than the refresh interval (or there was none).
    ///
    /// - Returns: nil when the key is not known even so (``OIDCRefusal/unknownKey``).
    func key(_ kid: String?, now: Int64) async throws(Failure) -> JWK? {
        let (cached, fetchedAt) = state.withLock { ($0.keys, $0.keysFetchedAt) }
        if fetchedAt != nil, let found = Self.pick(kid, in: cached) { return found }
        if let fetchedAt, now - fetchedAt < Int64(settings.jwksRefreshInterval) { return nil }
        let fresh = try await fetchKeys(now: now)
        return Self.pick(kid, in: fresh)
    }

    /// A JWKS entry by `kid`; a token without `kid` only when the set has exactly one key.
    static func pick(_ kid: String?, in keys: [String: JWK]) -> JWK? {
        if let kid { return keys[kid] }
        return keys.count == 1 ? keys.first?.value : nil
    }

    private func fetchKeys(now: Int64) async throws(Failure) -> [String: JWK] {
        // Counted as a read even when it fails, so a provider that is down is not hammered.
        state.withLock { $0.keysFetchedAt = now }
        let discovery = try await discovery(now: now)
        let object = try await json(URLRequest(url: try url(discovery.jwksURI)))
        guard let list = object["keys"] as? [Any] else { throw .badAnswer("the JWKS has no keys array") }
        var keys: [String: JWK] = [:]
        for entry in list.prefix(100) {
            // Signing keys only; one key the server cannot use (another type) does not void the set.
            guard let fields = entry as? [String: Any], (fields["use"] as? String ?? "sig") == "sig",
                let data = try? JSONSerialization.data(withJSONObject: fields),
                let jwk = try? JSONDecoder().decode(JWK.self, from: data)
            else { continue }
            keys[jwk.keyIdentifier?.string ?? ""] = jwk
        }
        state.withLock {
            $0.keys = keys
            $0.keysFetchedAt = now
        }
        return keys
    }

    /// Exchanges `code` (with the PKCE verifier) for the ID token at the token endpoint.
    ///
    /// - Returns: the ID token, or nil when the provider refused the code (`invalid_grant`:
    ///   replayed, expired, another client's or a wrong verifier).
    func exchange(code: String, verifier: String, now: Int64) async throws(Failure) -> String? {
        let discovery = try await discovery(now: now)
        var request = URLRequest(url: try url(discovery.tokenEndpoint))
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        var form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", settings.redirectURL),
            ("code_verifier", verifier),
        ]
        let secret = String(decoding: settings.clientSecret, as: UTF8.self)
        if discovery.postsSecret {
            form += [("client_id", settings.clientID), ("client_secret", secret)]
        } else {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic.
            let basic = Self.formEncode(settings.clientID) + ":" + Self.formEncode(secret)
            request.setValue("Basic " + Data(basic.utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
            form += [("client_id", settings.clientID)]
        }
        request.httpBody = Data(
            form.map { Self.formEncode($0) + "=" + Self.formEncode($1) }.joined(separator: "&").utf8)
        let (status, body) = try await fetch(request)
        if status == 400 || status == 401 {
            // invalid_grant (the code), or the client's own credentials refused: either way this
            // code will not work; the person starts again (and an operator reads the log).
            return nil
        }
        guard (200..<300).contains(status) else {
            if status >= 500 { throw .unavailable("the token endpoint answered \(status)") }
            throw .badAnswer("the token endpoint answered \(status)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let idToken = object["id_token"] as? String
        else { throw .badAnswer("the token endpoint's answer has no id_token") }
        return idToken
    }

    // MARK: HTTP

    private func url(_ text: String) throws(Failure) -> URL {
        guard let url = URL(string: text) else { throw .badAnswer("not a URL") }
        return url
    }

    private func json(_ request: URLRequest) async throws(Failure) -> [String: Any] {
        var request = request
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let (status, body) = try await fetch(request)
        if status >= 500 { throw .unavailable("the provider answered \(status)") }
        guard status == 200 else { throw .badAnswer("the provider answered \(status)") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw .badAnswer("the provider's answer is not a JSON object")
        }
        return object
    }

    private func fetch(_ request: URLRequest) async throws(Failure) -> (Int, [UInt8]) {
        var request = request
        request.timeoutInterval = TimeInterval(Self.timeout)
        request.cachePolicy = .reloadIgnoringLocalCacheData
        switch await BoundedHTTP(maxBytes: Self.maxBytes, timeout: Self.timeout).run(request) {
        case .response(let response, let body): return (response.statusCode, body)
        case .tooLarge: throw .badAnswer("the answer is larger than \(Self.maxBytes) bytes")
        case .timedOut: throw .unavailable("no answer within \(Self.timeout) s")
        case .failed(let why): throw .unavailable(String(why.prefix(200)))
        case .notHTTP: throw .badAnswer("the answer is not HTTP")
        }
    }

    /// `application/x-www-form-urlencoded` for one name or value.
    static func formEncode(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
