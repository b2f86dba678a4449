"""Webhooks (docs/WEBHOOKS.md): a real HTTP receiver on 127.0.0.1 and a real sigil-server."""

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import SERVER_BIN, Env, cli_issue

SECRET = b"webhook-secret-0123456789"


class Receiver:
    """Records every POST; answers 500 to the first `fail` of them."""

    def __init__(self, fail=0):
        self.received = []
        self.attempts = 0
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, event, guid, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for headers, body in list(self.received):
                payload = json.loads(body)
                if payload["event"] == event and payload["guid"] == guid:
                    return headers, body, payload
            time.sleep(0.1)
        raise AssertionError(f"no {event} for {guid}: {self.received}")

    def close(self):
        self.httpd.shutdown()


def verify(headers, body):
    """What a receiver does (docs/WEBHOOKS.md)."""
    signed = headers["X-Sigil-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(SECRET, signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Sigil-Signature"])


def start(fail=0):
    root = Path(tempfile.mkdtemp(prefix="sigil-webhook-test-"))
    secret = root / "webhook.secret"
    secret.write_bytes(SECRET + b"\n")
    os.chmod(secret, 0o600)
    leak = root / "intake.token"
    leak.write_text("intake-secret-0123456789\n")
    os.chmod(leak, 0o600)
    receiver = Receiver(fail)
    e = Env(root, "--webhook", receiver.url, "--webhook-secret-file", str(secret), "--webhook-poll-seconds", "1",
            "--leak-report-token-file", str(leak))
    return root, receiver, e


@pytest.fixture
def hooked():
    root, receiver, e = start()
    yield e, receiver
    e.close()
    receiver.close()
    shutil.rmtree(root, ignore_errors=True)


def no_token(e, receiver, *tokens):
    for headers, body in receiver.received:
        assert b"sgl_" not in body
        for t in tokens:
            assert t.encode() not in body
    assert "sgl_" not in e.server.log_text()


def test_lifecycle_events_arrive_signed(hooked):
    e, receiver = hooked
    time.sleep(1.5)  # the first poll stores the cursor: only later changes are sent
    token, row = e.create("revoked one")
    assert e.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
    headers, body, payload = receiver.wait("token.revoked", row["guid"])
    assert verify(headers, body)
    assert headers["X-Sigil-Event"] == "token.revoked"
    assert headers["X-Sigil-Delivery"]
    assert payload["name"] == "revoked one" and payload["audience"] == "billing"
    assert not verify({**headers, "X-Sigil-Timestamp": str(int(headers["X-Sigil-Timestamp"]) + 1)}, body)

    other, other_row = e.create("deactivated by the CLI")
    e.cli("deactivate", other_row["guid"])
    headers, body, payload = receiver.wait("token.deactivated", other_row["guid"])
    assert verify(headers, body)

    leaked, leaked_row = e.create("leaked one")
    r = e.anonymous.post("/v1/leak-reports/revoke_tokens",
                         [{"type": "gitleaks_rule_id_sigil_api_token", "token": leaked, "location": "https://git.example/a/.env"}],
                         headers={"Authorization": "intake-secret-0123456789"}, token=None)
    assert r.status == 204, r
    headers, body, payload = receiver.wait("token.leak_reported", leaked_row["guid"])
    assert verify(headers, body)
    assert payload["actor"] == "leak-report"
    assert payload["location"] == "https://git.example/a/.env"

    soon, guid = cli_issue(e.home, "expires soon", "billing", "--all", "--expires-in", "6d")
    headers, body, payload = receiver.wait("token.expiring", guid)
    assert verify(headers, body)
    assert payload["days"] == 7
    no_token(e, receiver, token, other, leaked, soon, e.org_token)


def test_failed_deliveries_are_retried():
    root, receiver, e = start(fail=2)
    try:
        time.sleep(1.5)
        _, row = e.create("retried")
        assert e.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
        headers, body, _ = receiver.wait("token.revoked", row["guid"], timeout=30)
        assert verify(headers, body)
        assert receiver.attempts == 3
        assert "webhook failed, will retry" in e.server.log_text()
    finally:
        e.close()
        receiver.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("args, message", [
    (["--webhook", "ftp://x/"], "--webhook and --webhook-secret-file go together"),
    (["--webhook", "ftp://x/", "--webhook-secret-file", "/nonexistent"], "http:// or https://"),
    (["--webhook", "http://127.0.0.1:9/", "--webhook-secret-file", "/nonexistent/secret"], "/nonexistent/secret"),
])
def test_bad_options_refuse_to_start(tmp_path, args, message):
    cli_issue(tmp_path / "home", "x", "billing", "--all")
    r = subprocess.run([SERVER_BIN, "--home", str(tmp_path / "home"), "--port", "0", *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_restart_neither_repeats_nor_misses(tmp_root):
    from conftest import Server
    secret = tmp_root / "webhook.secret"
    secret.write_bytes(SECRET)
    os.chmod(secret, 0o600)
    receiver = Receiver()
    args = ["--webhook", receiver.url, "--webhook-secret-file", str(secret), "--webhook-poll-seconds", "1"]
    e = Env(tmp_root, *args)
    try:
        time.sleep(1.5)
        _, before = e.create("before restart")
        assert e.org.post(f"/v1/tokens/{before['guid']}/revoke").status == 200
        receiver.wait("token.revoked", before["guid"])
        assert e.server.stop() == 0
        _, while_down = cli_issue(e.home, "while down", "billing", "--all")
        e.cli("revoke", "--yes", while_down)
        e.server = Server(e.home, *args)
        receiver.wait("token.revoked", while_down)
        time.sleep(2.5)
        guids = [json.loads(b)["guid"] for _, b in receiver.received if json.loads(b)["event"] == "token.revoked"]
        assert sorted(guids) == sorted([before["guid"], while_down])
    finally:
        e.close()
        receiver.close()
