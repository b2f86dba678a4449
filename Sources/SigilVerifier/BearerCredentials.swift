/// What a request's `Authorization` header holds, as far as the Bearer scheme is concerned.
///
/// The one reading of `Authorization: Bearer <token>` (RFC 6750 §2.1) that every Sigil front
/// end shares (SigilHummingbird's middleware, sigil-server, its leak intake), so that a header
/// one of them accepts the others read the same way. Strict: exactly one header, the scheme
/// name in any case (RFC 9110 §11.1), one or more spaces, then one b64token
/// (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`) and nothing else.
///
/// ```swift
/// switch BearerCredentials(authorization: ["Bearer sgl_…"]) {
/// case .bearer(let token): print(token.count)
/// case .absent, .repeated, .malformed: print("refused")
/// }
/// ```
public enum BearerCredentials: Equatable, Sendable {
    /// No header, or credentials for another scheme (RFC 6750 §3.1: no error code).
    case absent
    /// More than one `Authorization` header.
    case repeated
    /// `Bearer` followed by something that is not exactly one b64token.
    case malformed
    /// The b64token after `Bearer ` (not necessarily a Sigil token: the verifier decides).
    case bearer(Substring)

    /// Reads the request's `Authorization` header values, in order.
    ///
    /// - Parameter values: Every `Authorization` header value the request carries.
    public init(authorization values: some Collection<String>) {
        guard values.count <= 1 else {
            self = .repeated
            return
        }
        guard let value = values.first else {
            self = .absent
            return
        }
        let utf8 = value.utf8
        let scheme = utf8.prefix { $0 != UInt8(ascii: " ") }
        guard scheme.count == 6, scheme.elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 }) else {
            self = .absent
            return
        }
        let rest = Substring(value).utf8.dropFirst(6)
        guard rest.first == UInt8(ascii: " ") else {
            self = .malformed
            return
        }
        let token = rest.drop { $0 == UInt8(ascii: " ") }
        guard Self.isB64Token(token) else {
            self = .malformed
            return
        }
        self = .bearer(Substring(token))
    }

    static func isB64Token(_ bytes: Substring.UTF8View) -> Bool {
        var sawEquals = false
        var count = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "="):
                sawEquals = true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                if sawEquals { return false }
                count += 1
            default:
                return false
            }
        }
        return count > 0
    }
}
