package dev.sigil.verify.tools;

import dev.sigil.verify.Permission;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.Verifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Prints one JSON line: ns per verify of a valid token against a list of 10,000 revoked GUIDs,
 * ns per bare HMAC-SHA256 (a keyed JDK Mac) over the same body bytes, and their ratio.
 */
public final class Bench {
    private Bench() {}

    public static void main(String[] args) throws Exception {
        Random random = new Random(23);
        byte[] key = new byte[32];
        random.nextBytes(key);
        byte[] seed = new byte[32];
        random.nextBytes(seed);
        List<byte[]> guids = new ArrayList<>();
        for (int k = 0; k < 10_000; k++) {
            byte[] g = new byte[16];
            random.nextBytes(g);
            guids.add(g);
        }
        guids.sort(Arrays::compareUnsigned);
        List<Map.Entry<byte[], Integer>> entries = new ArrayList<>();
        for (byte[] g : guids) entries.add(Map.entry(g, 2));
        long now = 1_780_000_000L;
        byte[] list = Fixtures.list(seed, "r1", 1, now, 0, entries);
        RevocationStore store = new RevocationStore(Map.of("r1", Fixtures.publicKey(seed)),
                RevocationStore.StalePolicy.KEEP_SERVING, RevocationStore.NoListPolicy.FAIL_CLOSED,
                RevocationList.DEFAULT_MAX_BYTES, null);
        store.load(list);
        byte[] guid = new byte[16];
        random.nextBytes(guid);
        String token = Fixtures.token("k1", key, "billing", guid, now - 3600, now + 86_400, 3,
                List.of("devices.list", "invoices.read"));
        Verifier verifier = new Verifier("billing", Map.of("k1", key), Verifier.DEFAULT_LEEWAY, store);
        Permission permission = Permission.of("invoices.read", Permission.Access.READ);
        byte[] decoded = Base64.getUrlDecoder().decode(token.substring(4));
        byte[] body = Arrays.copyOf(decoded, decoded.length - 32);
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        byte[] out = new byte[32];

        int n = 200_000;
        long sink = 0;
        double bestVerify = Double.MAX_VALUE;
        double bestHmac = Double.MAX_VALUE;
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime();
            for (int k = 0; k < n; k++) sink += verifier.verify(token, permission, now).validFrom();
            long t1 = System.nanoTime();
            for (int k = 0; k < n; k++) {
                mac.update(body, 0, body.length);
                mac.doFinal(out, 0);
                sink += out[0];
            }
            long t2 = System.nanoTime();
            // The first rounds warm the JIT up; the best later round is reported.
            if (round >= 2) {
                bestVerify = Math.min(bestVerify, (double) (t1 - t0) / n);
                bestHmac = Math.min(bestHmac, (double) (t2 - t1) / n);
            }
        }
        if (sink == 42) System.err.println();
        System.out.printf("{\"language\":\"java\",\"verify_ns\":%.0f,\"hmac_ns\":%.0f,\"ratio\":%.2f}%n", bestVerify,
                bestHmac, bestVerify / bestHmac);
    }
}
