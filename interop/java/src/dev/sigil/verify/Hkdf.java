package dev.sigil.verify;

import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF-SHA256 (RFC 5869) over the JDK's HMAC: Java 17 has no HKDF. Services do not need it
 * (the keyset holds K_aud already); it reproduces docs/FORMAT.md §1.3 for tests and tools.
 */
public final class Hkdf {
    private Hkdf() {}

    /**
     * HKDF-Extract then HKDF-Expand.
     *
     * @param salt empty or null means "not provided": 32 zero bytes (RFC 5869 §2.2)
     * @param length 0–8160 bytes
     */
    public static byte[] sha256(byte[] ikm, byte[] salt, byte[] info, int length) {
        if (length < 0 || length > 255 * 32) throw new IllegalArgumentException("length must be 0...8160");
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            byte[] s = salt == null || salt.length == 0 ? new byte[32] : salt;
            mac.init(new SecretKeySpec(s, "HmacSHA256"));
            byte[] prk = mac.doFinal(ikm);
            mac.init(new SecretKeySpec(prk, "HmacSHA256"));
            byte[] out = new byte[length];
            byte[] t = new byte[0];
            int done = 0;
            for (int counter = 1; done < length; counter++) {
                mac.update(t);
                mac.update(info);
                mac.update((byte) counter);
                t = mac.doFinal();
                int n = Math.min(t.length, length - done);
                System.arraycopy(t, 0, out, done, n);
                done += n;
            }
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /** The per-audience token key K_aud of docs/FORMAT.md §1.3. */
    public static byte[] audienceKey(byte[] masterSecret, String audience) {
        byte[] prefix = "sigil/v1/token".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] aud = audience.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] info = new byte[prefix.length + 1 + aud.length];
        System.arraycopy(prefix, 0, info, 0, prefix.length);
        System.arraycopy(aud, 0, info, prefix.length + 1, aud.length);
        return sha256(masterSecret, null, info, 32);
    }
}
