package dev.sigil.verify;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The revocation list in force for a service, swapped atomically while verifiers read it from
 * any thread (an {@link AtomicReference}: a reader sees the old list or the new one, never a
 * mix). A new list is parsed and its signature checked before the swap; installs are
 * serialised so the rollback and equivocation checks and the swap are one step. A revocation
 * delta (docs/FORMAT.md §4.3) is parsed first, then applied to the list in force and its result
 * verified under the install lock, so the base it was checked against is the list it replaces.
 * A refused list or delta changes nothing.
 *
 * <pre>{@code
 * RevocationStore store = new RevocationStore(keyset.revocationKeys(), RevocationStore.NoListPolicy.FAIL_CLOSED);
 * store.load(Path.of("/etc/billing/revocations.sgl"));
 * }</pre>
 */
public final class RevocationStore {
    /** What to do when the list in force is past its {@code next_update}. */
    public enum StalePolicy {
        /** Keep using the list and report it once to the listener (the default of FORMAT.md). */
        KEEP_SERVING,
        /** Refuse every token with {@code revocations_stale} until a fresher list is loaded. */
        FAIL_CLOSED
    }

    /** What to do before the first list is loaded. There is no default: a service says which. */
    public enum NoListPolicy {
        /** Accept tokens whose MAC and window check out, as if nothing were revoked. */
        FAIL_OPEN,
        /** Refuse every token with {@code revocations_stale} until the first list is loaded. */
        FAIL_CLOSED
    }

    /** What a lookup found. */
    public enum Check {
        CLEAR,
        DEACTIVATED,
        REVOKED,
        /** Stale and failing closed, or no list yet and failing closed. */
        STALE
    }

    /** What one load did. */
    public enum Loaded {
        /** The list is now in force. */
        INSTALLED,
        /** The same list (sequence and bytes) as the one in force. */
        UNCHANGED
    }

    /** Told about loads, refusals and the first sight of staleness; logs by default. */
    public interface Listener {
        default void installed(RevocationList list) {}

        default void unchanged(RevocationList list) {}

        default void refused(RevocationListException error) {}

        default void stale(long sequence, long nextUpdate) {}
    }

    /** A listener that logs sequences and reason codes through {@link System.Logger}. */
    public static final Listener LOGGING = new Listener() {
        private final System.Logger log = System.getLogger("dev.sigil.verify");

        @Override
        public void installed(RevocationList list) {
            log.log(System.Logger.Level.INFO, "revocations installed: sequence {0}, {1} entries",
                    Long.toUnsignedString(list.sequence()), list.count());
        }

        @Override
        public void refused(RevocationListException error) {
            log.log(System.Logger.Level.WARNING, "revocations refused (the list in force stays): {0}", error.getMessage());
        }

        @Override
        public void stale(long sequence, long nextUpdate) {
            log.log(System.Logger.Level.WARNING, "revocation list {0} is past its next_update {1}",
                    Long.toUnsignedString(sequence), nextUpdate);
        }
    };

    private final Map<String, byte[]> keys;
    private final StalePolicy stalePolicy;
    private final NoListPolicy noListPolicy;
    private final int maxBytes;
    private final Listener listener;
    private final AtomicReference<RevocationList> current = new AtomicReference<>();
    private final AtomicBoolean staleReported = new AtomicBoolean();
    private final Object installLock = new Object();

    /**
     * @param keys Ed25519 public keys by key id ({@link Keyset#revocationKeys()})
     * @param stalePolicy what a stale list does
     * @param noListPolicy what happens before the first list
     * @param maxBytes the size limit for a list ({@link RevocationList#DEFAULT_MAX_BYTES})
     * @param listener told about loads and refusals; {@link #LOGGING} logs them
     */
    public RevocationStore(Map<String, byte[]> keys, StalePolicy stalePolicy, NoListPolicy noListPolicy,
            int maxBytes, Listener listener) {
        this(keys, stalePolicy, noListPolicy, maxBytes, listener, null);
    }

    /**
     * A store with {@code initial} in force until the first load (null: none). {@code initial} was
     * verified already ({@link RevocationList#verify}) and must have been verified under this
     * store's key for its key id; it is not checked against {@code maxBytes}, which bounds what is
     * loaded later (as in FORMAT.md §4.3, where the list in force is not re-checked against it).
     *
     * @throws IllegalArgumentException {@code initial} was verified under another key
     */
    public RevocationStore(Map<String, byte[]> keys, StalePolicy stalePolicy, NoListPolicy noListPolicy,
            int maxBytes, Listener listener, RevocationList initial) {
        if (stalePolicy == null || noListPolicy == null) throw new IllegalArgumentException("policies are required");
        if (maxBytes < 0) throw new IllegalArgumentException("maxBytes must be >= 0");
        this.keys = new LinkedHashMap<>();
        keys.forEach((k, v) -> this.keys.put(k, v.clone()));
        this.stalePolicy = stalePolicy;
        this.noListPolicy = noListPolicy;
        this.maxBytes = maxBytes;
        this.listener = listener == null ? new Listener() {} : listener;
        if (initial != null) {
            byte[] key = this.keys.get(initial.keyId());
            if (key == null || !initial.wasVerifiedWith(key)) {
                throw new IllegalArgumentException("the initial list was not verified under this store's key " + initial.keyId());
            }
            current.set(initial);
        }
    }

    /** A store with the 64 MiB limit that logs through {@link #LOGGING}. */
    public RevocationStore(Map<String, byte[]> keys, StalePolicy stalePolicy, NoListPolicy noListPolicy) {
        this(keys, stalePolicy, noListPolicy, RevocationList.DEFAULT_MAX_BYTES, LOGGING);
    }

    /**
     * A store that keeps serving a stale list (reporting it once), with the 64 MiB limit, logging
     * through {@link #LOGGING}; {@code noListPolicy} says what happens before the first list.
     */
    public RevocationStore(Map<String, byte[]> keys, NoListPolicy noListPolicy) {
        this(keys, StalePolicy.KEEP_SERVING, noListPolicy);
    }

    /** The list in force, or null before the first load. */
    public RevocationList list() {
        return current.get();
    }

    public int maxBytes() {
        return maxBytes;
    }

    /** What the list in force says about the GUID at {@code guid[offset..offset+16)} at {@code now}. */
    public Check check(byte[] guid, int offset, long now) {
        RevocationList list = current.get();
        if (list == null) return noListPolicy == NoListPolicy.FAIL_CLOSED ? Check.STALE : Check.CLEAR;
        if (list.isStale(now)) {
            if (stalePolicy == StalePolicy.FAIL_CLOSED) return Check.STALE;
            if (!staleReported.get() && staleReported.compareAndSet(false, true)) {
                listener.stale(list.sequence(), list.nextUpdate());
            }
        }
        RevocationList.Status status = list.status(guid, offset);
        if (status == null) return Check.CLEAR;
        return status == RevocationList.Status.REVOKED ? Check.REVOKED : Check.DEACTIVATED;
    }

    /** Whether the store would refuse tokens as stale at {@code now} (for health checks). */
    public boolean refusesAsStale(long now) {
        RevocationList list = current.get();
        if (list == null) return noListPolicy == NoListPolicy.FAIL_CLOSED;
        return stalePolicy == StalePolicy.FAIL_CLOSED && list.isStale(now);
    }

    /**
     * Verifies {@code bytes} (docs/FORMAT.md §4.2: size, format, key, signature), then refuses a
     * lower sequence than the list in force ({@code rollback}) or the same sequence with other
     * bytes ({@code equivocation}), and otherwise makes it the list in force.
     *
     * <p>{@code bytes} may also be a revocation delta ({@code SGLD}, §4.3): it is applied to the
     * list in force under the install lock and the list it makes goes through the same checks; a
     * delta for another list than the one in force is refused with {@code delta_base_mismatch}.
     *
     * @throws RevocationListException the refusal; the list in force stays
     */
    public Loaded load(byte[] bytes) throws RevocationListException {
        if (RevocationDelta.isDelta(bytes)) {
            RevocationDelta delta;
            try {
                delta = RevocationDelta.parse(bytes, maxBytes);
            } catch (RevocationListException e) {
                listener.refused(e);
                throw e;
            }
            return install(held -> delta.apply(held, keys, maxBytes));
        }
        RevocationList candidate;
        try {
            candidate = RevocationList.verify(bytes, keys, maxBytes);
        } catch (RevocationListException e) {
            listener.refused(e);
            throw e;
        }
        return install(held -> candidate);
    }

    /**
     * Installs a list already verified by {@link RevocationList#verify}, so one signature check
     * can serve several stores. The rollback and equivocation checks apply as for bytes; a list
     * verified under another key than this store holds for its key id, or larger than this
     * store's limit, is checked again from its bytes.
     *
     * @throws RevocationListException the refusal; the list in force stays
     */
    public Loaded load(RevocationList list) throws RevocationListException {
        byte[] key = keys.get(list.keyId());
        if (key == null || !list.wasVerifiedWith(key) || list.byteCount() > maxBytes) return load(list.bytes());
        return install(held -> list);
    }

    /** Makes the candidate list from the list in force (null: none), under the install lock. */
    private interface Candidate {
        RevocationList from(RevocationList held) throws RevocationListException;
    }

    private Loaded install(Candidate make) throws RevocationListException {
        RevocationListException refusal = null;
        Loaded loaded = null;
        RevocationList candidate = null;
        synchronized (installLock) {
            RevocationList held = current.get();
            try {
                candidate = make.from(held); // a delta is applied to `held` here, under the lock
            } catch (RevocationListException e) {
                refusal = e;
            }
            int c = candidate == null ? 0 : held == null ? 1 : Long.compareUnsigned(candidate.sequence(), held.sequence());
            if (candidate != null && c < 0) {
                refusal = new RevocationListException(RevocationListException.Reason.ROLLBACK,
                        "sequence " + Long.toUnsignedString(candidate.sequence()) + " < "
                                + Long.toUnsignedString(held.sequence()) + " in force");
            } else if (candidate != null && c == 0) {
                if (candidate.hasSameBytes(held)) loaded = Loaded.UNCHANGED;
                else refusal = new RevocationListException(RevocationListException.Reason.EQUIVOCATION,
                        "same sequence " + Long.toUnsignedString(candidate.sequence()) + ", other bytes");
            } else if (candidate != null) {
                current.set(candidate);
                staleReported.set(false);
                loaded = Loaded.INSTALLED;
            }
        }
        if (refusal != null) {
            listener.refused(refusal);
            throw refusal;
        }
        if (loaded == Loaded.INSTALLED) listener.installed(candidate);
        else listener.unchanged(candidate);
        return loaded;
    }

    /** Reads {@code path} (bounded by the size limit) and loads it; see {@link #load(byte[])}. */
    public Loaded load(Path path) throws RevocationListException {
        byte[] bytes;
        try {
            bytes = readBounded(path, maxBytes);
        } catch (RevocationListException e) {
            listener.refused(e);
            throw e;
        }
        return load(bytes);
    }

    /** Tells the listener about a list refused before it reached {@link #load(byte[])}. */
    void listenerRefused(RevocationListException error) {
        listener.refused(error);
    }

    static byte[] readBounded(Path path, int maxBytes, OpenOption... options) throws RevocationListException {
        try (InputStream in = Files.newInputStream(path, options)) {
            byte[] bytes = in.readNBytes(maxBytes + 1 > 0 ? maxBytes + 1 : Integer.MAX_VALUE - 8);
            if (bytes.length > maxBytes) {
                throw new RevocationListException(RevocationListException.Reason.TOO_LARGE,
                        "the file goes past " + maxBytes + " bytes");
            }
            return bytes;
        } catch (IOException e) {
            throw new RevocationListException(RevocationListException.Reason.IO,
                    "cannot read " + path + ": " + e.getClass().getSimpleName());
        }
    }
}
