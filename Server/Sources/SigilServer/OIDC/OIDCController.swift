import Foundation
public import Hummingbird
import Logging
import NIOCore
import SigilIssuer

/// Single sign-on with OpenID Connect (docs/MEMBERS.md, "Single sign-on"): the authorization
/// code flow with PKCE (S256), `state` and `nonce`.
///
/// - `GET /v1/oidc`: whether SSO is configured and the provider's display name (the console's button).
/// - `GET /v1/oidc/login`: starts a flow: a sealed flow cookie (``OIDCFlowCookie``) and a redirect
///   to the provider's authorization endpoint.
/// - `GET /v1/oidc/callback`: checks `state` against the flow cookie, exchanges the code with the
///   PKCE verifier, verifies the ID token (``IDTokenVerifier``), requires a verified email (in
///   the allowed domain), then opens a member session (the same cookie as token sign-in) and
///   redirects into the console.
///
/// Every refusal is an HTML page with a 4xx, 502 or 503 (never a 500), a log line and an audit
/// event `sign-in-refused` with the reason; no code, token or ID token is ever logged or shown.
///
/// ```swift
/// OIDCController(settings: settings, issuer: issuer, sessions: sessions).addRoutes(to: router.group("v1"))
/// ```
public struct OIDCController: Sendable {
    public static let callbackPath = "/v1/oidc/callback"
    let settings: OIDCSettings?
    let provider: OIDCProvider?
    let sealer: OIDCFlowCookie?
    let verifier: IDTokenVerifier?
    let issuer: IssuerQueue
    let sessions: SessionStore
    /// Refusals the client controls (a bad flow cookie or state, a rejected code, a forged ID
    /// token, a refused person) count against the address's failed-authentication budget, as a
    /// refused token does; past it such a refusal is answered 429 with no audit write. The budget
    /// is shared with bearer tokens, so nothing is checked before a failure: a sign-in that
    /// succeeds never meets the limit, and provider-side failures (unreachable, bad answers,
    /// refused client credentials) are never charged to the person.
    let limiter: FailedAuthLimiter

    public init(settings: OIDCSettings?, issuer: IssuerQueue, sessions: SessionStore, limiter: FailedAuthLimiter) {
        self.limiter = limiter
        self.settings = settings
        self.provider = settings.map(OIDCProvider.init(settings:))
        self.sealer = settings.map { OIDCFlowCookie(secret: $0.clientSecret, context: $0.issuer + " " + $0.clientID) }
        self.verifier = settings.map {
            IDTokenVerifier(issuer: $0.issuer, clientID: $0.clientID, clockSkew: $0.clockSkew)
        }
        self.issuer = issuer
        self.sessions = sessions
    }

    public func addRoutes(to v1: RouterGroup<ServerContext>) {
        v1.get("oidc", use: describe)
        v1.get("oidc/login", use: login)
        v1.get("oidc/callback", use: callback)
    }

    @Sendable func describe(_ request: Request, context: ServerContext) async throws -> Response {
        guard let settings else { return JSONResponse.make(["configured": false]) }
        return JSONResponse.make(["configured": true, "provider": settings.displayName, "login": "/v1/oidc/login"])
    }

    @Sendable func login(_ request: Request, context: ServerContext) async throws -> Response {
        guard let settings, let provider, let sealer else { return Self.page(.notConfigured) }
        let now = Issuer.currentTime()
        let discovery: OIDCProvider.Discovery
        do {
            discovery = try await provider.discovery(now: now)
        } catch {
            return await refuse(error.refusal, email: nil, context: context, log: error)
        }
        let flow = OIDCFlowCookie.start(now: now, lifetime: OIDCSettings.flowLifetime)
        let sealed: String
        do {
            sealed = try sealer.seal(flow)
        } catch {
            context.logger.error("could not seal the single sign-on flow cookie", metadata: ["why": "\(error)"])
            return Self.page(.tryAgain)
        }
        let query = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", settings.redirectURL),
            ("scope", "openid email profile"), ("state", flow.state), ("nonce", flow.nonce),
            ("code_challenge", OIDCFlowCookie.challenge(of: flow.verifier)), ("code_challenge_method", "S256"),
        ].map { OIDCProvider.formEncode($0) + "=" + OIDCProvider.formEncode($1) }.joined(separator: "&")
        let separator = discovery.authorizationEndpoint.contains("?") ? "&" : "?"
        var headers = HTTPFields()
        headers[.location] = discovery.authorizationEndpoint + separator + query
        headers[.cacheControl] = "no-store"
        headers[.setCookie] = OIDCFlowCookie.cookie(
            sealed, maxAge: OIDCSettings.flowLifetime, secure: sessions.secureCookies)
        return Response(status: .found, headers: headers)
    }

    @Sendable func callback(_ request: Request, context: ServerContext) async throws -> Response {
        guard let provider, let sealer, let verifier, let settings else { return Self.page(.notConfigured) }
        let now = Issuer.currentTime()
        let query = Self.query(request)
        guard let value = SessionStore.cookie(named: OIDCFlowCookie.name, in: request.headers),
            let flow = sealer.open(value, now: now), let state = query["state"],
            Secrets.equal(Array(state.utf8), Array(flow.state.utf8))
        else { return await refuse(.stateMismatch, email: nil, context: context) }
        if let error = query["error"] {
            let code = String(error.prefix(64).filter { $0.isASCII && ($0.isLetter || $0 == "_") })
            return await refuse(.providerError, email: nil, context: context, detail: code)
        }
        guard let code = query["code"], !code.isEmpty, code.utf8.count <= 2_048 else {
            return await refuse(.stateMismatch, email: nil, context: context)
        }
        let identity: IDTokenIdentity
        do {
            guard let idToken = try await provider.exchange(code: code, verifier: flow.verifier, now: now) else {
                return await refuse(.codeRejected, email: nil, context: context)
            }
            let header = try IDTokenVerifier.header(of: idToken)
            guard let key = try await provider.key(header.kid, now: now) else {
                return await refuse(.unknownKey, email: nil, context: context)
            }
            identity = try await verifier.verify(idToken, key: key, nonce: flow.nonce, now: now)
        } catch let error as OIDCProvider.Failure {
            if case .clientRejected = error {
                context.logger.error(
                    """
                    the provider's token endpoint refused the client credentials (invalid_client): \
                    check --oidc-client-id and --oidc-client-secret-file against the provider's client
                    """)
            }
            return await refuse(error.refusal, email: nil, context: context, log: error)
        } catch let refusal as OIDCRefusal {
            return await refuse(refusal, email: nil, context: context)
        } catch {
            context.logger.error("single sign-on could not finish", metadata: ["why": "\(error)"])
            return Self.page(.tryAgain)
        }
        guard let email = identity.verifiedEmail else {
            return await refuse(
                identity.hasUnverifiedEmail ? .emailUnverified : .emailMissing, email: nil, context: context)
        }
        guard settings.allows(email: email) else {
            return await refuse(.domainNotAllowed, email: email, context: context)
        }
        let opened: (id: String, session: SessionStore.Session)
        do {
            opened = try await OIDCMembers.openSession(email: email, issuer: issuer, sessions: sessions, now: now)
        } catch let refusal as OIDCRefusal {
            // Audited by the issuer (not a member, suspended); sessions_full is not a refusal of the person.
            return await refuse(refusal, email: email, context: context, audited: true)
        } catch {
            // The ledger could not answer (locked, unwritable…): not a refusal of the person.
            context.logger.error("single sign-on could not open a session", metadata: ["why": "\(error)"])
            return Self.page(.tryAgain)
        }
        context.logger.notice("signed in with single sign-on", metadata: ["provider": "\(settings.displayName)"])
        var headers = HTTPFields()
        headers[.location] = "/#/tokens"
        headers[.cacheControl] = "no-store"
        headers[values: .setCookie] = [
            sessions.cookie(id: opened.id, session: opened.session),
            OIDCFlowCookie.clearing(secure: sessions.secureCookies),
        ]
        return Response(status: .seeOther, headers: headers)
    }

    /// The 429 page when the address spent its failed-authentication budget, else nil.
    func limited(_ context: ServerContext) -> Response? {
        guard let wait = limiter.retryAfter(context.client) else { return nil }
        var response = Self.page(.tooManyRefusals)
        response.headers[.retryAfter] = String(wait)
        return response
    }

    /// Logs, audits (unless the issuer already did) and answers a refusal page that also drops
    /// the flow cookie; a refusal the client controls is first checked against, then charged to,
    /// the address's failed-authentication budget (429, not audited, once it is spent).
    func refuse(
        _ refusal: OIDCRefusal, email: String?, context: ServerContext, log: (any Error)? = nil, detail: String? = nil,
        audited: Bool = false
    ) async -> Response {
        if refusal.isChargedToClient {
            if var limited = limited(context) {
                limited.headers[values: .setCookie] += [OIDCFlowCookie.clearing(secure: sessions.secureCookies)]
                return limited
            }
            limiter.recordFailure(context.client, cost: 1)
        }
        var metadata: Logger.Metadata = ["reason": "\(refusal.reason)"]
        if let log { metadata["why"] = "\(log)" }
        if let detail { metadata["provider_error"] = "\(detail)" }
        context.logger.notice("single sign-on refused", metadata: metadata)
        if !audited, let reason = refusal.audited {
            do {
                try await OIDCMembers.recordRefusal(email: email, reason: reason, issuer: issuer)
            } catch {
                context.logger.error("could not audit a refused sign-in", metadata: ["reason": "\(refusal.reason)"])
            }
        }
        var response = Self.page(refusal)
        response.headers[values: .setCookie] += [OIDCFlowCookie.clearing(secure: sessions.secureCookies)]
        return response
    }

    /// The refusal page: plain HTML under the console's stylesheet (no inline script or style).
    static func page(_ refusal: OIDCRefusal) -> Response {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>Sign-in refused · Sigil</title>
            <link rel="stylesheet" href="/console/console.css">
            </head>
            <body>
            <main id="main" class="card signin">
            <h1>Sign-in refused</h1>
            <p id="refusal-message">\(escape(refusal.message))</p>
            <p class="hint">Reason: <code id="refusal-reason">\(escape(refusal.reason))</code></p>
            <p><a href="/">Back to sign-in</a></p>
            </main>
            </body>
            </html>

            """
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        if refusal.status == .serviceUnavailable { headers[.retryAfter] = "60" }
        return Response(
            status: refusal.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The callback's query (the provider may add parameters of its own: `iss`, `session_state`…).
    static func query(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for part in (request.uri.query ?? "").split(separator: "&").prefix(32) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2,
                let name = QueryValues.formDecoded(kv[0]), let value = QueryValues.formDecoded(kv[1]),
                out[name] == nil
            else { continue }
            out[name] = value
        }
        return out
    }
}
