package dev.sigil.verify.tools;

import dev.sigil.verify.Json;
import dev.sigil.verify.Keyset;
import dev.sigil.verify.KeysetException;
import dev.sigil.verify.Permission;
import dev.sigil.verify.RevocationList;
import dev.sigil.verify.RevocationListException;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.VerificationException;
import dev.sigil.verify.Verifier;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The conformance runner (ISSUE23.md item 3): JSON Lines cases on stdin, one JSON answer per
 * case on stdout, in order, all in one JVM.
 *
 * <pre>
 * case:   {"keyset": {...}, "revocations": "&lt;base64&gt;" | null, "token": "...", "audience": "...",
 *          "permission": "resource.action" | null, "access": "read" | "write" | null,
 *          "now": &lt;int&gt;, "leeway": &lt;int&gt;, "when_no_list": "fail_open" | "fail_closed"}
 * answer: {"valid": true, "guid": "..."} | {"valid": false, "reason": "..."}
 *         | {"valid": false, "list_error": "..."} | {"error": "..."} (a case that cannot be run)
 * </pre>
 */
public final class Conformance {
    /** A case line may carry a 64 MiB list in base64. */
    private static final int MAX_LINE = 96 << 20;

    private Conformance() {}

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
        Writer out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            out.write(answer(line));
            out.write('\n');
            // A driver that sends one case and waits for its answer gets it; a batch stays buffered.
            if (!in.ready()) out.flush();
        }
        out.flush();
    }

    /** The answer line (without newline) to one case line. */
    public static String answer(String line) {
        StringBuilder s = new StringBuilder();
        try {
            Map<String, Object> c = Json.asObject(Json.parse(line, MAX_LINE));
            if (c == null) throw new IllegalArgumentException("a case is a JSON object");
            Keyset keyset = Keyset.fromJson(c.get("keyset"));
            Object audience = c.get("audience");
            boolean closed = "fail_closed".equals(c.get("when_no_list"));
            RevocationStore store = new RevocationStore(keyset.revocationKeys(), RevocationStore.StalePolicy.KEEP_SERVING,
                    closed ? RevocationStore.NoListPolicy.FAIL_CLOSED : RevocationStore.NoListPolicy.FAIL_OPEN,
                    RevocationList.DEFAULT_MAX_BYTES, null);
            Object revocations = c.get("revocations");
            if (revocations instanceof String) {
                try {
                    store.load(verifiedList((String) revocations, keyset.revocationKeys()));
                } catch (RevocationListException e) {
                    return Json.quote(s.append("{\"valid\":false,\"list_error\":"), e.reason().code()).append('}').toString();
                }
            }
            long leeway = c.get("leeway") instanceof Long ? (Long) c.get("leeway") : Verifier.DEFAULT_LEEWAY;
            Verifier verifier = new Verifier(audience instanceof String ? (String) audience : keyset.audience(),
                    keyset.tokenKeys(), leeway, store);
            Permission permission = null;
            if (c.get("permission") instanceof String) {
                permission = Permission.of((String) c.get("permission"),
                        "write".equals(c.get("access")) ? Permission.Access.WRITE : Permission.Access.READ);
            }
            long now = c.get("now") instanceof Long ? (Long) c.get("now") : System.currentTimeMillis() / 1000;
            Object token = c.get("token");
            try {
                String guid = verifier.verify(token instanceof String ? (String) token : "", permission, now).guid();
                return Json.quote(s.append("{\"valid\":true,\"guid\":"), guid).append('}').toString();
            } catch (VerificationException e) {
                return Json.quote(s.append("{\"valid\":false,\"reason\":"), e.reason().code()).append('}').toString();
            }
        } catch (Json.ParseException | KeysetException | IllegalArgumentException e) {
            s.setLength(0);
            return Json.quote(s.append("{\"error\":"), e.getClass().getSimpleName() + ": " + e.getMessage()).append('}')
                    .toString();
        }
    }

    /**
     * Generated suites offer the same few lists to thousands of cases, and an Ed25519 check in
     * the JDK costs about a millisecond, so each (list, keys) pair is checked once: the outcome,
     * list or refusal, is remembered (at most 256 of them).
     */
    private static final Map<String, Object> VERIFIED = new LinkedHashMap<>(512, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Object> eldest) {
            return size() > 256;
        }
    };

    private static RevocationList verifiedList(String text, Map<String, byte[]> keys) throws RevocationListException {
        StringBuilder k = new StringBuilder(text.length() + 64).append(text);
        keys.forEach((kid, key) -> k.append('\0').append(kid).append('=').append(Base64.getEncoder().encodeToString(key)));
        String cacheKey = k.toString();
        Object known = VERIFIED.get(cacheKey);
        if (known == null) {
            byte[] bytes = listBytes(text);
            try {
                if (bytes == null) throw new RevocationListException(RevocationListException.Reason.MALFORMED, "not base64");
                known = RevocationList.verify(bytes, keys, RevocationList.DEFAULT_MAX_BYTES);
            } catch (RevocationListException e) {
                known = e;
            }
            VERIFIED.put(cacheKey, known);
        }
        if (known instanceof RevocationListException) throw (RevocationListException) known;
        return (RevocationList) known;
    }

    private static byte[] listBytes(String text) {
        try {
            return Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            // fall through to base64url
        }
        try {
            return Base64.getUrlDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
