package dev.sigil.verify;

/** GUID text form: lowercase hyphenated, the 16 bytes in order (docs/FORMAT.md conventions). */
final class TokenGuid {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private TokenGuid() {}

    static String text(byte[] b, int at) {
        char[] out = new char[36];
        int o = 0;
        for (int k = 0; k < 16; k++) {
            if (k == 4 || k == 6 || k == 8 || k == 10) out[o++] = '-';
            out[o++] = HEX[(b[at + k] >> 4) & 0xf];
            out[o++] = HEX[b[at + k] & 0xf];
        }
        return new String(out);
    }

    /** The 16 bytes of a lowercase or uppercase hyphenated GUID, or null. */
    static byte[] parse(String s) {
        if (s == null || s.length() != 36) return null;
        byte[] out = new byte[16];
        int o = 0;
        for (int k = 0; k < 36;) {
            if (k == 8 || k == 13 || k == 18 || k == 23) {
                if (s.charAt(k) != '-') return null;
                k++;
                continue;
            }
            int hi = Character.digit(s.charAt(k), 16);
            int lo = Character.digit(s.charAt(k + 1), 16);
            if (hi < 0 || lo < 0) return null;
            out[o++] = (byte) (hi << 4 | lo);
            k += 2;
        }
        return out;
    }
}
