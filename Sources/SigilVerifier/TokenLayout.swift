/// Where each field of a decoded token sits, found by one strict pass over `body || tag`.
///
/// Parsing only records offsets into the caller's buffer, so it allocates nothing. Every
/// rule of docs/FORMAT.md is checked here; anything else is `malformed`.
struct TokenLayout {
    var keyID: Range<Int>
    var audience: Range<Int>
    var idOffset: Int
    var validFrom: Int64
    var validTo: Int64
    var scopeKind: UInt8
    var scopeEntries: Range<Int>
    var scopeCount: Int
    var bodyCount: Int

    /// The base64url part of a token's text, after the prefix and length checks.
    static func payload(of text: UnsafeBufferPointer<UInt8>) throws(VerificationError) -> UnsafeBufferPointer<UInt8> {
        guard text.count <= TokenClaims.maxTextLength else {
            throw VerificationError(.malformed, "longer than 4096 characters")
        }
        guard text.count >= 4, text[0] == 0x73, text[1] == 0x67, text[2] == 0x6c, text[3] == 0x5f else {
            throw VerificationError(.malformed, "missing the sgl_ prefix")
        }
        return UnsafeBufferPointer(rebasing: text[4...])
    }

    // swift-format-ignore
    init(_ raw: UnsafeRawBufferPointer) throws(VerificationError) {
        let b = raw.bindMemory(to: UInt8.self)  // bytes are always bindable as UInt8
        guard b.count > TokenClaims.tagLength else { throw VerificationError(.malformed, "too short") }
        let end = b.count - TokenClaims.tagLength
        var i = 0
        guard b[0] == TokenClaims.version else { throw VerificationError(.malformed, "unknown version") }
        i = 1
        guard i < end else { throw VerificationError(.malformed, "truncated at key id") }
        let kidLength = Int(b[i]); i += 1
        guard kidLength >= 1, kidLength <= 32, i + kidLength <= end,
              Self.isKeyID(UnsafeBufferPointer(rebasing: b[i..<(i + kidLength)])) else {
            throw VerificationError(.malformed, "bad key id field")
        }
        keyID = i..<(i + kidLength); i += kidLength
        guard i < end else { throw VerificationError(.malformed, "truncated at audience") }
        let audLength = Int(b[i]); i += 1
        guard audLength >= 1, audLength <= 64, i + audLength <= end,
              Self.isAudience(UnsafeBufferPointer(rebasing: b[i..<(i + audLength)])) else {
            throw VerificationError(.malformed, "bad audience field")
        }
        audience = i..<(i + audLength); i += audLength
        guard i + 16 + 8 + 8 + 1 <= end else { throw VerificationError(.malformed, "truncated at guid or times") }
        idOffset = i; i += 16
        validFrom = Int64(bitPattern: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))); i += 8
        validTo = Int64(bitPattern: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))); i += 8
        guard validTo == 0 || validTo > validFrom else {
            throw VerificationError(.malformed, "valid_to is not after valid_from")
        }
        scopeKind = b[i]; i += 1
        switch scopeKind {
        case 1, 2:
            scopeEntries = i..<i
            scopeCount = 0
        case 3:
            guard i + 2 <= end else { throw VerificationError(.malformed, "truncated at scope count") }
            let count = Int(b[i]) << 8 | Int(b[i + 1]); i += 2
            guard count >= 1, count <= TokenClaims.maxScopeEntries else {
                throw VerificationError(.malformed, "scope count out of range")
            }
            let start = i
            var previous: Range<Int>? = nil
            for _ in 0..<count {
                guard i < end else { throw VerificationError(.malformed, "truncated in scope") }
                let n = Int(b[i]); i += 1
                guard n >= 3, i + n <= end else { throw VerificationError(.malformed, "bad scope entry length") }
                let entry = i..<(i + n)
                guard Scope.isValidPair(UnsafeBufferPointer(rebasing: b[entry])) else {
                    throw VerificationError(.malformed, "bad scope entry")
                }
                if let previous {
                    guard b[previous].lexicographicallyPrecedes(b[entry]) else {
                        throw VerificationError(.malformed, "scope entries not strictly ascending")
                    }
                }
                previous = entry
                i += n
            }
            scopeEntries = start..<i
            scopeCount = count
        default:
            throw VerificationError(.malformed, "unknown scope kind")
        }
        guard i == end else { throw VerificationError(.malformed, "trailing bytes after the scope") }
        bodyCount = end
    }

    /// Key ids are 1-32 characters of `[A-Za-z0-9_-]`.
    static func isKeyID(_ s: UnsafeBufferPointer<UInt8>) -> Bool { isIdentifier(s, maxLength: 32, dotAndColon: false) }

    /// ``TokenClaims/audiencePattern``: a key id's charset plus `.` and `:`.
    static func isAudience(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        isIdentifier(s, maxLength: TokenClaims.maxAudienceBytes, dotAndColon: true)
    }

    private static func isIdentifier(_ s: UnsafeBufferPointer<UInt8>, maxLength: Int, dotAndColon: Bool) -> Bool {
        guard (1...maxLength).contains(s.count) else { return false }
        for c in s {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            case UInt8(ascii: "."), UInt8(ascii: ":"):
                // Not `case … where`: a where clause would guard only the last pattern.
                guard dotAndColon else { return false }
            default: return false
            }
        }
        return true
    }

    /// Whether the custom scope lists exactly `name`. Binary search over the sorted entries
    /// would need an index; the list is short and bounded, so one linear pass is enough.
    func scopeContains(_ want: UnsafeBufferPointer<UInt8>, in raw: UnsafeRawBufferPointer) -> Bool {
        var i = scopeEntries.lowerBound
        let b = raw.bindMemory(to: UInt8.self)
        while i < scopeEntries.upperBound {
            let n = Int(b[i])
            if n == want.count, bytesEqual(UnsafeBufferPointer(rebasing: b[(i + 1)..<(i + 1 + n)]), want) {
                return true
            }
            i += 1 + n
        }
        return false
    }

    func claims(_ raw: UnsafeRawBufferPointer) -> TokenClaims {
        let b = raw.bindMemory(to: UInt8.self)
        func text(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
        let scope: Scope
        switch scopeKind {
        case 1: scope = .all
        case 2: scope = .readOnly
        default:
            var pairs: [String] = []
            var i = scopeEntries.lowerBound
            while i < scopeEntries.upperBound {
                let n = Int(b[i])
                pairs.append(text((i + 1)..<(i + 1 + n)))
                i += 1 + n
            }
            scope = .custom(pairs)
        }
        // The layout was validated, so these initialisers cannot fail; `try!` would hide
        // a bug, so a failure here traps with the reason.
        do {
            return try TokenClaims(
                keyID: text(keyID), audience: text(audience), id: TokenID(reading: raw, at: idOffset),
                validFrom: validFrom, validTo: validTo == 0 ? nil : validTo, scope: scope)
        } catch {
            preconditionFailure("validated layout produced invalid claims: \(error.reason)")
        }
    }
}

/// Whether two byte buffers hold the same bytes. Not constant-time: for public values
/// (audiences, key ids, scope names) only; tags go through `CRYPTO_memcmp`.
@inline(__always)
func bytesEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    for k in 0..<a.count where a[k] != b[k] { return false }
    return true
}
