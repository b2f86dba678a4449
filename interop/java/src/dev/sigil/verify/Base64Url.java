package dev.sigil.verify;

/**
 * Canonical unpadded base64url (RFC 4648 §5) as docs/FORMAT.md §2 defines it: no padding, no
 * characters outside {@code A–Z a–z 0–9 - _}, no length ≡ 1 (mod 4), no non-zero unused bits.
 * {@code java.util.Base64} accepts padding and non-zero unused bits, so it is not used here.
 */
public final class Base64Url {
    private static final char[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".toCharArray();
    /** The 6-bit value of each byte, or -1 (all bits set) outside the alphabet. */
    private static final int[] TABLE = new int[256];

    static {
        java.util.Arrays.fill(TABLE, -1);
        for (int k = 0; k < ALPHABET.length; k++) TABLE[ALPHABET[k]] = k;
    }

    private Base64Url() {}

    /** The decoded length of {@code n} characters, or -1 if no byte string encodes to that many. */
    public static int decodedLength(int n) {
        if (n % 4 == 1) return -1;
        return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    }

    /**
     * Decodes {@code text[from, to)} into {@code out} (exactly {@link #decodedLength} bytes long).
     * {@code text} holds one byte per character (ISO-8859-1; anything wider was already
     * replaced by {@code '?'}, which is outside the alphabet).
     *
     * @return false if the text is not canonical
     */
    static boolean decode(byte[] text, int from, int to, byte[] out) {
        int n = to - from;
        int full = from + n / 4 * 4;
        int o = 0;
        int bad = 0;
        int k = from;
        // Four characters to three bytes; any byte outside the alphabet maps to -1, which sets
        // the sign bit of `bad` through the OR, so the loop has no branch per character.
        for (; k < full; k += 4) {
            int v = TABLE[text[k] & 0xff] << 18 | TABLE[text[k + 1] & 0xff] << 12 | TABLE[text[k + 2] & 0xff] << 6
                    | TABLE[text[k + 3] & 0xff];
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
                int a = TABLE[text[k] & 0xff];
                int b = TABLE[text[k + 1] & 0xff];
                // Unused bits in the last character must be zero: one byte string, one text.
                if ((a | b) < 0 || (b & 0x0f) != 0) return false;
                out[o] = (byte) (a << 2 | b >> 4);
                return true;
            }
            case 3: {
                int a = TABLE[text[k] & 0xff];
                int b = TABLE[text[k + 1] & 0xff];
                int c = TABLE[text[k + 2] & 0xff];
                if ((a | b | c) < 0 || (c & 0x03) != 0) return false;
                out[o] = (byte) (a << 2 | b >> 4);
                out[o + 1] = (byte) (b << 4 | c >> 2);
                return true;
            }
            default:
                return false;
        }
    }

    /** Decodes canonical unpadded base64url, or returns null. */
    public static byte[] decode(String text) {
        int length = decodedLength(text.length());
        if (length < 0) return null;
        byte[] out = new byte[length];
        byte[] t = text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        return decode(t, 0, t.length, out) ? out : null;
    }

    /** Encodes {@code bytes} as canonical unpadded base64url. */
    public static String encode(byte[] bytes) {
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
