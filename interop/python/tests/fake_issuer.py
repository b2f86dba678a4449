"""A local stand-in for sigil-server's GET /v1/revocations: ETag "<sequence>", If-None-Match,
?wait= long polls that a publish() wakes, and ?since=S answered with a revocation delta from
list S when it published S (FORMAT.md §4.3), as docs/API.md describes.

Unlike sigil-server it answers a delta even when the full list would be smaller (tests use
lists of a few entries). `delta_from = N` makes the answer to every request with `since`
a delta from list N, whatever `since` says: a delta that does not fit the follower's list."""

from __future__ import annotations

import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from conftest import make_delta

LIST_TYPE = "application/vnd.sigil.revocations"
DELTA_TYPE = "application/vnd.sigil.revocation-delta"


class Issuer:
    """The list endpoint: publish() wakes waiting polls, as sigil-server does."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.data: Optional[bytes] = None
        self.sequence = 0
        self.mode = "normal"  # normal | error | declare_huge | stream_huge | stall
        self.requests: List[Tuple[float, Optional[str], str]] = []
        self.accepts: List[Optional[str]] = []  # each request's Accept header
        self.history: Dict[int, bytes] = {}  # every list published, by sequence
        self.delta_from: Optional[int] = None
        self.deltas_served = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                issuer.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/revocations"

    def publish(self, data: bytes, sequence: int) -> None:
        with self.cond:
            self.data, self.sequence = data, sequence
            self.history[sequence] = data
            self.cond.notify_all()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        etag = h.headers.get("If-None-Match")
        self.requests.append((time.monotonic(), etag, h.path))
        self.accepts.append(h.headers.get("Accept"))
        if self.mode == "error":
            return self.send(h, 500, b"oops")
        if self.mode == "declare_huge":
            h.send_response(200)
            h.send_header("Content-Length", str(1 << 30))
            h.end_headers()
            h.wfile.write(b"SGLR")
            return None
        if self.mode == "stream_huge":
            h.send_response(200)
            h.send_header("Connection", "close")
            h.end_headers()
            for _ in range(64):
                h.wfile.write(b"\x00" * 1024)
            return None
        if self.mode == "stall":
            time.sleep(3)
            return self.send(h, 304, b"")
        wait = float(query.get("wait", ["0"])[0])
        with self.cond:
            current = f'"{self.sequence}"'
            if etag == current and wait > 0:
                self.cond.wait_for(lambda: f'"{self.sequence}"' != etag, timeout=wait)
            if self.data is None or etag == f'"{self.sequence}"':
                return self.send(h, 304, b"")
            data, seq = self.data, self.sequence
            since = query.get("since", [""])[0]
            base_seq = None
            if since.isdigit():
                base_seq = self.delta_from if self.delta_from is not None else int(since)
            base = self.history.get(base_seq) if base_seq is not None and base_seq != seq else None
            if base is not None:
                self.deltas_served += 1
        if base is not None:
            self.send(h, 200, make_delta(base, data), {"ETag": f'"{seq}"', "Content-Type": DELTA_TYPE})
        else:
            self.send(h, 200, data, {"ETag": f'"{seq}"', "Content-Type": LIST_TYPE})
        return None

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        with self.cond:
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()
