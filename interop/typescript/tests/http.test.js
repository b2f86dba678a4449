// sigilMiddleware under node:http (the Express/Connect shape) and sigilGuard behind a small
// Request/Response bridge, over real HTTP on 127.0.0.1, answering like SigilHummingbird.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import * as sv from "../sigil.js";
import { AUDIENCE, KEY, SEED, ed25519Public, get, makeList, makeToken } from "./helpers.js";

const PERMISSION = new sv.Permission("devices.list", "write");

async function newVerifier() {
  const store = new sv.RevocationStore([["r1", await ed25519Public(SEED)]], { whenNoList: "fail_closed" });
  return { verifier: await sv.Verifier.create(AUDIENCE, [["k1", KEY]], { revocations: store }), store };
}

async function serve(handler) {
  const server = createServer(handler);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { port: server.address().port, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

/** Every kind of answer, in one pass; the token never appears in an answer or a log. */
async function runTable(port, store, logs, repeatedReason) {
  const { token: good } = await makeToken("all");
  const { token: readOnly } = await makeToken("read-only");
  const { token: revoked, guid: revokedGuid } = await makeToken("all");
  const sent = [good, readOnly, revoked];
  const bearer = (t) => [["Authorization", `Bearer ${t}`]];

  function check(a, status, www, body) {
    assert.equal(a.status, status, JSON.stringify(a));
    assert.equal(a.headers["www-authenticate"], www, JSON.stringify(a));
    assert.deepEqual(a.json(), body);
    assert.equal(a.headers["cache-control"], "no-store");
    for (const t of sent) assert.ok(!a.body.includes(t) && !JSON.stringify(a.headers).includes(t));
  }

  // No list yet and the policy fails closed: 503, no challenge.
  check(await get(port, "/protected", bearer(good)), 503, undefined, { error: "temporarily_unavailable", reason: "revocations_stale" });
  await store.load(await makeList([[revokedGuid, 2]], 1));

  check(await get(port, "/protected"), 401, "Bearer", { error: "missing_token" });
  check(await get(port, "/protected", [["Authorization", "Basic dXNlcjpwYXNz"]]), 401, "Bearer", { error: "missing_token" });
  const malformed = { error: "invalid_request", reason: "malformed_authorization" };
  for (const value of ["Bearer", "Bearer a b", "Bearer sgl_a,b", "bearer\tsgl_x"]) {
    const a = await get(port, "/protected", [["Authorization", value]]);
    if (value === "bearer\tsgl_x") check(a, 401, "Bearer", { error: "missing_token" }); // the scheme is not Bearer
    else check(a, 400, 'Bearer error="invalid_request"', malformed);
  }
  const two = await get(port, "/protected", [...bearer(good), ...bearer(good)]);
  check(two, 400, 'Bearer error="invalid_request"', { error: "invalid_request", reason: repeatedReason });
  for (const [t, reason] of [["sgl_nope", "malformed"], [good.slice(0, -2) + "AA", null], [revoked, "revoked"]]) {
    const a = await get(port, "/protected", bearer(t));
    const why = reason ?? a.json().reason;
    assert.ok(["malformed", "bad_signature", "revoked"].includes(why));
    check(a, 401, `Bearer error="invalid_token", error_description="${why}"`, { error: "invalid_token", reason: why });
  }
  check(
    await get(port, "/protected", bearer(readOnly)),
    403,
    'Bearer error="insufficient_scope", scope="devices.list"',
    { error: "insufficient_scope", reason: "scope_not_granted", scope: "devices.list" },
  );
  const ok = await get(port, "/protected", [["authorization", `BEARER   ${good}`]]);
  assert.equal(ok.status, 200, JSON.stringify(ok));
  assert.deepEqual(ok.json(), { guid: sv.parseToken(good).claims.guid });
  for (const t of sent) assert.ok(!logs.join("\n").includes(t));
  assert.ok(logs.some((l) => l.includes("reason=revoked")), logs.join("\n"));
}

test("sigilMiddleware under node:http, Express-style (req, res, next)", async () => {
  const { verifier, store } = await newVerifier();
  const logs = [];
  const middleware = sv.sigilMiddleware(verifier, { permission: PERMISSION, log: (level, m) => logs.push(m) });
  const { port, close } = await serve((req, res) => {
    middleware(req, res, (error) => {
      assert.equal(error, undefined);
      assert.equal(sv.sigilToken(req), req.sigilToken);
      res.setHeader("Content-Type", "application/json");
      res.setHeader("Cache-Control", "no-store");
      res.end(JSON.stringify({ guid: sv.sigilToken(req).guid }));
    });
  });
  try {
    await runTable(port, store, logs, "multiple_authorization_headers");
  } finally {
    await close();
  }
});

test("sigilMiddleware hands an unexpected failure to next(error)", async () => {
  const broken = { check: () => Promise.reject(new Error("boom")) };
  const middleware = sv.sigilMiddleware(broken);
  const { token } = await makeToken();
  const seen = await new Promise((resolve) => {
    middleware({ headers: { authorization: `Bearer ${token}` } }, {}, resolve);
  });
  assert.equal(seen.message, "boom");
});

test("sigilGuard, fetch-style (Request) => Promise<Response | null>, over real HTTP", async () => {
  const { verifier, store } = await newVerifier();
  const logs = [];
  const guard = sv.sigilGuard(verifier, { permission: { name: "devices.list", access: "write" }, log: (level, m) => logs.push(m) });
  async function handle(request) {
    const refusal = await guard(request);
    if (refusal !== null) return refusal;
    return Response.json({ guid: sv.sigilToken(request).guid }, { headers: { "Cache-Control": "no-store" } });
  }
  // The bridge a fetch-style runtime (Deno.serve, Bun.serve, Workers) provides for itself.
  const { port, close } = await serve(async (req, res) => {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const response = await handle(new Request(`http://127.0.0.1${req.url}`, { headers }));
    res.statusCode = response.status;
    response.headers.forEach((v, k) => res.setHeader(k, v));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  try {
    // Headers join the two values with a comma: not a b64token, so malformed_authorization.
    await runTable(port, store, logs, "malformed_authorization");
  } finally {
    await close();
  }
});
