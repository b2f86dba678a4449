/**
 * The conformance runner (issue #23 item 3): JSON Lines cases on stdin, one JSON answer per case
 * on stdout, in order. Same shapes as interop/python/src/sigil_verify/conformance.py:
 *
 *     case:   {"keyset": {...}, "revocations": "<base64>" | null, "token": "...", "audience": "...",
 *              "permission": "resource.action" | null, "access": "read" | "write" | null,
 *              "now": <int>, "leeway": <int>, "when_no_list": "fail_open" | "fail_closed"}
 *     answer: {"valid": true, "guid": "..."} | {"valid": false, "reason": "..."}
 *             | {"valid": false, "list_error": "..."} | {"error": "..."} (a case that cannot be run)
 */

import { createInterface } from "node:readline";
import { loadKeyset, Permission, RevocationListError, RevocationStore, Verifier } from "../sigil.js";

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

/** Standard base64 (padded), or base64url with or without padding; null for anything else. */
function listBytes(text: string): Uint8Array | null {
  let std: string;
  if (STANDARD.test(text) && text.length % 4 === 0) std = text;
  else if (URL_SAFE.test(text)) std = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  else return null;
  if (std.length % 4 === 1) return null;
  std += "=".repeat((4 - (std.length % 4)) % 4);
  try {
    const bin = atob(std);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** JSON numbers past 2^53 lose precision in JSON.parse: read an integer field from the text. */
function exactInteger(line: string, field: string, parsed: unknown): number | bigint | undefined {
  if (typeof parsed !== "number" || !Number.isInteger(parsed)) return undefined;
  if (Number.isSafeInteger(parsed)) return parsed;
  const m = new RegExp(`"${field}"\\s*:\\s*(-?\\d+)`).exec(line);
  return m ? BigInt(m[1]) : undefined;
}

/** The answer to one case. */
export async function answer(line: string): Promise<Record<string, unknown>> {
  const c = JSON.parse(line) as Record<string, unknown>;
  if (!("keyset" in c)) throw new TypeError("the case has no keyset");
  const keyset = loadKeyset(c.keyset as object);
  const audience = typeof c.audience === "string" ? c.audience : keyset.audience;
  const store = new RevocationStore(keyset.revocationKeys, {
    whenNoList: c.when_no_list === "fail_closed" ? "fail_closed" : "fail_open",
  });
  if (typeof c.revocations === "string") {
    const data = listBytes(c.revocations);
    if (data === null) return { valid: false, list_error: "malformed" };
    try {
      await store.load(data);
    } catch (e) {
      if (e instanceof RevocationListError) return { valid: false, list_error: e.reason };
      throw e;
    }
  }
  const leeway = typeof c.leeway === "number" && Number.isInteger(c.leeway) ? c.leeway : 60;
  const verifier = await Verifier.create(audience, keyset.tokenKeys, { leeway, revocations: store });
  const permission = typeof c.permission === "string" ? new Permission(c.permission, c.access === "write" ? "write" : "read") : null;
  const now = exactInteger(line, "now", c.now);
  const result = await verifier.verify(typeof c.token === "string" ? c.token : "", permission, now);
  return result.valid ? { valid: true, guid: result.claims.guid } : { valid: false, reason: result.reason };
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let out = "";
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let a: Record<string, unknown>;
    try {
      a = await answer(line);
    } catch (e) {
      a = { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    out += JSON.stringify(a) + "\n";
    if (out.length > 1 << 16) {
      process.stdout.write(out);
      out = "";
    }
  }
  process.stdout.write(out);
}

await main();
