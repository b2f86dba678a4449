package dev.sigil.verify.tests;

import dev.sigil.verify.Reason;
import dev.sigil.verify.RevocationFileWatcher;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationListException;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.RevocationStore.NoListPolicy;
import dev.sigil.verify.RevocationStore.StalePolicy;
import dev.sigil.verify.VerificationException;
import dev.sigil.verify.Verifier;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/** Revocation store state: rollback, equivocation, staleness, no-list policy, swaps under load, files. */
final class StoreTests {
    private StoreTests() {}

    static RevocationListException.Reason refusal(RevocationStore store, byte[] list) {
        return Check.raises(RevocationListException.class, () -> store.load(list)).reason();
    }

    static void testRollbackAndEquivocationAreRefused() throws Exception {
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_OPEN);
        byte[] five = World.list(5, 0, World.GUID, 2);
        Check.eq(RevocationStore.Loaded.INSTALLED, store.load(five), "first list");
        Check.eq(RevocationStore.Loaded.UNCHANGED, store.load(five.clone()), "same bytes again");
        Check.eq(RevocationListException.Reason.ROLLBACK, refusal(store, World.list(4, 0)), "lower sequence");
        // An equivocating list that un-revokes the token is refused and the revocation stays.
        Check.eq(RevocationListException.Reason.EQUIVOCATION, refusal(store, World.list(5, 0)), "same sequence, other bytes");
        Check.eq(5L, store.list().sequence(), "list in force");
        Check.eq(Reason.REVOKED, VerifierTests.reason(World.verifier(store), World.EXAMPLE_TOKEN, null, World.NOW), "still revoked");
        Check.eq(RevocationStore.Loaded.INSTALLED, store.load(World.list(6, 0)), "higher sequence");
        Check.eq(null, VerifierTests.reason(World.verifier(store), World.EXAMPLE_TOKEN, null, World.NOW), "un-revoked by #6");
        // Sequences are unsigned: 2^63 is above 6.
        Check.eq(RevocationStore.Loaded.INSTALLED, store.load(World.list(Long.MIN_VALUE, 0)), "sequence 2^63");
        Check.eq(RevocationListException.Reason.ROLLBACK, refusal(store, World.list(7, 0)), "7 < 2^63");
    }

    static void testForgedListsChangeNothing() throws Exception {
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_OPEN);
        store.load(World.list(5, 0, World.GUID, 2));
        byte[] forged = World.list(9, 0);
        forged[forged.length - 1] ^= 1;
        Check.eq(RevocationListException.Reason.BAD_SIGNATURE, refusal(store, forged), "forged");
        byte[] other = dev.sigil.verify.tools.Fixtures.list(VectorTests.TEST_SEED, "r1", 9, 0, 0, List.of());
        Check.eq(RevocationListException.Reason.BAD_SIGNATURE, refusal(store, other), "another signer under r1's id");
        Check.eq(5L, store.list().sequence(), "list in force");
        RevocationStore small = new RevocationStore(Map.of("r1", World.PUB_R1), StalePolicy.KEEP_SERVING,
                NoListPolicy.FAIL_OPEN, 100, null);
        Check.eq(RevocationListException.Reason.TOO_LARGE, refusal(small, World.list(1, 0, World.GUID, 2, World.OTHER, 1)), "size");
    }

    static void testStalenessPolicies() throws Exception {
        long next = World.NOW + 10;
        String token = World.token(World.guid(1), 1);
        AtomicInteger staleEvents = new AtomicInteger();
        RevocationStore keep = new RevocationStore(Map.of("r1", World.PUB_R1), StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_OPEN,
                RevocationList.DEFAULT_MAX_BYTES, new RevocationStore.Listener() {
                    @Override
                    public void stale(long sequence, long nextUpdate) {
                        staleEvents.incrementAndGet();
                    }
                });
        keep.load(World.list(1, next));
        Verifier v = World.verifier(keep);
        Check.eq(null, VerifierTests.reason(v, token, null, next - 1), "fresh");
        Check.eq(null, VerifierTests.reason(v, token, null, next), "stale, kept serving");
        VerifierTests.reason(v, token, null, next + 1);
        Check.eq(1, staleEvents.get(), "staleness reported once");

        RevocationStore closed = World.store(StalePolicy.FAIL_CLOSED, NoListPolicy.FAIL_OPEN);
        closed.load(World.list(1, next));
        Verifier c = World.verifier(closed);
        Check.eq(null, VerifierTests.reason(c, token, null, next - 1), "fresh, fail-closed");
        Check.eq(Reason.REVOCATIONS_STALE, VerifierTests.reason(c, token, null, next), "stale at next_update");
        Check.isTrue(closed.refusesAsStale(next), "reported for health checks");
        closed.load(World.list(2, next + 100));
        Check.eq(null, VerifierTests.reason(c, token, null, next), "a fresher list ends it");
        // Staleness is checked after the MAC: a forged token is still bad_signature.
        Check.eq(Reason.BAD_SIGNATURE, VerifierTests.reason(c, token.substring(0, token.length() - 2) + "AA", null, next + 200),
                "forged while stale");
    }

    static void testNoListPolicies() throws Exception {
        String token = World.token(World.guid(1), 1);
        Check.eq(null, VerifierTests.reason(World.verifier(World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_OPEN)),
                token, null, World.NOW), "fail open");
        RevocationStore closed = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        Check.eq(Reason.REVOCATIONS_STALE, VerifierTests.reason(World.verifier(closed), token, null, World.NOW), "fail closed");
        closed.load(World.list(1, 0));
        Check.eq(null, VerifierTests.reason(World.verifier(closed), token, null, World.NOW), "first list loaded");
    }

    /** Readers on 4 threads while lists are swapped: each sees the old or the new list, never an error. */
    static void testSwapUnderConcurrentVerifies() throws Exception {
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        Verifier v = World.verifier(store);
        byte[] g = World.guid(77);
        String token = World.token(g, 1);
        List<byte[]> lists = new ArrayList<>();
        for (int k = 1; k <= 60; k++) lists.add(k % 2 == 0 ? World.list(k, 0, g, 2) : World.list(k, 0, g, 1));
        store.load(lists.get(0));
        AtomicInteger wrong = new AtomicInteger();
        AtomicInteger seen = new AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        List<Thread> readers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread r = new Thread(() -> {
                while (!done.get()) {
                    try {
                        v.verify(token, null, World.NOW);
                        wrong.incrementAndGet();
                    } catch (VerificationException e) {
                        if (e.reason() != Reason.REVOKED && e.reason() != Reason.DEACTIVATED) wrong.incrementAndGet();
                        seen.incrementAndGet();
                    }
                }
            });
            r.start();
            readers.add(r);
        }
        for (byte[] list : lists.subList(1, lists.size())) store.load(list);
        done.set(true);
        for (Thread r : readers) r.join();
        Check.eq(0, wrong.get(), "every read saw a whole list");
        Check.isTrue(seen.get() > 0, "readers ran");
        Check.eq(60L, store.list().sequence(), "last list in force");
    }

    static void testFileLoadAndWatcher() throws Exception {
        Path dir = World.tempDir();
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        Path file = dir.resolve("revocations.sgl");
        Check.eq(RevocationListException.Reason.IO, Check.raises(RevocationListException.class, () -> store.load(file)).reason(),
                "missing file");
        RevocationFileWatcher watcher = new RevocationFileWatcher(file, store, Duration.ofMillis(20));
        Check.isTrue(!watcher.checkOnce(), "no file yet");
        World.write(dir, "revocations.sgl", World.list(3, 0));
        Check.isTrue(watcher.checkOnce(), "file appeared");
        Check.eq(3L, store.list().sequence(), "loaded");
        Check.isTrue(!watcher.checkOnce(), "unchanged file is not read again");
        World.write(dir, "revocations.sgl", World.list(2, 0, World.GUID, 2));
        watcher.checkOnce();
        Check.eq(3L, store.list().sequence(), "rollback through the file refused");
        World.write(dir, "revocations.sgl", World.list(4, 0, World.GUID, 2));
        RevocationFileWatcher running = new RevocationFileWatcher(file, store, Duration.ofMillis(20)).start();
        try {
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (store.list().sequence() != 4L && System.nanoTime() < deadline) Thread.sleep(10);
        } finally {
            running.close();
        }
        Check.eq(4L, store.list().sequence(), "watcher thread installed #4");
        RevocationStore small = new RevocationStore(Map.of("r1", World.PUB_R1), StalePolicy.KEEP_SERVING,
                NoListPolicy.FAIL_OPEN, 50, null);
        Check.eq(RevocationListException.Reason.TOO_LARGE,
                Check.raises(RevocationListException.class, () -> small.load(file)).reason(), "bounded file read");
    }

    static void testWatcherDoesNotFollowSymlinksOrReadFifos() throws Exception {
        Path dir = World.tempDir();
        Path real = World.write(dir, "real.sgl", World.list(3, 0));
        Path link = dir.resolve("link.sgl");
        java.nio.file.Files.createSymbolicLink(link, real);
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        List<RevocationListException.Reason> refused = new ArrayList<>();
        RevocationStore listening = new RevocationStore(Map.of("r1", World.PUB_R1), StalePolicy.KEEP_SERVING,
                NoListPolicy.FAIL_CLOSED, RevocationList.DEFAULT_MAX_BYTES, new RevocationStore.Listener() {
                    @Override
                    public void refused(RevocationListException error) {
                        refused.add(error.reason());
                    }
                });
        Check.isTrue(new RevocationFileWatcher(link, listening, Duration.ofMillis(20)).checkOnce(), "the link was looked at");
        Check.eq(null, listening.list(), "a symlink is not followed");
        Check.eq(List.of(RevocationListException.Reason.IO), refused, "reported as io");
        Path fifo = dir.resolve("fifo.sgl");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        if (mk.waitFor() == 0) {
            long started = System.nanoTime();
            new RevocationFileWatcher(fifo, store, Duration.ofMillis(20)).checkOnce();
            Check.isTrue(System.nanoTime() - started < 1_000_000_000L, "a FIFO is not opened (it would block)");
            Check.eq(null, store.list(), "nothing from a FIFO");
        }
        RevocationFileWatcher direct = new RevocationFileWatcher(real, store, Duration.ofMillis(20));
        Check.isTrue(direct.checkOnce(), "the real file");
        Check.eq(3L, store.list().sequence(), "loaded");
        // Links before the last component are followed: a ConfigMap's ..data/revocations.sgl.
        Path version = java.nio.file.Files.createDirectory(dir.resolve("..2026"));
        World.write(version, "revocations.sgl", World.list(5, 0));
        java.nio.file.Files.createSymbolicLink(dir.resolve("..data"), version.getFileName());
        Check.isTrue(new RevocationFileWatcher(dir.resolve("..data/revocations.sgl"), store, Duration.ofMillis(20)).checkOnce(),
                "through ..data");
        Check.eq(5L, store.list().sequence(), "loaded through a linked directory");
    }

    static void testOneVerifiedListServesSeveralStores() throws Exception {
        RevocationList list = RevocationList.verify(World.list(4, 0, World.GUID, 2), Map.of("r1", World.PUB_R1),
                RevocationList.DEFAULT_MAX_BYTES);
        RevocationStore a = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        Check.eq(RevocationStore.Loaded.INSTALLED, a.load(list), "installed without a second check");
        Check.eq(RevocationStore.Loaded.UNCHANGED, a.load(list), "same list");
        Check.eq(RevocationListException.Reason.EQUIVOCATION, refusal(a, World.list(4, 0)), "still guarded");
        RevocationStore other = new RevocationStore(Map.of("r1", dev.sigil.verify.tools.Fixtures.publicKey(VectorTests.TEST_SEED)),
                StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED, RevocationList.DEFAULT_MAX_BYTES, null);
        Check.eq(RevocationListException.Reason.BAD_SIGNATURE,
                Check.raises(RevocationListException.class, () -> other.load(list)).reason(), "checked again under another key");
        RevocationStore none = new RevocationStore(Map.of(), StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED,
                RevocationList.DEFAULT_MAX_BYTES, null);
        Check.eq(RevocationListException.Reason.UNKNOWN_KEY,
                Check.raises(RevocationListException.class, () -> none.load(list)).reason(), "no key r1");
    }

    static void testDeltasFromBytesAndFilesAndRacingOffers() throws Exception {
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        List<Object> entries = new ArrayList<>();
        for (int k = 0; k < 200; k++) {
            entries.add(World.randomGuid());
            entries.add(1 + k % 2);
        }
        byte[] first = World.list(1, 0, entries.toArray());
        Check.eq(RevocationListException.Reason.DELTA_BASE_MISMATCH, refusal(store, World.delta(first, World.list(2, 0))),
                "no list in force");
        store.load(first);
        byte[] added = World.randomGuid();
        List<Object> changed = new ArrayList<>(entries);
        changed.set(1, 2); // entries[0] is revoked now
        changed.remove(2); // entries[1] leaves
        changed.remove(2);
        changed.add(added);
        changed.add(2);
        byte[] second = World.list(2, 0, changed.toArray());
        Path file = World.write(World.tempDir(), "delta.sgld", World.delta(first, second));
        Check.eq(RevocationStore.Loaded.INSTALLED, store.load(file), "a delta from a file");
        Check.isTrue(java.util.Arrays.equals(second, store.list().bytes()), "the delta rebuilt list 2 exactly");
        Check.eq(RevocationStore.Check.REVOKED, store.check((byte[]) entries.get(0), 0, World.NOW), "entries[0] revoked");
        Check.eq(RevocationStore.Check.CLEAR, store.check((byte[]) entries.get(2), 0, World.NOW), "entries[1] left");
        Check.eq(RevocationStore.Check.REVOKED, store.check(added, 0, World.NOW), "added");
        Check.eq(RevocationListException.Reason.DELTA_BASE_MISMATCH,
                Check.raises(RevocationListException.class, () -> store.load(file)).reason(), "the same delta again");

        // The base is checked under the install lock: one offer applies, the others find list 3.
        byte[] delta = World.delta(second, World.list(3, 0, changed.subList(2, changed.size()).toArray()));
        AtomicInteger installed = new AtomicInteger();
        AtomicInteger mismatched = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int k = 0; k < 8; k++) {
            Thread t = new Thread(() -> {
                try {
                    if (store.load(delta) == RevocationStore.Loaded.INSTALLED) installed.incrementAndGet();
                } catch (RevocationListException e) {
                    if (e.reason() == RevocationListException.Reason.DELTA_BASE_MISMATCH) mismatched.incrementAndGet();
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) t.join();
        Check.eq(List.of(1, 7), List.of(installed.get(), mismatched.get()), "installed once, the others mismatched");
        Check.eq(3L, store.list().sequence(), "list 3 in force");

        // A store may start from a list verified already; its limit bounds only what comes later.
        RevocationList big = RevocationList.verify(first, Map.of("r1", World.PUB_R1), RevocationList.DEFAULT_MAX_BYTES);
        RevocationStore seeded = new RevocationStore(Map.of("r1", World.PUB_R1), StalePolicy.KEEP_SERVING,
                NoListPolicy.FAIL_CLOSED, 3000, null, big);
        Check.isTrue(seeded.list() == big && first.length > 3000, "the initial list (3,500 bytes) is in force");
        byte[] half = World.list(2, 0, entries.subList(200, 400).toArray());
        Check.eq(RevocationStore.Loaded.INSTALLED, seeded.load(World.delta(first, half)), "a result within the limit");
        RevocationList foreign = RevocationList.verify(dev.sigil.verify.tools.Fixtures.list(VectorTests.TEST_SEED, "r1", 1, 0, 0,
                List.of()), Map.of("r1", dev.sigil.verify.tools.Fixtures.publicKey(VectorTests.TEST_SEED)), 4096);
        Check.raises(IllegalArgumentException.class, () -> new RevocationStore(Map.of("r1", World.PUB_R1),
                StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED, 4096, null, foreign));
    }
}
