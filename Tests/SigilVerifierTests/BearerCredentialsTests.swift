import SigilVerifier
import Testing

@Suite("Bearer credentials (RFC 6750 §2.1), one parser for every front end")
struct BearerCredentialsTests {
    @Test(
        "Authorization header values and what they hold",
        .bug(id: "21-2", "three Bearer parsers (server, middleware, leak intake) read the same header differently"),
        arguments: [
            ([], BearerCredentials.absent),
            (["Basic dXNlcjpwYXNz"], .absent),
            (["sgl_AAAA"], .absent),  // a token without a scheme
            (["Bearers sgl_AAAA"], .absent),
            (["Bearer sgl_AAAA", "Bearer sgl_BBBB"], .repeated),
            (["Bearer sgl_AAAA"], .bearer("sgl_AAAA")),
            (["bearer sgl_AAAA"], .bearer("sgl_AAAA")),
            (["BEARER   sgl_AAAA"], .bearer("sgl_AAAA")),
            (["Bearer a-._~+/09Z=="], .bearer("a-._~+/09Z==")),
            (["Bearer"], .malformed),
            (["Bearer "], .malformed),
            (["Bearer\tsgl_AAAA"], .absent),  // the scheme ends at a space only
            (["Bearer sgl_AAAA "], .malformed),
            (["Bearer sgl_AAAA extra"], .malformed),
            (["Bearer sgl_AA=A"], .malformed),
            (["Bearer ="], .malformed),
            (["Bearer sgl_ä"], .malformed),
            (["Bearer sgl,AAAA"], .malformed),
        ])
    func parses(values: [String], expected: BearerCredentials) {
        #expect(BearerCredentials(authorization: values) == expected)
    }
}
