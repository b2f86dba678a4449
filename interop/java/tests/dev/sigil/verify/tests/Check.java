package dev.sigil.verify.tests;

import dev.sigil.verify.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** Assertions and shared paths for the suites. */
final class Check {
    private Check() {}

    static void eq(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but got <" + actual + ">");
        }
    }

    static void isTrue(boolean condition, String what) {
        if (!condition) throw new AssertionError(what);
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs {@code body} and returns what it threw, failing if it threw nothing or something else. */
    static <T extends Throwable> T raises(Class<T> type, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) return type.cast(t);
            throw new AssertionError("expected " + type.getSimpleName() + " but got " + t, t);
        }
        throw new AssertionError("expected " + type.getSimpleName() + " but nothing was thrown");
    }

    /** What the library logged (through System.Logger, java.util.logging by default). */
    static final List<String> LOGS = Collections.synchronizedList(new ArrayList<>());

    /** Keeps log records in {@link #LOGS} instead of printing them, so tests can read them. */
    static void captureLogs() {
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) root.removeHandler(h);
        root.setLevel(java.util.logging.Level.ALL);
        root.addHandler(new Handler() {
            private final java.util.logging.Formatter format = new java.util.logging.SimpleFormatter();

            @Override
            public void publish(LogRecord r) {
                LOGS.add(r.getLevel() + " " + format.formatMessage(r));
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        });
    }

    /** Fails if any log line so far holds {@code secret}. */
    static void notLogged(String secret, String what) {
        synchronized (LOGS) {
            for (String line : LOGS) isTrue(!line.contains(secret), what + ": logged " + line);
        }
    }

    /** JSON text of maps, lists, strings, numbers, booleans and null (for cases and fixtures). */
    static String toJson(Object v) {
        StringBuilder out = new StringBuilder();
        writeJson(out, v);
        return out.toString();
    }

    private static void writeJson(StringBuilder out, Object v) {
        if (v == null || v == Json.NULL) {
            out.append("null");
        } else if (v instanceof String) {
            Json.quote(out, (String) v);
        } else if (v instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (!first) out.append(',');
                first = false;
                Json.quote(out, (String) e.getKey()).append(':');
                writeJson(out, e.getValue());
            }
            out.append('}');
        } else if (v instanceof List) {
            out.append('[');
            boolean first = true;
            for (Object o : (List<?>) v) {
                if (!first) out.append(',');
                first = false;
                writeJson(out, o);
            }
            out.append(']');
        } else {
            out.append(v);
        }
    }

    /** The interop/java folder. */
    static Path here() {
        return repo().resolve("interop/java");
    }

    /** What a child process printed and how it ended. */
    static final class Run {
        final int code;
        final String out;
        final String err;

        Run(int code, String out, String err) {
            this.code = code;
            this.out = out;
            this.err = err;
        }
    }

    /** Runs {@code command} with {@code stdin}, waiting at most {@code seconds}. */
    static Run run(List<String> command, String stdin, int seconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("SIGIL_HOME");
        Process p = pb.start();
        java.util.concurrent.CompletableFuture<byte[]> out =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
        java.util.concurrent.CompletableFuture<byte[]> err =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
        try (java.io.OutputStream in = p.getOutputStream()) {
            if (stdin != null) in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        if (!p.waitFor(seconds, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not end within " + seconds + " s");
        }
        return new Run(p.exitValue(), new String(out.get(), StandardCharsets.UTF_8), new String(err.get(), StandardCharsets.UTF_8));
    }

    private static byte[] readAll(java.io.InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }

    static Path repo() {
        String r = System.getenv("SIGIL_REPO");
        return Path.of(r != null ? r : "../..").toAbsolutePath().normalize();
    }

    static Map<String, Object> json(Path path) throws IOException, Json.ParseException {
        return Json.asObject(Json.parse(Files.readString(path, StandardCharsets.UTF_8), 64 << 20));
    }

    static Path vectors() {
        // The published RFC and Wycheproof vectors, as checked into the repository.
        Path inRepo = repo().resolve("Tests/Fixtures");
        return Files.isDirectory(inRepo) ? inRepo : Path.of("/work/shared/vectors");
    }
}
