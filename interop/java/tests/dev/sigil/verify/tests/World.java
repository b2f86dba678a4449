package dev.sigil.verify.tests;

import static dev.sigil.verify.tools.Fixtures.hex;

import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.Verifier;
import dev.sigil.verify.tools.Fixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** The keys of docs/FORMAT.md §6 (published test values) and helpers to mint with them. */
final class World {
    private World() {}

    static final byte[] K_BILLING = hex("7f05810a26078ef370c3e277a38ca4a8a97c12b6e7797b12fb8f18b63969a940");
    static final byte[] SEED_R1 = hex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
    static final byte[] PUB_R1 = hex("29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7");
    static final byte[] GUID = hex("0b0e5c6a2f4d4c1e9a535d3f1e2b7c90");
    static final byte[] OTHER = hex("7d4448409dc041b2a5d02f1c9e3b5a61");
    static final String EXAMPLE_TOKEN = "sgl_AQJrMQdiaWxsaW5nCw5cai9NTB6aU10_Hit8kAAAAABpVbkAAAAAAGs27IADAAIMZGV2aWNlcy5saXN0"
            + "DWludm9pY2VzLnJlYWRc1D-I36F1cesPo-N1ml0TucoPmNsDetaclNGR789aGg";
    static final long NOW = 1_780_000_000L;

    static String token(byte[] guid, int kind, String... scope) {
        return Fixtures.token("k1", K_BILLING, "billing", guid, NOW - 3600, NOW + 86_400, kind, List.of(scope));
    }

    /** A token of key k1 for billing, valid from a minute ago for an hour of real time. */
    static String tokenNow(byte[] guid, int kind, String... scope) {
        long now = System.currentTimeMillis() / 1000;
        return Fixtures.token("k1", K_BILLING, "billing", guid, now - 60, now + 3600, kind, List.of(scope));
    }

    /** A random GUID. */
    static byte[] randomGuid() {
        byte[] g = new byte[16];
        new java.security.SecureRandom().nextBytes(g);
        return g;
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    /** A bounded poll: true as soon as the condition holds, false after {@code millis}. */
    static boolean waitUntil(Condition c, long millis) throws Exception {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < deadline) {
            if (c.holds()) return true;
            Thread.sleep(20);
        }
        return c.holds();
    }

    /** Flips a bit of R, the signature's first half: always invalid. */
    static byte[] damageSignature(byte[] list) {
        byte[] out = list.clone();
        out[out.length - 64] ^= 1;
        return out;
    }

    static byte[] guid(int n) {
        byte[] g = new byte[16];
        g[0] = (byte) 0x10;
        g[15] = (byte) n;
        return g;
    }

    /** A list signed by r1; {@code entries} alternate GUID bytes and status, in any order. */
    static byte[] list(long sequence, long nextUpdate, Object... entries) {
        return signedList(SEED_R1, sequence, nextUpdate, entries);
    }

    /** As {@link #list}, signed with another seed under the key id r1. */
    static byte[] signedList(byte[] seed, long sequence, long nextUpdate, Object... entries) {
        List<Map.Entry<byte[], Integer>> e = new ArrayList<>();
        for (int k = 0; k < entries.length; k += 2) e.add(Map.entry((byte[]) entries[k], (Integer) entries[k + 1]));
        e.sort((a, b) -> Arrays.compareUnsigned(a.getKey(), b.getKey()));
        return Fixtures.list(seed, "r1", sequence, NOW - 60, nextUpdate, e);
    }

    /**
     * The delta (docs/FORMAT.md §4.3) from the signed list {@code from} to the signed list
     * {@code to}, as sigil-server builds it: every GUID whose status differs, in GUID order
     * (status 0: it leaves), then {@code to}'s own signature. It signs nothing.
     */
    static byte[] delta(byte[] from, byte[] to) {
        int fromKid = from[5];
        int toKid = to[5];
        int a = 6 + fromKid + 28;
        int aEnd = from.length - 64;
        int b = 6 + toKid + 28;
        int bEnd = to.length - 64;
        java.io.ByteArrayOutputStream changes = new java.io.ByteArrayOutputStream();
        int n = 0;
        while (a < aEnd || b < bEnd) {
            int order = a == aEnd ? 1 : b == bEnd ? -1 : Arrays.compareUnsigned(from, a, a + 16, to, b, b + 16);
            if (order < 0) {
                changes.write(from, a, 16);
                changes.write(0);
                a += 17;
                n++;
            } else if (order > 0) {
                changes.write(to, b, 17);
                b += 17;
                n++;
            } else {
                if (from[a + 16] != to[b + 16]) {
                    changes.write(to, b, 17);
                    n++;
                }
                a += 17;
                b += 17;
            }
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(new byte[] {'S', 'G', 'L', 'D', 1});
        out.write(to, 5, 1 + toKid); // the resulting list's key id
        out.write(from, 6 + fromKid, 8); // base_sequence
        out.write(to, 6 + toKid, 28); // sequence, issued_at, next_update, count
        out.writeBytes(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
        out.writeBytes(changes.toByteArray());
        out.write(to, to.length - 64, 64);
        return out.toByteArray();
    }

    static RevocationStore store(RevocationStore.StalePolicy stale, RevocationStore.NoListPolicy noList) {
        return new RevocationStore(Map.of("r1", PUB_R1), stale, noList, RevocationList.DEFAULT_MAX_BYTES, null);
    }

    static Verifier verifier(RevocationStore store) throws Exception {
        return new Verifier("billing", Map.of("k1", K_BILLING), Verifier.DEFAULT_LEEWAY, store);
    }

    static String keysetJson() {
        return "{\"format\":\"sigil-keyset-v1\",\"audience\":\"billing\",\"token_keys\":[{\"kid\":\"k1\",\"key\":\""
                + dev.sigil.verify.Base64Url.encode(K_BILLING) + "\"}],\"revocation_keys\":[{\"kid\":\"r1\",\"public_key\":\""
                + dev.sigil.verify.Base64Url.encode(PUB_R1) + "\"}]}";
    }

    private static final List<Path> TEMP_DIRS = java.util.Collections.synchronizedList(new ArrayList<>());

    static Path tempDir() throws Exception {
        Path dir = Files.createTempDirectory("sigil-java-test");
        TEMP_DIRS.add(dir);
        return dir;
    }

    /** Removes every folder {@link #tempDir} made (links are removed, never followed). */
    static void removeTempDirs() {
        synchronized (TEMP_DIRS) {
            for (Path dir : TEMP_DIRS) {
                try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
                    walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (java.io.IOException | RuntimeException e) {
                    // Best effort: a leftover temporary folder fails no test.
                }
            }
            TEMP_DIRS.clear();
        }
    }

    static Path write(Path dir, String name, byte[] bytes) throws Exception {
        Path tmp = dir.resolve(name + ".tmp");
        Files.write(tmp, bytes);
        return Files.move(tmp, dir.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    static Path writeKeyset(Path dir) throws Exception {
        return write(dir, "keyset.json", keysetJson().getBytes(StandardCharsets.UTF_8));
    }
}
