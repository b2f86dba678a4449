package dev.sigil.verify;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Objects;

/**
 * Keeps a {@link RevocationStore} current from a file that {@code sigil revocations export} or a
 * {@code sigil revocations pull} sidecar replaces: one {@code stat} per interval on a daemon
 * thread, and a bounded read only when size, modification time or file identity changed. Each
 * read goes through {@link RevocationStore#load(byte[])}, so a damaged, older or forked list is
 * refused and the list in force stays.
 *
 * <pre>{@code
 * RevocationFileWatcher watcher = new RevocationFileWatcher(Path.of("revocations.sgl"), store,
 *         Duration.ofSeconds(1)).start();
 * }</pre>
 */
public final class RevocationFileWatcher implements AutoCloseable {
    private final Path path;
    private final RevocationStore store;
    private final long intervalMillis;
    private final Object sleeper = new Object();
    private volatile boolean closed;
    private Thread thread;
    private Object lastStamp;

    /**
     * @param path the list file; it may not exist yet
     * @param store the store the service's verifier reads
     * @param interval how often to look at the file (at least 10 ms)
     */
    public RevocationFileWatcher(Path path, RevocationStore store, Duration interval) {
        this.path = path;
        this.store = store;
        this.intervalMillis = Math.max(10, interval.toMillis());
    }

    /** Starts watching on a daemon thread (the first look is immediate). */
    public synchronized RevocationFileWatcher start() {
        if (thread != null) throw new IllegalStateException("already started");
        thread = new Thread(this::run, "sigil-revocation-watcher");
        thread.setDaemon(true);
        thread.start();
        return this;
    }

    /**
     * Looks at the file once and loads it if it changed since the last look.
     *
     * @return true if the file changed and was offered to the store (installed or refused)
     */
    public synchronized boolean checkOnce() {
        Object stamp;
        try {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
            stamp = java.util.List.of(a.size(), a.lastModifiedTime(), Objects.toString(a.fileKey()));
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
        if (stamp.equals(lastStamp)) return false;
        lastStamp = stamp;
        try {
            store.load(path);
        } catch (RevocationListException e) {
            // Logged by the store's listener; the list in force stays.
        }
        return true;
    }

    private void run() {
        while (!closed) {
            checkOnce();
            synchronized (sleeper) {
                if (closed) return;
                try {
                    sleeper.wait(intervalMillis);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (sleeper) {
            sleeper.notifyAll();
        }
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
