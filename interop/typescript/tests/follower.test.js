// RevocationFollower against a local fake issuer (long polls that a publish wakes), and the
// Node FileWatcher: the same checks as loading, bounded size and time, backoff, no symlinks.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sv from "../sigil.js";
import { FileWatcher, loadFile, offerFile } from "../node.js";
import { Issuer } from "./fake-issuer.js";
import { SEED, damageSignature, ed25519Public, makeDelta, makeList, randomGuid, sleep, waitUntil } from "./helpers.js";

async function newStore(options = {}) {
  return new sv.RevocationStore([["r1", await ed25519Public(SEED)]], options);
}

async function withIssuer(fn) {
  const issuer = await new Issuer().start();
  try {
    await fn(issuer);
  } finally {
    await issuer.close();
  }
}

const logInto = (logs) => (level, message) => logs.push(`${level} ${message}`);

test("follower: installs, long-polls with If-None-Match, and sees a publish within a second", () =>
  withIssuer(async (issuer) => {
    issuer.deltas = true;
    const store = await newStore();
    const logs = [];
    const g = randomGuid();
    issuer.publish(await makeList([], 1), 1);
    const follower = new sv.RevocationFollower(issuer.url, store, { wait: 5, log: logInto(logs) }).start();
    try {
      assert.ok(await waitUntil(() => store.current?.sequence === 1n, 3000));
      assert.equal(follower.etag, '"1"');
      await sleep(300); // the next poll is now waiting
      const published = Date.now();
      issuer.publish(await makeList([[g, 2]], 2), 2);
      assert.ok(await waitUntil(() => store.current.status(g) === "revoked", 2000));
      assert.ok(Date.now() - published < 1000, `${Date.now() - published} ms`);
      assert.ok(issuer.requests.some((r) => r.etag === '"1"' && r.path === "/v1/revocations?since=1&wait=5"));
      assert.equal(issuer.requests[0].path, "/v1/revocations?wait=5");
    } finally {
      await follower.stop();
    }
    assert.ok(follower.stopped);
    assert.equal(issuer.deltasSent, 1);
    assert.ok(logs.some((l) => l.includes("installed from a delta: sequence=2")), logs.join("\n"));
  }));

test("follower: asks with since, installs deltas, and recovers from a refused delta with the whole list", () =>
  withIssuer(async (issuer) => {
    issuer.deltas = true;
    const store = await newStore();
    const logs = [];
    const follower = new sv.RevocationFollower(issuer.url, store, { wait: 1, log: logInto(logs) });
    const [a, b, c] = [randomGuid(), randomGuid(), randomGuid()];
    issuer.publish(await makeList([[a, 1]], 1), 1);
    assert.equal(await follower.pollOnce(), "current");
    const second = await makeList([[a, 2], [b, 2]], 2);
    issuer.publish(second, 2);
    assert.equal(await follower.pollOnce(), "current");
    assert.equal(issuer.deltasSent, 1);
    assert.equal(sv.toHex(store.current.raw), sv.toHex(second));
    assert.deepEqual([store.current.status(a), store.current.status(b), follower.etag], ["revoked", "revoked", '"2"']);
    const accept = `${sv.REVOCATIONS_MEDIA_TYPE}, ${sv.REVOCATION_DELTA_MEDIA_TYPE}`;
    assert.deepEqual(
      issuer.requests.map((r) => [r.path, r.accept]),
      [["/v1/revocations?wait=1", accept], ["/v1/revocations?since=1&wait=1", accept]],
    );

    // A delta that does not apply is refused; the next request asks without since, even though
    // the server keeps answering since with that delta.
    const stranger = await makeList([[a, 2], [c, 2]], 2); // another list 2
    const bad = [
      ["malformed", (next) => makeDelta(stranger, next)], // c is not in force
      ["delta_base_mismatch", async (next) => makeDelta(await makeList([], 7), next)],
      ["bad_signature", (next) => damageSignature(makeDelta(store.current.raw, next))],
    ];
    let sequence = 2;
    for (const [reason, build] of bad) {
      const inForce = store.current;
      sequence++;
      const next = await makeList([[b, 1], [randomGuid(), 2]], sequence);
      issuer.forcedDelta = await build(next);
      issuer.publish(next, sequence);
      assert.equal(await follower.pollOnce(), "failed: refused delta", reason);
      assert.equal(store.current, inForce, reason);
      assert.equal(follower.etag, `"${sequence - 1}"`, reason);
      assert.ok(logs.at(-1).includes(`reason=${reason}`), logs.at(-1));
      assert.equal(await follower.pollOnce(), "current", reason);
      assert.equal(sv.toHex(store.current.raw), sv.toHex(next), reason);
      assert.deepEqual(
        issuer.requests.slice(-2).map((r) => r.path),
        [`/v1/revocations?since=${sequence - 1}&wait=1`, "/v1/revocations?wait=1"],
        reason,
      );
    }

    // Recovered: since and deltas again.
    issuer.forcedDelta = null;
    const sent = issuer.deltasSent;
    const last = await makeList([[c, 1]], sequence + 1);
    issuer.publish(last, sequence + 1);
    assert.equal(await follower.pollOnce(), "current");
    assert.equal(issuer.deltasSent, sent + 1);
    assert.equal(sv.toHex(store.current.raw), sv.toHex(last));
    assert.equal(issuer.requests.at(-1).path, `/v1/revocations?since=${sequence}&wait=1`);
  }));

test("store: deltas from files, and racing offers of one delta install it once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sigil-ts-delta-"));
  try {
    const store = await newStore();
    const entries = Array.from({ length: 200 }, (_, i) => [randomGuid(), 1 + (i % 2)]);
    const first = await makeList(entries, 1);
    await store.load(first);
    const added = randomGuid();
    const changed = [[added, 2], [entries[0][0], 2], ...entries.slice(2)]; // entries[1] leaves
    const second = await makeList(changed, 2);
    const path = join(dir, "delta.sgld");
    writeFileSync(path, makeDelta(first, second));
    const outcome = await offerFile(store, path);
    assert.deepEqual([outcome.kind, outcome.sequence, outcome.delta], ["installed", 2n, true]);
    assert.equal(sv.toHex(store.current.raw), sv.toHex(second));
    assert.deepEqual(
      [store.current.status(added), store.current.status(entries[0][0]), store.current.status(entries[1][0])],
      ["revoked", "revoked", null],
    );
    await assert.rejects(loadFile(store, path), (e) => e.reason === "delta_base_mismatch");

    // The base is checked under the install lock: one offer applies, the others find list 3.
    const third = await makeList(changed.slice(1), 3);
    const delta = makeDelta(second, third);
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => store.offer(delta)));
    assert.equal(outcomes.filter((o) => o.kind === "installed").length, 1);
    assert.ok(outcomes.every((o) => o.kind === "installed" || o.error.reason === "delta_base_mismatch"));
    // A full list offered alongside a delta: both orders end at the newest list.
    const fourth = await makeList([], 4);
    const [viaDelta, whole] = await Promise.all([store.offer(makeDelta(third, fourth)), store.offer(fourth)]);
    assert.equal(store.current.sequence, 4n);
    assert.ok([viaDelta.kind, whole.kind].includes("installed"), JSON.stringify([viaDelta.kind, whole.kind]));
    assert.equal(sv.toHex(store.current.raw), sv.toHex(fourth));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("follower: a refused list changes nothing and the ETag does not move", () =>
  withIssuer(async (issuer) => {
    const store = await newStore();
    const logs = [];
    const follower = new sv.RevocationFollower(issuer.url, store, { wait: 1, log: logInto(logs) });
    issuer.publish(await makeList([], 5), 5);
    assert.equal(await follower.pollOnce(), "current");
    assert.equal(follower.etag, '"5"');
    issuer.publish(damageSignature(await makeList([[randomGuid(), 2]], 6)), 6);
    assert.equal(await follower.pollOnce(), "failed: refused");
    issuer.publish(await makeList([], 4), 7); // rollback behind a new ETag
    assert.equal(await follower.pollOnce(), "failed: refused");
    issuer.publish(await makeList([[randomGuid(), 1]], 5), 8); // equivocation
    assert.equal(await follower.pollOnce(), "failed: refused");
    assert.equal(follower.etag, '"5"');
    assert.equal(store.current.sequence, 5n);
    assert.deepEqual(
      logs.filter((l) => l.startsWith("error")).map((l) => /reason=(\w+)/.exec(l)[1]),
      ["bad_signature", "rollback", "equivocation"],
    );
    issuer.publish(await makeList([], 5), 5);
    assert.equal(await follower.pollOnce(), "not_modified");
  }));

test("follower: bounded size (declared and streamed) and bounded time", () =>
  withIssuer(async (issuer) => {
    const store = await newStore({ maxBytes: 4096 });
    const logs = [];
    const follower = new sv.RevocationFollower(issuer.url, store, { wait: 1, slack: 0.5, log: logInto(logs) });
    issuer.mode = "declare_huge";
    assert.equal(await follower.pollOnce(), "failed: no list");
    issuer.mode = "stream_huge";
    assert.equal(await follower.pollOnce(), "failed: no list");
    assert.equal(logs.filter((l) => l.includes("too_large")).length, 2, logs.join("\n"));
    issuer.mode = "stall";
    const started = Date.now();
    assert.equal(await follower.pollOnce(), "failed: no list");
    const took = Date.now() - started;
    assert.ok(took >= 1400 && took < 2900, `${took} ms`); // the server would answer after 3 s
    issuer.mode = "error";
    assert.equal(await follower.pollOnce(), "failed: HTTP 500");
    assert.equal(store.current, null);
  }));

test("follower: backs off from minBackoff, doubling to maxBackoff, and stop() ends a wait at once", () =>
  withIssuer(async (issuer) => {
    const store = await newStore();
    issuer.mode = "error";
    const follower = new sv.RevocationFollower(issuer.url, store, { minBackoff: 0.1, maxBackoff: 0.4, log: () => undefined }).start();
    await sleep(1700);
    const stopping = Date.now();
    await follower.stop();
    assert.ok(Date.now() - stopping < 200);
    const gaps = issuer.requests.slice(1).map((r, i) => r.at - issuer.requests[i].at);
    assert.ok(gaps.length >= 3 && gaps.length <= 7, JSON.stringify(gaps));
    assert.ok(gaps[0] >= 80 && gaps[0] < 400, JSON.stringify(gaps));
    assert.ok(gaps[1] >= 180 && gaps[1] < 500, JSON.stringify(gaps));
    assert.ok(gaps.slice(2).every((g) => g >= 380 && g < 750), JSON.stringify(gaps));
    assert.throws(() => new sv.RevocationFollower("ftp://issuer.example/v1/revocations", store), RangeError);
    const defaults = new sv.RevocationFollower(issuer.url, store, { wait: 999 });
    assert.deepEqual([defaults.wait, defaults.minBackoff, defaults.maxBackoff], [60, 1, 30]);
  }));

test("follower: stop() cuts a long poll in flight short", () =>
  withIssuer(async (issuer) => {
    const store = await newStore();
    issuer.publish(await makeList([], 1), 1);
    const follower = new sv.RevocationFollower(issuer.url, store, { wait: 30, log: () => undefined }).start();
    assert.ok(await waitUntil(() => issuer.requests.length >= 2, 3000));
    const stopping = Date.now();
    await follower.stop();
    assert.ok(Date.now() - stopping < 500, `${Date.now() - stopping} ms`);
  }));

test("file watcher: reloads on change, refuses bad lists and symlinks, bounds the size", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sigil-ts-watch-"));
  try {
    const path = join(dir, "revocations.sgl");
    const store = await newStore({ maxBytes: 4096 });
    const events = [];
    store.onEvent = (o) => events.push(o.kind + (o.error ? ":" + o.error.reason : ""));
    const watcher = new FileWatcher(path, store, { interval: 50, log: () => undefined });
    assert.equal(await watcher.checkOnce(), null); // absent: nothing happens
    writeFileSync(path, await makeList([], 1));
    assert.equal((await watcher.checkOnce()).kind, "installed");
    assert.equal(await watcher.checkOnce(), null); // unchanged file: not read again
    const g = randomGuid();
    writeFileSync(join(dir, "next"), await makeList([[g, 2]], 2));
    renameSync(join(dir, "next"), path);
    assert.equal((await watcher.checkOnce()).kind, "installed");
    writeFileSync(path, damageSignature(await makeList([], 3)));
    assert.equal((await watcher.checkOnce()).error.reason, "bad_signature");
    writeFileSync(path, await makeList(Array.from({ length: 300 }, () => [randomGuid(), 1]), 4));
    assert.equal((await watcher.checkOnce()).error.reason, "too_large");
    writeFileSync(join(dir, "real.sgl"), await makeList([], 9));
    rmSync(path);
    symlinkSync(join(dir, "real.sgl"), path);
    assert.equal((await watcher.checkOnce()).error.reason, "io");
    assert.equal(await watcher.checkOnce(), null); // the same refusal is not repeated
    assert.equal(store.current.sequence, 2n);
    assert.equal((await offerFile(store, join(dir, "missing.sgl"))).error.reason, "io");
    await assert.rejects(loadFile(store, path), (e) => e.reason === "io");

    // In the background.
    rmSync(path);
    watcher.start();
    writeFileSync(path, await makeList([], 10));
    assert.ok(await waitUntil(() => store.current.sequence === 10n, 2000));
    watcher.stop();
    assert.ok(events.includes("refused:io"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
