// A local stand-in for sigil-server's GET /v1/revocations: ETag "<sequence>", If-None-Match,
// and ?wait= long polls that publish() wakes, as docs/API.md describes. With `deltas`, ?since=S
// is answered with the delta from the list published as S (makeDelta), even when it is not
// smaller than the list (sigil-server would send the list then; test lists are small);
// `forcedDelta` answers every since instead.

import { createServer } from "node:http";
import { REVOCATIONS_MEDIA_TYPE, REVOCATION_DELTA_MEDIA_TYPE } from "../sigil.js";
import { makeDelta } from "./helpers.js";

export class Issuer {
  data = null;
  sequence = 0;
  /** normal | error | declare_huge | stream_huge | stall */
  mode = "normal";
  requests = [];
  waiters = new Set();
  deltas = false;
  forcedDelta = null;
  deltasSent = 0;
  /** Every list published, by its ETag sequence (the first one published as it). */
  published = new Map();

  async start() {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${this.server.address().port}/v1/revocations`;
    return this;
  }

  publish(data, sequence) {
    this.data = data;
    this.sequence = sequence;
    if (!this.published.has(sequence)) this.published.set(sequence, data);
    for (const wake of this.waiters) wake();
  }

  async handle(req, res) {
    const url = new URL(req.url, "http://x");
    const etag = req.headers["if-none-match"] ?? null;
    this.requests.push({ at: Date.now(), etag, path: req.url, accept: req.headers.accept ?? null });
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
    const since = url.searchParams.get("since");
    if (since !== null) {
      const base = this.published.get(Number(since));
      const delta = this.forcedDelta ?? (this.deltas && base !== undefined && Number(since) !== this.sequence ? makeDelta(base, this.data) : null);
      if (delta !== null) {
        this.deltasSent++;
        return this.send(res, 200, delta, { ETag: `"${this.sequence}"`, "Content-Type": REVOCATION_DELTA_MEDIA_TYPE });
      }
    }
    return this.send(res, 200, this.data, { ETag: `"${this.sequence}"`, "Content-Type": REVOCATIONS_MEDIA_TYPE });
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
