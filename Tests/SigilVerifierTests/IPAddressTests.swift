import SigilVerifier
import Testing

@Suite("IP addresses: loopback, client address, limit keys")
struct IPAddressTests {
    @Test(
        "Loopback hosts, strictly",
        .bug(id: "20-13", "isLoopback trusted any host name that starts with 127."),
        arguments: [
            ("localhost", true), ("LocalHost", true), ("127.0.0.1", true), ("127.255.255.254", true),
            ("127.1.2.3", true), ("::1", true), ("[::1]", true), ("0:0:0:0:0:0:0:1", true),
            ("::ffff:127.0.0.1", true), ("[::ffff:127.0.0.1]", true),
            // Names that only look like loopback, and addresses that are not.
            ("127.0.0.1.evil.example", false), ("127.example.com", false), ("127.", false), ("127.0.0", false),
            ("127.1", false), ("127.0.0.01", false), ("127.0.0.256", false), ("0x7f.0.0.1", false),
            ("127.0.0.1:80", false), ("[127.0.0.1]", false), ("128.0.0.1", false), ("::2", false),
            ("[::1", false), ("::1]", false), ("localhost.evil.example", false), ("", false), ("[]", false),
            ("10.0.0.1", false), ("::1%lo", false), (" 127.0.0.1", false),
        ])
    func loopback(host: String, expected: Bool) {
        #expect(IPAddress.isLoopback(host: host) == expected)
    }

    @Test(
        "Address text: what parses and how it prints",
        arguments: [
            ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("::", "::"), ("::1", "::1"),
            ("2001:DB8::7", "2001:db8::7"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("::ffff:192.0.2.1", "::ffff:c000:201"),
            ("fe80::1:2", "fe80::1:2"), ("1::", "1::"),
        ])
    func parses(text: String, printed: String) throws {
        #expect(try #require(IPAddress(text)).description == printed)
    }

    @Test(
        "Not addresses",
        arguments: [
            "", ":", ":::", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1",
            "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "::1.2.3", "1.2.3.4::", "fe80::1%eth0", "[::1]",
            "1:2:3:4:5:6:7::8:9", "::ffff:1.2.3.4.5", "unknown",
        ])
    func rejects(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(
        "Limit keys: IPv4 as is, IPv6 by its /64",
        .bug(id: "20-5", "every IPv6 address of one host had its own failed-authentication budget"),
        arguments: [
            ("192.0.2.1", "192.0.2.1"), ("::ffff:192.0.2.1", "192.0.2.1"),
            ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"), ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", "2001:db8:1:3::/64"), ("::1", "0:0:0:0::/64"),
        ])
    func limitKey(text: String, key: String) throws {
        #expect(try #require(IPAddress(text)).limitKey == key)
    }

    @Test(
        "CIDR blocks",
        arguments: [
            ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.1/32", "127.0.0.1", true), ("127.0.0.1/32", "127.0.0.2", false),
            ("127.0.0.1", "127.0.0.1", true), ("192.0.2.0/25", "192.0.2.127", true),
            ("192.0.2.0/25", "192.0.2.128", false), ("10.0.0.0/8", "::ffff:10.0.0.1", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true), ("2001:db8::/32", "2001:db9::1", false),
            ("::1/128", "::1", true), ("0.0.0.0/0", "203.0.113.9", true), ("10.0.0.0/8", "2001:db8::1", false),
        ])
    func block(range: String, address: String, expected: Bool) throws {
        let block = try #require(IPAddressRange(range))
        #expect(block.contains(try #require(IPAddress(address))) == expected)
    }

    @Test("Bad CIDR blocks", arguments: ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10/8", "::1/129", "x/8", "/8"])
    func badBlock(text: String) {
        #expect(IPAddressRange(text) == nil)
    }

    static let trusted = ["127.0.0.1/32", "10.0.0.0/8"].compactMap(IPAddressRange.init)

    @Test(
        "The client behind trusted proxies: right-most untrusted X-Forwarded-For entry",
        .bug(id: "20-5", "behind a proxy every client shared the proxy's failed-authentication budget"),
        arguments: [
            (["203.0.113.7"], "203.0.113.7"),
            (["198.51.100.1, 203.0.113.7"], "203.0.113.7"),  // the left entry is the client's claim
            (["203.0.113.7, 10.1.1.1"], "203.0.113.7"),  // an inner proxy is skipped
            (["198.51.100.1", "203.0.113.7"], "203.0.113.7"),  // two header lines read as one list
            (["10.1.1.1, 10.2.2.2"], "10.1.1.1"),  // all trusted: the left-most
            (["203.0.113.7, not-an-address"], "127.0.0.1"),  // malformed: the peer
            (["203.0.113.7,"], "127.0.0.1"), ([""], "127.0.0.1"), (["203.0.113.7:443"], "127.0.0.1"),
            ([" 2001:db8::5 "], "2001:db8::5"), ([], "127.0.0.1"),
        ])
    func forwarded(header: [String], client: String) throws {
        let proxy = try #require(IPAddress("127.0.0.1"))
        #expect(Self.trusted.count == 2)
        #expect(IPAddress.client(peer: proxy, forwardedFor: header, trusted: Self.trusted).description == client)
    }

    @Test("An untrusted peer's X-Forwarded-For is ignored")
    func untrustedPeer() throws {
        let peer = try #require(IPAddress("192.0.2.50"))
        let proxy = try #require(IPAddress("127.0.0.1"))
        #expect(IPAddress.client(peer: peer, forwardedFor: ["203.0.113.7"], trusted: Self.trusted) == peer)
        #expect(IPAddress.client(peer: proxy, forwardedFor: ["203.0.113.7"], trusted: []) == proxy)
    }
}
