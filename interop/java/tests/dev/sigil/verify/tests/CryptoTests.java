package dev.sigil.verify.tests;

import static dev.sigil.verify.tools.Fixtures.hex;
import static dev.sigil.verify.tools.Fixtures.toHex;

import dev.sigil.verify.Base64Url;
import dev.sigil.verify.Hkdf;
import dev.sigil.verify.Json;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.tools.Fixtures;
import java.util.List;
import java.util.Map;

/** Published vectors: RFC 4231 (HMAC), RFC 5869 (HKDF), RFC 8032 and Wycheproof (Ed25519), RFC 4648. */
final class CryptoTests {
    private CryptoTests() {}

    private static List<Object> tests(String file) throws Exception {
        return Json.asArray(Check.json(Check.vectors().resolve(file)).get("tests"));
    }

    static void testHmacRfc4231() throws Exception {
        int n = 0;
        for (Object o : tests("rfc4231_hmac_sha256.json")) {
            Map<String, Object> t = Json.asObject(o);
            byte[] mac = Fixtures.hmac(hex((String) t.get("key")), hex((String) t.get("data")));
            String want = (String) t.get("mac");
            Check.eq(want, toHex(mac).substring(0, want.length()), "RFC 4231 case " + t.get("id"));
            n++;
        }
        Check.isTrue(n >= 6, "RFC 4231 has at least 6 cases, read " + n);
    }

    static void testHkdfRfc5869() throws Exception {
        int n = 0;
        for (Object o : tests("rfc5869_hkdf_sha256.json")) {
            Map<String, Object> t = Json.asObject(o);
            byte[] okm = Hkdf.sha256(hex((String) t.get("ikm")), hex((String) t.get("salt")), hex((String) t.get("info")),
                    ((Long) t.get("L")).intValue());
            Check.eq(t.get("okm"), toHex(okm), "RFC 5869 " + t.get("section"));
            n++;
        }
        Check.eq(3, n, "RFC 5869 cases");
    }

    static void testHkdfAudienceKeyOfFormatMd() {
        byte[] master = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        Check.eq("7f05810a26078ef370c3e277a38ca4a8a97c12b6e7797b12fb8f18b63969a940",
                toHex(Hkdf.audienceKey(master, "billing")), "K_aud of FORMAT.md §6");
    }

    static void testEd25519Rfc8032() throws Exception {
        int n = 0;
        for (Object o : tests("rfc8032_ed25519.json")) {
            Map<String, Object> t = Json.asObject(o);
            byte[] seed = hex((String) t.get("secret_key"));
            byte[] pk = hex((String) t.get("public_key"));
            byte[] msg = hex((String) t.get("message"));
            byte[] sig = hex((String) t.get("signature"));
            Check.eq(toHex(pk), toHex(Fixtures.publicKey(seed)), t.get("name") + " public key");
            Check.eq(toHex(sig), toHex(Fixtures.sign(seed, msg)), t.get("name") + " signature");
            Check.isTrue(RevocationList.ed25519Verify(pk, msg, sig, null), t.get("name") + " verifies");
            sig[0] ^= 1;
            Check.isTrue(!RevocationList.ed25519Verify(pk, msg, sig, null), t.get("name") + " damaged is refused");
            n++;
        }
        Check.eq(3, n, "RFC 8032 cases");
    }

    /** The JDK's Ed25519 against Wycheproof: every "valid" verifies, every "invalid" is refused. */
    static void testEd25519Wycheproof() throws Exception {
        Map<String, Object> file = Check.json(Check.vectors().resolve("wycheproof_ed25519_test.json"));
        int n = 0;
        for (Object g : Json.asArray(file.get("testGroups"))) {
            Map<String, Object> group = Json.asObject(g);
            byte[] pk = hex((String) Json.asObject(group.get("publicKey")).get("pk"));
            for (Object o : Json.asArray(group.get("tests"))) {
                Map<String, Object> t = Json.asObject(o);
                String result = (String) t.get("result");
                if (result.equals("acceptable")) continue;
                boolean ok = RevocationList.ed25519Verify(pk, hex((String) t.get("msg")), hex((String) t.get("sig")), null);
                Check.eq(result.equals("valid"), ok, "Wycheproof tcId " + t.get("tcId") + " (" + t.get("comment") + ")");
                n++;
            }
        }
        Check.isTrue(n > 100, "Wycheproof cases read: " + n);
    }

    static void testBase64UrlCanonical() {
        Check.eq("", toHex(Base64Url.decode("")), "empty");
        Check.eq("666f6f62", toHex(Base64Url.decode("Zm9vYg")), "foob");
        Check.eq("666f6f6261", toHex(Base64Url.decode("Zm9vYmE")), "fooba");
        Check.eq(null, Base64Url.decode("Zm9vYh"), "non-zero unused bits (length 2 mod 4)");
        Check.eq(null, Base64Url.decode("Zm9vYmF"), "non-zero unused bits (length 3 mod 4)");
        Check.eq(null, Base64Url.decode("Zm9vY"), "length 1 mod 4");
        Check.eq(null, Base64Url.decode("Zm9vYg=="), "padding");
        Check.eq(null, Base64Url.decode("Zm9v+g"), "+ is not base64url");
        Check.eq(null, Base64Url.decode("Zm9v\u00e9g"), "non-ASCII");
        Check.eq("fbff", toHex(Base64Url.decode("-_8")), "- and _");
        byte[] all = new byte[256];
        for (int k = 0; k < 256; k++) all[k] = (byte) k;
        Check.eq(toHex(all), toHex(Base64Url.decode(Base64Url.encode(all))), "round trip");
    }

    /** Wycheproof HMAC-SHA256: valid tags match (leftmost tagSize bits), invalid ones do not. */
    static void testHmacWycheproof() throws Exception {
        Map<String, Object> file = Check.json(Check.vectors().resolve("wycheproof_hmac_sha256_test.json"));
        int n = 0;
        for (Object g : Json.asArray(file.get("testGroups"))) {
            Map<String, Object> group = Json.asObject(g);
            int tagBytes = ((Long) group.get("tagSize")).intValue() / 8;
            for (Object o : Json.asArray(group.get("tests"))) {
                Map<String, Object> t = Json.asObject(o);
                byte[] mac = Fixtures.hmac(hex((String) t.get("key")), hex((String) t.get("msg")));
                boolean same = java.security.MessageDigest.isEqual(java.util.Arrays.copyOf(mac, tagBytes), hex((String) t.get("tag")));
                Check.eq("valid".equals(t.get("result")), same, "Wycheproof HMAC tcId " + t.get("tcId"));
                n++;
            }
        }
        Check.eq(174, n, "Wycheproof HMAC cases");
    }

    static void testBase64UrlRfc4648() throws Exception {
        Map<String, Object> file = Check.json(Check.vectors().resolve("rfc4648_base_encodings.json"));
        int n = 0;
        for (Object o : Json.asArray(file.get("tests"))) {
            Map<String, Object> t = Json.asObject(o);
            byte[] input = ((String) t.get("input_ascii")).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Check.eq(t.get("base64url_nopad"), Base64Url.encode(input), "encode " + t.get("input_ascii"));
            Check.eq(toHex(input), toHex(Base64Url.decode((String) t.get("base64url_nopad"))), "decode " + t.get("input_ascii"));
            if (!t.get("base64url").equals(t.get("base64url_nopad"))) {
                Check.eq(null, Base64Url.decode((String) t.get("base64url")), "padded " + t.get("base64url") + " is refused");
            }
            n++;
        }
        for (Object o : Json.asArray(file.get("derived_url_alphabet"))) {
            Map<String, Object> t = Json.asObject(o);
            Check.eq(t.get("base64url_nopad"), Base64Url.encode(hex((String) t.get("input_hex"))), "encode " + t.get("input_hex"));
            Check.eq(t.get("input_hex"), toHex(Base64Url.decode((String) t.get("base64url_nopad"))), "decode " + t.get("input_hex"));
            String standard = (String) t.get("base64");
            if (standard.contains("+") || standard.contains("/") || standard.contains("=")) {
                Check.eq(null, Base64Url.decode(standard), "refused: " + standard);
            }
            n++;
        }
        Check.eq(14, n, "RFC 4648 rows");
    }
}
