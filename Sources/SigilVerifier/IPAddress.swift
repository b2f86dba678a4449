/// An IPv4 or IPv6 address read strictly from its text form, for the few network decisions
/// Sigil's front ends make: is a host loopback, which client does a request come from, and
/// which key a per-client limit counts it under.
///
/// IPv4 is exactly four decimal octets (`127.0.0.1`; no leading zeros, no shorthand such as
/// `127.1`, no hex); IPv6 is RFC 4291 text (`::1`, `2001:db8::7`, `::ffff:192.0.2.1`) without
/// brackets or a zone. Anything else is not an address, so a host name such as
/// `127.0.0.1.example.com` never passes for one.
///
/// ```swift
/// let local = IPAddress.isLoopback(host: "127.0.0.1")  // true
/// let named = IPAddress.isLoopback(host: "127.0.0.1.evil.example")  // false
/// let key = IPAddress("2001:db8::7")?.limitKey  // "2001:db8:0:0::/64"
/// ```
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let bytes: [UInt8]

    /// Parses `text`; nil unless it is an IPv4 or IPv6 address literal.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        if let v4 = Self.parseIPv4(utf8[...]) {
            bytes = v4
        } else if let v6 = Self.parseIPv6(utf8) {
            bytes = v6
        } else {
            return nil
        }
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { bytes.count == 4 }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a dual-stack socket
    /// reports IPv4 peers) stands for; else the address itself.
    public var unmapped: IPAddress {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff
        else { return self }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }

    /// 127.0.0.0/8 and `::1` (and an IPv4-mapped 127.x address).
    public var isLoopback: Bool {
        let address = unmapped
        if address.isIPv4 { return address.bytes[0] == 127 }
        return address.bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// What a per-client limit should count this address under: an IPv4 address as itself, an
    /// IPv6 address by its /64, because one host or subscriber usually holds a whole /64
    /// (RFC 6177) and would otherwise get a fresh budget from every address in it.
    public var limitKey: String {
        let address = unmapped
        if address.isIPv4 { return address.description }
        return Self.groups(address.bytes).prefix(4).map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }

    /// Dotted decimal for IPv4; eight lowercase hexadecimal groups, the longest run of two or
    /// more zero groups written `::` (RFC 5952), for IPv6.
    public var description: String {
        if isIPv4 { return bytes.map { String($0) }.joined(separator: ".") }
        let groups = Self.groups(bytes)
        var best: Range<Int>? = nil
        var start: Int? = nil
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if start == nil { start = i }
            } else if let s = start {
                if i - s >= 2, (best?.count ?? 0) < i - s { best = s..<i }
                start = nil
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let best else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }

    /// Whether `host` (a URL's host or a listening address) names this machine's loopback:
    /// `localhost`, an IPv4 address in 127.0.0.0/8, or `::1` with or without brackets.
    ///
    /// A name that merely starts with `127.` is a DNS name like any other and is not loopback.
    public static func isLoopback(host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        var text = Substring(host)
        if text.hasPrefix("[") && text.hasSuffix("]") && text.count >= 2 {
            text = text.dropFirst().dropLast()
            // Brackets hold IPv6 only (RFC 3986 §3.2.2).
            guard let address = IPAddress(text), !address.isIPv4 else { return false }
            return address.isLoopback
        }
        return IPAddress(text)?.isLoopback ?? false
    }

    /// The client a request comes from, given the connection's peer, its `X-Forwarded-For`
    /// header values and the proxies trusted to set that header.
    ///
    /// Only when the peer is a trusted proxy does the header count. It is then read from the
    /// right (each proxy appends the address it saw), skipping trusted proxies, and the first
    /// address that is not one is the client. A malformed header (an entry that is not an
    /// address) means the peer is the client: nobody may smuggle an address past the proxy.
    /// When every entry is a trusted proxy, the left-most is the client.
    ///
    /// - Parameters:
    ///   - peer: The connection's peer address.
    ///   - forwardedFor: Every `X-Forwarded-For` header value, in order.
    ///   - trusted: The proxies whose header counts.
    /// - Returns: The client's address.
    public static func client(peer: IPAddress, forwardedFor: [String], trusted: [IPAddressRange]) -> IPAddress {
        guard !forwardedFor.isEmpty, trusted.contains(where: { $0.contains(peer) }) else { return peer }
        var chain: [IPAddress] = []
        for value in forwardedFor {
            for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
                let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
                let start = entry.firstIndex { !blank($0) } ?? entry.endIndex
                let end = entry.lastIndex { !blank($0) }.map { entry.index(after: $0) } ?? start
                guard start < end, let address = IPAddress(entry[start..<end]) else { return peer }
                chain.append(address)
            }
        }
        for address in chain.reversed() where !trusted.contains(where: { $0.contains(address) }) {
            return address
        }
        return chain.first ?? peer
    }

    // MARK: Parsing

    private static func groups(_ bytes: [UInt8]) -> [UInt16] {
        stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
    }

    private static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }),
                part.count == 1 || part.first != UInt8(ascii: "0")
            else { return nil }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    private static func parseIPv6(_ text: [UInt8]) -> [UInt8]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        let colon = UInt8(ascii: ":")
        // Split once at "::" (at most one), then each side into groups.
        var halves: [ArraySlice<UInt8>] = []
        var i = text.startIndex
        var cut: Int? = nil
        while i + 1 < text.endIndex {
            if text[i] == colon, text[i + 1] == colon {
                guard cut == nil else { return nil }
                cut = i
                i += 2
            } else {
                i += 1
            }
        }
        if let cut {
            halves = [text[..<cut], text[(cut + 2)...]]
        } else {
            halves = [text[...]]
        }
        var sides: [[UInt8]] = []
        for (index, half) in halves.enumerated() {
            var side: [UInt8] = []
            guard !half.isEmpty else {
                sides.append(side)
                continue
            }
            let parts = half.split(separator: colon, omittingEmptySubsequences: false)
            for (n, part) in parts.enumerated() {
                // An embedded IPv4 address may end the last side only.
                if n == parts.count - 1, index == halves.count - 1, part.contains(UInt8(ascii: ".")) {
                    guard let v4 = parseIPv4(part) else { return nil }
                    side += v4
                    continue
                }
                guard (1...4).contains(part.count) else { return nil }
                var value: UInt16 = 0
                for c in part {
                    guard let digit = hexDigit(c) else { return nil }
                    value = value << 4 | UInt16(digit)
                }
                side += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
            sides.append(side)
        }
        if cut == nil {
            guard sides[0].count == 16 else { return nil }
            return sides[0]
        }
        let filled = sides[0].count + sides[1].count
        // "::" stands for at least one zero group.
        guard filled <= 14 else { return nil }
        return sides[0] + [UInt8](repeating: 0, count: 16 - filled) + sides[1]
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}

/// A block of addresses in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), or one address.
///
/// ```swift
/// let proxies = IPAddressRange("10.0.0.0/8")
/// let inside = IPAddress("10.1.2.3").map { proxies?.contains($0) == true }  // true
/// ```
public struct IPAddressRange: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the block (host bits cleared).
    public let network: IPAddress
    /// How many leading bits an address shares with ``network`` to belong to the block.
    public let prefixLength: Int

    /// Parses `address/length` or a bare address (a block of one); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else { return nil }
        let maxLength = address.bytes.count * 8
        var length = maxLength
        if parts.count == 2 {
            guard (1...3).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(parts[1]), value <= maxLength
            else { return nil }
            length = value
        }
        prefixLength = length
        network = Self.masked(address, length) ?? address
    }

    /// Whether `address` lies in the block; an IPv4-mapped IPv6 address counts as its IPv4 one.
    public func contains(_ address: IPAddress) -> Bool {
        let address = address.bytes.count == network.bytes.count ? address : address.unmapped
        guard address.bytes.count == network.bytes.count else { return false }
        return Self.masked(address, prefixLength) == network
    }

    public var description: String { "\(network)/\(prefixLength)" }

    private static func masked(_ address: IPAddress, _ length: Int) -> IPAddress? {
        var bytes = address.bytes
        for i in bytes.indices {
            let keep = max(0, min(8, length - i * 8))
            bytes[i] &= keep == 8 ? 0xff : ~(0xff >> UInt8(keep))
        }
        return IPAddress(bytesOf: bytes)
    }
}

extension IPAddress {
    fileprivate init?(bytesOf bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.init(bytes: bytes)
    }
}
