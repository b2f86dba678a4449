package dev.sigil.verify.tests;

import static dev.sigil.verify.tools.Fixtures.hex;
import static dev.sigil.verify.tools.Fixtures.toHex;

import dev.sigil.verify.Keyset;
import dev.sigil.verify.KeysetException;
import dev.sigil.verify.Permission;
import dev.sigil.verify.Reason;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.VerificationException;
import dev.sigil.verify.Verifier;
import dev.sigil.verify.tools.Fixtures;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** The verifier beyond the vector files: FORMAT.md §6, scopes, limits, errors that leak nothing. */
final class VerifierTests {
    private VerifierTests() {}

    static Reason reason(Verifier v, String token, Permission p, long now) {
        try {
            v.verify(token, p, now);
            return null;
        } catch (VerificationException e) {
            Check.isTrue(!e.getMessage().contains("sgl_"), "the message never holds the token");
            return e.reason();
        }
    }

    static void testWorkedExampleOfFormatMd() throws Exception {
        Verifier v = World.verifier(null);
        Check.eq("0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90", v.verify(World.EXAMPLE_TOKEN, null, 1_780_000_000L).guid(), "valid");
        Check.eq(List.of("devices.list", "invoices.read"), v.verify(World.EXAMPLE_TOKEN, null, World.NOW).scope(), "scope");
        for (Permission.Access a : Permission.Access.values()) {
            Check.eq(null, reason(v, World.EXAMPLE_TOKEN, Permission.of("devices.list", a), World.NOW), "devices.list " + a);
        }
        Check.eq(Reason.SCOPE_NOT_GRANTED,
                reason(v, World.EXAMPLE_TOKEN, Permission.of("devices.delete", Permission.Access.WRITE), World.NOW), "delete");
        Check.eq(Reason.EXPIRED, reason(v, World.EXAMPLE_TOKEN, null, 1_798_761_660L), "valid_to + leeway");
        Check.eq(null, reason(v, World.EXAMPLE_TOKEN, null, 1_798_761_659L), "one second before");
        Verifier invoices = new Verifier("invoices", Map.of("k1", World.K_BILLING), 60, null);
        Check.eq(Reason.WRONG_AUDIENCE, reason(invoices, World.EXAMPLE_TOKEN, null, World.NOW), "other audience");
        // The list of §6, rebuilt with the JDK's deterministic Ed25519, is byte for byte the documented one.
        byte[] list = World.list(7, 1_767_229_200L, World.GUID, 2, World.OTHER, 1);
        String header = "53474c52010272310000000000000007000000006955b900000000006955c71000000002";
        byte[] doc = Fixtures.list(World.SEED_R1, "r1", 7, 1_767_225_600L, 1_767_229_200L,
                List.of(Map.entry(World.GUID, 2), Map.entry(World.OTHER, 1)));
        Check.eq(header, toHex(doc).substring(0, header.length()), "header");
        Check.isTrue(toHex(doc).endsWith("8f50650b5b9967638618356dda455d13dc4e6789c09a8fbb38adddbbc07ef373"
                + "bb104a1b49d7bfd2e4932cff222fc3e73db955c41a5bd0191db75fb8dc06fb0c"), "signature of §6");
        Check.eq(134, doc.length, "length");
        RevocationStore store = World.store(RevocationStore.StalePolicy.KEEP_SERVING, RevocationStore.NoListPolicy.FAIL_OPEN);
        store.load(list);
        Check.eq(Reason.REVOKED, reason(World.verifier(store), World.EXAMPLE_TOKEN, null, World.NOW), "revoked by §6's list");
    }

    static void testScopeKinds() throws Exception {
        Verifier v = World.verifier(null);
        Permission read = Permission.of("anything.new", Permission.Access.READ);
        Permission write = Permission.of("anything.new", Permission.Access.WRITE);
        String all = World.token(World.guid(1), 1);
        String readOnly = World.token(World.guid(2), 2);
        String custom = World.token(World.guid(3), 3, "a.b", "anything.new", "b.a");
        Check.eq(null, reason(v, all, write, World.NOW), "all grants later writes");
        Check.eq(null, reason(v, readOnly, read, World.NOW), "read-only grants reads");
        Check.eq(Reason.SCOPE_NOT_GRANTED, reason(v, readOnly, write, World.NOW), "read-only refuses writes");
        Check.eq(null, reason(v, custom, write, World.NOW), "custom grants a listed pair whatever the access");
        Check.eq(Reason.SCOPE_NOT_GRANTED, reason(v, custom, Permission.of("anything.ne", Permission.Access.READ), World.NOW),
                "no prefixes");
        Check.eq(null, reason(v, custom, null, World.NOW), "no permission asked");
    }

    static void testMalformedEdges() throws Exception {
        Verifier v = World.verifier(null);
        String good = World.token(World.guid(1), 1);
        Check.eq(Reason.MALFORMED, reason(v, good + "=", null, World.NOW), "padding");
        Check.eq(Reason.MALFORMED, reason(v, "SGL_" + good.substring(4), null, World.NOW), "prefix case");
        Check.eq(Reason.MALFORMED, reason(v, good.substring(0, good.length() - 1), null, World.NOW), "truncated");
        Check.eq(Reason.MALFORMED, reason(v, good + "\n", null, World.NOW), "line break");
        Check.eq(Reason.MALFORMED, reason(v, "sgl_" + "A".repeat(4093), null, World.NOW), "4097 characters");
        Check.eq(Reason.MALFORMED, reason(v, "", null, World.NOW), "empty");
        Check.eq(Reason.MALFORMED, reason(v, null, null, World.NOW), "null");
        Check.eq(Reason.MALFORMED, reason(v, good.substring(0, 20) + "\u00e9" + good.substring(21), null, World.NOW), "non-ASCII");
        // Unsorted and duplicate custom scopes are malformed even with a valid MAC.
        Check.eq(Reason.MALFORMED, reason(v, World.token(World.guid(1), 3, "b.a", "a.b"), null, World.NOW), "unsorted");
        Check.eq(Reason.MALFORMED, reason(v, World.token(World.guid(1), 3, "a.b", "a.b"), null, World.NOW), "duplicate");
        Check.eq(Reason.MALFORMED, reason(v, World.token(World.guid(1), 3, "a.b", "a.b.c"), null, World.NOW), "two dots");
        Check.eq(Reason.MALFORMED, reason(v, World.token(World.guid(1), 4), null, World.NOW), "scope kind 4");
        String other = Fixtures.token("k1", new byte[32], "billing", World.guid(1), 0, 0, 1, List.of());
        Check.eq(Reason.BAD_SIGNATURE, reason(v, other, null, World.NOW), "another key");
        String k2 = Fixtures.token("k2", World.K_BILLING, "billing", World.guid(1), 0, 0, 1, List.of());
        Check.eq(Reason.UNKNOWN_KEY, reason(v, k2, null, World.NOW), "unknown key id");
    }

    static void testTimeExtremesDoNotOverflow() throws Exception {
        Verifier v = new Verifier("billing", Map.of("k1", World.K_BILLING), 86_400, null);
        String forever = Fixtures.token("k1", World.K_BILLING, "billing", World.guid(1), Long.MIN_VALUE, 0, 1, List.of());
        Check.eq(null, reason(v, forever, null, Long.MAX_VALUE), "never expires at i64 max");
        Check.eq(null, reason(v, forever, null, Long.MIN_VALUE), "valid from i64 min at i64 min");
        String late = Fixtures.token("k1", World.K_BILLING, "billing", World.guid(1), Long.MAX_VALUE - 1, Long.MAX_VALUE, 1,
                List.of());
        Check.eq(Reason.NOT_YET_VALID, reason(v, late, null, 0), "not yet valid");
        Check.eq(null, reason(v, late, null, Long.MAX_VALUE - 1), "now + leeway overflows: the check is skipped");
        Check.eq(Reason.EXPIRED, reason(v, Fixtures.token("k1", World.K_BILLING, "billing", World.guid(1), Long.MIN_VALUE,
                Long.MIN_VALUE + 1, 1, List.of()), null, Long.MIN_VALUE + 86_401), "expired near i64 min");
    }

    static void testConfigurationErrors() {
        Check.raises(KeysetException.class, () -> new Verifier("bad audience", Map.of(), 60, null));
        Check.raises(KeysetException.class, () -> new Verifier("billing", Map.of("k1", new byte[31]), 60, null));
        Check.raises(KeysetException.class, () -> new Verifier("billing", Map.of("k1", World.K_BILLING), 86_401, null));
        Check.raises(KeysetException.class, () -> new Verifier("billing", Map.of("k1", World.K_BILLING), -1, null));
        Check.raises(IllegalArgumentException.class, () -> Permission.of("Devices.list", Permission.Access.READ));
        Check.raises(IllegalArgumentException.class, () -> Permission.of("devices", Permission.Access.READ));
    }

    static void testKeysetParsing() throws Exception {
        Keyset k = Keyset.parse(World.keysetJson().getBytes(StandardCharsets.UTF_8));
        Check.eq("billing", k.audience(), "audience");
        Check.eq(toHex(World.K_BILLING), toHex(k.tokenKeys().get("k1")), "k1");
        Check.eq(toHex(World.PUB_R1), toHex(k.revocationKeys().get("r1")), "r1");
        String json = World.keysetJson();
        String[] bad = {
            json.replace("sigil-keyset-v1", "sigil-keyset-v2"),
            json.replace("\"billing\"", "\"bill ing\""),
            json.replace("[{\"kid\":\"k1\"", "[{\"kid\":\"k1\",\"key\":\"" + "A".repeat(43) + "\"},{\"kid\":\"k1\""),
            json.replace("\"kid\":\"r1\"", "\"kid\":\"r1\",\"kid\":\"r2\""),
            json.replace("\"token_keys\"", "\"token_keyz\""),
            json.substring(0, json.length() - 1),
            json + "x",
            json.replace(dev.sigil.verify.Base64Url.encode(World.K_BILLING), dev.sigil.verify.Base64Url.encode(World.K_BILLING) + "="),
            json.replace(dev.sigil.verify.Base64Url.encode(World.K_BILLING), "AAAA"),
        };
        for (String b : bad) {
            Check.raises(KeysetException.class, () -> Keyset.parse(b.getBytes(StandardCharsets.UTF_8)));
        }
        Check.raises(KeysetException.class, () -> Keyset.parse(new byte[Keyset.MAX_BYTES + 1]));
        String extra = json.replace("{\"format\"", "{\"comment\":[1,{\"x\":null}],\"format\"");
        Check.eq("billing", Keyset.parse(extra.getBytes(StandardCharsets.UTF_8)).audience(), "unknown members ignored");
        Check.eq(0, hex("").length, "hex");
    }

    static void testEveryFlippedBitIsRefused() throws Exception {
        Verifier v = World.verifier(null);
        String token = World.token(World.guid(1), 3, "devices.list", "invoices.read");
        byte[] raw = dev.sigil.verify.Base64Url.decode(token.substring(4));
        for (int i = 0; i < raw.length; i++) {
            for (int bit : new int[] {0x01, 0x80}) {
                byte[] m = raw.clone();
                m[i] ^= (byte) bit;
                Reason r = reason(v, "sgl_" + dev.sigil.verify.Base64Url.encode(m), null, World.NOW);
                Check.isTrue(r == Reason.MALFORMED || r == Reason.WRONG_AUDIENCE || r == Reason.UNKNOWN_KEY
                        || r == Reason.BAD_SIGNATURE, "byte " + i + " bit " + bit + ": " + r);
            }
        }
    }

    static void testReasonOrder() throws Exception {
        long vf = 1_767_225_600L;
        byte[] g = World.guid(9);
        String token = Fixtures.token("k1", World.K_BILLING, "billing", g, vf, vf + 10, 3, List.of("devices.list"));
        byte[] other = new byte[32];
        Arrays.fill(other, (byte) 1);
        Verifier plain = World.verifier(null);
        Check.eq(Reason.WRONG_AUDIENCE, reason(plain, Fixtures.token("zz", other, "other", g, vf, 0, 1, List.of()), null, vf),
                "audience before key id");
        Check.eq(Reason.UNKNOWN_KEY, reason(plain, Fixtures.token("zz", other, "billing", g, vf, 0, 1, List.of()), null, vf),
                "key id before MAC");
        RevocationStore revoked = World.store(RevocationStore.StalePolicy.FAIL_CLOSED, RevocationStore.NoListPolicy.FAIL_OPEN);
        revoked.load(World.list(1, 0, g, 2));
        Check.eq(Reason.BAD_SIGNATURE, reason(World.verifier(revoked), Fixtures.token("k1", other, "billing", g, vf, 0, 1,
                List.of()), null, vf), "MAC before revocation");
        Permission write = Permission.write("x.y");
        RevocationStore stale = World.store(RevocationStore.StalePolicy.FAIL_CLOSED, RevocationStore.NoListPolicy.FAIL_OPEN);
        stale.load(World.list(1, 1, g, 2));
        Check.eq(Reason.REVOCATIONS_STALE, reason(World.verifier(stale), token, write, World.NOW), "stale first");
        Check.eq(Reason.REVOKED, reason(World.verifier(revoked), token, write, World.NOW), "then revoked");
        RevocationStore deactivated = World.store(RevocationStore.StalePolicy.FAIL_CLOSED, RevocationStore.NoListPolicy.FAIL_OPEN);
        deactivated.load(World.list(1, 0, g, 1));
        Check.eq(Reason.DEACTIVATED, reason(World.verifier(deactivated), token, write, World.NOW), "then deactivated");
        Check.eq(Reason.NOT_YET_VALID, reason(plain, token, write, 0), "then not yet valid");
        Check.eq(Reason.EXPIRED, reason(plain, token, write, World.NOW), "then expired");
        Check.eq(Reason.SCOPE_NOT_GRANTED, reason(plain, token, write, vf), "then scope");
        Check.eq(null, reason(plain, token, Permission.write("devices.list"), vf), "valid");
        // The GUID of an authentic token is reported with its refusal; never before the MAC matched.
        Check.eq("10000000-0000-0000-0000-000000000009",
                Check.raises(VerificationException.class, () -> plain.verify(token, write, vf)).guid(), "scope refusal");
        Check.eq(null, Check.raises(VerificationException.class,
                () -> plain.verify(Fixtures.token("k1", other, "billing", g, vf, 0, 1, List.of()), null, vf)).guid(),
                "bad_signature: nothing from the token");
    }

    static void testUnknownKeyIsNeverTriedAgainstAnotherKey() throws Exception {
        String token = Fixtures.token("k2", World.K_BILLING, "billing", World.guid(1), 0, 0, 1, List.of());
        byte[] two = new byte[32];
        Arrays.fill(two, (byte) 2);
        Check.eq(Reason.UNKNOWN_KEY, reason(World.verifier(null), token, null, World.NOW), "k2 unknown");
        Check.eq(Reason.BAD_SIGNATURE, reason(new Verifier("billing", Map.of("k1", World.K_BILLING, "k2", two), 60, null), token,
                null, World.NOW), "k2's own key only");
        Check.eq(null, reason(new Verifier("billing", Map.of("k2", World.K_BILLING), 60, null), token, null, World.NOW), "valid");
    }

    static void testLeewayBoundaries() throws Exception {
        long vf = 1_767_225_600L;
        long vt = vf + 3600;
        String token = Fixtures.token("k1", World.K_BILLING, "billing", World.guid(1), vf, vt, 1, List.of());
        Verifier v = World.verifier(null);
        Check.eq(null, reason(v, token, null, vf - 60), "valid_from - leeway");
        Check.eq(Reason.NOT_YET_VALID, reason(v, token, null, vf - 61), "one second earlier");
        Check.eq(null, reason(v, token, null, vt + 59), "valid_to + leeway - 1");
        Check.eq(Reason.EXPIRED, reason(v, token, null, vt + 60), "valid_to + leeway");
        Verifier strict = new Verifier("billing", Map.of("k1", World.K_BILLING), 0, null);
        Check.eq(Reason.NOT_YET_VALID, reason(strict, token, null, vf - 1), "leeway 0: before");
        Check.eq(null, reason(strict, token, null, vf), "leeway 0: valid_from is inclusive");
        Check.eq(Reason.EXPIRED, reason(strict, token, null, vt), "leeway 0: valid_to is exclusive");
    }

    static void testLongestPartsAndTheTextLimit() throws Exception {
        Verifier v = World.verifier(null);
        String pair = "d".repeat(32) + "." + "l".repeat(32);
        Check.eq(null, reason(v, World.token(World.guid(1), 3, pair), null, World.NOW), "32-byte parts");
        Check.eq(null, reason(v, World.token(World.guid(1), 3, "a-_9.b_-0", "a.b"), null, World.NOW), "- sorts before .");
        Check.eq(Reason.MALFORMED, reason(v, World.token(World.guid(1), 3, "d".repeat(33) + ".l"), null, World.NOW), "33 bytes");
        // A custom scope sized so the text is exactly 4096 characters verifies; longer ones do not.
        String exact = null;
        List<String> longer = new java.util.ArrayList<>();
        for (int n = 40; n < 50; n++) {
            for (int last = 3; last < 35; last++) {
                List<String> pairs = new java.util.ArrayList<>();
                for (int k = 0; k < n; k++) pairs.add(String.format("r%03d%s.%s", k, "x".repeat(28), "a".repeat(32)));
                pairs.add("z." + "b".repeat(last - 2));
                String t = Fixtures.token("k1", World.K_BILLING, "billing", World.guid(1), World.NOW - 10, 0, 3, pairs);
                if (t.length() == 4096 && exact == null) exact = t;
                if (t.length() == 4097 || t.length() == 4098) longer.add(t);
            }
        }
        Check.isTrue(exact != null && !longer.isEmpty(), "found tokens at the limit");
        Check.eq(null, reason(v, exact, null, World.NOW), "4096 characters");
        for (String t : longer) Check.eq(Reason.MALFORMED, reason(v, t, null, World.NOW), t.length() + " characters");
    }

    static void testUnusedBitsMustBeZero() throws Exception {
        Verifier v = World.verifier(null);
        String good = World.token(World.guid(1), 1);
        int rest = (good.length() - 4) % 4;
        Check.isTrue(rest == 2 || rest == 3, "the token leaves unused bits");
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int last = alphabet.indexOf(good.charAt(good.length() - 1));
        String bumped = good.substring(0, good.length() - 1) + alphabet.charAt(last | 1);
        Check.eq(Reason.MALFORMED, reason(v, bumped, null, World.NOW), "non-zero unused bit");
        Check.eq(Reason.MALFORMED, reason(v, "sgl_" + dev.sigil.verify.Base64Url.encode(new byte[32]), null, World.NOW),
                "32 bytes: no body");
        Check.eq(Reason.MALFORMED, reason(v, " " + good, null, World.NOW), "leading space");
        Check.eq(Reason.MALFORMED, reason(v, good.replace('-', '+').replace('_', '/') + "+", null, World.NOW), "standard alphabet");
    }
}
