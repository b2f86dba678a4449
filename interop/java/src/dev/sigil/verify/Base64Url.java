package dev.sigil.verify;

/**
 * Canonical unpadded base64url (RFC 4648 §5) as docs/FORMAT.md §2 defines it: no padding, no
 * characters outside {@code A–Z a–z 0–9 - _}, no length ≡ 1 (mod 4), no non-zero unused bits.
 * {@code java.util.Base64} accepts padding and non-zero unused bits, so it is not used here.
 */
public final class Base64Url {
    private static final char[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();
    private static final byte[] VALUES = new byte[128];

    static {
        java.util.Arrays.fill(VALUES, (byte) -1);
        for (int k = 0; k < ALPHABET.length; k++) VALUES[ALPHABET[k]] = (byte) k;
    }

    private Base64Url() {}

    /** The decoded length of {@code n} characters, or -1 if no byte string encodes to that many. */
    public static int decodedLength(int n) {
        if (n % 4 == 1) return -1;
        return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    }

    /**
     * Decodes {@code text[from, to)} into {@code out} (exactly {@link #decodedLength} bytes long).
     *
     * @return false if the text is not canonical
     */
    static boolean decode(String text, int from, int to, byte[] out) {
        int n = to - from;
        int full = from + n / 4 * 4;
        int o = 0;
        int bad = 0;
        int k = from;
        // Four characters to three bytes; any character outside the alphabet maps to -1, which
        // sets the sign bit of `bad` through the OR.
        for (; k < full; k += 4) {
            int v = value(text.charAt(k)) << 18 | value(text.charAt(k + 1)) << 12 | value(text.charAt(k + 2)) << 6
                    | value(text.charAt(k + 3));
            bad |= v;
            out[o] = (byte) (v >> 16);
            out[o + 1] = (byte) (v >> 8);
            out[o + 2] = (byte) v;
            o += 3;
        }
        if (bad < 0) return false;
        switch (to - k) {
            case 0:
                return true;
            case 2: {
                int a = value(text.charAt(k));
                int b = value(text.charAt(k + 1));
                // Unused bits in the last character must be zero: one byte string, one text.
                if ((a | b) < 0 || (b & 0x0f) != 0) return false;
                out[o] = (byte) (a << 2 | b >> 4);
                return true;
            }
            case 3: {
                int a = value(text.charAt(k));
                int b = value(text.charAt(k + 1));
                int c = value(text.charAt(k + 2));
                if ((a | b | c) < 0 || (c & 0x03) != 0) return false;
                out[o] = (byte) (a << 2 | b >> 4);
                out[o + 1] = (byte) (b << 4 | c >> 2);
                return true;
            }
            default:
                return false;
        }
    }

    /** The 6-bit value of {@code c}, or a negative number (all high bits set) for any other character. */
    private static int value(char c) {
        return c < 128 ? VALUES[c] : -1;
    }

    /** Decodes canonical unpadded base64url, or returns null. */
    public static byte[] decode(String text) {
        int length = decodedLength(text.length());
        if (length < 0) return null;
        byte[] out = new byte[length];
        return decode(text, 0, text.length(), out) ? out : null;
    }

    /** Encodes {@code bytes} as canonical unpadded base64url. */
    public static String encode(byte[] bytes) {
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
