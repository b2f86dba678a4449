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
}
