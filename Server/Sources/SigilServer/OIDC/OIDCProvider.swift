import Foundation
package import JWTKit
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
/// the configured one exactly. The JWKS is read on first use, again when an ID token names an
/// unknown `kid` and the last attempt is older than the settings' refresh interval (so a flood
/// of forged `kid`s cannot turn the server against the provider), and again once the key set
/// is older than ``keysMaxAge`` even for a known `kid` (so a key the provider withdrew stops
/// being trusted). Until a read succeeds, callbacks answer `provider_unavailable` and a new
/// attempt is made at most every ``firstFetchRetry`` seconds.
///
/// Thread-safe: the cached documents sit behind a `Mutex`; fetches happen outside it.
package final class OIDCProvider: Sendable {
    let settings: OIDCSettings
    static let maxBytes = 256 * 1024
    static let timeout = 10
    static let discoveryLifetime: Int64 = 3_600
    /// The oldest key set trusted without a new read, whatever `kid` a token names.
    package static let keysMaxAge: Int64 = 3_600
    /// The back-off between attempts while no read of the JWKS has succeeded yet.
    package static let firstFetchRetry: Int64 = 5

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
        /// The last read that succeeded.
        var keysFetchedAt: Int64?
        /// The last read started, whether it succeeded or not.
        var keysAttemptedAt: Int64?
    }
    private let state = Mutex(State())

    init(settings: OIDCSettings) { self.settings = settings }

    /// The provider could not be reached, or answered what cannot be used.
    enum Failure: Error, Equatable {
        case unavailable(String)
        case badAnswer(String)
        /// The token endpoint refused the client's credentials (`invalid_client`): configuration.
        case clientRejected(String)

        var refusal: OIDCRefusal {
            switch self {
            case .unavailable: .providerUnavailable
            case .badAnswer: .providerBadAnswer
            case .clientRejected: .clientRejected
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

    /// The key `kid` names: from the cached JWKS while it is younger than ``keysMaxAge``, else
    /// from a fresh read when ``plan(kid:keys:fetchedAt:attemptedAt:now:refreshInterval:)`` allows one.
    ///
    /// - Returns: nil when the key is not known even so (``OIDCRefusal/unknownKey``).
    /// - Throws: ``Failure/unavailable(_:)`` while no read has succeeded yet (or the set is too
    ///   old and cannot be read again now), or the read's own failure.
    func key(_ kid: String?, now: Int64) async throws(Failure) -> JWK? {
        let (cached, fetchedAt, attemptedAt) = state.withLock { ($0.keys, $0.keysFetchedAt, $0.keysAttemptedAt) }
        switch Self.plan(
            kid: kid, keys: cached, fetchedAt: fetchedAt, attemptedAt: attemptedAt, now: now,
            refreshInterval: Int64(settings.jwksRefreshInterval))
        {
        case .use(let key): return key
        case .unknown: return nil
        case .unavailable: throw .unavailable("no usable read of the JWKS yet; the next attempt is throttled")
        case .fetch:
            let fresh = try await fetchKeys(now: now)
            return Self.pick(kid, in: fresh)
        }
    }

    /// What ``key(_:now:)`` does with the cached key set.
    package enum KeyPlan {
        case use(JWK)
        /// The set is fresh and lacks the key; a new read is not due yet.
        case unknown
        /// No set that may be trusted, and a new read is not due yet.
        case unavailable
        case fetch
    }

    /// Decides between the cached key set and a new read: a set older than ``keysMaxAge`` is
    /// not trusted even for a known `kid`; an unknown `kid` reads again at most once per
    /// `refreshInterval`; with no successful read yet, attempts are ``firstFetchRetry`` apart.
    package static func plan(
        kid: String?, keys: [String: JWK], fetchedAt: Int64?, attemptedAt: Int64?, now: Int64, refreshInterval: Int64
    ) -> KeyPlan {
        let isFresh = fetchedAt.map { now - $0 < keysMaxAge } ?? false
        if isFresh, let found = pick(kid, in: keys) { return .use(found) }
        let sinceAttempt = attemptedAt.map { now - $0 } ?? .max
        if fetchedAt == nil || !isFresh {
            return sinceAttempt < min(firstFetchRetry, refreshInterval) ? .unavailable : .fetch
        }
        return sinceAttempt < refreshInterval ? .unknown : .fetch
    }

    /// A JWKS entry by `kid`; a token without `kid` only when the set has exactly one key.
    static func pick(_ kid: String?, in keys: [String: JWK]) -> JWK? {
        if let kid { return keys[kid] }
        return keys.count == 1 ? keys.first?.value : nil
    }

    private func fetchKeys(now: Int64) async throws(Failure) -> [String: JWK] {
        // Counted as an attempt even when it fails, so a provider that is down is not hammered.
        state.withLock { $0.keysAttemptedAt = now }
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
            // RFC 6749 §5.2: invalid_client (401, or 400 from some providers) is the client's own
            // credentials, a configuration error; anything else (invalid_grant…) is the code.
            let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            if status == 401 || object?["error"] as? String == "invalid_client" {
                throw .clientRejected("the token endpoint answered \(status) invalid_client")
            }
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
