package dev.sigil.verify.tools;

import dev.sigil.verify.Permission;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.VerificationException;
import dev.sigil.verify.Verifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.crypto.Mac;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;

/**
 * Prints one JSON line: ns per verify of a valid token against a list of 10,000 revoked GUIDs,
 * ns per bare HMAC-SHA256 (a keyed JDK Mac) over the same body bytes, and their ratio.
 *
 * <pre>
 * bench [--seconds S]
 * </pre>
 */
public final class Bench {
    private Bench() {}

    private static long sink;

    // One loop per measurement, no shared call site: a loop calling two lambdas through one
    // Runnable would be compiled for whichever ran first and be deoptimised by the other.
    private static long timeVerify(Verifier verifier, String token, Permission permission, long now, long n)
            throws VerificationException {
        long t0 = System.nanoTime();
        for (long k = 0; k < n; k++) sink += verifier.verify(token, permission, now).validFrom();
        return System.nanoTime() - t0;
    }

    private static long timeHmac(Mac mac, byte[] body, byte[] out, long n) throws ShortBufferException {
        long t0 = System.nanoTime();
        for (long k = 0; k < n; k++) {
            mac.update(body, 0, body.length);
            mac.doFinal(out, 0);
            sink += out[0];
        }
        return System.nanoTime() - t0;
    }

    public static void main(String[] args) throws Exception {
        double seconds = 2;
        if (args.length == 2 && args[0].equals("--seconds")) {
            seconds = Double.parseDouble(args[1]);
        } else if (args.length != 0) {
            System.err.println("usage: bench [--seconds S]   (time per measurement, default 2)");
            System.exit(64);
        }
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

        // Warm the JIT up on both loops, calibrate, then take the best of fifteen rounds of each,
        // interleaved, each about seconds / 30 long: on a busy machine the best round is the
        // one that had a core to itself.
        long warmUntil = System.nanoTime() + (long) (Math.min(1.0, seconds / 2) * 1e9);
        while (System.nanoTime() < warmUntil) {
            timeVerify(verifier, token, permission, now, 10_000);
            timeHmac(mac, body, out, 10_000);
        }
        long n = 1000;
        while (true) {
            long took = timeVerify(verifier, token, permission, now, n) + timeHmac(mac, body, out, n);
            if (took > 50_000_000L) {
                n = Math.max(1000, (long) (n * seconds / 30 / (took / 2 / 1e9)));
                break;
            }
            n *= 2;
        }
        double bestVerify = Double.MAX_VALUE;
        double bestHmac = Double.MAX_VALUE;
        for (int round = 0; round < 15; round++) {
            bestVerify = Math.min(bestVerify, (double) timeVerify(verifier, token, permission, now, n) / n);
            bestHmac = Math.min(bestHmac, (double) timeHmac(mac, body, out, n) / n);
        }
        if (sink == 42) System.err.println();
        System.out.printf("{\"language\":\"java\",\"verify_ns\":%.0f,\"hmac_ns\":%.0f,\"ratio\":%.2f}%n", bestVerify,
                bestHmac, bestVerify / bestHmac);
    }
}
