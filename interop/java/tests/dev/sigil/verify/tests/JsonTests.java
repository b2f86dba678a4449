package dev.sigil.verify.tests;

import dev.sigil.verify.Json;
import java.util.List;
import java.util.Map;

/** The strict JSON reader: what it accepts and what it refuses. */
final class JsonTests {
    private JsonTests() {}

    static void testValues() throws Exception {
        Map<String, Object> m = Json.asObject(Json.parse(
                " {\"a\":[1,-2,3.5,true,false,null],\"b\":\"x\\u00e9\\ud83d\\ude00\\n\\\"\",\"c\":{}} ", 1000));
        List<Object> a = Json.asArray(m.get("a"));
        Check.eq(1L, a.get(0), "integer");
        Check.eq(-2L, a.get(1), "negative");
        Check.eq(3.5, a.get(2), "fraction");
        Check.eq(Boolean.TRUE, a.get(3), "true");
        Check.eq(Json.NULL, a.get(5), "null");
        Check.eq("x\u00e9\ud83d\ude00\n\"", m.get("b"), "escapes");
        Check.eq(new java.math.BigInteger("18446744073709551616"), Json.parse("18446744073709551616", 100), "big integer");
        Check.eq(Long.MIN_VALUE, Json.parse("-9223372036854775808", 100), "i64 min");
    }

    static void testRefusals() {
        String[] bad = {
            "{\"a\":1,\"a\":2}", "[1,]", "{\"a\":1,}", "01", "1.", "-", "+1", "'a'", "\"\\x\"", "\"a\u0001\"",
            "\"\\ud800\"", "\"\\udc00x\"", "[1] 2", "", "nul", "{\"a\"}", "[", "{\"a\":1 \"b\":2}", "NaN", "1e",
        };
        for (String s : bad) Check.raises(Json.ParseException.class, () -> Json.parse(s, 1000));
    }

    static void testBounds() {
        Check.raises(Json.ParseException.class, () -> Json.parse("[1]", 2));
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        Check.raises(Json.ParseException.class, () -> Json.parse(deep, 10_000));
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        Check.raises(AssertionError.class, () -> Check.raises(Json.ParseException.class, () -> Json.parse(ok, 10_000)));
    }

    static void testQuote() {
        Check.eq("\"a\\\"\\\\\\n\\u0001\\u00e9\"", Json.quote(new StringBuilder(), "a\"\\\n\u0001\u00e9").toString(), "quote");
    }
}
