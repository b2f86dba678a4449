// The verifier, keyset and revocation store beyond the vector files: the worked example of
// FORMAT.md §6, strictness under mutation, rollback, equivocation, staleness and the policies.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as sv from "../sigil.js";
import { AUDIENCE, KEY, SEED, bytes, damageSignature, ed25519Public, keysetJSON, makeList, makeToken, nowSeconds, randomGuid } from "./helpers.js";

const range = (from, to) => Uint8Array.from({ length: to - from }, (_, i) => from + i);

test("FORMAT.md §6: the worked example, byte for byte", async () => {
  const kAud = await sv.audienceKey(range(0, 32), "billing");
  assert.equal(sv.toHex(kAud), "7f05810a26078ef370c3e277a38ca4a8a97c12b6e7797b12fb8f18b63969a940");
  const claims = {
    kid: "k1", audience: "billing", guid: "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90",
    validFrom: 1767225600n, validTo: 1798761600n, scope: ["devices.list", "invoices.read"],
  };
  const token = await sv.mint(claims, kAud);
  assert.equal(
    token,
    "sgl_AQJrMQdiaWxsaW5nCw5cai9NTB6aU10_Hit8kAAAAABpVbkAAAAAAGs27IADAAIMZGV2aWNlcy5saXN0DWludm9pY2VzLnJlYWRc1D-I36F1cesPo-N1ml0TucoPmNsDetaclNGR789aGg",
  );
  assert.equal(sv.toHex(sv.encodeBody(claims)).length, 148);
  const verifier = await sv.Verifier.create("billing", [["k1", kAud]]);
  assert.equal((await verifier.check(token, null, 1780000000)).guid, claims.guid);
  assert.equal((await verifier.verify(token, { name: "devices.list", access: "write" }, 1780000000)).valid, true);
  assert.equal((await verifier.verify(token, { name: "devices.delete", access: "read" }, 1780000000)).reason, "scope_not_granted");
  assert.equal((await verifier.verify(token, null, 1798761660)).reason, "expired");
  const other = await sv.Verifier.create("invoices", [["k1", kAud]]);
  assert.equal((await other.verify(token, null, 1780000000)).reason, "wrong_audience");

  const seed = range(0x20, 0x40);
  const pub = await ed25519Public(seed);
  assert.equal(sv.toHex(pub), "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7");
  const list = await makeList(
    [[sv.guidBytes(claims.guid), 2], [sv.guidBytes("7d444840-9dc0-41b2-a5d0-2f1c9e3b5a61"), 1]],
    7,
    { seed, issuedAt: 1767225600, nextUpdate: 1767229200 },
  );
  assert.equal(list.length, 134);
  assert.equal(
    sv.toHex(list.subarray(70)),
    "8f50650b5b9967638618356dda455d13dc4e6789c09a8fbb38adddbbc07ef373bb104a1b49d7bfd2e4932cff222fc3e73db955c41a5bd0191db75fb8dc06fb0c",
  );
  const store = new sv.RevocationStore([["r1", pub]]);
  await store.load(list);
  const revoking = await sv.Verifier.create("billing", [["k1", kAud]], { revocations: store });
  // Stale at this time, but the default policy keeps serving it.
  assert.equal((await revoking.verify(token, null, 1780000000)).reason, "revoked");
  assert.ok(store.isStale(1780000000));
});

test("every single-character change, truncation and extension of a token is refused", async () => {
  const { token } = await makeToken(["devices.list", "invoices.read"]);
  const verifier = await sv.Verifier.create(AUDIENCE, [["k1", KEY]]);
  assert.equal((await verifier.verify(token)).valid, true);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .é";
  const seen = new Set();
  for (let i = 0; i < token.length; i++) {
    for (const c of alphabet) {
      if (c === token[i]) continue;
      const r = await verifier.verify(token.slice(0, i) + c + token.slice(i + 1));
      assert.equal(r.valid, false);
      assert.ok(["malformed", "wrong_audience", "unknown_key", "bad_signature"].includes(r.reason), r.reason);
      assert.equal(r.claims, null);
      seen.add(r.reason);
    }
  }
  for (let n = 0; n < token.length; n++) assert.equal((await verifier.verify(token.slice(0, n))).valid, false);
  for (const tail of ["A", "AA", "AAA", "AAAA", "=", "\n", " "]) assert.equal((await verifier.verify(token + tail)).valid, false);
  assert.deepEqual([...seen].sort(), ["bad_signature", "malformed", "unknown_key", "wrong_audience"]);
  assert.equal((await verifier.verify("sgl_" + "A".repeat(4093))).reason, "malformed");
  assert.equal((await verifier.verify(42)).reason, "malformed");
});

test("i64 extremes and exact time comparisons", async () => {
  const max = (1n << 63n) - 1n;
  const min = -(1n << 63n);
  const mk = (validFrom, validTo) =>
    sv.mint({ kid: "k1", audience: AUDIENCE, guid: sv.guidText(randomGuid()), validFrom, validTo, scope: "all" }, KEY);
  const verifier = await sv.Verifier.create(AUDIENCE, [["k1", KEY]], { leeway: 86400 });
  assert.equal((await verifier.verify(await mk(min, null), null, max)).valid, true);
  assert.equal((await verifier.verify(await mk(min, 1000n), null, 87400n)).reason, "expired");
  assert.equal((await verifier.verify(await mk(min, 1000n), null, 87399)).valid, true);
  assert.equal((await verifier.verify(await mk(min, max), null, max)).valid, true);
  assert.equal((await verifier.verify(await mk(max - 1n, max), null, min)).reason, "not_yet_valid");
  const zero = await sv.Verifier.create(AUDIENCE, [["k1", KEY]], { leeway: 0 });
  assert.equal((await zero.verify(await mk(100n, 200n), null, 100)).valid, true);
  assert.equal((await zero.verify(await mk(100n, 200n), null, 99)).reason, "not_yet_valid");
  assert.equal((await zero.verify(await mk(100n, 200n), null, 200)).reason, "expired");
  assert.equal((await zero.verify(await mk(100n, 200n), null, 199n)).valid, true);
  // valid_to ≤ valid_from is malformed even when both are enormous and one apart.
  assert.equal((await zero.verify(await mk(max, max - 1n), null, 0)).reason, "malformed");
});

test("scopes: all, read-only, custom", async () => {
  const verifier = await sv.Verifier.create(AUDIENCE, [["k1", KEY]]);
  const { token: all } = await makeToken("all");
  const { token: ro } = await makeToken("read-only");
  const { token: custom } = await makeToken(["devices.list"]);
  const read = new sv.Permission("zones.list", "read");
  const write = new sv.Permission("zones.list", "write");
  assert.equal((await verifier.verify(all, write)).valid, true);
  assert.equal((await verifier.verify(ro, read)).valid, true);
  assert.equal((await verifier.verify(ro, write)).reason, "scope_not_granted");
  assert.equal((await verifier.verify(custom, { name: "devices.list", access: "write" })).valid, true);
  assert.equal((await verifier.verify(custom, read)).reason, "scope_not_granted");
  assert.equal((await verifier.verify(custom, { name: "devices.lis", access: "read" })).reason, "scope_not_granted");
  await assert.rejects(verifier.verify(all, { name: "Devices.list", access: "read" }), RangeError);
  await assert.rejects(verifier.verify(all, { name: "devices.list", access: "delete" }), RangeError);
  assert.throws(() => new sv.Permission("devices", "read"), RangeError);
  await assert.rejects(verifier.check(ro, write), (e) => e instanceof sv.VerificationError && e.reason === "scope_not_granted" && !e.message.includes(ro));
});

test("verifier and keyset configuration errors", async () => {
  await assert.rejects(sv.Verifier.create("bad audience", [["k1", KEY]]), sv.KeysetError);
  await assert.rejects(sv.Verifier.create(AUDIENCE, [["k1", KEY]], { leeway: 86401 }), sv.KeysetError);
  await assert.rejects(sv.Verifier.create(AUDIENCE, [["k1", KEY]], { leeway: -1 }), sv.KeysetError);
  await assert.rejects(sv.Verifier.create(AUDIENCE, [["k 1", KEY]]), sv.KeysetError);
  await assert.rejects(sv.Verifier.create(AUDIENCE, [["k1", KEY.subarray(1)]]), sv.KeysetError);
  await assert.rejects(sv.Verifier.create(AUDIENCE, [["k1", KEY], ["k1", KEY]]), sv.KeysetError);

  const good = JSON.parse(await keysetJSON());
  const ks = sv.loadKeyset(JSON.stringify(good));
  assert.equal(ks.audience, AUDIENCE);
  assert.deepEqual(ks.tokenKeys.get("k1"), KEY);
  assert.deepEqual(sv.loadKeyset(new TextEncoder().encode(JSON.stringify(good))).revocationKeys.get("r1"), await ed25519Public(SEED));
  assert.equal(sv.loadKeyset({ ...good, extra: 1 }).audience, AUDIENCE); // unknown members are ignored
  const bad = [
    "not json", "[]", { ...good, format: "sigil-keyset-v2" }, { ...good, audience: "" },
    { ...good, token_keys: {} }, { ...good, token_keys: [1] },
    { ...good, token_keys: [{ kid: "k1", key: sv.b64urlEncode(KEY) + "=" }] },
    { ...good, token_keys: [{ kid: "k1", key: sv.b64urlEncode(KEY.subarray(1)) }] },
    { ...good, token_keys: [good.token_keys[0], good.token_keys[0]] },
    { ...good, revocation_keys: [good.revocation_keys[0], good.revocation_keys[0]] },
    { ...good, revocation_keys: [{ kid: "r/1", public_key: good.revocation_keys[0].public_key }] },
    "x".repeat((1 << 20) + 1),
  ];
  for (const b of bad) {
    assert.throws(() => sv.loadKeyset(typeof b === "string" ? b : JSON.stringify(b)), sv.KeysetError, JSON.stringify(b).slice(0, 80));
  }
  try {
    sv.loadKeyset(JSON.stringify({ ...good, token_keys: [{ kid: "k1", key: "!!" + sv.b64urlEncode(KEY) }] }));
  } catch (e) {
    assert.ok(!e.message.includes(sv.b64urlEncode(KEY)), "an error never shows key material");
  }
});

test("store: installs higher sequences, refuses rollback and equivocation, keeps same bytes", async () => {
  const events = [];
  const pub = await ed25519Public(SEED);
  const store = new sv.RevocationStore([["r1", pub]], { onEvent: (o) => events.push(o.kind + (o.error ? ":" + o.error.reason : "")) });
  const g = randomGuid();
  const l1 = await makeList([[g, 1]], 1);
  const l2 = await makeList([[g, 2]], 2);
  assert.equal((await store.offer(l1)).kind, "installed");
  assert.equal(store.current.status(g), "deactivated");
  assert.equal((await store.offer(l1)).kind, "unchanged");
  assert.equal((await store.offer(l2)).kind, "installed");
  assert.equal(store.current.status(g), "revoked");
  const back = await store.offer(l1);
  assert.equal(back.error.reason, "rollback");
  const fork = await makeList([], 2);
  assert.equal((await store.offer(fork)).error.reason, "equivocation");
  assert.equal((await store.offer(damageSignature(await makeList([], 3)))).error.reason, "bad_signature");
  assert.equal((await store.offer(await makeList([], 4, { seed: new Uint8Array(32).fill(9) }))).error.reason, "bad_signature");
  assert.equal((await store.offer(new TextEncoder().encode("SGLR"))).error.reason, "malformed");
  await assert.rejects(store.load(l1), (e) => e instanceof sv.RevocationListError && e.reason === "rollback");
  assert.equal(store.current.sequence, 2n);
  assert.equal(store.current.status(g), "revoked");
  assert.deepEqual(events, [
    "installed", "unchanged", "installed", "refused:rollback", "refused:equivocation", "refused:bad_signature",
    "refused:bad_signature", "refused:malformed", "refused:rollback",
  ]);
  const other = await makeList([], 5);
  const renamed = other.slice();
  renamed[7] = 0x32; // key id r2: not in the keyset
  assert.equal((await store.offer(renamed)).error.reason, "unknown_key");
  const small = new sv.RevocationStore([["r1", pub]], { maxBytes: 100 });
  assert.equal((await small.offer(await makeList([[g, 1], [randomGuid(), 2]], 1))).error.reason, "too_large");
  assert.equal((await small.offer(Uint8Array.of(0x53, 0x47, 0x4c, 0x52, 2, 2))).error.reason, "unsupported_version");
});

test("store policies: when_no_list, stale keep_serving and fail_closed", async () => {
  const pub = await ed25519Public(SEED);
  const { token, guid } = await makeToken("all");
  const now = nowSeconds();
  async function verdict(options, list) {
    const store = new sv.RevocationStore([["r1", pub]], options);
    if (list) await store.load(list);
    const verifier = await sv.Verifier.create(AUDIENCE, [["k1", KEY]], { revocations: store });
    return (await verifier.verify(token, null, now)).reason ?? "valid";
  }
  const fresh = await makeList([], 1, { nextUpdate: now + 60 });
  const stale = await makeList([], 1, { nextUpdate: now });
  const revokedStale = await makeList([[guid, 2]], 1, { nextUpdate: now });
  assert.equal(await verdict({}, null), "valid");
  assert.equal(await verdict({ whenNoList: "fail_closed" }, null), "revocations_stale");
  assert.equal(await verdict({ stalePolicy: "fail_closed" }, fresh), "valid");
  assert.equal(await verdict({ stalePolicy: "fail_closed" }, stale), "revocations_stale");
  assert.equal(await verdict({}, stale), "valid");
  assert.equal(await verdict({}, revokedStale), "revoked");
  assert.equal(await verdict({ stalePolicy: "fail_closed" }, revokedStale), "revocations_stale");
  assert.throws(() => new sv.RevocationStore([], { stalePolicy: "never" }), RangeError);
  assert.throws(() => new sv.RevocationStore([], { whenNoList: "maybe" }), RangeError);
});

test("lists of 100,000 entries load, and lookups find every GUID", async () => {
  const guids = Array.from({ length: 100_000 }, randomGuid);
  const list = await makeList(guids.map((g, i) => [g, 1 + (i % 2)]), 1);
  const store = new sv.RevocationStore([["r1", await ed25519Public(SEED)]]);
  const started = Date.now();
  await store.load(list);
  assert.ok(Date.now() - started < 2000);
  guids.forEach((g, i) => assert.equal(store.current.status(g), i % 2 ? "revoked" : "deactivated"));
  assert.equal(store.current.status(randomGuid()), null);
});

test("verifying while lists are swapped sees the old list or the new one", async () => {
  const pub = await ed25519Public(SEED);
  const store = new sv.RevocationStore([["r1", pub]], { whenNoList: "fail_closed" });
  const { token, guid } = await makeToken("all");
  await store.load(await makeList([], 1));
  const verifier = await sv.Verifier.create(AUDIENCE, [["k1", KEY]], { revocations: store });
  const lists = [];
  for (let s = 2; s < 12; s++) lists.push(await makeList(s % 2 ? [[guid, 2]] : [], s));
  const verdicts = await Promise.all([
    ...Array.from({ length: 400 }, () => verifier.verify(token).then((r) => r.reason ?? "valid")),
    // Offers finish in any order: a lower one arriving late is a rollback and changes nothing.
    ...lists.map((l) => store.offer(l).then(() => "loaded")),
  ]);
  assert.ok(verdicts.every((v) => ["valid", "revoked", "loaded"].includes(v)));
  assert.equal(store.current.sequence, 11n);
  assert.equal((await verifier.verify(token)).reason, "revoked");
});

test("the core module stays runtime-neutral: no imports, no Node globals", async () => {
  const { readFileSync } = await import("node:fs");
  const source = readFileSync(new URL("../sigil.js", import.meta.url), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
  assert.doesNotMatch(source, /^\s*import\b|\bimport\(|\brequire\(/m);
  for (const name of ["process", "Buffer", "global", "__dirname", "setImmediate"]) {
    assert.doesNotMatch(source, new RegExp(`\\b${name}\\b`), name);
  }
});
