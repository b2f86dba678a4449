package dev.sigil.verify.tests;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Comparator;

/**
 * A plain test runner (no JUnit needed): runs every {@code static void test…()} method of the
 * suites below, prints one line per test, and exits 1 if any failed. An argument filters tests
 * by substring of {@code Suite.method}.
 */
public final class TestRunner {
    private static final Class<?>[] SUITES = {
        CryptoTests.class, JsonTests.class, VectorTests.class, VerifierTests.class, StoreTests.class,
        BearerTests.class, FollowerTests.class, ConformanceTests.class, ExampleTests.class, CliTests.class, LiveTests.class,
    };

    private TestRunner() {}

    public static void main(String[] args) {
        Check.captureLogs();
        String filter = args.length > 0 ? args[0] : "";
        int passed = 0;
        int failed = 0;
        long start = System.nanoTime();
        for (Class<?> suite : SUITES) {
            Method[] methods = suite.getDeclaredMethods();
            Arrays.sort(methods, Comparator.comparing(Method::getName));
            for (Method m : methods) {
                if (!m.getName().startsWith("test") || !Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 0) continue;
                String name = suite.getSimpleName() + "." + m.getName();
                if (!name.contains(filter)) continue;
                long t0 = System.nanoTime();
                try {
                    m.invoke(null);
                    passed++;
                    System.out.printf("ok   %s (%d ms)%n", name, (System.nanoTime() - t0) / 1_000_000);
                } catch (InvocationTargetException e) {
                    failed++;
                    Throwable cause = e.getCause();
                    System.out.printf("FAIL %s: %s%n", name, cause);
                    for (StackTraceElement el : cause.getStackTrace()) {
                        if (el.getClassName().startsWith("dev.sigil")) System.out.println("       at " + el);
                    }
                } catch (IllegalAccessException e) {
                    failed++;
                    System.out.printf("FAIL %s: %s%n", name, e);
                }
            }
        }
        World.removeTempDirs();
        System.out.printf("%d passed, %d failed (%.1f s)%n", passed, failed, (System.nanoTime() - start) / 1e9);
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
