package dev.sigil.verify;

/** The identifier rules of docs/FORMAT.md §1.2, over bytes and over text. */
final class Names {
    private Names() {}

    static boolean isKeyId(byte[] b, int from, int n) {
        return isIdentifier(b, from, n, 32, false);
    }

    static boolean isAudience(byte[] b, int from, int n) {
        return isIdentifier(b, from, n, 64, true);
    }

    private static boolean isIdentifier(byte[] b, int from, int n, int max, boolean dotAndColon) {
        if (n < 1 || n > max) return false;
        for (int k = from; k < from + n; k++) {
            int c = b[k] & 0xff;
            boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
                    || c == '-' || (dotAndColon && (c == '.' || c == ':'));
            if (!ok) return false;
        }
        return true;
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
        if (n < 1 || n > 32) return false;
        if (b[from] < 'a' || b[from] > 'z') return false;
        for (int k = from + 1; k < from + n; k++) {
            int c = b[k];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
        }
        return true;
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
}
