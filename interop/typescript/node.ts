/**
 * The Node-only parts: reading keyset and list files, and a FileWatcher that reloads a list
 * file when it changes. Kept apart from `./sigil.js` so that module stays runtime-neutral.
 *
 * ```ts
 * const keyset = readKeyset("/etc/billing/keyset.json");
 * const store = new RevocationStore(keyset.revocationKeys, { whenNoList: "fail_closed" });
 * const watcher = new FileWatcher("/etc/billing/revocations.sgl", store).start();
 * ```
 */

import { constants, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle, Stats } from "node:fs/promises";
import { KEYSET_MAX_BYTES, KeysetError, loadKeyset, RevocationListError, RevocationStore } from "./sigil.js";
import type { Keyset, Logger, Outcome } from "./sigil.js";

/** Reads and parses a keyset file. Throws KeysetError (or the file system's error). */
export function readKeyset(path: string): Keyset {
  const data = readFileSync(path);
  if (data.length > KEYSET_MAX_BYTES) throw new KeysetError("keyset is larger than 1 MiB");
  return loadKeyset(data);
}

interface Read {
  stats: Stats | null;
  data: Uint8Array | null;
  error: string | null;
}

/** Opens `path` without following a symlink (O_NOFOLLOW) and reads at most `limit` bytes,
 *  unless its (dev, inode, size, mtime) equals `unless`. */
async function readBounded(path: string, limit: number, unless: string | null = null): Promise<Read & { stamp: string | null }> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "EIO";
    return { stats: null, data: null, error: code, stamp: code === "ENOENT" ? null : `error:${code}` };
  }
  try {
    const stats = await handle.stat();
    const stamp = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
    if (stamp === unless) return { stats, data: null, error: null, stamp };
    if (!stats.isFile()) return { stats, data: null, error: "not a regular file", stamp };
    // One byte past the limit is enough for the store to answer too_large.
    const want = Math.min(stats.size, limit) + 1;
    const buffer = new Uint8Array(want);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, total, want - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total === want) break;
    }
    return { stats, data: buffer.subarray(0, total), error: null, stamp };
  } catch (e) {
    return { stats: null, data: null, error: (e as { code?: string }).code ?? "EIO", stamp: null };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function ioError(store: RevocationStore, error: string): Outcome {
  return store.tell({ kind: "refused", sequence: null, error: new RevocationListError("io", `cannot read the list: ${error}`) });
}

/** Reads a list file (no symlink, at most the store's maxBytes + 1 bytes) and offers it to `store`;
 *  the file may hold a full list or a delta (§4.3), applied to the list in force. */
export async function offerFile(store: RevocationStore, path: string): Promise<Outcome> {
  const read = await readBounded(path, store.maxBytes);
  if (read.data === null) return ioError(store, read.error ?? "unreadable");
  return store.offer(read.data);
}

/** Like offerFile, but throws the RevocationListError of a refused list. */
export async function loadFile(store: RevocationStore, path: string): Promise<void> {
  const outcome = await offerFile(store, path);
  if (outcome.error !== null) throw outcome.error;
}

export interface FileWatcherOptions {
  /** Milliseconds between looks (default 1000). */
  interval?: number;
  log?: Logger;
}

/**
 * Offers a list file to `store` whenever it changes: one open + fstat per interval, and a read
 * only when (device, inode, size, mtime) moved. The file is opened without following a symlink
 * and read up to the store's size bound; a refused list changes nothing.
 */
export class FileWatcher {
  readonly interval: number;
  private last: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private readonly log: Logger;

  constructor(readonly path: string, readonly store: RevocationStore, options: FileWatcherOptions = {}) {
    this.interval = options.interval ?? 1000;
    this.log = options.log ?? ((level, message) => (level === "info" ? undefined : console.warn(`sigil: ${message}`)));
  }

  /** Offers the file if it changed since the last look; null if it did not (or is absent). */
  async checkOnce(): Promise<Outcome | null> {
    const read = await readBounded(this.path, this.store.maxBytes, this.last);
    if (read.stamp === null || read.stamp === this.last) return null;
    this.last = read.stamp;
    let outcome: Outcome;
    if (read.data === null) {
      outcome = ioError(this.store, read.error ?? "unreadable");
    } else {
      outcome = await this.store.offer(read.data);
    }
    if (outcome.kind === "installed") this.log("info", `revocations installed from file: sequence=${outcome.sequence}`);
    if (outcome.error !== null) {
      this.log("error", `revocations refused (the list in force stays): reason=${outcome.error.reason} ${outcome.error.detail}`);
    }
    return outcome;
  }

  /** Looks now and then every `interval` ms until stop(); returns this. */
  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    const tick = async (): Promise<void> => {
      await this.checkOnce().catch(() => null);
      if (!this.stopped) this.timer = setTimeout(tick, this.interval);
    };
    void tick();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
