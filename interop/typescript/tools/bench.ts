/**
 * Prints one JSON line: ns per verify of a valid token against a list of 10,000 revoked GUIDs,
 * ns per bare WebCrypto HMAC-SHA256 (`crypto.subtle.sign`) over the same body bytes, and their
 * ratio. Both are awaited one at a time, so each figure includes one async round trip.
 *
 *     interop/typescript/bench [--seconds S]
 */

import { encodeBody, importHMACKey, mint, Permission, RevocationStore, Verifier } from "../sigil.js";
import type { Claims } from "../sigil.js";

/** ns per call: the best of 5 rounds, each about seconds / 5 long. */
async function measure(fn: () => Promise<unknown>, seconds: number): Promise<number> {
  let n = 1000;
  let took: number;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn();
    took = Number(process.hrtime.bigint() - start);
    if (took > 20_000_000) break;
    n *= 2;
  }
  const perRound = Math.max(1, Math.floor((n * (seconds / 5)) / (took / 1e9)));
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / perRound);
  }
  return best;
}

/** A signed list of `guids`, all revoked, with a fresh Ed25519 key. */
async function signedList(guids: Uint8Array[]): Promise<{ data: Uint8Array; publicKey: Uint8Array }> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const header = new Uint8Array(36);
  header.set([0x53, 0x47, 0x4c, 0x52, 1, 2, 0x72, 0x31]);
  const view = new DataView(header.buffer);
  view.setBigUint64(8, 1n);
  view.setBigInt64(16, BigInt(Math.floor(Date.now() / 1000)));
  view.setBigInt64(24, 0n);
  view.setUint32(32, guids.length);
  const body = new Uint8Array(36 + 17 * guids.length);
  body.set(header);
  guids.forEach((g, k) => {
    body.set(g, 36 + 17 * k);
    body[36 + 17 * k + 16] = 2;
  });
  const context = new TextEncoder().encode("sigil/v1/revocations\0");
  const message = new Uint8Array(context.length + body.length);
  message.set(context);
  message.set(body, context.length);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, pair.privateKey, message));
  const data = new Uint8Array(body.length + 64);
  data.set(body);
  data.set(signature, body.length);
  return { data, publicKey };
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--seconds");
  const seconds = at >= 0 ? Number(process.argv[at + 1]) : 2;
  if (!(seconds > 0)) throw new RangeError("--seconds takes a positive number");
  const key = Uint8Array.from({ length: 32 }, (_, i) => i);
  const guids = Array.from({ length: 10_000 }, () => crypto.getRandomValues(new Uint8Array(16))).sort(compare);
  const { data, publicKey } = await signedList(guids);
  const store = new RevocationStore([["r1", publicKey]], { whenNoList: "fail_closed" });
  const list = await store.load(data);
  if (list.count !== 10_000) throw new Error("the list did not load");
  const now = BigInt(Math.floor(Date.now() / 1000));
  const claims: Claims = {
    kid: "k1", audience: "billing", guid: "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90",
    validFrom: now - 3600n, validTo: now + 86400n, scope: ["devices.list", "invoices.read"],
  };
  const token = await mint(claims, key);
  const verifier = await Verifier.create("billing", [["k1", key]], { revocations: store });
  const permission = new Permission("devices.list", "read");
  if ((await verifier.check(token, permission)).guid !== claims.guid) throw new Error("the token did not verify");
  const body = encodeBody(claims);
  const hmacKey = await importHMACKey(key);
  const verifyNs = await measure(() => verifier.check(token, permission), seconds);
  const hmacNs = await measure(() => crypto.subtle.sign("HMAC", hmacKey, body), seconds);
  const out = {
    language: "typescript",
    verify_ns: Math.round(verifyNs),
    hmac_ns: Math.round(hmacNs),
    ratio: Math.round((verifyNs / hmacNs) * 100) / 100,
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

await main();
