// Tests/Vectors (FORMAT.md §7) and the published crypto vectors (test/fixtures, copied from
// the project's shared set): RFC 4231 and Wycheproof HMAC-SHA256, RFC 5869 HKDF, RFC 8032 and
// Wycheproof Ed25519, RFC 4648 base64url, all through WebCrypto as the verifier uses it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as sv from "../sigil.js";
import { REPO, bytes, ed25519Private, ed25519Public, fixture } from "./helpers.js";

const TOKENS = `${REPO}Tests/Vectors/tokens-v1.json`;
const LISTS = `${REPO}Tests/Vectors/revocations-v1.json`;
const DELTAS = `${REPO}Tests/Vectors/revocation-deltas-v1.json`;
/** The reasons FORMAT.md §4.3 names; revocation-deltas-v1.json covers each. */
const DELTA_REASONS = ["too_large", "malformed", "unsupported_version", "delta_base_mismatch", "unknown_key", "bad_signature", "rollback", "equivocation"];

function claimsFor(c) {
  // JSON numbers past 2^53 are rounded on both sides the same way, so Number() compares them.
  return {
    kid: c.kid,
    audience: c.audience,
    guid: c.guid,
    valid_from: Number(c.valid_from),
    valid_to: c.valid_to === null ? null : Number(c.valid_to),
    scope: c.scope,
  };
}

test("tokens-v1.json: every vector", { skip: !existsSync(TOKENS) && "no Tests/Vectors" }, async () => {
  const file = JSON.parse(readFileSync(TOKENS, "utf8"));
  assert.equal(file.format, "sigil-token-vectors-v1");
  let checked = 0;
  for (const v of file.vectors) {
    const keys = v.keys.map((k) => [k.kid, bytes(k.key_hex)]);
    const revoked = new sv.StaticRevocations((v.revoked ?? []).map((r) => [r.guid, r.status]));
    const audience = sv.isValidAudience(v.audience) ? v.audience : null;
    if (audience === null) {
      // A verifier cannot be built for an invalid audience: the vector must expect a refusal
      // that happens before the audience comparison, or wrong_audience.
      await assert.rejects(sv.Verifier.create(v.audience, keys), sv.KeysetError, v.name);
      continue;
    }
    const verifier = await sv.Verifier.create(audience, keys, { leeway: v.leeway, revocations: revoked });
    const p = v.permission ? new sv.Permission(v.permission.name, v.permission.access) : null;
    const r = await verifier.verify(v.token, p, v.now);
    assert.equal(r.valid, v.expected.valid, v.name);
    assert.equal(r.reason, v.expected.reason, v.name);
    if (v.expected.claims) assert.deepEqual(claimsFor(sv.claimsJSON(r.claims)), claimsFor(v.expected.claims), v.name);
    if (["malformed", "wrong_audience", "unknown_key", "bad_signature"].includes(r.reason)) assert.equal(r.claims, null, v.name);
    if (v.master_secret_hex) {
      const derived = await sv.audienceKey(bytes(v.master_secret_hex), v.audience);
      assert.ok(v.keys.some((k) => k.key_hex === sv.toHex(derived)), `${v.name}: HKDF`);
    }
    checked++;
  }
  assert.ok(checked >= 80, `only ${checked} vectors`);
});

test("revocations-v1.json: every vector", { skip: !existsSync(LISTS) && "no Tests/Vectors" }, async () => {
  const file = JSON.parse(readFileSync(LISTS, "utf8"));
  assert.equal(file.format, "sigil-revocation-vectors-v1");
  for (const v of file.vectors) {
    const keys = new Map(v.public_keys.map((k) => [k.kid, bytes(k.public_key_hex)]));
    const data = bytes(v.list_hex);
    const e = v.expected;
    const store = new sv.RevocationStore(keys, { maxBytes: v.max_bytes });
    const outcome = await store.offer(data);
    if (!e.valid) {
      assert.equal(outcome.kind, "refused", v.name);
      assert.equal(outcome.error.reason, e.reason, v.name);
      assert.equal(store.current, null);
      continue;
    }
    assert.equal(outcome.kind, "installed", v.name);
    const list = store.current;
    assert.equal(list.kid, e.kid, v.name);
    assert.equal(Number(list.sequence), Number(e.sequence), v.name);
    assert.equal(Number(list.issuedAt), Number(e.issued_at), v.name);
    assert.equal(list.nextUpdate === null ? null : Number(list.nextUpdate), e.next_update === null ? null : Number(e.next_update), v.name);
    assert.deepEqual([...list.entries()], e.entries, v.name);
    for (const entry of e.entries) assert.equal(list.status(sv.guidBytes(entry.guid)), entry.status);
    // The same answer from the stateless parser.
    assert.equal((await sv.parseRevocationList(data, keys, v.max_bytes)).sequence, list.sequence);
  }
});

test("revocation-deltas-v1.json: every vector", { skip: !existsSync(DELTAS) && "no Tests/Vectors" }, async () => {
  const file = JSON.parse(readFileSync(DELTAS, "utf8"));
  assert.equal(file.format, "sigil-revocation-delta-vectors-v1");
  const inFile = new Set();
  const passed = new Set();
  for (const v of file.vectors) {
    const keys = new Map(v.public_keys.map((k) => [k.kid, bytes(k.public_key_hex)]));
    const e = v.expected;
    if (e.reason !== null) inFile.add(e.reason);
    // The base goes in force under the default limit; the delta meets the vector's.
    const store = new sv.RevocationStore(keys);
    if (v.base_hex !== null) await store.load(bytes(v.base_hex));
    const base = store.current;
    store.maxBytes = v.max_bytes; // readonly in TypeScript; the tests set it between the two loads
    const delta = bytes(v.delta_hex);
    const outcome = await store.offer(delta);
    assert.equal(outcome.error?.reason ?? null, e.reason, v.name);
    assert.equal(outcome.kind !== "refused", e.valid, v.name);
    assert.equal(outcome.delta === true, sv.isRevocationDelta(delta), v.name);
    // The stateless functions agree up to the store's own checks (rollback, equivocation).
    if (e.reason !== "rollback" && e.reason !== "equivocation") {
      let reason = null;
      try {
        await sv.applyRevocationDelta(sv.parseRevocationDelta(delta, v.max_bytes), base, keys, v.max_bytes);
      } catch (error) {
        assert.ok(error instanceof sv.RevocationListError, v.name);
        reason = error.reason;
      }
      assert.equal(reason, e.reason, `${v.name}: parseRevocationDelta + applyRevocationDelta`);
    }
    if (!e.valid) {
      assert.equal(store.current, base, `${v.name}: a refused delta changed the list in force`);
      passed.add(e.reason);
      continue;
    }
    assert.equal(sv.toHex(store.current.raw), e.list_hex, v.name);
    assert.equal(store.current.sequence, (await sv.parseRevocationList(bytes(e.list_hex), keys)).sequence, v.name);
  }
  assert.deepEqual([...inFile].sort(), [...DELTA_REASONS].sort());
  assert.deepEqual([...passed].sort(), [...inFile].sort());
  assert.ok(sv.LIST_REASONS.includes("delta_base_mismatch"));
});

test("RFC 4231 HMAC-SHA256 through WebCrypto", async () => {
  for (const c of fixture("rfc4231_hmac_sha256.json").tests) {
    const key = await crypto.subtle.importKey("raw", bytes(c.key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes(c.data)));
    assert.equal(sv.toHex(c.truncation_bits ? mac.subarray(0, c.truncation_bits / 8) : mac), c.mac, c.section);
  }
});

test("Wycheproof HMAC-SHA256: sign, and verify as the verifier does", async () => {
  let n = 0;
  for (const group of fixture("wycheproof_hmac_sha256_test.json").testGroups) {
    for (const t of group.tests) {
      const key = bytes(t.key);
      const msg = bytes(t.msg);
      const tag = bytes(t.tag);
      if (key.length === 0) continue; // WebCrypto refuses an empty HMAC key; Sigil keys are 32 bytes
      const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, msg)).subarray(0, group.tagSize / 8);
      assert.equal(sv.toHex(mac) === t.tag, t.result === "valid", `tcId ${t.tcId}`);
      if (group.tagSize === 256) {
        assert.equal(await crypto.subtle.verify("HMAC", k, tag, msg), t.result === "valid", `tcId ${t.tcId}`);
      }
      n++;
    }
  }
  assert.ok(n >= 170, String(n));
});

test("RFC 5869 HKDF-SHA256 at several output lengths", async () => {
  for (const c of fixture("rfc5869_hkdf_sha256.json").tests) {
    const okm = c.okm;
    for (const n of [1, 31, 32, 33, c.L]) {
      assert.equal(sv.toHex(await sv.hkdfSHA256(bytes(c.ikm), bytes(c.salt), bytes(c.info), n)), okm.slice(0, 2 * n), c.section);
    }
  }
  await assert.rejects(sv.hkdfSHA256(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), 255 * 32 + 1), RangeError);
});

test("RFC 8032 Ed25519: public key, signature, verification and its refusals", async () => {
  for (const c of fixture("rfc8032_ed25519.json").tests) {
    const seed = bytes(c.secret_key);
    const pub = bytes(c.public_key);
    const msg = bytes(c.message);
    const sig = bytes(c.signature);
    assert.equal(sv.toHex(await ed25519Public(seed)), c.public_key);
    assert.equal(sv.toHex(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, await ed25519Private(seed), msg))), c.signature);
    assert.ok(await sv.ed25519Verify(pub, msg, sig), c.name);
    assert.ok(!(await sv.ed25519Verify(pub, Uint8Array.of(...msg, 0), sig)));
    const flipped = sig.slice();
    flipped[63] ^= 1;
    assert.ok(!(await sv.ed25519Verify(pub, msg, flipped)));
    assert.ok(!(await sv.ed25519Verify(pub, msg, sig.subarray(0, 63))));
    assert.ok(!(await sv.ed25519Verify(pub.subarray(0, 31), msg, sig)));
  }
});

test("Wycheproof Ed25519: every verdict", async () => {
  let n = 0;
  for (const group of fixture("wycheproof_ed25519_test.json").testGroups) {
    const pub = bytes(group.publicKey.pk);
    for (const t of group.tests) {
      assert.equal(await sv.ed25519Verify(pub, bytes(t.msg), bytes(t.sig)), t.result === "valid", `tcId ${t.tcId} ${t.comment}`);
      n++;
    }
  }
  assert.equal(n, 150);
});

test("RFC 4648 base64url, strict and unpadded", () => {
  const f = fixture("rfc4648_base_encodings.json");
  const rows = [
    ...f.tests.map((t) => [new TextEncoder().encode(t.input_ascii), t.base64url_nopad]),
    ...f.derived_url_alphabet.map((t) => [bytes(t.input_hex), t.base64url_nopad]),
  ];
  for (const [input, text] of rows) {
    assert.equal(sv.b64urlEncode(input), text);
    assert.deepEqual(sv.b64urlDecode(text), input);
    if (text.length > 0) assert.equal(sv.b64urlDecode(text + "="), null);
  }
  for (const bad of ["Zh", "Zm9", "Zm+v", "Zm/v", "Z", "Zm9v\n", "Zm9vé"]) assert.equal(sv.b64urlDecode(bad), null, bad);
  assert.deepEqual(sv.b64urlDecode("Zm8"), new TextEncoder().encode("fo"));
});
