// Runs sigil.js in a fresh V8 context that has only what a WebCrypto-only runtime (Deno, Bun,
// Workers) offers: no process, no Buffer, no require. Started by webcrypto-only.test.js with
// --experimental-vm-modules; prints one JSON line of results.

import vm from "node:vm";
import { readFileSync } from "node:fs";

const globals = {
  crypto, TextEncoder, TextDecoder, URL, fetch, Request, Response, Headers, AbortController,
  setTimeout, clearTimeout, console, atob, btoa,
};
const context = vm.createContext({ ...globals });
const core = new vm.SourceTextModule(readFileSync(new URL("../sigil.js", import.meta.url), "utf8"), { context });
await core.link(() => {
  throw new Error("sigil.js must import nothing");
});
await core.evaluate();
const script = new vm.SourceTextModule(
  `
  import * as sv from "sigil";
  const hex = (s) => Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16));
  const kAud = await sv.audienceKey(Uint8Array.from({ length: 32 }, (_, i) => i), "billing");
  const token = "sgl_AQJrMQdiaWxsaW5nCw5cai9NTB6aU10_Hit8kAAAAABpVbkAAAAAAGs27IADAAIMZGV2aWNlcy5saXN0DWludm9pY2VzLnJlYWRc1D-I36F1cesPo-N1ml0TucoPmNsDetaclNGR789aGg";
  const verifier = await sv.Verifier.create("billing", [["k1", kAud]]);
  const valid = await verifier.verify(token, { name: "devices.list", access: "read" }, 1780000000);
  const pub = hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const sig = hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  const guard = sv.sigilGuard(verifier);
  const refusal = await guard(new Request("http://x/", { headers: { authorization: "Bearer sgl_nope" } }));
  globalThis.result = {
    valid: valid.valid, guid: valid.claims.guid,
    ed25519: await sv.ed25519Verify(pub, new Uint8Array(0), sig),
    guard: [refusal.status, refusal.headers.get("www-authenticate")],
  };
  `,
  { context },
);
await script.link((specifier) => {
  if (specifier === "sigil") return core;
  throw new Error(specifier);
});
await script.evaluate();
console.log(JSON.stringify(context.result));
