package dev.sigil.verify.tests;

import dev.sigil.verify.Json;
import dev.sigil.verify.tools.Fixtures;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The example program, ./example-server over real HTTP following a local issuer, and ./bench. */
final class ExampleTests {
    private ExampleTests() {}

    static String guidText(byte[] g) {
        return Fixtures.toHex(g).replaceFirst("(.{8})(.{4})(.{4})(.{4})(.{12})", "$1-$2-$3-$4-$5");
    }

    /** Runs examples/VerifyToken.java's main in this JVM with {@code token} on stdin. */
    static String runExample(Path keyset, Path list, String token) throws Exception {
        InputStream in = System.in;
        PrintStream out = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setIn(new ByteArrayInputStream((token + "\n").getBytes(StandardCharsets.UTF_8)));
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            Class.forName("VerifyToken").getMethod("main", String[].class)
                    .invoke(null, (Object) new String[] {keyset.toString(), list.toString()});
        } finally {
            System.setIn(in);
            System.setOut(out);
        }
        String printed = captured.toString(StandardCharsets.UTF_8);
        Check.isTrue(!printed.contains(token) || token.length() < 10, "the token is not printed");
        return printed.strip();
    }

    static void testExampleProgram() throws Exception {
        Path dir = World.tempDir();
        Path keyset = World.writeKeyset(dir);
        byte[] revokedGuid = World.randomGuid();
        Path list = World.write(dir, "revocations.sgl", World.list(1, 0, revokedGuid, 2));
        byte[] g = World.randomGuid();
        Check.eq("valid " + guidText(g), runExample(keyset, list, World.tokenNow(g, 3, "devices.list")), "custom scope");
        Check.eq("refused revoked", runExample(keyset, list, World.tokenNow(revokedGuid, 1)), "revoked");
        byte[] ro = World.randomGuid();
        Check.eq("valid " + guidText(ro), runExample(keyset, list, World.tokenNow(ro, 2)), "devices.list is a read");
        Check.eq("refused scope_not_granted", runExample(keyset, list, World.tokenNow(g, 3, "invoices.read")), "scope");
        Check.eq("refused malformed", runExample(keyset, list, "sgl_nope"), "malformed");
        // As the README shows it: the single-file source launcher, with only the library jar.
        Check.Run r = Check.run(List.of(javaBin(), "-cp", Check.here().resolve("build/sigil-verify.jar").toString(),
                Check.here().resolve("examples/VerifyToken.java").toString(), keyset.toString(), list.toString()),
                World.tokenNow(g, 1) + "\n", 60);
        Check.eq(0, r.code, "java VerifyToken.java: " + r.err);
        Check.eq("valid " + guidText(g), r.out.strip(), "source launcher");
        long code = 0;
        for (String line : Files.readAllLines(Check.here().resolve("examples/VerifyToken.java"))) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("//") && !t.equals("}") && !t.startsWith(".")) code++;
        }
        Check.isTrue(code <= 12, "the example is " + code + " lines of code");
        String example = Files.readString(Check.here().resolve("examples/VerifyToken.java"));
        Check.isTrue(Files.readString(Check.here().resolve("README.md")).contains("```java\n" + example + "```\n"),
                "README.md shows examples/VerifyToken.java verbatim");
    }

    static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static final class Answer {
        final int status;
        final Map<String, List<String>> headers;
        final String body;

        Answer(int status, Map<String, List<String>> headers, String body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey() != null && e.getKey().equalsIgnoreCase(name)) return e.getValue().get(0);
            }
            return null;
        }
    }

    static Answer get(int port, String path, String token) throws Exception {
        HttpURLConnection c = (HttpURLConnection) new URL("http://127.0.0.1:" + port + path).openConnection();
        c.setConnectTimeout(5000);
        c.setReadTimeout(10_000);
        if (token != null) c.setRequestProperty("Authorization", "Bearer " + token);
        int status = c.getResponseCode();
        InputStream body = status < 400 ? c.getInputStream() : c.getErrorStream();
        String text = body == null ? "" : new String(body.readAllBytes(), StandardCharsets.UTF_8);
        Answer a = new Answer(status, c.getHeaderFields(), text);
        c.disconnect();
        return a;
    }

    static void testExampleServer() throws Exception {
        Path dir = World.tempDir();
        Path keyset = World.writeKeyset(dir);
        byte[] g = World.randomGuid();
        String token = World.tokenNow(g, 3, "devices.list");
        try (FakeIssuer issuer = new FakeIssuer()) {
            ProcessBuilder pb = new ProcessBuilder(Check.here().resolve("example-server").toString(), "--port", "0",
                    "--keyset", keyset.toString(), "--revocations-url", issuer.url, "--permission", "devices.list",
                    "--access", "read", "--wait", "5");
            pb.redirectError(dir.resolve("stderr.txt").toFile());
            Process p = pb.start();
            try {
                BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                String line = stdout.readLine();
                Check.isTrue(line != null && line.startsWith("listening "), "first line: " + line + "; stderr: "
                        + Files.readString(dir.resolve("stderr.txt")));
                int port = Integer.parseInt(line.substring("listening ".length()).trim());
                Check.isTrue(port > 0, "the real port");
                Check.eq(503, get(port, "/protected", token).status, "fails closed before the first list");
                issuer.publish(World.list(1, 0), 1);
                Check.isTrue(World.waitUntil(() -> get(port, "/protected", token).status == 200, 5000), "first list");
                Answer ok = get(port, "/protected", token);
                Check.eq(Map.of("guid", guidText(g)), Json.parse(ok.body, 1000), "200 body");
                Check.eq(401, get(port, "/protected", null).status, "no token");
                Check.eq(404, get(port, "/elsewhere", token).status, "other paths");
                Check.eq(403, get(port, "/protected", World.tokenNow(World.randomGuid(), 3, "invoices.read")).status, "scope");
                Thread.sleep(300); // let the follower's next long poll start
                issuer.publish(World.list(2, 0, g, 2), 2);
                long started = System.nanoTime();
                Check.isTrue(World.waitUntil(() -> get(port, "/protected", token).status == 401, 2000), "revoked within 2 s");
                Check.isTrue(System.nanoTime() - started < 2_000_000_000L, "within 2 s");
                Check.eq("Bearer error=\"invalid_token\", error_description=\"revoked\"",
                        get(port, "/protected", token).header("WWW-Authenticate"), "challenge");
                p.destroy(); // SIGTERM
                Check.isTrue(p.waitFor(10, TimeUnit.SECONDS), "exits on SIGTERM");
                Check.eq(0, p.exitValue(), "exit status after SIGTERM");
                String err = Files.readString(dir.resolve("stderr.txt"));
                Check.isTrue(!err.contains(token.substring(4)), "the token is not logged");
            } finally {
                if (p.isAlive()) {
                    p.destroyForcibly();
                    p.waitFor(5, TimeUnit.SECONDS);
                }
            }
        }
    }

    static void testBenchPrintsOneJsonLine() throws Exception {
        Check.Run r = Check.run(List.of(Check.here().resolve("bench").toString(), "--seconds", "0.2"), null, 60);
        Check.eq(0, r.code, "bench: " + r.err);
        List<String> lines = new ArrayList<>(List.of(r.out.strip().split("\n")));
        Check.eq(1, lines.size(), "one line: " + r.out);
        Map<String, Object> m = Json.asObject(Json.parse(lines.get(0), 1000));
        Check.eq("java", m.get("language"), "language");
        double verify = ((Number) m.get("verify_ns")).doubleValue();
        double hmac = ((Number) m.get("hmac_ns")).doubleValue();
        Check.isTrue(verify > 0 && hmac > 0, "positive figures");
        Check.isTrue(Math.abs(((Number) m.get("ratio")).doubleValue() - verify / hmac) < 0.02 * verify / hmac + 0.01, "ratio");
        System.out.println("     (bench --seconds 0.2: " + lines.get(0) + ")");
    }
}
