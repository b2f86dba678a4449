"""Webhooks never follow redirects (#20 item 10): a receiver answering 307 used to get the signed
headers re-sent to its `Location`, and the delivery was logged "delivered"."""

import os
import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from conftest import Env
from test_webhooks import SECRET, Receiver


class Redirector:
    """Answers every POST with 307 to `location`, counting the attempts."""

    def __init__(self, location):
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_a_307_is_a_failed_delivery_and_nothing_reaches_its_location():
    root = Path(tempfile.mkdtemp(prefix="sigil-webhook-redirect-test-"))
    elsewhere = Receiver()
    redirector = Redirector(elsewhere.url)
    secret = root / "webhook.secret"
    secret.write_bytes(SECRET + b"\n")
    os.chmod(secret, 0o600)
    e = Env(root, "--webhook", redirector.url, "--webhook-secret-file", str(secret), "--webhook-poll-seconds", "1")
    try:
        time.sleep(1.5)  # the first poll stores the cursor: only later changes are sent
        _, row = e.create("redirected")
        assert e.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
        # Retried with backoff (1 s, then 2 s): wait for the second attempt.
        deadline = time.monotonic() + 30
        while redirector.attempts < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert redirector.attempts >= 2, "a 3xx must count as failed and be retried"
        log = e.server.log_text()
        assert "webhook failed, will retry" in log and "status 307" in log, log[-2000:]
        assert "webhook delivered" not in log
        assert elsewhere.attempts == 0 and elsewhere.received == [], "the signed request followed the redirect"
    finally:
        e.close()
        redirector.close()
        elsewhere.close()
        shutil.rmtree(root, ignore_errors=True)


def test_revocations_pull_still_follows_a_redirect(tmp_root):
    """BoundedHTTP no longer follows by default; the signed-list pull opts in, as before."""
    import subprocess
    from http.server import BaseHTTPRequestHandler as Base

    from conftest import SIGIL_BIN

    e = Env(tmp_root)
    target = f"http://127.0.0.1:{e.server.port}/v1/revocations"

    class Handler(Base):
        def do_GET(self):
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    cdn = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    try:
        out = tmp_root / "pulled.sgl"
        r = subprocess.run([SIGIL_BIN, "--home", str(e.home), "revocations", "pull",
                            f"http://127.0.0.1:{cdn.server_address[1]}/list", "-o", str(out)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == e.anonymous.get("/v1/revocations").body
    finally:
        cdn.shutdown()
        e.close()
