// A local stand-in for sigil-server's GET /v1/revocations: ETag "<sequence>", If-None-Match,
// and ?wait= long polls that publish() wakes, as docs/API.md describes.

import { createServer } from "node:http";

export class Issuer {
  data = null;
  sequence = 0;
  /** normal | error | declare_huge | stream_huge | stall */
  mode = "normal";
  requests = [];
  waiters = new Set();

  async start() {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}/v1/revocations`;
    return this;
  }

  publish(data, sequence) {
    this.data = data;
    this.sequence = sequence;
    for (const wake of this.waiters) wake();
  }

  async handle(req, res) {
    const url = new URL(req.url, "http://x");
    const etag = req.headers["if-none-match"] ?? null;
    this.requests.push({ at: Date.now(), etag, path: req.url });
    if (this.mode === "error") return this.send(res, 500, "oops");
    if (this.mode === "declare_huge") {
      res.writeHead(200, { "Content-Length": String(1 << 30) });
      res.write("SGLR");
      return undefined;
    }
    if (this.mode === "stream_huge") {
      res.writeHead(200, { Connection: "close" });
      for (let i = 0; i < 64; i++) res.write(new Uint8Array(1024));
      return res.end();
    }
    if (this.mode === "stall") {
      await new Promise((r) => setTimeout(r, 3000));
      return this.send(res, 304, "");
    }
    const wait = Number(url.searchParams.get("wait") ?? "0");
    if (etag === `"${this.sequence}"` && wait > 0) {
      await new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, wait * 1000);
        this.waiters.add(wake);
        req.on("close", wake);
      });
    }
    if (this.data === null || etag === `"${this.sequence}"`) return this.send(res, 304, "");
    return this.send(res, 200, this.data, { ETag: `"${this.sequence}"`, "Content-Type": "application/octet-stream" });
  }

  send(res, status, body, headers = {}) {
    if (res.destroyed) return;
    res.writeHead(status, { ...headers, "Content-Length": String(body.length) });
    res.end(body);
  }

  async close() {
    for (const wake of this.waiters) wake();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
