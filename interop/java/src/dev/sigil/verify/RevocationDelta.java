package dev.sigil.verify;

import static dev.sigil.verify.RevocationListException.Reason.DELTA_BASE_MISMATCH;
import static dev.sigil.verify.RevocationListException.Reason.MALFORMED;
import static dev.sigil.verify.RevocationListException.Reason.TOO_LARGE;
import static dev.sigil.verify.RevocationListException.Reason.UNSUPPORTED_VERSION;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A revocation delta v1 (docs/FORMAT.md §4.3): the changes that turn the signed list
 * {@link #baseSequence()} into the signed list {@link #sequence()}. A delta has no signature of
 * its own; it carries the resulting list's, so {@link #apply} rebuilds that list's exact bytes and
 * verifies them as a full list: a delta is trusted exactly as far as the list it makes.
 *
 * <pre>{@code
 * RevocationDelta delta = RevocationDelta.parse(downloaded, RevocationList.DEFAULT_MAX_BYTES);
 * RevocationList next = delta.apply(store.list(), keyset.revocationKeys(), RevocationList.DEFAULT_MAX_BYTES);
 * }</pre>
 *
 * {@link RevocationStore#load(byte[])} does both against the list in force, under its install lock.
 */
public final class RevocationDelta {
    /** The HTTP media type sigil-server answers a delta with. */
    public static final String MEDIA_TYPE = "application/vnd.sigil.revocation-delta";

    /** One change: the GUID's status in the resulting list, or a null status when it leaves the list. */
    public record Change(String guid, RevocationList.Status status) {}

    private final byte[] bytes;
    private final String keyId;
    private final long baseSequence;
    private final long sequence;
    private final long issuedAt;
    private final long nextUpdate;
    private final long count;
    private final int changeCount;
    private final int changesOffset;

    private RevocationDelta(byte[] bytes, String keyId, long baseSequence, long sequence, long issuedAt, long nextUpdate,
            long count, int changeCount, int changesOffset) {
        this.bytes = bytes;
        this.keyId = keyId;
        this.baseSequence = baseSequence;
        this.sequence = sequence;
        this.issuedAt = issuedAt;
        this.nextUpdate = nextUpdate;
        this.count = count;
        this.changeCount = changeCount;
        this.changesOffset = changesOffset;
    }

    /** Whether {@code bytes} start like a delta ({@code SGLD}) rather than a full list ({@code SGLR}). */
    public static boolean isDelta(byte[] bytes) {
        return bytes.length >= 4 && bytes[0] == 'S' && bytes[1] == 'G' && bytes[2] == 'L' && bytes[3] == 'D';
    }

    /**
     * Parses a delta's structure, rules 1–4 of §4.3 in order: size, magic, version, then key id,
     * header, exact length, change statuses and order. Nothing in it is trusted until {@link #apply}.
     *
     * @param maxBytes the size limit (the same one that bounds a full list)
     * @throws RevocationListException {@code too_large}, {@code malformed}, {@code unsupported_version}
     */
    public static RevocationDelta parse(byte[] bytes, int maxBytes) throws RevocationListException {
        if (bytes.length > maxBytes) throw new RevocationListException(TOO_LARGE, bytes.length + " bytes, limit " + maxBytes);
        if (bytes.length < 6 || !isDelta(bytes)) throw new RevocationListException(MALFORMED, "missing the SGLD magic");
        if (bytes[4] != 1) throw new RevocationListException(UNSUPPORTED_VERSION, "delta version " + (bytes[4] & 0xff));
        int kidLength = bytes[5] & 0xff;
        int i = 6;
        if (kidLength < 1 || kidLength > 32 || bytes.length < i + kidLength || !Names.isKeyId(bytes, i, kidLength)) {
            throw new RevocationListException(MALFORMED, "bad key id");
        }
        String kid = new String(bytes, i, kidLength, StandardCharsets.US_ASCII);
        i += kidLength;
        if (bytes.length < i + 40) throw new RevocationListException(MALFORMED, "truncated delta header");
        long baseSequence = RevocationList.u64(bytes, i);
        long sequence = RevocationList.u64(bytes, i + 8);
        long issuedAt = RevocationList.u64(bytes, i + 16);
        long nextUpdate = RevocationList.u64(bytes, i + 24);
        long count = RevocationList.u32(bytes, i + 32);
        long changes = RevocationList.u32(bytes, i + 36);
        i += 40;
        if ((long) bytes.length != i + 17L * changes + 64) {
            throw new RevocationListException(MALFORMED, "length " + bytes.length + " does not match " + changes + " changes");
        }
        for (int k = 0; k < changes; k++) {
            int at = i + k * 17;
            if ((bytes[at + 16] & 0xff) > 2) throw new RevocationListException(MALFORMED, "a change's status must be 0, 1 or 2");
            if (k > 0 && Arrays.compareUnsigned(bytes, at - 17, at - 1, bytes, at, at + 16) >= 0) {
                throw new RevocationListException(MALFORMED, "changes must be strictly ascending GUIDs");
            }
        }
        return new RevocationDelta(bytes.clone(), kid, baseSequence, sequence, issuedAt, nextUpdate, count, (int) changes, i);
    }

    /**
     * Applies the changes to {@code base}, the list in force, and verifies the resulting list as a
     * full list: rules 5–9 of §4.3 in order. Rollback and equivocation are the caller's checks, as
     * for a full list ({@link RevocationStore} makes them). {@code base} is not changed.
     *
     * @param base the list in force, or null when there is none
     * @param keys Ed25519 public keys by key id, as for {@link RevocationList#verify}
     * @param maxBytes the size limit the resulting list must fit
     * @throws RevocationListException {@code delta_base_mismatch} (no base, or its sequence is not
     *     {@link #baseSequence()}), {@code too_large} (the resulting list), {@code malformed} (a change
     *     that changes nothing, or a result that does not hold {@link #count()} entries),
     *     {@code unknown_key}, {@code bad_signature}
     */
    public RevocationList apply(RevocationList base, Map<String, byte[]> keys, int maxBytes)
            throws RevocationListException {
        if (base == null) {
            throw new RevocationListException(DELTA_BASE_MISMATCH,
                    "the delta applies to list " + Long.toUnsignedString(baseSequence) + ", and no list is in force");
        }
        if (base.sequence() != baseSequence) {
            throw new RevocationListException(DELTA_BASE_MISMATCH, "the delta applies to list "
                    + Long.toUnsignedString(baseSequence) + ", the list in force is " + Long.toUnsignedString(base.sequence()));
        }
        int header = 34 + keyId.length();
        long size = header + 17L * count + 64;
        if (size > maxBytes) {
            throw new RevocationListException(TOO_LARGE, "the resulting list of " + count + " entries exceeds " + maxBytes + " bytes");
        }
        byte[] out = new byte[(int) size];
        out[0] = 'S';
        out[1] = 'G';
        out[2] = 'L';
        out[3] = 'R';
        out[4] = 1;
        // The key id, sequence, issued_at, next_update and count are the delta's, in the same order.
        System.arraycopy(bytes, 5, out, 5, 1 + keyId.length());
        System.arraycopy(bytes, 6 + keyId.length() + 8, out, 6 + keyId.length(), 28);
        int end = out.length - 64;
        int w = header;
        // One merge walk: each change finds its place by binary search from the last one, and the
        // entries between two changes are copied as one run.
        byte[] e = base.rawBytes();
        int from = base.entriesOffset();
        int total = base.count();
        int next = 0;
        for (int k = 0; k < changeCount; k++) {
            int c = changesOffset + 17 * k;
            int low = next;
            int high = total;
            while (low < high) {
                int mid = (low + high) >>> 1;
                int at = from + 17 * mid;
                if (Arrays.compareUnsigned(e, at, at + 16, bytes, c, c + 16) < 0) low = mid + 1;
                else high = mid;
            }
            w = copy(e, from + 17 * next, from + 17 * low, out, w, end);
            next = low;
            int at = from + 17 * low;
            boolean listed = low < total && Arrays.equals(e, at, at + 16, bytes, c, c + 16);
            int current = listed ? e[at + 16] : 0;
            int wire = bytes[c + 16];
            if (current == wire) {
                throw new RevocationListException(MALFORMED, wire == 0 ? "a change removes a GUID the base list does not hold"
                        : "a change sets the status a GUID already has");
            }
            if (listed) next = low + 1;
            if (wire != 0) w = copy(bytes, c, c + 17, out, w, end);
        }
        w = copy(e, from + 17 * next, from + 17 * total, out, w, end);
        if (w != end) {
            throw new RevocationListException(MALFORMED,
                    "the changes leave " + (w - header) / 17 + " entries, the delta says " + count);
        }
        System.arraycopy(bytes, bytes.length - 64, out, end, 64);
        return RevocationList.verify(out, keys, maxBytes, true);
    }

    /** Copies {@code src[from..to)} to {@code out} at {@code w}; more entries than the count is malformed. */
    private int copy(byte[] src, int from, int to, byte[] out, int w, int end) throws RevocationListException {
        if (w + (to - from) > end) {
            throw new RevocationListException(MALFORMED, "the changes leave more entries than the delta's " + count);
        }
        System.arraycopy(src, from, out, w, to - from);
        return w + (to - from);
    }

    /** The resulting list's key id. */
    public String keyId() {
        return keyId;
    }

    /** The sequence of the list the changes apply to (unsigned). */
    public long baseSequence() {
        return baseSequence;
    }

    /** The resulting list's sequence (unsigned). */
    public long sequence() {
        return sequence;
    }

    public long issuedAt() {
        return issuedAt;
    }

    /** The resulting list's {@code next_update}; 0 means no promise. */
    public long nextUpdate() {
        return nextUpdate;
    }

    /** The resulting list's number of entries. */
    public long count() {
        return count;
    }

    /** The changes in GUID order. */
    public List<Change> changes() {
        List<Change> out = new ArrayList<>(changeCount);
        for (int k = 0; k < changeCount; k++) {
            int at = changesOffset + 17 * k;
            RevocationList.Status status = switch (bytes[at + 16]) {
                case 1 -> RevocationList.Status.DEACTIVATED;
                case 2 -> RevocationList.Status.REVOKED;
                default -> null;
            };
            out.add(new Change(TokenGuid.text(bytes, at), status));
        }
        return out;
    }
}
