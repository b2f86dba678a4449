package dev.sigil.verify.tests;

import dev.sigil.verify.Reason;
import dev.sigil.verify.RevocationDelta;
import dev.sigil.verify.RevocationFollower;
import dev.sigil.verify.RevocationFollower.Poll;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.RevocationStore.NoListPolicy;
import dev.sigil.verify.RevocationStore.StalePolicy;
import dev.sigil.verify.Verifier;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** RevocationFollower against a local issuer that long-polls like sigil-server. */
final class FollowerTests {
    private FollowerTests() {}

    static RevocationStore store(int maxBytes) {
        return new RevocationStore(Map.of("r1", World.PUB_R1), StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED, maxBytes,
                null);
    }

    static Reason reasonNow(Verifier v, String token) {
        return VerifierTests.reason(v, token, null, System.currentTimeMillis() / 1000);
    }

    static void testFollowerSeesARevokeWithinTwoSeconds() throws Exception {
        byte[] g = World.randomGuid();
        String token = World.tokenNow(g, 1);
        try (FakeIssuer issuer = new FakeIssuer()) {
            issuer.deltas = true;
            issuer.publish(World.list(1, 0), 1);
            RevocationStore store = store(RevocationList.DEFAULT_MAX_BYTES);
            Verifier v = World.verifier(store);
            Check.eq(Reason.REVOCATIONS_STALE, reasonNow(v, token), "fails closed until the first list");
            try (RevocationFollower follower = new RevocationFollower(URI.create(issuer.url), store, 5).start()) {
                Check.isTrue(World.waitUntil(() -> reasonNow(v, token) == null, 5000), "first list installed");
                Check.isTrue(World.waitUntil(() -> issuer.requests().size() >= 2, 5000), "holding a long poll");
                Thread.sleep(200);
                long revokedAt = System.nanoTime();
                issuer.publish(World.list(2, 0, g, 2), 2);
                Check.isTrue(World.waitUntil(() -> reasonNow(v, token) == Reason.REVOKED, 2000), "revoked within 2 s");
                Check.isTrue(System.nanoTime() - revokedAt < 2_000_000_000L, "within 2 s");
            }
            List<FakeIssuer.Request> r = issuer.requests();
            Check.eq(null, r.get(0).ifNoneMatch, "first poll has no ETag");
            Check.eq("/v1/revocations?wait=5", r.get(0).uri, "wait in the query, no since before a list");
            Check.eq("\"1\"", r.get(1).ifNoneMatch, "If-None-Match: the ETag of the list in force");
            Check.eq("/v1/revocations?since=1&wait=5", r.get(1).uri, "since: the sequence in force");
            Check.eq(1, issuer.deltasSent.get(), "the revoke came as a delta");
        }
    }

    static void testFollowerAsksWithSinceInstallsDeltasAndRecovers() throws Exception {
        try (FakeIssuer issuer = new FakeIssuer()) {
            issuer.deltas = true;
            RevocationStore store = store(RevocationList.DEFAULT_MAX_BYTES);
            RevocationFollower follower = new RevocationFollower(URI.create(issuer.url), store, 1);
            byte[] a = World.randomGuid();
            byte[] b = World.randomGuid();
            byte[] c = World.randomGuid();
            issuer.publish(World.list(1, 0, a, 1), 1);
            Check.eq(Poll.INSTALLED, follower.pollOnce(), "the first list");
            byte[] second = World.list(2, 0, a, 2, b, 2);
            issuer.publish(second, 2);
            Check.eq(Poll.INSTALLED, follower.pollOnce(), "list 2");
            Check.eq(1, issuer.deltasSent.get(), "list 2 came as a delta");
            Check.isTrue(java.util.Arrays.equals(second, store.list().bytes()), "the delta rebuilt list 2 exactly");
            Check.eq(RevocationStore.Check.REVOKED, store.check(a, 0, World.NOW), "a revoked");
            Check.eq(RevocationStore.Check.REVOKED, store.check(b, 0, World.NOW), "b revoked");
            Check.eq("\"2\"", follower.etag(), "ETag of list 2");
            String accept = RevocationList.MEDIA_TYPE + ", " + RevocationDelta.MEDIA_TYPE;
            List<FakeIssuer.Request> r = issuer.requests();
            Check.eq(List.of("/v1/revocations?wait=1", "/v1/revocations?since=1&wait=1"), List.of(r.get(0).uri, r.get(1).uri),
                    "since only once a list is in force");
            Check.eq(List.of(accept, accept), List.of(r.get(0).accept, r.get(1).accept), "Accept: both media types");

            // A delta that does not apply is refused; the next request asks without since, even though
            // the server keeps answering since with that delta.
            byte[] stranger = World.list(2, 0, a, 2, c, 2); // another list 2
            Object[][] bad = {
                {"malformed", (Function<byte[], byte[]>) next -> World.delta(stranger, next)}, // c is not in force
                {"delta_base_mismatch", (Function<byte[], byte[]>) next -> World.delta(World.list(7, 0), next)},
                {"bad_signature", (Function<byte[], byte[]>) next -> World.damageSignature(World.delta(store.list().bytes(), next))},
            };
            long sequence = 2;
            for (Object[] x : bad) {
                String what = (String) x[0];
                @SuppressWarnings("unchecked")
                Function<byte[], byte[]> build = (Function<byte[], byte[]>) x[1];
                RevocationList inForce = store.list();
                sequence++;
                byte[] next = World.list(sequence, 0, b, 1, World.randomGuid(), 2);
                issuer.forcedDelta = build.apply(next);
                issuer.publish(next, sequence);
                Check.eq(Poll.REFUSED, follower.pollOnce(), what + ": refused");
                Check.isTrue(store.list() == inForce, what + ": the list in force stays");
                Check.eq("\"" + (sequence - 1) + "\"", follower.etag(), what + ": the ETag stays");
                Check.isTrue(List.copyOf(Check.LOGS).stream().anyMatch(l -> l.contains("delta") && l.contains(what)), what + ": logged");
                Check.eq(Poll.INSTALLED, follower.pollOnce(), what + ": the whole list next");
                Check.isTrue(java.util.Arrays.equals(next, store.list().bytes()), what + ": current again");
                r = issuer.requests();
                Check.eq(List.of("/v1/revocations?since=" + (sequence - 1) + "&wait=1", "/v1/revocations?wait=1"),
                        List.of(r.get(r.size() - 2).uri, r.get(r.size() - 1).uri), what + ": since, then without");
            }

            // Recovered: since and deltas again.
            issuer.forcedDelta = null;
            int sent = issuer.deltasSent.get();
            byte[] last = World.list(sequence + 1, 0, c, 1);
            issuer.publish(last, sequence + 1);
            Check.eq(Poll.INSTALLED, follower.pollOnce(), "after recovery");
            Check.eq(sent + 1, issuer.deltasSent.get(), "a delta again");
            Check.isTrue(java.util.Arrays.equals(last, store.list().bytes()), "the last list");
            r = issuer.requests();
            Check.eq("/v1/revocations?since=" + sequence + "&wait=1", r.get(r.size() - 1).uri, "since again");
        }
    }

    static void testFollowerRefusesRollbackEquivocationAndForgery() throws Exception {
        try (FakeIssuer issuer = new FakeIssuer()) {
            RevocationStore store = store(RevocationList.DEFAULT_MAX_BYTES);
            RevocationFollower follower = new RevocationFollower(URI.create(issuer.url), store, 1);
            byte[] g = World.guid(5);
            issuer.publish(World.list(5, 0, g, 2), 5);
            Check.eq(Poll.INSTALLED, follower.pollOnce(), "first list");
            Check.eq(Poll.CURRENT, follower.pollOnce(), "304");
            RevocationList inForce = store.list();
            Object[][] bad = {
                {World.list(4, 0), 4L, "rollback"},
                {World.list(5, 0, g, 1), 6L, "equivocation served under another ETag"},
                {World.signedList(VectorTests.TEST_SEED, 9, 0), 9L, "signed by another key"},
                {World.damageSignature(World.list(10, 0)), 10L, "damaged signature"},
            };
            for (Object[] b : bad) {
                issuer.publish((byte[]) b[0], (Long) b[1]);
                Check.eq(Poll.REFUSED, follower.pollOnce(), (String) b[2]);
                Check.isTrue(store.list() == inForce, b[2] + ": the list in force stays");
                Check.eq(RevocationStore.Check.REVOKED, store.check(g, 0, World.NOW), b[2] + ": still revoked");
                Check.eq("\"5\"", follower.etag(), b[2] + ": a refused list does not move the ETag");
            }
            issuer.publish(World.list(11, 0), 11);
            Check.eq(Poll.INSTALLED, follower.pollOnce(), "a newer list");
            Check.eq(11L, store.list().sequence(), "in force");
        }
    }

    static void testFollowerBoundsSizeAndTime() throws Exception {
        try (FakeIssuer issuer = new FakeIssuer()) {
            RevocationStore store = store(4096);
            RevocationFollower follower = new RevocationFollower(URI.create(issuer.url), store, 1)
                    .timing(Duration.ofSeconds(1), Duration.ofSeconds(30), Duration.ofMillis(500));
            issuer.mode = FakeIssuer.Mode.DECLARE_HUGE;
            Check.eq(Poll.FAILED, follower.pollOnce(), "Content-Length past the limit");
            issuer.mode = FakeIssuer.Mode.STREAM_HUGE;
            Check.eq(Poll.FAILED, follower.pollOnce(), "a chunked body cut off past the limit");
            issuer.mode = FakeIssuer.Mode.STALL;
            long started = System.nanoTime();
            Check.eq(Poll.FAILED, follower.pollOnce(), "no answer within wait + slack");
            long took = (System.nanoTime() - started) / 1_000_000;
            Check.isTrue(took < 2500, "abandoned after wait + slack, took " + took + " ms");
            Check.eq(null, store.list(), "nothing installed");
        }
    }

    static void testFollowerBacksOffDoublingToACap() throws Exception {
        try (FakeIssuer issuer = new FakeIssuer()) {
            issuer.mode = FakeIssuer.Mode.ERROR;
            RevocationFollower follower = new RevocationFollower(URI.create(issuer.url), store(4096), 1)
                    .timing(Duration.ofMillis(100), Duration.ofMillis(400), Duration.ofSeconds(15)).start();
            try {
                Check.isTrue(World.waitUntil(() -> issuer.requests().size() >= 6, 5000), "six requests");
            } finally {
                follower.close();
            }
            List<FakeIssuer.Request> r = issuer.requests();
            long[] want = {100, 200, 400, 400, 400};
            for (int k = 0; k < want.length; k++) {
                long gap = (r.get(k + 1).nanos - r.get(k).nanos) / 1_000_000;
                Check.isTrue(gap >= want[k] * 9 / 10 && gap < want[k] + 300, "gap " + k + ": " + gap + " ms, want " + want[k]);
            }
        }
    }

    static void testFollowerTakesOnlyHttpUrls() {
        Check.raises(IllegalArgumentException.class,
                () -> new RevocationFollower(URI.create("file:///etc/passwd"), store(4096)));
        Check.raises(IllegalArgumentException.class,
                () -> new RevocationFollower(URI.create(issuerless()), store(4096)).timing(Duration.ofSeconds(2),
                        Duration.ofSeconds(1), Duration.ZERO));
    }

    private static String issuerless() {
        return "http://127.0.0.1:9/v1/revocations";
    }

    static void testCloseEndsALongPoll() throws Exception {
        try (FakeIssuer issuer = new FakeIssuer()) {
            issuer.publish(World.list(1, 0), 1);
            RevocationStore store = store(4096);
            RevocationFollower follower = new RevocationFollower(URI.create(issuer.url), store, 30).start();
            Check.isTrue(World.waitUntil(() -> issuer.requests().size() >= 2, 5000), "holding a 30 s long poll");
            long started = System.nanoTime();
            follower.close();
            Check.isTrue(System.nanoTime() - started < 2_000_000_000L, "close does not wait for the poll to end");
        }
    }
}
