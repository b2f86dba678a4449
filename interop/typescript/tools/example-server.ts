/**
 * A tiny protected service for the cross-language live test (interop/live/).
 *
 *     example-server --port N --keyset PATH --revocations-url URL \
 *                    --permission RESOURCE.ACTION --access read|write [--wait S]
 *
 * Fails closed (no list yet, or a stale one: 503), follows URL (GET /v1/revocations) with
 * RevocationFollower, serves GET /protected through sigilMiddleware on node:http (200
 * {"guid": ...} when allowed), prints `listening <port>` once it accepts connections, and exits
 * on SIGTERM.
 */

import { createServer } from "node:http";
import { Permission, RevocationFollower, RevocationStore, sigilMiddleware, sigilToken, Verifier } from "../sigil.js";
import type { Access } from "../sigil.js";
import { readKeyset } from "../node.js";

function options(): Record<string, string> {
  const out: Record<string, string> = {};
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith("--") || i + 1 >= args.length) throw new RangeError(`bad argument ${args[i]}`);
    out[args[i].slice(2)] = args[i + 1];
  }
  for (const name of ["port", "keyset", "revocations-url", "permission", "access"]) {
    if (out[name] === undefined) throw new RangeError(`--${name} is required`);
  }
  if (out.access !== "read" && out.access !== "write") throw new RangeError("--access is read or write");
  return out;
}

async function main(): Promise<void> {
  const args = options();
  const keyset = readKeyset(args.keyset);
  const store = new RevocationStore(keyset.revocationKeys, { stalePolicy: "fail_closed", whenNoList: "fail_closed" });
  const verifier = await Verifier.fromKeyset(keyset, { revocations: store });
  const guard = sigilMiddleware(verifier, { permission: new Permission(args.permission, args.access as Access) });
  const follower = new RevocationFollower(args["revocations-url"], store, { wait: Number(args.wait ?? 30) }).start();

  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/protected" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.statusCode = 404;
      res.setHeader("Content-Type", "application/json");
      res.end('{"error":"not_found"}');
      return;
    }
    guard(req, res, (error) => {
      if (error !== undefined) {
        res.statusCode = 500;
        res.end();
        return;
      }
      res.statusCode = 200;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ guid: sigilToken(req)?.guid ?? null }));
    });
  });
  server.listen(Number(args.port), "127.0.0.1", () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === "object" && address !== null ? address.port : args.port}\n`);
  });
  process.on("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    void follower.stop().then(() => process.exit(0));
  });
}

await main();
