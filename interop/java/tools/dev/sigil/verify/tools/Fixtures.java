package dev.sigil.verify.tools;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.EdECPrivateKeySpec;
import java.security.spec.NamedParameterSpec;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mints tokens and signs revocation lists for tests and the benchmark, from docs/FORMAT.md
 * §1 and §4.1. Not part of the verifier's API: services never mint.
 */
public final class Fixtures {
    private Fixtures() {}

    /** A token v1 text; {@code kind} 1 all, 2 read-only, 3 custom with {@code scope} (sorted). */
    public static String token(String kid, byte[] key, String audience, byte[] guid, long validFrom, long validTo,
            int kind, List<String> scope) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(1);
        field(b, kid);
        field(b, audience);
        b.write(guid, 0, 16);
        i64(b, validFrom);
        i64(b, validTo);
        b.write(kind);
        if (kind == 3) {
            b.write(scope.size() >> 8);
            b.write(scope.size() & 0xff);
            for (String s : scope) field(b, s);
        }
        byte[] body = b.toByteArray();
        byte[] tag = hmac(key, body);
        b.write(tag, 0, tag.length);
        return "sgl_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b.toByteArray());
    }

    /** HMAC-SHA256(key, data) with the JDK. */
    public static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A list v1 signed with the Ed25519 {@code seed}; {@code entries} GUID (16 bytes) → status 1 or 2, ascending. */
    public static byte[] list(byte[] seed, String kid, long sequence, long issuedAt, long nextUpdate,
            List<Map.Entry<byte[], Integer>> entries) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes("SGLR".getBytes(StandardCharsets.US_ASCII));
        b.write(1);
        field(b, kid);
        i64(b, sequence);
        i64(b, issuedAt);
        i64(b, nextUpdate);
        int n = entries.size();
        b.write(n >>> 24);
        b.write(n >>> 16 & 0xff);
        b.write(n >>> 8 & 0xff);
        b.write(n & 0xff);
        for (Map.Entry<byte[], Integer> e : entries) {
            b.write(e.getKey(), 0, 16);
            b.write(e.getValue());
        }
        byte[] unsigned = b.toByteArray();
        byte[] sig = sign(seed, concat("sigil/v1/revocations\0".getBytes(StandardCharsets.US_ASCII), unsigned));
        b.write(sig, 0, sig.length);
        return b.toByteArray();
    }

    /** Ed25519 signature of {@code message} under the 32-byte {@code seed} (RFC 8032, pure). */
    public static byte[] sign(byte[] seed, byte[] message) {
        try {
            PrivateKey key = KeyFactory.getInstance("Ed25519")
                    .generatePrivate(new EdECPrivateKeySpec(NamedParameterSpec.ED25519, seed));
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(key);
            s.update(message);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The 32-byte Ed25519 public key of {@code seed}: the last 32 bytes of its X.509 encoding. */
    public static byte[] publicKey(byte[] seed) {
        try {
            java.security.KeyPairGenerator g = java.security.KeyPairGenerator.getInstance("Ed25519");
            g.initialize(NamedParameterSpec.ED25519, new FixedRandom(seed));
            byte[] spki = g.generateKeyPair().getPublic().getEncoded();
            return java.util.Arrays.copyOfRange(spki, spki.length - 32, spki.length);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Hands out the seed as the key pair generator's randomness. */
    private static final class FixedRandom extends java.security.SecureRandom {
        private static final long serialVersionUID = 1L;
        private final byte[] seed;

        FixedRandom(byte[] seed) {
            this.seed = seed.clone();
        }

        @Override
        public void nextBytes(byte[] bytes) {
            System.arraycopy(seed, 0, bytes, 0, Math.min(seed.length, bytes.length));
        }
    }

    public static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    public static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int k = 0; k < out.length; k++) out[k] = (byte) Integer.parseInt(s.substring(2 * k, 2 * k + 2), 16);
        return out;
    }

    public static String toHex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x & 0xff));
        return s.toString();
    }

    private static void field(ByteArrayOutputStream b, String ascii) {
        byte[] v = ascii.getBytes(StandardCharsets.US_ASCII);
        b.write(v.length);
        b.write(v, 0, v.length);
    }

    private static void i64(ByteArrayOutputStream b, long v) {
        for (int k = 7; k >= 0; k--) b.write((int) (v >>> (8 * k)) & 0xff);
    }
}
