package dev.sigil.verify.tests;

import static dev.sigil.verify.tools.Fixtures.hex;

import dev.sigil.verify.Base64Url;
import dev.sigil.verify.Json;
import dev.sigil.verify.tools.Conformance;
import dev.sigil.verify.tools.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The conformance runner: the token vectors as cases, lists and policies, and ./conformance itself. */
final class ConformanceTests {
    private ConformanceTests() {}

    static final byte[] LIST_SEED = new byte[32];

    static {
        Arrays.fill(LIST_SEED, (byte) 0x33);
    }

    /** Each token vector as a case (its revoked GUIDs as a list signed by r1), with its expected answer. */
    static List<String[]> vectorCases() throws Exception {
        byte[] pub = Fixtures.publicKey(LIST_SEED);
        List<String[]> out = new ArrayList<>();
        Map<String, Object> file = Check.json(Check.repo().resolve("Tests/Vectors/tokens-v1.json"));
        for (Object o : Json.asArray(file.get("vectors"))) {
            Map<String, Object> v = Json.asObject(o);
            List<Object> tokenKeys = new ArrayList<>();
            for (Object k : Json.asArray(v.get("keys"))) {
                Map<String, Object> key = Json.asObject(k);
                tokenKeys.add(Map.of("kid", key.get("kid"), "key", Base64Url.encode(hex((String) key.get("key_hex")))));
            }
            String audience = (String) v.get("audience");
            Map<String, Object> keyset = new LinkedHashMap<>();
            keyset.put("format", "sigil-keyset-v1");
            keyset.put("audience", audience.matches("[A-Za-z0-9._:-]{1,64}") ? audience : "billing");
            keyset.put("token_keys", tokenKeys);
            keyset.put("revocation_keys", List.of(Map.of("kid", "r1", "public_key", Base64Url.encode(pub))));
            List<Map.Entry<byte[], Integer>> entries = new ArrayList<>();
            for (Object r : Json.asArray(v.get("revoked"))) {
                Map<String, Object> e = Json.asObject(r);
                entries.add(Map.entry(hex(((String) e.get("guid")).replace("-", "")), "revoked".equals(e.get("status")) ? 2 : 1));
            }
            entries.sort((a, b) -> Arrays.compareUnsigned(a.getKey(), b.getKey()));
            Map<String, Object> permission = Json.asObject(v.get("permission"));
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("keyset", keyset);
            c.put("revocations", entries.isEmpty() ? null
                    : Base64.getEncoder().encodeToString(Fixtures.list(LIST_SEED, "r1", 1, 0, 0, entries)));
            c.put("token", v.get("token"));
            c.put("audience", audience);
            c.put("permission", permission == null ? null : permission.get("name"));
            c.put("access", permission == null ? null : permission.get("access"));
            c.put("now", v.get("now"));
            c.put("leeway", v.get("leeway"));
            c.put("when_no_list", "fail_open");
            Map<String, Object> expected = Json.asObject(v.get("expected"));
            String answer = Boolean.TRUE.equals(expected.get("valid"))
                    ? "{\"valid\":true,\"guid\":\"" + Json.asObject(expected.get("claims")).get("guid") + "\"}"
                    : "{\"valid\":false,\"reason\":\"" + expected.get("reason") + "\"}";
            out.add(new String[] {Check.toJson(c), answer, (String) v.get("name")});
        }
        return out;
    }

    static void testVectorsAsCasesInProcess() throws Exception {
        List<String[]> cases = vectorCases();
        Check.isTrue(cases.size() >= 80, "cases: " + cases.size());
        for (String[] c : cases) Check.eq(c[1], Conformance.answer(c[0]), c[2]);
    }

    /** One process answers 6,000 cases in order, in a few seconds (JVM start and build check included). */
    static void testRunnerScriptAnswers6000CasesInOrder() throws Exception {
        List<String[]> cases = vectorCases();
        StringBuilder stdin = new StringBuilder();
        List<String> want = new ArrayList<>();
        for (int k = 0; k < 6000; k++) {
            String[] c = cases.get(k % cases.size());
            stdin.append(c[0]).append('\n');
            want.add(c[1]);
        }
        long started = System.nanoTime();
        Check.Run r = Check.run(List.of(Check.here().resolve("conformance").toString()), stdin.toString(), 60);
        long took = (System.nanoTime() - started) / 1_000_000;
        Check.eq(0, r.code, "exit status; stderr: " + r.err);
        Check.eq(want, List.of(r.out.split("\n", -1)).subList(0, Math.max(0, r.out.split("\n", -1).length - 1)), "answers");
        Check.isTrue(r.out.endsWith("\n"), "one line per case");
        Check.isTrue(took < 10_000, "6,000 cases took " + took + " ms");
        System.out.printf("     (./conformance: 6,000 cases in %d ms)%n", took);
    }

    static void testListsAndPolicies() throws Exception {
        byte[] g = World.randomGuid();
        String token = World.tokenNow(g, 1);
        String guid = dev.sigil.verify.tools.Fixtures.toHex(g).replaceFirst("(.{8})(.{4})(.{4})(.{4})(.{12})", "$1-$2-$3-$4-$5");
        long now = System.currentTimeMillis() / 1000;
        String base = "{\"keyset\":" + World.keysetJson() + ",\"token\":\"" + token + "\",\"audience\":\"billing\","
                + "\"permission\":null,\"access\":null,\"now\":" + now + ",\"leeway\":60";
        String b64 = Base64.getEncoder().encodeToString(World.list(1, 0, g, 1));
        String damaged = Base64.getEncoder().encodeToString(World.damageSignature(World.list(1, 0)));
        String stale = Base64.getEncoder().encodeToString(World.list(1, 1));
        String v2 = Base64.getEncoder().encodeToString("SGLR\u0002\u0002r1".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        String[][] cases = {
            {base + ",\"revocations\":null,\"when_no_list\":\"fail_open\"}", "{\"valid\":true,\"guid\":\"" + guid + "\"}"},
            {base + ",\"revocations\":null,\"when_no_list\":\"fail_closed\"}", "{\"valid\":false,\"reason\":\"revocations_stale\"}"},
            {base + ",\"revocations\":\"" + b64 + "\",\"when_no_list\":\"fail_closed\"}", "{\"valid\":false,\"reason\":\"deactivated\"}"},
            {base + ",\"revocations\":\"" + damaged + "\",\"when_no_list\":\"fail_open\"}",
                "{\"valid\":false,\"list_error\":\"bad_signature\"}"},
            {base + ",\"revocations\":\"" + v2 + "\",\"when_no_list\":\"fail_open\"}",
                "{\"valid\":false,\"list_error\":\"unsupported_version\"}"},
            {base + ",\"revocations\":\"" + stale + "\",\"when_no_list\":\"fail_closed\"}",
                "{\"valid\":true,\"guid\":\"" + guid + "\"}"}, // stale, but the default policy keeps serving
            {base.replace(token, "sgl_x") + ",\"revocations\":null,\"when_no_list\":\"fail_closed\"}",
                "{\"valid\":false,\"reason\":\"malformed\"}"},
            {base.replace("\"permission\":null,\"access\":null", "\"permission\":\"devices.delete\",\"access\":\"write\"")
                + ",\"revocations\":null,\"when_no_list\":\"fail_open\"}", "{\"valid\":true,\"guid\":\"" + guid + "\"}"},
            {base + ",\"revocations\":\"%%%\",\"when_no_list\":\"fail_open\"}", "{\"valid\":false,\"list_error\":\"malformed\"}"},
        };
        for (int k = 0; k < cases.length; k++) Check.eq(cases[k][1], Conformance.answer(cases[k][0]), "case " + k);
        // The list, once verified, is remembered: the second answer is the same.
        Check.eq(cases[2][1], Conformance.answer(cases[2][0]), "cached list");
    }

    static void testCasesThatCannotBeRun() {
        String[] bad = {
            "not json",
            "[1,2]",
            "{\"token\":\"sgl_x\"}",
            "{\"keyset\":" + World.keysetJson() + ",\"token\":\"sgl_x\",\"permission\":\"Bad\",\"access\":\"read\"}",
            "{\"keyset\":" + World.keysetJson() + ",\"token\":\"sgl_x\",\"leeway\":86401}",
        };
        for (String b : bad) {
            String a = Conformance.answer(b);
            Check.isTrue(a.startsWith("{\"error\":"), b + " -> " + a);
        }
    }
}
