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
