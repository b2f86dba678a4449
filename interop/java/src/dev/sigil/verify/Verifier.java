package dev.sigil.verify;

import static dev.sigil.verify.Reason.BAD_SIGNATURE;
import static dev.sigil.verify.Reason.DEACTIVATED;
import static dev.sigil.verify.Reason.EXPIRED;
import static dev.sigil.verify.Reason.MALFORMED;
import static dev.sigil.verify.Reason.NOT_YET_VALID;
import static dev.sigil.verify.Reason.REVOCATIONS_STALE;
import static dev.sigil.verify.Reason.REVOKED;
import static dev.sigil.verify.Reason.SCOPE_NOT_GRANTED;
import static dev.sigil.verify.Reason.UNKNOWN_KEY;
import static dev.sigil.verify.Reason.WRONG_AUDIENCE;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies Sigil v1 tokens offline for one audience (docs/FORMAT.md §2–3). Immutable and safe
 * to share across threads; each thread keeps its own keyed {@link Mac} per key.
 *
 * <p>Checks run in this order and the first failure is thrown: {@code malformed},
 * {@code wrong_audience}, {@code unknown_key}, {@code bad_signature}, then, for a token whose
 * MAC matched, {@code revocations_stale}, {@code revoked}, {@code deactivated},
 * {@code not_yet_valid}, {@code expired}, {@code scope_not_granted}.
 *
 * <pre>{@code
 * Verifier verifier = Verifier.of(keyset, store);
 * VerifiedToken token = verifier.verify(text, Permission.read("invoices.read"));
 * }</pre>
 */
public final class Verifier {
    /** The default clock-skew leeway, in seconds. */
    public static final long DEFAULT_LEEWAY = 60;
    /** The longest accepted token text. */
    public static final int MAX_TOKEN_LENGTH = 4096;

    private static final int TAG = 32;

    private final String audience;
    private final byte[] audienceBytes;
    private final long leeway;
    private final byte[][] keyIds;
    private final Mac[] prototypes;
    private final RevocationStore revocations;
    private final ThreadLocal<Scratch> scratch;

    /** Per thread: a keyed Mac per key (cloned from the prototypes once) and a tag buffer. */
    private static final class Scratch {
        final Mac[] macs;
        final byte[] expected = new byte[TAG];

        Scratch(Mac[] prototypes) {
            macs = new Mac[prototypes.length];
            for (int k = 0; k < prototypes.length; k++) {
                try {
                    macs[k] = (Mac) prototypes[k].clone();
                } catch (CloneNotSupportedException e) {
                    macs[k] = null; // the constructor tries one Scratch and refuses the verifier then
                }
            }
        }
    }

    /**
     * @param audience this service's audience
     * @param keys K_aud (32 bytes) per key id
     * @param leeway clock skew tolerated at both ends of the window, 0–86400 seconds
     * @param revocations consulted after the MAC matched; null skips revocation checks
     * @throws KeysetException for an invalid audience, key id, key length or leeway
     */
    public Verifier(String audience, Map<String, byte[]> keys, long leeway, RevocationStore revocations)
            throws KeysetException {
        if (audience == null || !Names.isAudience(audience)) throw new KeysetException("audience is not [A-Za-z0-9._:-]{1,64}");
        if (leeway < 0 || leeway > 86_400) throw new KeysetException("leeway must be 0...86400 seconds");
        this.audience = audience;
        this.audienceBytes = audience.getBytes(StandardCharsets.US_ASCII);
        this.leeway = leeway;
        this.revocations = revocations;
        keyIds = new byte[keys.size()][];
        prototypes = new Mac[keys.size()];
        int k = 0;
        for (Map.Entry<String, byte[]> e : keys.entrySet()) {
            if (!Names.isKeyId(e.getKey())) throw new KeysetException("token key id is not [A-Za-z0-9_-]{1,32}");
            if (e.getValue() == null || e.getValue().length != 32) {
                throw new KeysetException("token key " + e.getKey() + " must be 32 bytes");
            }
            keyIds[k] = e.getKey().getBytes(StandardCharsets.US_ASCII);
            try {
                prototypes[k] = Mac.getInstance("HmacSHA256");
                prototypes[k].init(new SecretKeySpec(e.getValue(), "HmacSHA256"));
            } catch (GeneralSecurityException ex) {
                throw new KeysetException("HmacSHA256 is unavailable: " + ex.getClass().getSimpleName());
            }
            k++;
        }
        Mac[] protos = prototypes;
        scratch = ThreadLocal.withInitial(() -> new Scratch(protos));
        for (Mac m : new Scratch(protos).macs) {
            if (m == null) throw new KeysetException("the JDK's HmacSHA256 cannot be cloned");
        }
    }

    /** A verifier for the keyset's audience and token keys with the default leeway. */
    public static Verifier of(Keyset keyset, RevocationStore revocations) throws KeysetException {
        return new Verifier(keyset.audience(), keyset.tokenKeys(), DEFAULT_LEEWAY, revocations);
    }

    public String audience() {
        return audience;
    }

    public long leeway() {
        return leeway;
    }

    /** Verifies {@code token} now, without a permission. */
    public VerifiedToken verify(String token) throws VerificationException {
        return verify(token, null, System.currentTimeMillis() / 1000);
    }

    /** Verifies {@code token} now and that it grants {@code permission} (null: any valid token). */
    public VerifiedToken verify(String token, Permission permission) throws VerificationException {
        return verify(token, permission, System.currentTimeMillis() / 1000);
    }

    /**
     * Verifies {@code token} at {@code now} (Unix seconds) and, if given, that its scope grants
     * {@code permission}.
     *
     * @throws VerificationException the first check that failed; its message is the reason code
     */
    public VerifiedToken verify(String token, Permission permission, long now) throws VerificationException {
        if (token == null) throw new VerificationException(MALFORMED);
        int n = token.length();
        // Text rules 1–5 (§2): length, prefix, impossible length, alphabet, unused bits.
        if (n > MAX_TOKEN_LENGTH || !token.startsWith("sgl_")) throw new VerificationException(MALFORMED);
        int length = Base64Url.decodedLength(n - 4);
        if (length <= TAG) throw new VerificationException(MALFORMED);
        byte[] d = new byte[length];
        // One byte per character (an intrinsic copy); a character past U+00FF becomes '?',
        // which is outside the alphabet, so nothing wider can slip through.
        byte[] text = token.getBytes(StandardCharsets.ISO_8859_1);
        if (!Base64Url.decode(text, 4, n, d)) throw new VerificationException(MALFORMED);

        // Byte rules 6–13, on bytes not yet authenticated.
        int end = length - TAG;
        if (d[0] != 1) throw new VerificationException(MALFORMED);
        int i = 1;
        if (i >= end) throw new VerificationException(MALFORMED);
        int kidOffset = i;
        int kidLength = d[i++] & 0xff;
        if (kidLength < 1 || kidLength > 32 || i + kidLength > end || !Names.isKeyId(d, i, kidLength)) {
            throw new VerificationException(MALFORMED);
        }
        i += kidLength;
        if (i >= end) throw new VerificationException(MALFORMED);
        int audOffset = i;
        int audLength = d[i++] & 0xff;
        if (audLength < 1 || audLength > 64 || i + audLength > end || !Names.isAudience(d, i, audLength)) {
            throw new VerificationException(MALFORMED);
        }
        i += audLength;
        if (i + 16 + 8 + 8 + 1 > end) throw new VerificationException(MALFORMED);
        int guidOffset = i;
        i += 16;
        long validFrom = RevocationList.u64(d, i);
        long validTo = RevocationList.u64(d, i + 8);
        i += 16;
        if (validTo != 0 && validTo <= validFrom) throw new VerificationException(MALFORMED);
        int kind = d[i++] & 0xff;
        int scopeOffset = i;
        int scopeCount = 0;
        if (kind == 3) {
            if (i + 2 > end) throw new VerificationException(MALFORMED);
            scopeCount = (d[i] & 0xff) << 8 | (d[i + 1] & 0xff);
            i += 2;
            scopeOffset = i;
            if (scopeCount < 1 || scopeCount > 256) throw new VerificationException(MALFORMED);
            int previous = -1;
            for (int k = 0; k < scopeCount; k++) {
                if (i >= end) throw new VerificationException(MALFORMED);
                int len = d[i] & 0xff;
                if (len < 3 || i + 1 + len > end || !Names.isPair(d, i + 1, len)) throw new VerificationException(MALFORMED);
                if (previous >= 0 && Arrays.compareUnsigned(d, previous + 1, previous + 1 + (d[previous] & 0xff), d, i + 1,
                        i + 1 + len) >= 0) {
                    throw new VerificationException(MALFORMED);
                }
                previous = i;
                i += 1 + len;
            }
        } else if (kind != 1 && kind != 2) {
            throw new VerificationException(MALFORMED);
        }
        if (i != end) throw new VerificationException(MALFORMED);

        if (!Names.same(d, audOffset + 1, audLength, audienceBytes)) {
            throw new VerificationException(WRONG_AUDIENCE);
        }
        int key = -1;
        for (int k = 0; k < keyIds.length; k++) {
            if (Names.same(d, kidOffset + 1, kidLength, keyIds[k])) {
                key = k;
                break;
            }
        }
        if (key < 0) throw new VerificationException(UNKNOWN_KEY);

        // The MAC covers the raw body bytes; nothing in the body is trusted before it matches.
        Scratch s = scratch.get();
        Mac mac = s.macs[key];
        mac.update(d, 0, end);
        try {
            mac.doFinal(s.expected, 0);
        } catch (GeneralSecurityException e) {
            throw new VerificationException(BAD_SIGNATURE);
        }
        // Constant time: every byte is compared whatever the first difference.
        int diff = 0;
        for (int k = 0; k < TAG; k++) diff |= s.expected[k] ^ d[end + k];
        if (diff != 0) throw new VerificationException(BAD_SIGNATURE);

        if (revocations != null) {
            switch (revocations.check(d, guidOffset, now)) {
                case STALE:
                    throw new VerificationException(REVOCATIONS_STALE, d, guidOffset);
                case REVOKED:
                    throw new VerificationException(REVOKED, d, guidOffset);
                case DEACTIVATED:
                    throw new VerificationException(DEACTIVATED, d, guidOffset);
                default:
                    break;
            }
        }
        // Exact arithmetic: a comparison whose now ± leeway overflows is skipped (FORMAT.md §3).
        if (now <= Long.MAX_VALUE - leeway && now + leeway < validFrom) throw new VerificationException(NOT_YET_VALID, d, guidOffset);
        if (validTo != 0 && now >= Long.MIN_VALUE + leeway && now - leeway >= validTo) {
            throw new VerificationException(EXPIRED, d, guidOffset);
        }
        if (permission != null) {
            boolean granted;
            if (kind == 1) granted = true;
            else if (kind == 2) granted = permission.access() == Permission.Access.READ;
            else granted = scopeContains(d, scopeOffset, scopeCount, permission.nameBytes);
            if (!granted) throw new VerificationException(SCOPE_NOT_GRANTED, d, guidOffset);
        }
        return new VerifiedToken(d, kidOffset, audOffset, guidOffset, validFrom, validTo, kind, scopeOffset, scopeCount);
    }

    private static boolean scopeContains(byte[] d, int offset, int count, byte[] name) {
        int i = offset;
        for (int k = 0; k < count; k++) {
            int n = d[i] & 0xff;
            if (Names.same(d, i + 1, n, name)) return true;
            i += 1 + n;
        }
        return false;
    }
}
