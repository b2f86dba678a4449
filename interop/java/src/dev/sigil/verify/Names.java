package dev.sigil.verify;

/** The identifier rules of docs/FORMAT.md §1.2, over bytes and over text. */
final class Names {
    private Names() {}

    // One table lookup per byte instead of a chain of range tests: the verify hot path checks
    // the key id, the audience and every scope entry of each token.
    private static final byte KEY_ID = 1;
    private static final byte AUDIENCE = 2;
    private static final byte PART_FIRST = 4;
    private static final byte PART_REST = 8;
    private static final byte[] CLASS = new byte[256];

    static {
        for (int c = 0; c < 128; c++) {
            boolean upper = c >= 'A' && c <= 'Z';
            boolean lower = c >= 'a' && c <= 'z';
            boolean digit = c >= '0' && c <= '9';
            int k = 0;
            if (upper || lower || digit || c == '_' || c == '-') k |= KEY_ID | AUDIENCE;
            if (c == '.' || c == ':') k |= AUDIENCE;
            if (lower) k |= PART_FIRST;
            if (lower || digit || c == '_' || c == '-') k |= PART_REST;
            CLASS[c] = (byte) k;
        }
    }

    static boolean isKeyId(byte[] b, int from, int n) {
        return n >= 1 && n <= 32 && all(b, from, n, KEY_ID);
    }

    static boolean isAudience(byte[] b, int from, int n) {
        return n >= 1 && n <= 64 && all(b, from, n, AUDIENCE);
    }

    private static boolean all(byte[] b, int from, int n, byte kind) {
        int ok = kind;
        for (int k = from; k < from + n; k++) ok &= CLASS[b[k] & 0xff];
        return ok != 0;
    }

    static boolean isKeyId(String s) {
        byte[] b = ascii(s);
        return b != null && isKeyId(b, 0, b.length);
    }

    static boolean isAudience(String s) {
        byte[] b = ascii(s);
        return b != null && isAudience(b, 0, b.length);
    }

    /** {@code resource.action}, each part {@code [a-z][a-z0-9_-]{0,31}}. */
    static boolean isPair(byte[] b, int from, int n) {
        int dot = -1;
        for (int k = from; k < from + n; k++) {
            if (b[k] == '.') {
                if (dot >= 0) return false;
                dot = k;
            }
        }
        return dot >= 0 && isPart(b, from, dot - from) && isPart(b, dot + 1, from + n - dot - 1);
    }

    private static boolean isPart(byte[] b, int from, int n) {
        return n >= 1 && n <= 32 && (CLASS[b[from] & 0xff] & PART_FIRST) != 0 && all(b, from + 1, n - 1, PART_REST);
    }

    static boolean isPair(String s) {
        byte[] b = ascii(s);
        return b != null && isPair(b, 0, b.length);
    }

    /** The string's bytes if every character is ASCII, else null. */
    static byte[] ascii(String s) {
        byte[] b = new byte[s.length()];
        for (int k = 0; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c >= 128) return null;
            b[k] = (byte) c;
        }
        return b;
    }

    /** Whether {@code a[from, from + n)} equals all of {@code b}; a plain loop beats the vectorised mismatch for names this short. */
    static boolean same(byte[] a, int from, int n, byte[] b) {
        if (n != b.length) return false;
        int diff = 0;
        for (int k = 0; k < n; k++) diff |= a[from + k] ^ b[k];
        return diff == 0;
    }
}
