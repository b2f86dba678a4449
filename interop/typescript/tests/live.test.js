// Against a real sigil-server: a token revoked through its API is refused by sigilMiddleware
// (in this process) and by ./example-server, each following GET /v1/revocations, within 2 s.
// Skipped without the binaries (SIGIL_BIN / SIGIL_SERVER_BIN, defaulting to the repository's
// .build/debug/sigil and Server/.build/debug/sigil-server).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as sv from "../sigil.js";
import { readKeyset } from "../node.js";
import { HERE, REPO, get, sleep, waitUntil } from "./helpers.js";

function binary(env, fallback) {
  const path = process.env[env] || fallback;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

const SIGIL = binary("SIGIL_BIN", join(REPO, ".build", "debug", "sigil"));
const SERVER = binary("SIGIL_SERVER_BIN", join(REPO, "Server", ".build", "debug", "sigil-server"));
const skip = SIGIL === null || SERVER === null ? "no sigil / sigil-server binary (SIGIL_BIN, SIGIL_SERVER_BIN)" : false;
if (skip) console.log(`interop/typescript: live test skipped: ${skip}`);

test("a token revoked through sigil-server is refused by both followers within 2 s", { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), "sigil-ts-live-"));
  const home = join(root, "home");
  const env = { ...process.env };
  delete env.SIGIL_HOME;
  const cli = (...args) => {
    const p = spawnSync(SIGIL, ["--home", home, ...args], { encoding: "utf8", timeout: 60_000, env });
    assert.equal(p.status, 0, p.stderr);
    return p.stdout;
  };
  const issue = (audience, ...scope) => JSON.parse(cli("issue", "--json", "--name", "t", "--audience", audience, ...scope));
  const org = issue("sigil", "--all");
  const svc = issue("billing", "--scope", "devices.list");
  const keysetPath = join(root, "keyset.json");
  cli("keys", "export", "--audience", "billing", "-o", keysetPath);

  const logPath = join(root, "server.log");
  const log = openSync(logPath, "w");
  const server = spawn(SERVER, ["--home", home, "--port", "0"], { stdio: ["ignore", log, log] });
  let example = null;
  let follower = null;
  let local = null;
  try {
    let port = 0;
    assert.ok(
      await waitUntil(() => {
        const m = /sigil-server: listening on http:\/\/\S+:(\d+)/.exec(readFileSync(logPath, "utf8"));
        if (m) port = Number(m[1]);
        return port > 0 || server.exitCode !== null;
      }, 30_000) && port > 0,
      readFileSync(logPath, "utf8"),
    );
    const url = `http://127.0.0.1:${port}/v1/revocations`;

    // In this process: the middleware under node:http.
    const keyset = readKeyset(keysetPath);
    const store = new sv.RevocationStore(keyset.revocationKeys, { stalePolicy: "fail_closed", whenNoList: "fail_closed" });
    follower = new sv.RevocationFollower(url, store, { wait: 10 }).start();
    const middleware = sv.sigilMiddleware(await sv.Verifier.fromKeyset(keyset, { revocations: store }), {
      permission: new sv.Permission("devices.list", "read"),
    });
    local = createServer((req, res) => middleware(req, res, () => res.end(JSON.stringify({ guid: sv.sigilToken(req).guid }))));
    await new Promise((r) => local.listen(0, "127.0.0.1", r));

    // In its own process: the example server.
    example = spawn(join(HERE, "example-server"), [
      "--port", "0", "--keyset", keysetPath, "--revocations-url", url, "--permission", "devices.list", "--access", "read", "--wait", "10",
    ]);
    let out = "";
    let err = "";
    example.stdout.on("data", (c) => (out += c));
    example.stderr.on("data", (c) => (err += c));
    assert.ok(await waitUntil(() => /listening \d+\n/.test(out), 10_000), err);
    const ports = [local.address().port, Number(/listening (\d+)/.exec(out)[1])];
    const auth = [["Authorization", `Bearer ${svc.token}`]];
    for (const p of ports) {
      assert.ok(await waitUntil(async () => (await get(p, "/protected", auth)).status === 200, 10_000), String(p));
      assert.deepEqual((await get(p, "/protected", auth)).json(), { guid: svc.guid });
    }
    await sleep(1500); // both followers are now holding a long poll
    const revoke = await fetch(`http://127.0.0.1:${port}/v1/tokens/${svc.guid}/revoke`, {
      method: "POST",
      body: "{}",
      headers: { Authorization: `Bearer ${org.token}`, "Content-Type": "application/json" },
    });
    assert.equal(revoke.status, 200);
    const revokedAt = Date.now();
    for (const p of ports) {
      assert.ok(await waitUntil(async () => (await get(p, "/protected", auth)).status === 401, 2000 - (Date.now() - revokedAt)), String(p));
      assert.match((await get(p, "/protected", auth)).headers["www-authenticate"], /error_description="revoked"/);
    }
    const elapsed = Date.now() - revokedAt;
    console.log(`revoke refused by both after ${elapsed} ms`);
    assert.ok(elapsed < 2000);
    assert.ok(!err.includes(svc.token));
  } finally {
    await follower?.stop();
    if (local) {
      local.closeAllConnections();
      local.close();
    }
    example?.kill("SIGTERM");
    server.kill("SIGTERM");
    await sleep(200);
    rmSync(root, { recursive: true, force: true });
  }
});
