public import Foundation

/// Where webhooks go: a receiver's URL, its signing secret, the events it wants, and the name
/// its cursor and queue have in the ledger.
///
/// The name is what ties an endpoint to its queue across restarts: keep it when the URL
/// moves and the queue follows. Without one it is derived from the URL (`url-` and 12 hex
/// digits of a keyed hash), so logs and the ledger never hold the URL, which may carry a
/// credential. The secret is never printed: ``description`` names the endpoint only.
///
/// ```swift
/// let siem = try WebhookEndpoint(
///     name: "siem", url: "https://siem.example/hooks/sigil", secret: try Secrets.readFile("siem.secret"),
///     events: [.revoked, .leakReported])
/// ```
public struct WebhookEndpoint: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// The most endpoints one server sends to: each has its own sends in flight.
    public static let maxCount = 16
    /// The longest name, in bytes.
    public static let maxNameBytes = 64

    /// The endpoint's name in the ledger and in log lines: 1 to 64 of `A-Z a-z 0-9 . _ -`.
    public let name: String
    public let url: URL
    /// The HMAC key of `X-Sigil-Signature`.
    public let secret: [UInt8]
    /// The events this endpoint is sent; never empty.
    public let events: Set<WebhookEvent>

    /// Checks each part.
    ///
    /// - Parameters:
    ///   - name: The endpoint's name; nil derives one from `url`.
    ///   - url: An `http://` or `https://` URL with a host.
    ///   - secret: The signing secret (not empty).
    ///   - events: What to send; every event by default.
    /// - Throws: ``IssuerError`` `invalid_input` saying which part is wrong (never the secret).
    public init(
        name: String? = nil, url: String, secret: [UInt8], events: Set<WebhookEvent> = Set(WebhookEvent.allCases)
    ) throws(IssuerError) {
        self.url = try Self.checkURL(url)
        self.name = try name.map(Self.checkName) ?? Self.derivedName(url)
        guard !secret.isEmpty else { throw IssuerError(.invalidInput, "webhook \(self.name): the secret is empty") }
        guard !events.isEmpty else {
            throw IssuerError(
                .invalidInput, "webhook \(self.name): the event list is empty; leave it out for every event")
        }
        self.secret = secret
        self.events = events
    }

    public var description: String { "webhook endpoint \(name)" }

    /// The secret stays out of `dump` and debuggers' summaries too.
    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "events": events.sorted().map(\.rawValue)])
    }

    /// The URL parsed, if it is `http://` or `https://` with a host.
    ///
    /// - Throws: ``IssuerError`` `invalid_input`; the message does not repeat the URL.
    public static func checkURL(_ text: String) throws(IssuerError) -> URL {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host?.isEmpty == false
        else { throw IssuerError(.invalidInput, "a webhook URL must be an http:// or https:// URL with a host") }
        return url
    }

    static func checkName(_ name: String) throws(IssuerError) -> String {
        let allowed = name.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0)
                || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f
        }
        guard allowed, (1...maxNameBytes).contains(name.utf8.count) else {
            throw IssuerError(
                .invalidInput,
                "a webhook name must be 1 to \(maxNameBytes) characters of A-Z, a-z, 0-9, '.', '_' and '-'")
        }
        return name
    }

    /// `url-` and 12 hex digits of HMAC-SHA256 under a fixed key: stable for a URL, and
    /// revealing nothing of it.
    static func derivedName(_ url: String) -> String {
        let mac =
            (try? Secrets.hmacSHA256(key: Array("sigil/v1/webhook-endpoint".utf8), message: Array(url.utf8))) ?? []
        return "url-" + Secrets.hex(Array(mac.prefix(6)))
    }

    /// Checks a server's endpoints together: at most ``maxCount``, names unique.
    ///
    /// - Throws: ``IssuerError`` `invalid_input`.
    public static func checkSet(_ endpoints: [WebhookEndpoint]) throws(IssuerError) {
        guard endpoints.count <= maxCount else {
            throw IssuerError(.invalidInput, "\(endpoints.count) webhook endpoints; at most \(maxCount) are allowed")
        }
        var seen = Set<String>()
        for e in endpoints where !seen.insert(e.name).inserted {
            throw IssuerError(
                .invalidInput,
                "two webhook endpoints are named \(e.name); give each its own name (the same URL twice needs names)")
        }
    }
}

extension WebhookEndpoint {
    /// The largest webhooks file read.
    public static let maxFileBytes = 64 * 1024

    /// Reads a webhooks file (docs/WEBHOOKS.md): a JSON object whose `endpoints` array holds
    /// objects with `url` and `secret_file`, and optionally `name` and `events`. Unknown keys
    /// are refused, so a misspelt `event` filter cannot silently send everything.
    ///
    /// The file and each secret file follow the keyring's rules: no symbolic link, one hard
    /// link, yours, mode 0600. A relative `secret_file` is read from the webhooks file's folder.
    ///
    /// ```json
    /// {"endpoints": [{"name": "siem", "url": "https://siem.example/hooks/sigil",
    ///                 "secret_file": "siem.secret", "events": ["token.revoked", "token.leak_reported"]}]}
    /// ```
    ///
    /// ```swift
    /// let endpoints = try WebhookEndpoint.load(file: "/etc/sigil/webhooks.json")
    /// ```
    ///
    /// - Throws: ``IssuerError``: `invalid_input` (naming the file, the entry and what is wrong),
    ///   `bad_data` (not JSON), and what reading the files throws (`permissions`, `not_found`).
    public static func load(file path: String) throws(IssuerError) -> [WebhookEndpoint] {
        let bytes = try SecureFile.read(path, maxBytes: maxFileBytes)
        func refuse(_ what: String) -> IssuerError { IssuerError(.invalidInput, "\(path): \(what)") }
        guard let top = try? JSONSerialization.jsonObject(with: Data(bytes)) else {
            throw IssuerError(.badData, "\(path) is not JSON")
        }
        guard let object = top as? [String: Any], let entries = object["endpoints"] as? [Any] else {
            throw refuse("expected an object with an \"endpoints\" array")
        }
        if let extra = object.keys.sorted().first(where: { $0 != "endpoints" }) {
            throw refuse("unknown key \"\(extra.prefix(64))\"; the file holds \"endpoints\" only")
        }
        guard !entries.isEmpty else { throw refuse("\"endpoints\" is empty") }
        let folder = (path as NSString).deletingLastPathComponent
        var out: [WebhookEndpoint] = []
        for (index, entry) in entries.enumerated() {
            let at = "endpoint \(index + 1)"
            guard let fields = entry as? [String: Any] else { throw refuse("\(at) is not an object") }
            let known: Set = ["name", "url", "secret_file", "events"]
            if let extra = fields.keys.sorted().first(where: { !known.contains($0) }) {
                throw refuse("\(at): unknown key \"\(extra.prefix(64))\" (known: events, name, secret_file, url)")
            }
            guard let url = fields["url"] as? String else { throw refuse("\(at): \"url\" is missing or not text") }
            guard let secretFile = fields["secret_file"] as? String, !secretFile.isEmpty else {
                throw refuse("\(at): \"secret_file\" is missing or not text")
            }
            var name: String?
            if let value = fields["name"] {
                guard let text = value as? String else { throw refuse("\(at): \"name\" is not text") }
                name = text
            }
            var events = Set(WebhookEvent.allCases)
            if let value = fields["events"] {
                guard let list = value as? [Any], !list.isEmpty else {
                    throw refuse("\(at): \"events\" must be a non-empty list; leave it out for every event")
                }
                events = []
                for item in list {
                    guard let text = item as? String, let event = WebhookEvent(rawValue: text) else {
                        let known = WebhookEvent.allCases.map(\.rawValue).sorted().joined(separator: ", ")
                        throw refuse("\(at): \"events\" holds an unknown event (known: \(known))")
                    }
                    events.insert(event)
                }
            }
            let secretPath = secretFile.hasPrefix("/") || folder.isEmpty ? secretFile : folder + "/" + secretFile
            do {
                out.append(
                    try WebhookEndpoint(
                        name: name, url: url, secret: try Secrets.readFile(secretPath), events: events))
            } catch {
                throw IssuerError(error.reason, "\(path): \(at): \(error.message)", detail: error.detail)
            }
        }
        do { try checkSet(out) } catch { throw IssuerError(error.reason, "\(path): \(error.message)") }
        return out
    }
}
