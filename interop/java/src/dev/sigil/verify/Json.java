package dev.sigil.verify;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader and string writer: the JDK has none, and this library may use
 * nothing outside it. It reads what keyset v1 and the conformance protocol need (RFC 8259:
 * objects, arrays, strings, integers, other numbers as text, true, false, null) and refuses
 * duplicate member names, nesting deeper than {@link #MAX_DEPTH}, texts longer than the caller's
 * bound, lone surrogates and anything after the value.
 *
 * <p>Values map to {@code Map<String,Object>} (member order kept), {@code List<Object>},
 * {@code String}, {@code Long} (integers that fit), {@code BigInteger} (larger integers),
 * {@code Double} (fractions and exponents), {@code Boolean} and {@link #NULL}.
 */
public final class Json {
    /** The JSON {@code null}, distinct from a missing member. */
    public static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** How deep arrays and objects may nest. */
    public static final int MAX_DEPTH = 64;

    /** A text that is not JSON this reader accepts; the message gives an offset, never the text. */
    public static final class ParseException extends Exception {
        private static final long serialVersionUID = 1L;

        ParseException(String message, int offset) {
            super(message + " at offset " + offset);
        }
    }

    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /**
     * Parses one JSON value.
     *
     * @param text the JSON text
     * @param maxChars texts longer than this are refused before parsing
     * @return the value (see the class comment for the mapping)
     * @throws ParseException if the text is not one strict JSON value
     */
    public static Object parse(String text, int maxChars) throws ParseException {
        if (text.length() > maxChars) throw new ParseException("longer than " + maxChars + " characters", 0);
        Json p = new Json(text);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.i != text.length()) throw new ParseException("trailing characters", p.i);
        return v;
    }

    private void ws() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') i++;
            else break;
        }
    }

    private Object value(int depth) throws ParseException {
        if (i >= s.length()) throw new ParseException("unexpected end", i);
        char c = s.charAt(i);
        switch (c) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", NULL);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw new ParseException("unexpected character", i);
        }
    }

    private Object literal(String word, Object v) throws ParseException {
        if (!s.startsWith(word, i)) throw new ParseException("bad literal", i);
        i += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) throws ParseException {
        if (depth > MAX_DEPTH) throw new ParseException("nested too deeply", i);
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return m;
        }
        while (true) {
            ws();
            if (i >= s.length() || s.charAt(i) != '"') throw new ParseException("expected a member name", i);
            int at = i;
            String k = string();
            ws();
            if (i >= s.length() || s.charAt(i) != ':') throw new ParseException("expected ':'", i);
            i++;
            ws();
            Object v = value(depth);
            if (m.containsKey(k)) throw new ParseException("duplicate member name", at);
            m.put(k, v);
            ws();
            if (i >= s.length()) throw new ParseException("unexpected end", i);
            char c = s.charAt(i++);
            if (c == '}') return m;
            if (c != ',') throw new ParseException("expected ',' or '}'", i - 1);
        }
    }

    private List<Object> array(int depth) throws ParseException {
        if (depth > MAX_DEPTH) throw new ParseException("nested too deeply", i);
        i++;
        List<Object> a = new ArrayList<>();
        ws();
        if (i < s.length() && s.charAt(i) == ']') {
            i++;
            return a;
        }
        while (true) {
            ws();
            a.add(value(depth));
            ws();
            if (i >= s.length()) throw new ParseException("unexpected end", i);
            char c = s.charAt(i++);
            if (c == ']') return a;
            if (c != ',') throw new ParseException("expected ',' or ']'", i - 1);
        }
    }

    private String string() throws ParseException {
        i++; // opening quote
        StringBuilder b = null;
        int start = i;
        while (true) {
            if (i >= s.length()) throw new ParseException("unterminated string", i);
            char c = s.charAt(i);
            if (c == '"') {
                String out = b == null ? s.substring(start, i) : b.append(s, start, i).toString();
                i++;
                checkSurrogates(out);
                return out;
            }
            if (c < 0x20) throw new ParseException("control character in string", i);
            if (c != '\\') {
                i++;
                continue;
            }
            if (b == null) b = new StringBuilder();
            b.append(s, start, i);
            i++;
            if (i >= s.length()) throw new ParseException("unterminated escape", i);
            char e = s.charAt(i++);
            switch (e) {
                case '"': b.append('"'); break;
                case '\\': b.append('\\'); break;
                case '/': b.append('/'); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    if (i + 4 > s.length()) throw new ParseException("short \\u escape", i);
                    int v = 0;
                    for (int k = 0; k < 4; k++) {
                        int d = Character.digit(s.charAt(i + k), 16);
                        if (d < 0) throw new ParseException("bad \\u escape", i);
                        v = v * 16 + d;
                    }
                    i += 4;
                    b.append((char) v);
                    break;
                default:
                    throw new ParseException("bad escape", i - 1);
            }
            start = i;
        }
    }

    private void checkSurrogates(String v) throws ParseException {
        for (int k = 0; k < v.length(); k++) {
            char c = v.charAt(k);
            if (Character.isHighSurrogate(c)) {
                if (k + 1 < v.length() && Character.isLowSurrogate(v.charAt(k + 1))) {
                    k++;
                    continue;
                }
                throw new ParseException("lone surrogate in string", i);
            }
            if (Character.isLowSurrogate(c)) throw new ParseException("lone surrogate in string", i);
        }
    }

    private Object number() throws ParseException {
        int start = i;
        if (s.charAt(i) == '-') i++;
        if (i >= s.length()) throw new ParseException("bad number", start);
        if (s.charAt(i) == '0') {
            i++;
        } else if (s.charAt(i) >= '1' && s.charAt(i) <= '9') {
            while (i < s.length() && Character.isDigit(s.charAt(i)) && s.charAt(i) < 128) i++;
        } else {
            throw new ParseException("bad number", start);
        }
        boolean integer = true;
        if (i < s.length() && s.charAt(i) == '.') {
            integer = false;
            i++;
            int d = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            if (i == d) throw new ParseException("bad fraction", start);
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            integer = false;
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) i++;
            int d = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') i++;
            if (i == d) throw new ParseException("bad exponent", start);
        }
        String t = s.substring(start, i);
        if (!integer) return Double.valueOf(t);
        BigInteger big = new BigInteger(t);
        return big.bitLength() < 64 ? (Object) big.longValue() : big;
    }

    /** Appends {@code v} to {@code out} as a JSON string (quotes included). */
    public static StringBuilder quote(StringBuilder out, String v) {
        out.append('"');
        for (int k = 0; k < v.length(); k++) {
            char c = v.charAt(k);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                default:
                    if (c < 0x20 || c >= 0x7f) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
            }
        }
        return out.append('"');
    }

    /** The members of {@code v} if it is an object, else null. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> asObject(Object v) {
        return v instanceof Map ? (Map<String, Object>) v : null;
    }

    /** The elements of {@code v} if it is an array, else null. */
    @SuppressWarnings("unchecked")
    public static List<Object> asArray(Object v) {
        return v instanceof List ? Collections.unmodifiableList((List<Object>) v) : null;
    }
}
