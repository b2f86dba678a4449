package dev.sigil.verify.tests;

import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpServer;
import dev.sigil.verify.Permission;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.RevocationStore.NoListPolicy;
import dev.sigil.verify.RevocationStore.StalePolicy;
import dev.sigil.verify.SigilBearer;
import dev.sigil.verify.SigilFilter;
import dev.sigil.verify.Verifier;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The plain bearer API and the com.sun.net.httpserver filter, over real HTTP on 127.0.0.1. */
final class BearerTests {
    private BearerTests() {}

    static final Permission WRITE_INVOICES = Permission.of("invoices.write", Permission.Access.WRITE);

    static void testHeaderParsing() throws Exception {
        SigilBearer b = new SigilBearer(World.verifier(null), null);
        String t = World.token(World.guid(1), 1);
        Check.isTrue(authorize(b, "Bearer " + t).allowed(), "Bearer");
        Check.isTrue(authorize(b, "bEaReR    " + t).allowed(), "scheme in any case, several spaces");
        Check.eq("missing_token", b.authorize(List.of(), World.NOW).reason(), "none");
        Check.eq("missing_token", authorize(b, "Basic abc").reason(), "another scheme");
        Check.eq("missing_token", authorize(b, "Bearerx " + t).reason(), "another scheme name");
        Check.eq("malformed_authorization", authorize(b, "Bearer").reason(), "no credentials");
        Check.eq("malformed_authorization", authorize(b, "Bearer  ").reason(), "only spaces");
        Check.eq("malformed_authorization", authorize(b, "Bearer " + t + " x").reason(), "two words");
        Check.eq("malformed_authorization", authorize(b, "Bearer a=b").reason(), "= inside");
        Check.eq("malformed_authorization", authorize(b, "Bearer " + t + "\t").reason(), "tab");
        Check.eq("multiple_authorization_headers", b.authorize(List.of("Bearer " + t, "Bearer " + t), World.NOW).reason(), "two");
        SigilBearer.Outcome o = authorize(b, "Bearer " + t + "==");
        Check.eq(401, o.status(), "b64token padding reaches the verifier");
        Check.eq("Bearer error=\"invalid_token\", error_description=\"malformed\"", o.wwwAuthenticate(), "challenge");
    }

    private static SigilBearer.Outcome authorize(SigilBearer b, String header) {
        return b.authorize(List.of(header), World.NOW);
    }

    static void testRefusalShapes() throws Exception {
        RevocationStore closed = World.store(StalePolicy.FAIL_CLOSED, NoListPolicy.FAIL_CLOSED);
        SigilBearer b = new SigilBearer(World.verifier(closed), WRITE_INVOICES);
        String t = World.token(World.guid(1), 2);
        SigilBearer.Outcome stale = authorize(b, "Bearer " + t);
        Check.eq(503, stale.status(), "no list, fail closed");
        Check.eq(null, stale.wwwAuthenticate(), "no challenge");
        Check.eq("{\"error\":\"temporarily_unavailable\",\"reason\":\"revocations_stale\"}", stale.body(), "503 body");
        closed.load(World.list(1, 0));
        SigilBearer.Outcome scope = authorize(b, "Bearer " + t);
        Check.eq(403, scope.status(), "read-only token, write permission");
        Check.eq("Bearer error=\"insufficient_scope\", scope=\"invoices.write\"", scope.wwwAuthenticate(), "403 challenge");
        Check.eq("{\"error\":\"insufficient_scope\",\"reason\":\"scope_not_granted\",\"scope\":\"invoices.write\"}", scope.body(),
                "403 body");
        SigilBearer.Outcome ok = authorize(b, "Bearer " + World.token(World.guid(1), 1));
        Check.eq(200, ok.status(), "all");
        Check.eq("10000000-0000-0000-0000-000000000001", ok.token().guid(), "guid");
    }

    /** One raw HTTP/1.1 exchange, so repeated headers and odd values go out exactly as written. */
    static String raw(int port, String... headers) throws Exception {
        if (headers.length > 0 && headers[0].equals("HEAD")) {
            return raw(port, "HEAD", java.util.Arrays.copyOfRange(headers, 1, headers.length));
        }
        return raw(port, "GET", headers);
    }

    static String raw(int port, String method, String[] headers) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            StringBuilder req = new StringBuilder(method + " /invoices HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
            for (String h : headers) req.append(h).append("\r\n");
            req.append("\r\n");
            OutputStream out = s.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    static void testFilterOverHttp() throws Exception {
        RevocationStore store = World.store(StalePolicy.KEEP_SERVING, NoListPolicy.FAIL_CLOSED);
        Verifier verifier = new Verifier("billing", java.util.Map.of("k1", World.K_BILLING), Verifier.DEFAULT_LEEWAY, store);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        HttpContext ctx = server.createContext("/invoices", exchange -> {
            byte[] body = ("{\"guid\":\"" + SigilFilter.token(exchange).guid() + "\"}").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream o = exchange.getResponseBody()) {
                o.write(body);
            }
        });
        ctx.getFilters().add(new SigilFilter(verifier, WRITE_INVOICES));
        server.start();
        try {
            int port = server.getAddress().getPort();
            long now = System.currentTimeMillis() / 1000;
            String all = dev.sigil.verify.tools.Fixtures.token("k1", World.K_BILLING, "billing", World.GUID, now - 60, now + 3600,
                    1, List.of());
            String readOnly = dev.sigil.verify.tools.Fixtures.token("k1", World.K_BILLING, "billing", World.OTHER, now - 60,
                    now + 3600, 2, List.of());

            String r = raw(port, "Authorization: Bearer " + all);
            Check.isTrue(r.startsWith("HTTP/1.1 503"), "no list yet, fail closed: " + firstLine(r));
            Check.isTrue(r.contains("revocations_stale") && !r.toLowerCase().contains("www-authenticate"), "503 without a challenge");
            store.load(World.list(1, 0, World.OTHER, 1));

            r = raw(port, "Authorization: Bearer " + all);
            Check.isTrue(r.startsWith("HTTP/1.1 200"), "allowed: " + firstLine(r));
            Check.isTrue(r.endsWith("{\"guid\":\"0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90\"}"), "handler sees the token");

            r = raw(port);
            Check.isTrue(r.startsWith("HTTP/1.1 401"), "missing: " + firstLine(r));
            Check.isTrue(header(r, "www-authenticate").equals("Bearer"), "bare challenge");

            String forged = all.substring(0, 30) + (all.charAt(30) == 'A' ? 'B' : 'A') + all.substring(31);
            r = raw(port, "Authorization: Bearer " + forged);
            Check.isTrue(r.startsWith("HTTP/1.1 401"), "forged: " + firstLine(r));
            Check.eq("Bearer error=\"invalid_token\", error_description=\"bad_signature\"", header(r, "www-authenticate"), "401");
            Check.isTrue(!r.contains(forged.substring(4, 40)), "the token is not echoed");
            Check.eq("no-store", header(r, "cache-control"), "no-store");

            r = raw(port, "Authorization: Bearer " + readOnly);
            Check.isTrue(r.startsWith("HTTP/1.1 401") && r.contains("deactivated"), "deactivated: " + firstLine(r));

            store.load(World.list(2, 0));
            r = raw(port, "Authorization: Bearer " + readOnly);
            Check.isTrue(r.startsWith("HTTP/1.1 403"), "read-only, write route: " + firstLine(r));
            Check.eq("Bearer error=\"insufficient_scope\", scope=\"invoices.write\"", header(r, "www-authenticate"), "403");

            r = raw(port, "Authorization: Bearer " + all, "Authorization: Bearer " + all);
            Check.isTrue(r.startsWith("HTTP/1.1 400"), "two headers: " + firstLine(r));
            Check.eq("Bearer error=\"invalid_request\"", header(r, "www-authenticate"), "400");
            Check.isTrue(r.contains("multiple_authorization_headers"), "400 reason");

            r = raw(port, "Authorization: Bearer " + all + " extra");
            Check.isTrue(r.startsWith("HTTP/1.1 400") && r.contains("malformed_authorization"), "two words: " + firstLine(r));
            Check.isTrue(!r.contains(all.substring(4, 40)), "the token is not echoed in a 400");

            r = raw(port, "HEAD", "Authorization: Bearer " + forged);
            Check.isTrue(r.startsWith("HTTP/1.1 401"), "HEAD: " + firstLine(r));
            Check.isTrue(r.endsWith("\r\n\r\n"), "HEAD: no body");

            Check.isTrue(Check.LOGS.stream().anyMatch(l -> l.contains("reason=bad_signature")), "refusals are logged");
            Check.notLogged(all.substring(4, 40), "valid token");
            Check.notLogged(forged.substring(4, 40), "forged token");
        } finally {
            server.stop(0);
        }
    }

    static String firstLine(String response) {
        int n = response.indexOf("\r\n");
        return n < 0 ? response : response.substring(0, n);
    }

    static String header(String response, String name) {
        for (String line : response.split("\r\n")) {
            if (line.isEmpty()) break;
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) return line.substring(colon + 1).trim();
        }
        return null;
    }
}
