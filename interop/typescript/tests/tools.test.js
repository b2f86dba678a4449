// The executables and the example: examples/verify-token.js, ./example-server (over real HTTP,
// following a local list endpoint), ./conformance and ./bench.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sv from "../sigil.js";
import { Issuer } from "./fake-issuer.js";
import { AUDIENCE, HERE, REPO, damageSignature, ed25519Public, get, keysetJSON, makeList, makeToken, nowSeconds, sleep, waitUntil } from "./helpers.js";

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "sigil-ts-tools-"));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("examples/verify-token.js", async () => {
  const { dir, done } = scratch();
  try {
    const keyset = join(dir, "keyset.json");
    writeFileSync(keyset, await keysetJSON());
    const good = await makeToken(["devices.list"]);
    const revoked = await makeToken("all");
    const readOnly = await makeToken("read-only");
    const list = join(dir, "revocations.sgl");
    writeFileSync(list, await makeList([[revoked.guid, 2]], 1));
    const run = (token) => {
      const p = spawnSync("node", [join(HERE, "examples", "verify-token.js"), keyset, list], { input: token + "\n", encoding: "utf8", timeout: 30_000 });
      assert.equal(p.status, 0, p.stderr);
      assert.ok(!(p.stdout + p.stderr).includes(token));
      return p.stdout.trim();
    };
    assert.equal(run(good.token), `valid ${sv.guidText(good.guid)}`);
    assert.equal(run(revoked.token), "refused revoked");
    assert.equal(run(readOnly.token), `valid ${sv.guidText(readOnly.guid)}`); // devices.list is a read
    assert.equal(run("sgl_nope"), "refused malformed");
    const code = readFileSync(join(HERE, "examples", "verify-token.ts"), "utf8").split("\n").filter((l) => l.trim() && !l.trim().startsWith("//"));
    assert.ok(code.length <= 12, `${code.length} lines of code`);
  } finally {
    done();
  }
});

test("./example-server: fails closed, follows the list, refuses a revoked token within 2 s, exits on SIGTERM", async () => {
  const { dir, done } = scratch();
  const issuer = await new Issuer().start();
  const keyset = join(dir, "keyset.json");
  writeFileSync(keyset, await keysetJSON());
  const { token, guid } = await makeToken(["devices.list"]);
  const p = spawn(join(HERE, "example-server"), [
    "--port", "0", "--keyset", keyset, "--revocations-url", issuer.url,
    "--permission", "devices.list", "--access", "read", "--wait", "5",
  ]);
  let stdout = "";
  let stderr = "";
  p.stdout.on("data", (c) => (stdout += c));
  p.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((r) => p.on("exit", (code) => r(code)));
  try {
    assert.ok(await waitUntil(() => stdout.includes("\n") || p.exitCode !== null, 10_000), stderr);
    const m = /^listening (\d+)$/.exec(stdout.split("\n")[0]);
    assert.ok(m, stdout + stderr);
    const port = Number(m[1]);
    const auth = [["Authorization", `Bearer ${token}`]];
    assert.equal((await get(port, "/protected", auth)).status, 503); // fails closed before the first list
    issuer.publish(await makeList([], 1), 1);
    assert.ok(await waitUntil(async () => (await get(port, "/protected", auth)).status === 200, 5000));
    assert.deepEqual((await get(port, "/protected", auth)).json(), { guid: sv.guidText(guid) });
    assert.equal((await get(port, "/protected")).status, 401);
    assert.equal((await get(port, "/elsewhere", auth)).status, 404);
    const ro = await makeToken(["invoices.read"]);
    assert.equal((await get(port, "/protected", [["Authorization", `Bearer ${ro.token}`]])).status, 403);
    await sleep(300); // the follower's next long poll is waiting
    issuer.publish(await makeList([[guid, 2]], 2), 2);
    const started = Date.now();
    assert.ok(await waitUntil(async () => (await get(port, "/protected", auth)).status === 401, 2000));
    assert.ok(Date.now() - started < 2000);
    assert.match((await get(port, "/protected", auth)).headers["www-authenticate"], /error_description="revoked"/);
    p.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.ok(!stderr.includes(token));
  } finally {
    if (p.exitCode === null) p.kill("SIGKILL");
    await issuer.close();
    done();
  }
});

function runConformance(cases) {
  const p = spawnSync(join(HERE, "conformance"), [], { input: cases.map((c) => JSON.stringify(c) + "\n").join(""), encoding: "utf8", timeout: 60_000, maxBuffer: 1 << 28 });
  assert.equal(p.status, 0, p.stderr);
  return p.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

const TOKENS = `${REPO}Tests/Vectors/tokens-v1.json`;

test("./conformance agrees with the vectors, 5,000 cases in a few seconds", { skip: !existsSync(TOKENS) && "no Tests/Vectors" }, async () => {
  const seed = new Uint8Array(32).fill(0x33);
  const pub = await ed25519Public(seed);
  const cases = [];
  for (const v of JSON.parse(readFileSync(TOKENS, "utf8")).vectors) {
    const revoked = (v.revoked ?? []).map((r) => [sv.guidBytes(r.guid), r.status === "revoked" ? 2 : 1]);
    const data = revoked.length ? Buffer.from(await makeList(revoked, 1, { seed })).toString("base64") : null;
    cases.push({
      case: {
        keyset: {
          format: "sigil-keyset-v1",
          audience: sv.isValidAudience(v.audience) ? v.audience : "billing",
          token_keys: v.keys.map((k) => ({ kid: k.kid, key: sv.b64urlEncode(sv.fromHex(k.key_hex)) })),
          revocation_keys: [{ kid: "r1", public_key: sv.b64urlEncode(pub) }],
        },
        revocations: data,
        token: v.token,
        audience: v.audience,
        permission: v.permission?.name ?? null,
        access: v.permission?.access ?? null,
        now: v.now,
        leeway: v.leeway,
        when_no_list: "fail_open",
      },
      expected: v.expected,
    });
  }
  const batch = Array.from({ length: 5000 }, (_, i) => cases[i % cases.length]);
  const started = Date.now();
  const answers = runConformance(batch.map((c) => c.case));
  const took = Date.now() - started;
  assert.equal(answers.length, batch.length);
  batch.forEach((c, i) => {
    const exp = c.expected;
    if (!sv.isValidAudience(c.case.audience)) {
      assert.ok("error" in answers[i], JSON.stringify(answers[i])); // no verifier for such an audience
      return;
    }
    assert.deepEqual(answers[i], exp.valid ? { valid: true, guid: exp.claims.guid } : { valid: false, reason: exp.reason }, JSON.stringify(c.case));
  });
  assert.ok(took < 20_000, `${took} ms`);
});

test("./conformance: lists, policies and cases that cannot be run", async () => {
  const { token, guid } = await makeToken("all");
  const keyset = JSON.parse(await keysetJSON());
  const base = {
    keyset, revocations: null, token, audience: AUDIENCE, permission: null, access: null,
    now: nowSeconds(), leeway: 60, when_no_list: "fail_open",
  };
  const b64 = (u8) => Buffer.from(u8).toString("base64");
  const good = b64(await makeList([[guid, 1]], 1));
  const damaged = b64(damageSignature(await makeList([], 1)));
  const stale = b64(await makeList([], 1, { nextUpdate: 1 }));
  const answers = runConformance([
    base,
    { ...base, when_no_list: "fail_closed" },
    { ...base, revocations: good },
    { ...base, revocations: damaged },
    { ...base, revocations: b64(Uint8Array.of(0x53, 0x47, 0x4c, 0x52, 2, 2, 0x72, 0x31)) },
    { ...base, revocations: stale },
    { ...base, token: "sgl_x", when_no_list: "fail_closed" },
    { ...base, permission: "devices.delete", access: "write" },
    { ...base, revocations: "not base64!" },
    { ...base, revocations: good.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") },
    { ...base, keyset: { ...keyset, format: "nope" } },
    { ...base, permission: "Not A Permission", access: "read" },
  ]);
  const g = sv.guidText(guid);
  assert.deepEqual(answers.slice(0, 10), [
    { valid: true, guid: g },
    { valid: false, reason: "revocations_stale" },
    { valid: false, reason: "deactivated" },
    { valid: false, list_error: "bad_signature" },
    { valid: false, list_error: "unsupported_version" },
    { valid: true, guid: g }, // stale, but the default policy keeps serving
    { valid: false, reason: "malformed" },
    { valid: true, guid: g }, // scope all
    { valid: false, list_error: "malformed" },
    { valid: false, reason: "deactivated" }, // base64url is accepted too
  ]);
  assert.match(answers[10].error, /KeysetError/);
  assert.match(answers[11].error, /RangeError/);
});

test("./bench prints one JSON line", () => {
  const p = spawnSync(join(HERE, "bench"), ["--seconds", "0.2"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(p.status, 0, p.stderr);
  const lines = p.stdout.split("\n").filter(Boolean);
  assert.equal(lines.length, 1);
  const out = JSON.parse(lines[0]);
  assert.equal(out.language, "typescript");
  assert.ok(out.verify_ns > 0 && out.hmac_ns > 0);
  assert.ok(Math.abs(out.ratio - out.verify_ns / out.hmac_ns) <= 0.01 * out.ratio + 0.005);
});
