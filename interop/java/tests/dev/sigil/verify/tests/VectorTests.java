package dev.sigil.verify.tests;

import static dev.sigil.verify.tools.Fixtures.hex;

import dev.sigil.verify.Hkdf;
import dev.sigil.verify.Json;
import dev.sigil.verify.Permission;
import dev.sigil.verify.RevocationDelta;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationListException;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.VerificationException;
import dev.sigil.verify.VerifiedToken;
import dev.sigil.verify.Verifier;
import dev.sigil.verify.tools.Fixtures;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Every vector of Tests/Vectors/tokens-v1.json, revocations-v1.json and
 * revocation-deltas-v1.json (docs/FORMAT.md §7).
 */
final class VectorTests {
    private VectorTests() {}

    static final byte[] TEST_SEED = hex("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");

    /** A store holding exactly {@code revoked} (GUID → status), never stale. */
    static RevocationStore storeWith(List<Object> revoked) throws Exception {
        List<Map.Entry<byte[], Integer>> entries = new ArrayList<>();
        for (Object o : revoked) {
            Map<String, Object> r = Json.asObject(o);
            entries.add(Map.entry(hex(((String) r.get("guid")).replace("-", "")), "revoked".equals(r.get("status")) ? 2 : 1));
        }
        entries.sort((a, b) -> Arrays.compareUnsigned(a.getKey(), b.getKey()));
        RevocationStore store = new RevocationStore(Map.of("t", Fixtures.publicKey(TEST_SEED)),
                RevocationStore.StalePolicy.FAIL_CLOSED, RevocationStore.NoListPolicy.FAIL_CLOSED,
                RevocationList.DEFAULT_MAX_BYTES, null);
        store.load(Fixtures.list(TEST_SEED, "t", 1, 0, 0, entries));
        return store;
    }

    static void testTokenVectors() throws Exception {
        Map<String, Object> file = Check.json(Check.repo().resolve("Tests/Vectors/tokens-v1.json"));
        Check.eq("sigil-token-vectors-v1", file.get("format"), "format");
        int n = 0;
        for (Object o : Json.asArray(file.get("vectors"))) {
            Map<String, Object> v = Json.asObject(o);
            String name = (String) v.get("name");
            Map<String, byte[]> keys = new LinkedHashMap<>();
            for (Object k : Json.asArray(v.get("keys"))) {
                Map<String, Object> key = Json.asObject(k);
                keys.put((String) key.get("kid"), hex((String) key.get("key_hex")));
            }
            if (v.get("master_secret_hex") instanceof String) {
                byte[] derived = Hkdf.audienceKey(hex((String) v.get("master_secret_hex")), (String) v.get("audience"));
                Check.isTrue(keys.values().stream().anyMatch(k -> Arrays.equals(k, derived)), name + ": HKDF reproduces a key");
            }
            Verifier verifier = new Verifier((String) v.get("audience"), keys, (Long) v.get("leeway"),
                    storeWith(Json.asArray(v.get("revoked"))));
            Permission permission = null;
            Map<String, Object> p = Json.asObject(v.get("permission"));
            if (p != null) {
                permission = Permission.of((String) p.get("name"),
                        "write".equals(p.get("access")) ? Permission.Access.WRITE : Permission.Access.READ);
            }
            Map<String, Object> expected = Json.asObject(v.get("expected"));
            VerifiedToken token = null;
            String reason = null;
            try {
                token = verifier.verify((String) v.get("token"), permission, (Long) v.get("now"));
            } catch (VerificationException e) {
                reason = e.reason().code();
            }
            Check.eq(expected.get("valid"), token != null, name + ": valid");
            Check.eq(expected.get("reason") == Json.NULL ? null : expected.get("reason"), reason, name + ": reason");
            Map<String, Object> claims = Json.asObject(expected.get("claims"));
            if (claims != null) {
                Check.eq(claims.get("kid"), token.keyId(), name + ": kid");
                Check.eq(claims.get("audience"), token.audience(), name + ": audience");
                Check.eq(claims.get("guid"), token.guid(), name + ": guid");
                Check.eq(claims.get("valid_from"), token.validFrom(), name + ": valid_from");
                Check.eq(claims.get("valid_to") == Json.NULL ? null : claims.get("valid_to"), token.validTo(), name + ": valid_to");
                Object scope = claims.get("scope");
                Object actual = token.scopeKind() == VerifiedToken.ScopeKind.ALL ? "all"
                        : token.scopeKind() == VerifiedToken.ScopeKind.READ_ONLY ? "read-only" : token.scope();
                Check.eq(scope, actual, name + ": scope");
            }
            n++;
        }
        Check.isTrue(n >= 80, "token vectors read: " + n);
    }

    static void testRevocationVectors() throws Exception {
        Map<String, Object> file = Check.json(Check.repo().resolve("Tests/Vectors/revocations-v1.json"));
        Check.eq("sigil-revocation-vectors-v1", file.get("format"), "format");
        int n = 0;
        for (Object o : Json.asArray(file.get("vectors"))) {
            Map<String, Object> v = Json.asObject(o);
            String name = (String) v.get("name");
            Map<String, byte[]> keys = new LinkedHashMap<>();
            for (Object k : Json.asArray(v.get("public_keys"))) {
                Map<String, Object> key = Json.asObject(k);
                keys.put((String) key.get("kid"), hex((String) key.get("public_key_hex")));
            }
            Map<String, Object> expected = Json.asObject(v.get("expected"));
            RevocationList list = null;
            String reason = null;
            try {
                list = RevocationList.verify(hex((String) v.get("list_hex")), keys, ((Long) v.get("max_bytes")).intValue());
            } catch (RevocationListException e) {
                reason = e.reason().code();
            }
            Check.eq(expected.get("valid"), list != null, name + ": valid");
            Check.eq(expected.get("reason") == Json.NULL ? null : expected.get("reason"), reason, name + ": reason");
            if (list != null) {
                Check.eq(expected.get("kid"), list.keyId(), name + ": kid");
                Check.eq(String.valueOf(expected.get("sequence")), Long.toUnsignedString(list.sequence()), name + ": sequence");
                Check.eq(expected.get("issued_at"), list.issuedAt(), name + ": issued_at");
                Object next = expected.get("next_update");
                Check.eq(next == Json.NULL ? 0L : next, list.nextUpdate(), name + ": next_update");
                List<Object> want = new ArrayList<>();
                for (Object e : Json.asArray(expected.get("entries"))) {
                    Map<String, Object> entry = Json.asObject(e);
                    want.add(entry.get("guid") + "=" + entry.get("status"));
                }
                List<Object> got = new ArrayList<>();
                for (Map.Entry<String, RevocationList.Status> e : list.entries()) {
                    got.add(e.getKey() + "=" + (e.getValue() == RevocationList.Status.REVOKED ? "revoked" : "deactivated"));
                }
                Check.eq(want, got, name + ": entries");
            }
            n++;
        }
        Check.isTrue(n >= 20, "revocation vectors read: " + n);
    }

    /** The reasons FORMAT.md §4.3 names; revocation-deltas-v1.json covers each. */
    static final List<String> DELTA_REASONS = List.of("too_large", "malformed", "unsupported_version", "delta_base_mismatch",
            "unknown_key", "bad_signature", "rollback", "equivocation");

    static void testRevocationDeltaVectors() throws Exception {
        Map<String, Object> file = Check.json(Check.repo().resolve("Tests/Vectors/revocation-deltas-v1.json"));
        Check.eq("sigil-revocation-delta-vectors-v1", file.get("format"), "format");
        TreeSet<String> inFile = new TreeSet<>();
        TreeSet<String> passed = new TreeSet<>();
        int n = 0;
        for (Object o : Json.asArray(file.get("vectors"))) {
            Map<String, Object> v = Json.asObject(o);
            String name = (String) v.get("name");
            Map<String, byte[]> keys = new LinkedHashMap<>();
            for (Object k : Json.asArray(v.get("public_keys"))) {
                Map<String, Object> key = Json.asObject(k);
                keys.put((String) key.get("kid"), hex((String) key.get("public_key_hex")));
            }
            Map<String, Object> expected = Json.asObject(v.get("expected"));
            String want = expected.get("reason") == Json.NULL ? null : (String) expected.get("reason");
            if (want != null) inFile.add(want);
            int maxBytes = ((Long) v.get("max_bytes")).intValue();
            // The base is verified under the default limit and put in force; the delta meets the vector's.
            RevocationList base = v.get("base_hex") == Json.NULL ? null
                    : RevocationList.verify(hex((String) v.get("base_hex")), keys, RevocationList.DEFAULT_MAX_BYTES);
            RevocationStore store = new RevocationStore(keys, RevocationStore.StalePolicy.KEEP_SERVING,
                    RevocationStore.NoListPolicy.FAIL_CLOSED, maxBytes, null, base);
            byte[] delta = hex((String) v.get("delta_hex"));
            String reason = null;
            try {
                store.load(delta);
            } catch (RevocationListException e) {
                reason = e.reason().code();
            }
            Check.eq(want, reason, name + ": reason");
            Check.eq(expected.get("valid"), reason == null, name + ": valid");
            // The public parse and apply agree up to the store's own checks (rollback, equivocation).
            if (!"rollback".equals(want) && !"equivocation".equals(want)) {
                String direct = null;
                try {
                    RevocationDelta.parse(delta, maxBytes).apply(base, keys, maxBytes);
                } catch (RevocationListException e) {
                    direct = e.reason().code();
                }
                Check.eq(want, direct, name + ": RevocationDelta.parse + apply");
            }
            if (reason != null) {
                Check.isTrue(store.list() == base, name + ": a refused delta changes nothing");
                passed.add(reason);
            } else {
                Check.eq((String) expected.get("list_hex"), Fixtures.toHex(store.list().bytes()), name + ": the resulting list");
            }
            n++;
        }
        Check.eq(new TreeSet<>(DELTA_REASONS), inFile, "the vectors cover every reason of §4.3");
        Check.eq(inFile, passed, "every reason in the file was given");
        Check.isTrue(n >= 30, "delta vectors read: " + n);
    }
}
