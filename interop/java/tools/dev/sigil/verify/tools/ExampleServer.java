package dev.sigil.verify.tools;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.sigil.verify.Keyset;
import dev.sigil.verify.Permission;
import dev.sigil.verify.RevocationFollower;
import dev.sigil.verify.RevocationStore;
import dev.sigil.verify.SigilFilter;
import dev.sigil.verify.Verifier;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A tiny protected service for the cross-language live test (interop/live/): fails closed,
 * follows the issuer's revocation list, serves {@code GET /protected} through {@link SigilFilter}.
 *
 * <pre>
 * example-server --port N --keyset PATH --revocations-url URL --permission RESOURCE.ACTION --access read|write
 *                [--wait SECONDS]
 * </pre>
 *
 * Prints {@code listening <port>} once it accepts connections; exits on SIGTERM.
 */
public final class ExampleServer {
    private ExampleServer() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new HashMap<>();
        for (int k = 0; k < args.length; k++) {
            if (!args[k].startsWith("--") || k + 1 >= args.length) usage("unexpected argument " + args[k]);
            opts.put(args[k].substring(2), args[++k]);
        }
        for (String required : new String[] {"port", "keyset", "revocations-url", "permission", "access"}) {
            if (!opts.containsKey(required)) usage("missing --" + required);
        }
        String access = opts.get("access");
        if (!access.equals("read") && !access.equals("write")) usage("--access is read or write");
        Permission permission = access.equals("write") ? Permission.write(opts.get("permission"))
                : Permission.read(opts.get("permission"));
        int wait = Integer.parseInt(opts.getOrDefault("wait", "30"));

        Keyset keyset = Keyset.load(Path.of(opts.get("keyset")));
        RevocationStore store = new RevocationStore(keyset.revocationKeys(), RevocationStore.StalePolicy.FAIL_CLOSED,
                RevocationStore.NoListPolicy.FAIL_CLOSED);
        Verifier verifier = Verifier.of(keyset, store);
        RevocationFollower follower = new RevocationFollower(URI.create(opts.get("revocations-url")), store, wait).start();

        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(opts.get("port"))), 64);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        server.setExecutor(pool);
        HttpContext context = server.createContext("/", exchange -> {
            byte[] body = ("{\"guid\":\"" + SigilFilter.token(exchange).guid() + "\"}").getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.getResponseHeaders().set("Cache-Control", "no-store");
            boolean head = exchange.getRequestMethod().equals("HEAD");
            exchange.sendResponseHeaders(200, head ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                if (!head) out.write(body);
            }
        });
        // Routing first, as the Python example does: only GET or HEAD /protected meets the token check.
        context.getFilters().add(new Filter() {
            @Override
            public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
                String method = exchange.getRequestMethod();
                if (exchange.getRequestURI().getPath().equals("/protected") && (method.equals("GET") || method.equals("HEAD"))) {
                    chain.doFilter(exchange);
                    return;
                }
                byte[] body = "{\"error\":\"not_found\"}".getBytes(StandardCharsets.UTF_8);
                exchange.getRequestBody().close();
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(404, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }

            @Override
            public String description() {
                return "GET /protected only";
            }
        });
        context.getFilters().add(new SigilFilter(verifier, permission));
        server.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            follower.close();
            server.stop(0);
            pool.shutdownNow();
            // SIGTERM is the expected way to stop: exit 0, as the other languages' servers do.
            Runtime.getRuntime().halt(0);
        }));
        System.out.println("listening " + server.getAddress().getPort());
        System.out.flush();
        Thread.currentThread().join();
    }

    private static void usage(String why) {
        System.err.println("example-server: " + why);
        System.err.println("usage: example-server --port N --keyset PATH --revocations-url URL"
                + " --permission RESOURCE.ACTION --access read|write");
        System.exit(64);
    }
}
