package dev.sigil.verify.tests;

import com.sun.net.httpserver.HttpExchange;
import dev.sigil.verify.RevocationDelta;
import dev.sigil.verify.RevocationList;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A local stand-in for sigil-server's {@code GET /v1/revocations} (docs/API.md): ETag
 * {@code "<sequence>"}, {@code If-None-Match}, and {@code ?wait=} long polls that
 * {@link #publish} wakes. The modes misbehave on purpose. With {@link #deltas}, {@code ?since=S}
 * is answered with the delta from the list published as S ({@link World#delta}), even when it
 * is not smaller than the list (sigil-server would send the list then; test lists are small);
 * {@link #forcedDelta} answers every {@code since} instead.
 */
final class FakeIssuer implements AutoCloseable {
    enum Mode { NORMAL, ERROR, DECLARE_HUGE, STREAM_HUGE, STALL }

    /** One request as the issuer saw it. */
    static final class Request {
        final long nanos;
        final String ifNoneMatch;
        final String uri;
        final String accept;

        Request(long nanos, String ifNoneMatch, String uri, String accept) {
            this.nanos = nanos;
            this.ifNoneMatch = ifNoneMatch;
            this.uri = uri;
            this.accept = accept;
        }
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-issuer");
        t.setDaemon(true);
        return t;
    });
    private byte[] data;
    private long sequence;
    volatile Mode mode = Mode.NORMAL;
    volatile boolean deltas;
    volatile byte[] forcedDelta;
    final java.util.concurrent.atomic.AtomicInteger deltasSent = new java.util.concurrent.atomic.AtomicInteger();
    /** Every list published, by its ETag sequence (the first one published as it). */
    private final java.util.Map<Long, byte[]> published = new java.util.HashMap<>();
    final List<Request> requests = new ArrayList<>();
    final String url;

    FakeIssuer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 32);
        server.setExecutor(pool);
        server.createContext("/v1/revocations", this::handle);
        server.start();
        url = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/revocations";
    }

    synchronized void publish(byte[] list, long seq) {
        data = list;
        sequence = seq;
        published.putIfAbsent(seq, list);
        notifyAll();
    }

    synchronized List<Request> requests() {
        return new ArrayList<>(requests);
    }

    private void handle(HttpExchange h) throws IOException {
        String etag = h.getRequestHeaders().getFirst("If-None-Match");
        String query = h.getRequestURI().getRawQuery();
        synchronized (this) {
            requests.add(new Request(System.nanoTime(), etag, h.getRequestURI().toString(),
                    h.getRequestHeaders().getFirst("Accept")));
        }
        try {
            switch (mode) {
                case ERROR:
                    send(h, 500, "oops".getBytes(), null, "text/plain");
                    return;
                case DECLARE_HUGE:
                    h.sendResponseHeaders(200, 1L << 30);
                    h.getResponseBody().write("SGLR".getBytes());
                    h.getResponseBody().flush();
                    Thread.sleep(300);
                    return;
                case STREAM_HUGE:
                    h.sendResponseHeaders(200, 0); // chunked: no Content-Length to go by
                    for (int k = 0; k < 64; k++) h.getResponseBody().write(new byte[1024]);
                    h.getResponseBody().close();
                    return;
                case STALL:
                    Thread.sleep(3000);
                    send(h, 304, new byte[0], null, RevocationList.MEDIA_TYPE);
                    return;
                default:
                    break;
            }
            long wait = 0;
            Long since = null;
            if (query != null) {
                for (String part : query.split("&")) {
                    if (part.startsWith("wait=")) wait = Long.parseLong(part.substring(5));
                    if (part.startsWith("since=")) since = Long.parseUnsignedLong(part.substring(6));
                }
            }
            byte[] body;
            String tag;
            String type = RevocationList.MEDIA_TYPE;
            synchronized (this) {
                long deadline = System.nanoTime() + wait * 1_000_000_000L;
                while (etag != null && etag.equals("\"" + sequence + "\"") && System.nanoTime() < deadline) {
                    wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                }
                tag = "\"" + sequence + "\"";
                body = data == null || tag.equals(etag) ? null : data;
                if (body != null && since != null) {
                    byte[] base = published.get(since);
                    byte[] delta = forcedDelta != null ? forcedDelta
                            : deltas && base != null && since != sequence ? World.delta(base, body) : null;
                    if (delta != null) {
                        body = delta;
                        type = RevocationDelta.MEDIA_TYPE;
                        deltasSent.incrementAndGet();
                    }
                }
            }
            if (body == null) send(h, 304, new byte[0], null, type);
            else send(h, 200, body, tag, type);
        } catch (InterruptedException | IOException e) {
            // The client went away or the test is over.
        } finally {
            h.close();
        }
    }

    private static void send(HttpExchange h, int status, byte[] body, String etag, String type) throws IOException {
        if (etag != null) h.getResponseHeaders().set("ETag", etag);
        h.getResponseHeaders().set("Content-Type", type);
        h.sendResponseHeaders(status, status == 304 ? -1 : body.length);
        if (status != 304) {
            try (OutputStream out = h.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            notifyAll();
        }
        server.stop(0);
        pool.shutdownNow();
    }
}
