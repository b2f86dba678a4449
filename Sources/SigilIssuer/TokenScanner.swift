public import SigilVerifier

/// Finds Sigil tokens in text without any key: the `sgl_` prefix at a word boundary, a run
/// of base64url characters, and the strict structural parse of docs/FORMAT.md (version,
/// field lengths, charsets, canonical base64url). A run that parses is a token in all but
/// its tag, so false positives need random text that happens to be a well-formed token.
///
/// Feed bytes in chunks of any size; a token split across two chunks is still found, with
/// the line and column where it starts. Memory stays bounded by the longest token (4,096
/// characters), whatever the input size.
///
/// ```swift
/// var scanner = TokenScanner()
/// var found: [TokenScanner.Finding] = []
/// scanner.feed(Array("key = sgl_AQ…\n".utf8)) { found.append($0) }
/// scanner.finish { found.append($0) }
/// ```
public struct TokenScanner: Sendable {
    /// One token found: where it starts and its unverified claims. `text` is the token
    /// itself, for checking its tag; never print or log it.
    public struct Finding: Sendable {
        public let line: Int
        public let column: Int
        public let claims: TokenClaims
        public let text: String
    }

    /// The shortest payload a token can have: 70 bytes (version, 1-byte key id and audience,
    /// GUID, times, scope kind, tag) are 94 base64url characters.
    public static let minPayloadLength = 94
    static let maxPayloadLength = TokenClaims.maxTextLength - TokenClaims.prefix.utf8.count

    private var line = 1
    private var column = 0
    private var previous: UInt8 = 0x0a
    /// Bytes of a possible token not yet ended by a non-base64url byte.
    private var pending: [UInt8] = []
    private var pendingLine = 0
    private var pendingColumn = 0
    /// Inside a word that cannot be a token (longer than any token, or not `sgl_`): skip to
    /// its end without keeping it.
    private var skipping = false

    public init() {}

    /// Scans `bytes`, calling `found` for each token that ends inside them.
    public mutating func feed(_ bytes: some Collection<UInt8>, found: (Finding) -> Void) {
        for byte in bytes {
            column += 1
            if !pending.isEmpty || skipping {
                if Self.isBase64URL(byte) {
                    if !skipping {
                        let n = pending.count
                        if (n < Self.prefix.count && byte != Self.prefix[n])
                            || n == Self.prefix.count + Self.maxPayloadLength
                        {
                            pending.removeAll(keepingCapacity: true)
                            skipping = true
                        } else {
                            pending.append(byte)
                        }
                    }
                    advance(byte)
                    continue
                }
                endRun(found: found)
            }
            // A token starts at a word boundary: `xsgl_…` is part of a longer word.
            if byte == Self.prefix[0], !Self.isWordByte(previous) {
                pending.append(byte)
                pendingLine = line
                pendingColumn = column
            }
            advance(byte)
        }
    }

    /// Ends the input: reports a token that runs to its last byte.
    public mutating func finish(found: (Finding) -> Void) {
        endRun(found: found)
    }

    private mutating func advance(_ byte: UInt8) {
        previous = byte
        if byte == 0x0a {
            line += 1
            column = 0
        }
    }

    private mutating func endRun(found: (Finding) -> Void) {
        defer {
            pending.removeAll(keepingCapacity: true)
            skipping = false
        }
        guard !skipping, pending.count >= Self.prefix.count + Self.minPayloadLength else { return }
        let text = String(decoding: pending, as: UTF8.self)
        guard let claims = try? TokenClaims.decodeUnverified(text) else { return }
        found(Finding(line: pendingLine, column: pendingColumn, claims: claims, text: text))
    }

    private static let prefix: [UInt8] = Array(TokenClaims.prefix.utf8)

    static func isBase64URL(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5a).contains(c) || (0x61...0x7a).contains(c) || c == 0x2d || c == 0x5f
    }

    /// `-` counts as part of a word too: base64url uses it, so `x-sgl_…` is one run.
    private static func isWordByte(_ c: UInt8) -> Bool { isBase64URL(c) }
}
