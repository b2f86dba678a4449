package dev.sigil.verify;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Keeps a {@link RevocationStore} current from sigil-server's {@code GET /v1/revocations}: a
 * long poll with {@code ?wait=} and {@code If-None-Match} (docs/API.md), on one daemon thread.
 *
 * <p>While a list is in force it asks with {@code ?since=<its sequence>}, so the server may answer
 * a revocation delta (docs/FORMAT.md §4.3) instead of the whole list; the store applies it to the
 * list in force. After a refused delta ({@code delta_base_mismatch} or any other reason) the next
 * request leaves {@code since} out, so the whole list comes and the list in force is current again.
 *
 * <p>Every list goes through {@link RevocationStore#load(byte[])}: size bound, format, known key,
 * Ed25519 signature, then no rollback and no equivocation; a refused list leaves the list in
 * force. Reads are bounded in size (the store's limit, checked against {@code Content-Length}
 * and again while the body arrives) and in time (each request ends after {@code wait + 15} s);
 * failures back off from 1 s, doubling to 30 s ({@link #timing}). Logs carry sequences, reason codes and the
 * host, never a token.
 *
 * <pre>{@code
 * RevocationFollower follower = new RevocationFollower(URI.create("https://issuer.example/v1/revocations"), store);
 * follower.start();   // ... follower.close() at shutdown
 * }</pre>
 */
public final class RevocationFollower implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.sigil.verify");

    private final URI url;
    private final RevocationStore store;
    private final int waitSeconds;
    private final HttpClient client;
    private final Object sleeper = new Object();
    private volatile boolean closed;
    private volatile Thread thread;
    private volatile String etag;
    /** A delta was refused: ask without {@code since} until a poll succeeds. */
    private volatile boolean wholeNext;
    private volatile long minBackoffMillis = 1000;
    private volatile long maxBackoffMillis = 30_000;
    private volatile long slackMillis = 15_000;

    /**
     * @param url the {@code GET /v1/revocations} URL (http or https)
     * @param store the store the service's verifier reads
     * @param waitSeconds how long the server may hold each poll; clamped to 1–60
     */
    public RevocationFollower(URI url, RevocationStore store, int waitSeconds) {
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) throw new IllegalArgumentException("not an http(s) URL");
        this.url = url;
        this.store = store;
        this.waitSeconds = Math.min(Math.max(waitSeconds, 1), 60);
        // Redirects are followed (a CDN in front): the list is signed and no credential is sent.
        // HTTP/1.1: an h2c upgrade offer on a long poll gains nothing and some servers mishandle it.
        this.client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /**
     * Changes the backoff after a failure (from {@code minBackoff}, doubling up to
     * {@code maxBackoff}; default 1–30 s) and how long a request may run past {@code wait}
     * before it is abandoned (default 15 s). Call before {@link #start()}.
     */
    public RevocationFollower timing(Duration minBackoff, Duration maxBackoff, Duration slack) {
        if (minBackoff.isNegative() || maxBackoff.compareTo(minBackoff) < 0 || slack.isNegative()) {
            throw new IllegalArgumentException("backoff must be 0 <= min <= max and slack >= 0");
        }
        this.minBackoffMillis = minBackoff.toMillis();
        this.maxBackoffMillis = maxBackoff.toMillis();
        this.slackMillis = slack.toMillis();
        return this;
    }

    /** The ETag of the list last installed or confirmed, sent as {@code If-None-Match}; null before. */
    public String etag() {
        return etag;
    }

    /** Follows {@code url} with 30-second polls. */
    public RevocationFollower(URI url, RevocationStore store) {
        this(url, store, 30);
    }

    /** Starts following on a daemon thread. */
    public synchronized RevocationFollower start() {
        if (thread != null) throw new IllegalStateException("already started");
        Thread t = new Thread(this::run, "sigil-revocation-follower");
        t.setDaemon(true);
        thread = t;
        t.start();
        return this;
    }

    /** Stops following; returns once the thread has ended (or after 5 s). */
    @Override
    public void close() {
        closed = true;
        synchronized (sleeper) {
            sleeper.notifyAll();
        }
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** What one poll did. */
    public enum Poll {
        /** A list was installed. */
        INSTALLED,
        /** 304, or the same list as the one in force. */
        CURRENT,
        /** A list or a delta was refused (logged by the store's listener); the list in force stays. */
        REFUSED,
        /** No answer, a non-2xx/304 answer, or a body past the size limit. */
        FAILED
    }

    /**
     * One poll: asks for a newer list than the ETag last installed (with {@code since} the
     * sequence in force, so a delta may come) and offers it to the store. The loop of
     * {@link #start()} calls this; tests and one-shot tools may call it directly.
     */
    public Poll pollOnce() throws InterruptedException {
        RevocationList inForce = store.list();
        String since = inForce == null || wholeNext ? "" : "since=" + Long.toUnsignedString(inForce.sequence()) + "&";
        String address = url.toString() + (url.getRawQuery() == null ? "?" : "&") + since + "wait=" + waitSeconds;
        long budget = waitSeconds * 1000L + slackMillis;
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(address)).GET()
                .header("Accept", RevocationList.MEDIA_TYPE + ", " + RevocationDelta.MEDIA_TYPE)
                .timeout(Duration.ofMillis(Math.max(1, budget)));
        String tag = etag;
        if (tag != null) request.header("If-None-Match", tag);
        CompletableFuture<HttpResponse<byte[]>> future =
                client.sendAsync(request.build(), info -> info.statusCode() == 200 ? bounded(info, store.maxBytes())
                        : HttpResponse.BodySubscribers.replacing(new byte[0]));
        HttpResponse<byte[]> response;
        try {
            // The request timeout covers the headers only; this bounds the body too.
            response = future.get(budget, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            return failed("no whole answer within " + budget + " ms");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TooLarge) {
                store.listenerRefused(new RevocationListException(RevocationListException.Reason.TOO_LARGE, cause.getMessage()));
                return failed("too large");
            }
            return failed(cause == null ? "fetch failed" : cause.getClass().getSimpleName());
        } catch (InterruptedException e) {
            future.cancel(true);
            throw e;
        }
        if (response.statusCode() == 304) {
            wholeNext = false;
            return Poll.CURRENT;
        }
        if (response.statusCode() != 200) return failed("HTTP " + response.statusCode());
        try {
            RevocationStore.Loaded loaded = store.load(response.body());
            etag = response.headers().firstValue("ETag").orElse(null);
            wholeNext = false;
            return loaded == RevocationStore.Loaded.INSTALLED ? Poll.INSTALLED : Poll.CURRENT;
        } catch (RevocationListException e) {
            if (RevocationDelta.isDelta(response.body())) {
                wholeNext = true;
                LOG.log(System.Logger.Level.WARNING, "revocation delta from {0} refused ({1}); asking for the whole list next",
                        url.getHost(), e.reason().code());
            }
            return Poll.REFUSED;
        }
    }

    private Poll failed(String why) {
        LOG.log(System.Logger.Level.WARNING, "revocations fetch from {0} failed: {1}", url.getHost(), why);
        return Poll.FAILED;
    }

    private void run() {
        LOG.log(System.Logger.Level.INFO, "following revocations from {0} (wait {1} s)", url.getHost(), waitSeconds);
        long backoff = minBackoffMillis;
        while (!closed) {
            long started = System.nanoTime();
            Poll poll;
            try {
                poll = pollOnce();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                poll = failed(e.getClass().getSimpleName());
            }
            long pauseMillis;
            if (poll == Poll.INSTALLED || poll == Poll.CURRENT) {
                backoff = minBackoffMillis;
                // A server that answers at once (no long poll) is asked at most once a second.
                pauseMillis = 1000 - (System.nanoTime() - started) / 1_000_000;
            } else {
                pauseMillis = backoff;
                backoff = Math.min(backoff * 2, maxBackoffMillis);
            }
            if (pauseMillis > 0 && !pause(pauseMillis)) return;
        }
    }

    private boolean pause(long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000;
        synchronized (sleeper) {
            while (!closed) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) return true;
                try {
                    sleeper.wait(left);
                } catch (InterruptedException e) {
                    return false;
                }
            }
        }
        return false;
    }

    /** A body past the limit: the read stops there. */
    static final class TooLarge extends Exception {
        private static final long serialVersionUID = 1L;

        TooLarge(String message) {
            super(message, null, false, false);
        }
    }

    private static HttpResponse.BodySubscriber<byte[]> bounded(HttpResponse.ResponseInfo info, int maxBytes) {
        Optional<String> declared = info.headers().firstValue("Content-Length");
        if (declared.isPresent()) {
            try {
                long n = Long.parseLong(declared.get().trim());
                if (n > maxBytes) {
                    return new Bounded(maxBytes, "the server declares " + n + " bytes, limit " + maxBytes, true);
                }
            } catch (NumberFormatException e) {
                // Let the body decide.
            }
        }
        return new Bounded(maxBytes, null, false);
    }

    /** Collects at most {@code maxBytes}; cancels the subscription beyond that. */
    private static final class Bounded implements HttpResponse.BodySubscriber<byte[]> {
        private final int maxBytes;
        private final String refuseAtOnce;
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private Flow.Subscription subscription;

        Bounded(int maxBytes, String refuse, boolean refuseNow) {
            this.maxBytes = maxBytes;
            this.refuseAtOnce = refuseNow ? refuse : null;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (refuseAtOnce != null) {
                s.cancel();
                result.completeExceptionally(new TooLarge(refuseAtOnce));
                return;
            }
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            if (result.isDone()) return;
            for (ByteBuffer b : items) {
                if (buffer.size() + b.remaining() > maxBytes) {
                    subscription.cancel();
                    result.completeExceptionally(new TooLarge("the body goes past " + maxBytes + " bytes; stopped reading there"));
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                buffer.write(chunk, 0, chunk.length);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(buffer.toByteArray());
        }
    }
}
