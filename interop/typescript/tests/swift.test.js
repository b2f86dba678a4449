// Both directions with the Swift CLI: tokens, keysets and lists made by `sigil` verify here, and
// tokens minted here with the exported K_aud get the same answer from `sigil verify`. Skipped
// without a sigil binary (SIGIL_BIN, default <repo>/.build/debug/sigil).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sv from "../sigil.js";
import { REPO } from "./helpers.js";

function sigilBinary() {
  const path = process.env.SIGIL_BIN || join(REPO, ".build", "debug", "sigil");
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

const SIGIL = sigilBinary();
const skip = SIGIL === null ? "no sigil binary (SIGIL_BIN)" : false;
if (skip) console.log(`interop/typescript: Swift CLI tests skipped: ${skip}`);

function swiftHome() {
  const root = mkdtempSync(join(tmpdir(), "sigil-ts-swift-"));
  const env = { ...process.env };
  delete env.SIGIL_HOME;
  const run = (args, input, check = true) => {
    const p = spawnSync(SIGIL, ["--home", join(root, "home"), ...args], { input, encoding: "utf8", timeout: 120_000, env });
    if (check) assert.equal(p.status, 0, `sigil ${args.join(" ")}: ${p.stderr}`);
    return p;
  };
  return {
    root,
    run,
    issue: (...args) => run(["issue", "--name", "t", ...args]).stdout.trim(),
    keyset(audience) {
      const path = join(root, `keyset-${audience}.json`);
      run(["keys", "export", "--audience", audience, "-o", path]);
      return { path, keyset: sv.loadKeyset(readFileSync(path)) };
    },
    done: () => rmSync(root, { recursive: true, force: true }),
  };
}

test("Swift tokens, scopes and keysets verify here; HKDF agrees with the keyring", { skip }, async () => {
  const swift = swiftHome();
  try {
    const all = swift.issue("--audience", "billing", "--all");
    const ro = swift.issue("--audience", "billing", "--read-only", "--never-expires");
    const custom = swift.issue("--audience", "billing", "--scope", "devices.list", "--scope", "invoices.list", "--expires-in", "2h");
    const other = swift.issue("--audience", "reports", "--all");
    const { keyset } = swift.keyset("billing");
    const v = await sv.Verifier.fromKeyset(keyset);
    const r = await v.verify(all, { name: "devices.delete", access: "write" });
    assert.equal(r.valid, true);
    assert.ok(keyset.tokenKeys.has(r.claims.kid));
    const ring = JSON.parse(readFileSync(join(swift.root, "home", "keyring.json"), "utf8"));
    for (const key of ring.token_keys) {
      assert.deepEqual(await sv.audienceKey(sv.b64urlDecode(key.secret), "billing"), keyset.tokenKeys.get(key.kid));
    }
    assert.equal((await v.verify(ro, { name: "users.list", access: "read" })).valid, true);
    assert.equal((await v.verify(ro, { name: "users.delete", access: "write" })).reason, "scope_not_granted");
    assert.equal(sv.parseToken(ro).claims.validTo, null);
    const c = sv.parseToken(custom).claims;
    assert.deepEqual([...c.scope], ["devices.list", "invoices.list"]);
    assert.equal(c.validTo, c.validFrom + 7200n);
    assert.equal((await v.verify(custom, { name: "devices.delete", access: "write" })).reason, "scope_not_granted");
    assert.equal((await v.verify(custom, null, c.validTo + 60n)).reason, "expired");
    assert.equal((await v.verify(other)).reason, "wrong_audience");
  } finally {
    swift.done();
  }
});

test("Swift revocation lists load here; an older one is then a rollback", { skip }, async () => {
  const swift = swiftHome();
  try {
    const revoked = swift.issue("--audience", "billing", "--all");
    const deactivated = swift.issue("--audience", "billing", "--all");
    const kept = swift.issue("--audience", "billing", "--all");
    const gr = sv.parseToken(revoked).claims.guid;
    const gd = sv.parseToken(deactivated).claims.guid;
    swift.run(["revoke", "--yes", gr]);
    swift.run(["deactivate", gd]);
    const first = join(swift.root, "rev1.sgl");
    swift.run(["revocations", "export", "-o", first, "--next-update", "1h"]);
    const { keyset } = swift.keyset("billing");
    const store = new sv.RevocationStore(keyset.revocationKeys);
    const list = await store.load(readFileSync(first));
    assert.ok(list.verified);
    assert.deepEqual(Object.fromEntries([...list.entries()].map((e) => [e.guid, e.status])), { [gr]: "revoked", [gd]: "deactivated" });
    assert.equal(list.nextUpdate - list.issuedAt, 3600n);
    const v = await sv.Verifier.fromKeyset(keyset, { revocations: store });
    assert.equal((await v.verify(revoked)).reason, "revoked");
    assert.equal((await v.verify(deactivated)).reason, "deactivated");
    assert.equal((await v.verify(kept)).valid, true);
    swift.run(["activate", gd]);
    const second = join(swift.root, "rev2.sgl");
    swift.run(["revocations", "export", "-o", second]);
    assert.ok((await store.load(readFileSync(second))).sequence > list.sequence);
    assert.equal((await v.verify(deactivated)).valid, true);
    await assert.rejects(store.load(readFileSync(first)), (e) => e.reason === "rollback");
  } finally {
    swift.done();
  }
});

test("tokens minted here get the same exit code from `sigil verify`", { skip }, async () => {
  const swift = swiftHome();
  try {
    swift.issue("--audience", "billing", "--all"); // creates the keyring
    const { path, keyset } = swift.keyset("billing");
    const [kid, key] = [...keyset.tokenKeys][0];
    const now = BigInt(Math.floor(Date.now() / 1000));
    const base = { kid, audience: "billing", guid: "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90", validFrom: now - 100n, validTo: now + 100n, scope: "all" };
    const cases = [
      [await sv.mint(base, key), [], 0],
      [await sv.mint({ ...base, scope: "read-only" }, key), ["--permission", "devices.list", "--access", "read"], 0],
      [await sv.mint({ ...base, scope: "read-only" }, key), ["--permission", "devices.delete", "--access", "write"], 18],
      [await sv.mint(base, new Uint8Array(32)), [], 13],
      [await sv.mint({ ...base, audience: "reports" }, key), [], 11],
      [await sv.mint({ ...base, kid: "nope" }, key), [], 12],
      [await sv.mint({ ...base, scope: ["b.x", "a.x"] }, key), [], 10],
      [(await sv.mint(base, key)) + "=", [], 10],
    ];
    const codes = { valid: 0, malformed: 10, wrong_audience: 11, unknown_key: 12, bad_signature: 13, scope_not_granted: 18 };
    const verifier = await sv.Verifier.fromKeyset(keyset);
    for (const [i, [token, extra, want]] of cases.entries()) {
      const p = swift.run(["verify", "--audience", "billing", "--keys", path, ...extra, "-"], token, false);
      assert.equal(p.status, want, `case ${i}: ${p.stdout} ${p.stderr}`);
      const permission = extra.length ? { name: extra[1], access: extra[3] } : null;
      const r = await verifier.verify(token, permission);
      assert.equal(codes[r.reason ?? "valid"], want, `case ${i}`);
    }
  } finally {
    swift.done();
  }
});
