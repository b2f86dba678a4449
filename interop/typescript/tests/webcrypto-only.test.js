// The core module in a context with web globals only (what Deno, Bun and Workers give it):
// see webcrypto-only.mjs, which needs --experimental-vm-modules and so runs in its own process.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("sigil.js verifies a token, a signature and guards a Request with web globals only", () => {
  const script = fileURLToPath(new URL("./webcrypto-only.mjs", import.meta.url));
  const p = spawnSync(process.execPath, ["--experimental-vm-modules", "--no-warnings", script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(p.status, 0, p.stderr);
  assert.deepEqual(JSON.parse(p.stdout), {
    valid: true,
    guid: "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90",
    ed25519: true,
    guard: [401, 'Bearer error="invalid_token", error_description="malformed"'],
  });
});
