package dev.sigil.verify;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Keeps a {@link RevocationStore} current from a file that {@code sigil revocations export} or a
 * {@code sigil revocations pull} sidecar replaces: one {@code stat} per interval on a daemon
 * thread, and a bounded read only when size, modification time or file identity changed. Each
 * read goes through {@link RevocationStore#load(byte[])}, so a damaged, older or forked list is
 * refused and the list in force stays. The file is read only if it is a regular file, opened
 * without following a symlink ({@code O_NOFOLLOW}) and bounded by the store's size limit.
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
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
        Object stamp = List.of(a.size(), a.lastModifiedTime(), Objects.toString(a.fileKey()), a.isRegularFile());
        if (stamp.equals(lastStamp)) return false;
        lastStamp = stamp;
        try {
            // Only a regular file, opened without following a symlink: a FIFO would block the
            // read, and a link could be pointed at a file the service never meant to trust.
            if (!a.isRegularFile()) {
                throw new RevocationListException(RevocationListException.Reason.IO,
                        path.getFileName() + " is not a regular file (symlinks are not followed)");
            }
            store.load(RevocationStore.readBounded(path, store.maxBytes(), LinkOption.NOFOLLOW_LINKS));
        } catch (RevocationListException e) {
            if (e.reason() == RevocationListException.Reason.IO) store.listenerRefused(e);
            // Other refusals were told to the listener by the store; the list in force stays.
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
