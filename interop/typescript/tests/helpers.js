// Shared test material: keys, tokens and signed lists made here, a raw HTTP client for
// 127.0.0.1 (it can send repeated headers, which fetch cannot), and a bounded wait.

import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as sv from "../sigil.js";

export const HERE = fileURLToPath(new URL("..", import.meta.url));
export const REPO = fileURLToPath(new URL("../../..", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
export const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
export const SEED = new Uint8Array(32).fill(0x11);
export const AUDIENCE = "billing";

export function fixture(name) {
  return JSON.parse(readFileSync(FIXTURES + name, "utf8"));
}

export const bytes = (hex) => sv.fromHex(hex);
export const randomGuid = () => crypto.getRandomValues(new Uint8Array(16));
export const nowSeconds = () => Math.floor(Date.now() / 1000);

const PKCS8_ED25519 = sv.fromHex("302e020100300506032b657004220420");

/** An Ed25519 private key from a 32-byte seed (WebCrypto imports PKCS #8, not raw seeds). */
export async function ed25519Private(seed) {
  const der = new Uint8Array(48);
  der.set(PKCS8_ED25519);
  der.set(seed, 16);
  return crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
}

export async function ed25519Public(seed) {
  const jwk = await crypto.subtle.exportKey("jwk", await ed25519Private(seed));
  return sv.b64urlDecode(jwk.x);
}

export async function ed25519Sign(seed, message) {
  return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, await ed25519Private(seed), message));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A token valid now, and its GUID. */
export async function makeToken(scope = "all", guid = randomGuid(), key = KEY) {
  const now = BigInt(nowSeconds());
  const claims = { kid: "k1", audience: AUDIENCE, guid: sv.guidText(guid), validFrom: now - 60n, validTo: now + 3600n, scope };
  return { token: await sv.mint(claims, key), guid };
}

function compareGuids(a, b) {
  for (let i = 0; i < 16; i++) if (a[0][i] !== b[0][i]) return a[0][i] - b[0][i];
  return 0;
}

/** A list signed with `seed` under key id r1: entries are [guid bytes, status 1|2]. */
export async function makeList(entries, sequence, { nextUpdate = 0, seed = SEED, issuedAt = nowSeconds() } = {}) {
  const items = [...entries].sort(compareGuids);
  const header = new Uint8Array(36);
  header.set([0x53, 0x47, 0x4c, 0x52, 1, 2, 0x72, 0x31]);
  const view = new DataView(header.buffer);
  view.setBigUint64(8, BigInt(sequence));
  view.setBigInt64(16, BigInt(issuedAt));
  view.setBigInt64(24, BigInt(nextUpdate));
  view.setUint32(32, items.length);
  const body = concat(header, ...items.map(([g, s]) => concat(g, Uint8Array.of(s))));
  const signature = await ed25519Sign(seed, concat(new TextEncoder().encode("sigil/v1/revocations\0"), body));
  return concat(body, signature);
}

/** The key id length and [guid bytes, status] entries of a v1 list, signature unchecked. */
function listEntries(list) {
  const kidLength = list[5];
  const countAt = 6 + kidLength + 24;
  const count = new DataView(list.buffer, list.byteOffset, list.byteLength).getUint32(countAt);
  const entries = [];
  for (let k = 0; k < count; k++) {
    const at = countAt + 4 + 17 * k;
    entries.push([list.subarray(at, at + 16), list[at + 16]]);
  }
  return { kidLength, entries };
}

/** The delta (FORMAT.md §4.3) from the signed list `from` to the signed list `to`, as sigil-server
 *  builds it: every GUID whose status differs, in GUID order (status 0: it leaves), then `to`'s own
 *  signature. It signs nothing. */
export function makeDelta(from, to) {
  const a = listEntries(from);
  const b = listEntries(to);
  const changes = [];
  let i = 0;
  let j = 0;
  while (i < a.entries.length || j < b.entries.length) {
    const order = i === a.entries.length ? 1 : j === b.entries.length ? -1 : compareGuids(a.entries[i], b.entries[j]);
    if (order < 0) changes.push([a.entries[i++][0], 0]);
    else if (order > 0) changes.push(b.entries[j++]);
    else {
      if (a.entries[i][1] !== b.entries[j][1]) changes.push(b.entries[j]);
      i++;
      j++;
    }
  }
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, changes.length);
  return concat(
    Uint8Array.of(0x53, 0x47, 0x4c, 0x44, 1),
    to.subarray(5, 6 + b.kidLength), // the resulting list's key id
    from.subarray(6 + a.kidLength, 6 + a.kidLength + 8), // base_sequence
    to.subarray(6 + b.kidLength, 6 + b.kidLength + 28), // sequence, issued_at, next_update, count
    head,
    ...changes.map(([g, s]) => concat(g, Uint8Array.of(s))),
    to.subarray(to.length - 64),
  );
}

/** Flips a bit of R, the signature's first half: always invalid. */
export function damageSignature(data) {
  const out = data.slice();
  out[out.length - 64] ^= 1;
  return out;
}

export async function keysetJSON(publicKey) {
  const pub = publicKey ?? (await ed25519Public(SEED));
  return JSON.stringify({
    format: "sigil-keyset-v1",
    audience: AUDIENCE,
    token_keys: [{ kid: "k1", key: sv.b64urlEncode(KEY) }],
    revocation_keys: [{ kid: "r1", public_key: sv.b64urlEncode(pub) }],
  });
}

/** GET over a raw connection to 127.0.0.1: headers are sent exactly as given (repeats too). */
export function get(port, path, headers = [], timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks = [];
    const timer = setTimeout(() => socket.destroy(new Error("timed out")), timeout);
    socket.on("connect", () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close", ...headers.map(([k, v]) => `${k}: ${v}`)];
      socket.write(lines.join("\r\n") + "\r\n\r\n");
    });
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      if (split < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(text)}`));
      const [statusLine, ...headerLines] = text.slice(0, split).split("\r\n");
      const hdrs = {};
      for (const l of headerLines) {
        const c = l.indexOf(":");
        hdrs[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      let body = text.slice(split + 4);
      if (hdrs["transfer-encoding"] === "chunked") body = unchunk(body);
      resolve({ status: Number(statusLine.split(" ")[1]), headers: hdrs, body, json: () => JSON.parse(body) });
    });
  });
}

function unchunk(text) {
  let out = "";
  let i = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", i);
    const n = parseInt(text.slice(i, eol), 16);
    if (!n) return out;
    out += text.slice(eol + 2, eol + 2 + n);
    i = eol + 4 + n;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A bounded poll: true as soon as check() is, false after `timeout` ms. */
export async function waitUntil(check, timeout, step = 20) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(step);
  }
  return Boolean(await check());
}
