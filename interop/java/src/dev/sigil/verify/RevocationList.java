package dev.sigil.verify;

import static dev.sigil.verify.RevocationListException.Reason.BAD_SIGNATURE;
import static dev.sigil.verify.RevocationListException.Reason.MALFORMED;
import static dev.sigil.verify.RevocationListException.Reason.TOO_LARGE;
import static dev.sigil.verify.RevocationListException.Reason.UNKNOWN_KEY;
import static dev.sigil.verify.RevocationListException.Reason.UNSUPPORTED_VERSION;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A verified revocation list v1 (docs/FORMAT.md §4): which GUIDs are deactivated or revoked.
 * Immutable; lookups are a binary search over the signed bytes.
 */
public final class RevocationList {
    /** The default size limit, 64 MiB (about 3.9 million entries). */
    public static final int DEFAULT_MAX_BYTES = 64 << 20;
    /** The HTTP media type of a full list ({@link RevocationDelta#MEDIA_TYPE}: a delta). */
    public static final String MEDIA_TYPE = "application/vnd.sigil.revocations";

    static final byte[] CONTEXT = "sigil/v1/revocations\0".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ED25519_SPKI_PREFIX = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
    };

    /** A GUID's status in a list. */
    public enum Status {
        DEACTIVATED,
        REVOKED
    }

    private final byte[] bytes;
    private final String keyId;
    private final long sequence;
    private final long issuedAt;
    private final long nextUpdate;
    private final int count;
    private final int entriesOffset;
    private final byte[] verifiedKey;

    private RevocationList(byte[] bytes, String keyId, long sequence, long issuedAt, long nextUpdate, int count,
            int entriesOffset, byte[] verifiedKey) {
        this.bytes = bytes;
        this.keyId = keyId;
        this.sequence = sequence;
        this.issuedAt = issuedAt;
        this.nextUpdate = nextUpdate;
        this.count = count;
        this.entriesOffset = entriesOffset;
        this.verifiedKey = verifiedKey;
    }

    /**
     * Checks a list in the order of §4.2 (size, format, version, format, key, signature).
     *
     * @param keys Ed25519 public keys (32 bytes) by key id, from the keyset
     * @param maxBytes the size limit
     * @throws RevocationListException with the first failing reason
     */
    public static RevocationList verify(byte[] bytes, Map<String, byte[]> keys, int maxBytes)
            throws RevocationListException {
        return verify(bytes, keys, maxBytes, false);
    }

    /** As {@link #verify(byte[], Map, int)}; an {@code owned} array is kept instead of copied. */
    static RevocationList verify(byte[] bytes, Map<String, byte[]> keys, int maxBytes, boolean owned)
            throws RevocationListException {
        if (bytes.length > maxBytes) throw new RevocationListException(TOO_LARGE, bytes.length + " bytes, limit " + maxBytes);
        if (bytes.length < 6 || bytes[0] != 'S' || bytes[1] != 'G' || bytes[2] != 'L' || bytes[3] != 'R') {
            throw new RevocationListException(MALFORMED, "missing the SGLR magic");
        }
        if (bytes[4] != 1) throw new RevocationListException(UNSUPPORTED_VERSION, "version " + (bytes[4] & 0xff));
        int kidLength = bytes[5] & 0xff;
        int i = 6;
        if (kidLength < 1 || kidLength > 32 || bytes.length < i + kidLength || !Names.isKeyId(bytes, i, kidLength)) {
            throw new RevocationListException(MALFORMED, "bad key id");
        }
        String kid = new String(bytes, i, kidLength, StandardCharsets.US_ASCII);
        i += kidLength;
        if (bytes.length < i + 28) throw new RevocationListException(MALFORMED, "truncated header");
        long sequence = u64(bytes, i);
        long issuedAt = u64(bytes, i + 8);
        long nextUpdate = u64(bytes, i + 16);
        long count = u32(bytes, i + 24);
        i += 28;
        if ((long) bytes.length != i + 17L * count + 64) {
            throw new RevocationListException(MALFORMED, "length " + bytes.length + " does not match " + count + " entries");
        }
        for (int k = 0; k < count; k++) {
            int at = i + k * 17;
            int status = bytes[at + 16];
            if (status != 1 && status != 2) throw new RevocationListException(MALFORMED, "entry status must be 1 or 2");
            if (k > 0 && Arrays.compareUnsigned(bytes, at - 17, at - 1, bytes, at, at + 16) >= 0) {
                throw new RevocationListException(MALFORMED, "entries must be strictly ascending GUIDs");
            }
        }
        byte[] raw = keys.get(kid);
        if (raw == null) throw new RevocationListException(UNKNOWN_KEY, "signed by key " + kid);
        if (!signatureMatches(raw, bytes)) throw new RevocationListException(BAD_SIGNATURE, "key " + kid);
        return new RevocationList(owned ? bytes : bytes.clone(), kid, sequence, issuedAt, nextUpdate, (int) count, i,
                raw.clone());
    }

    private static boolean signatureMatches(byte[] rawKey, byte[] list) {
        return ed25519Verify(rawKey, Arrays.copyOf(list, list.length - 64), Arrays.copyOfRange(list, list.length - 64,
                list.length), CONTEXT);
    }

    /**
     * The Ed25519 check lists are held to (RFC 8032 pure Ed25519, the JDK's "Ed25519"):
     * whether {@code signature} signs {@code context || message} under the 32-byte key.
     */
    public static boolean ed25519Verify(byte[] publicKey, byte[] message, byte[] signature, byte[] context) {
        if (publicKey.length != 32 || signature.length != 64) return false;
        try {
            byte[] spki = Arrays.copyOf(ED25519_SPKI_PREFIX, ED25519_SPKI_PREFIX.length + 32);
            System.arraycopy(publicKey, 0, spki, ED25519_SPKI_PREFIX.length, 32);
            PublicKey key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
            Signature sig = Signature.getInstance("Ed25519");
            sig.initVerify(key);
            if (context != null) sig.update(context);
            sig.update(message);
            return sig.verify(signature);
        } catch (GeneralSecurityException | RuntimeException e) {
            // A key the JDK cannot decode, or a signature it cannot parse, verifies nothing.
            return false;
        }
    }

    private static final java.lang.invoke.VarHandle BIG_ENDIAN_LONG =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.BIG_ENDIAN);

    static long u64(byte[] b, int at) {
        return (long) BIG_ENDIAN_LONG.get(b, at);
    }

    static long u32(byte[] b, int at) {
        long v = 0;
        for (int k = 0; k < 4; k++) v = (v << 8) | (b[at + k] & 0xff);
        return v;
    }

    /** The status of the GUID at {@code guid[offset..offset+16)}, or null if it is not listed. */
    public Status status(byte[] guid, int offset) {
        // GUIDs compare as one unsigned 128-bit big-endian number: two unsigned longs.
        long hi = (long) BIG_ENDIAN_LONG.get(guid, offset);
        long lo = (long) BIG_ENDIAN_LONG.get(guid, offset + 8);
        int low = 0;
        int high = count;
        while (low < high) {
            int mid = (low + high) >>> 1;
            int at = entriesOffset + mid * 17;
            int c = Long.compareUnsigned((long) BIG_ENDIAN_LONG.get(bytes, at), hi);
            if (c == 0) c = Long.compareUnsigned((long) BIG_ENDIAN_LONG.get(bytes, at + 8), lo);
            if (c == 0) return bytes[at + 16] == 1 ? Status.DEACTIVATED : Status.REVOKED;
            if (c < 0) low = mid + 1;
            else high = mid;
        }
        return null;
    }

    /** The status of a GUID in text form, or null if it is not listed. */
    public Status status(String guid) {
        byte[] id = TokenGuid.parse(guid);
        return id == null ? null : status(id, 0);
    }

    /** Whether the list is past its {@code next_update} at {@code now}. */
    public boolean isStale(long now) {
        return nextUpdate != 0 && now >= nextUpdate;
    }

    public String keyId() {
        return keyId;
    }

    /** The sequence, an unsigned 64-bit number (compare with {@link Long#compareUnsigned}). */
    public long sequence() {
        return sequence;
    }

    public long issuedAt() {
        return issuedAt;
    }

    /** {@code next_update}; 0 means no promise. */
    public long nextUpdate() {
        return nextUpdate;
    }

    public int count() {
        return count;
    }

    /** The entries in list order: GUID text and status. */
    public List<Map.Entry<String, Status>> entries() {
        List<Map.Entry<String, Status>> out = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            int at = entriesOffset + k * 17;
            out.add(Map.entry(TokenGuid.text(bytes, at), bytes[at + 16] == 1 ? Status.DEACTIVATED : Status.REVOKED));
        }
        return out;
    }

    /** A copy of the signed bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /** The signed bytes themselves, for {@link RevocationDelta} (never modified). */
    byte[] rawBytes() {
        return bytes;
    }

    int entriesOffset() {
        return entriesOffset;
    }

    boolean hasSameBytes(RevocationList other) {
        return Arrays.equals(bytes, other.bytes);
    }

    boolean wasVerifiedWith(byte[] key) {
        return Arrays.equals(verifiedKey, key);
    }

    int byteCount() {
        return bytes.length;
    }
}
