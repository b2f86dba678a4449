"""Webhooks that are not lost (docs/WEBHOOKS.md, issue #24 item 5): real sigil-server processes
and real receivers on 127.0.0.1.

Deliveries live in the ledger: they survive a restart and a SIGKILL mid-delivery (sent again
with the same delivery ID), one replica sends while the others stand by and take over when it
dies (on SQLite and, with SIGIL_TEST_DATABASE_URL, on PostgreSQL), each endpoint has its own
events and secret, a receiver that was down gets everything, retries back off as configured,
and a receiver that answers a huge body or never answers holds nothing up.
"""

import hashlib
import hmac
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import SERVER_BIN, Env, Server, cli_issue, eventually, log_records, run_cli
from test_replicas import database  # noqa: F401  (the fixture is used by name)

# Short settings keep the suite fast: a 2 s lease, a poll a second, retries from 0.2 s.
FAST = ["--webhook-poll-seconds", "1", "--webhook-lease-seconds", "2", "--webhook-first-retry-seconds", "0.2",
        "--webhook-timeout", "2"]
BASE_URL = os.environ.get("SIGIL_TEST_DATABASE_URL")


class Receiver:
    """Records every POST (arrival time, headers, body, what it answered). `answer(n, headers,
    payload)` picks the answer of the n-th attempt (1-based): a status, "hold" (keep the request
    open until `release` is set), "huge" (200 with a 1 GiB body, sent slowly) or "silent" (no
    answer at all)."""

    def __init__(self, answer=lambda n, headers, payload: 200):
        self.answer = answer
        self.attempts = []
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers)
                with receiver.lock:
                    n = len(receiver.attempts) + 1
                    action = receiver.answer(n, headers, json.loads(body))
                    receiver.attempts.append((time.monotonic(), headers, body, action))
                try:
                    if action == "hold":
                        receiver.held.set()
                        receiver.release.wait(60)
                        self.send_response(200)
                        self.end_headers()
                    elif action == "silent":
                        receiver.release.wait(60)
                    elif action == "huge":
                        self.send_response(200)
                        self.send_header("Content-Length", str(1 << 30))
                        self.end_headers()
                        for _ in range(100):
                            self.wfile.write(b"x" * 65536)
                            time.sleep(0.05)
                    else:
                        self.send_response(action)
                        self.end_headers()
                except OSError:
                    pass  # the sender went away (killed, or done reading)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answered(self, ok=True):
        """(time, headers, payload) of the attempts answered 2xx (or "huge"), or of the others."""
        with self.lock:
            return [(t, h, json.loads(b)) for t, h, b, a in self.attempts
                    if (a == "huge" or (isinstance(a, int) and 200 <= a < 300)) == ok]

    def wait(self, predicate, timeout=20, what="deliveries"):
        def state():
            answers = [a for _, _, _, a in self.attempts]
            return f"{what}; {len(answers)} attempts, the last answered {answers[-5:]}"
        eventually(lambda: predicate(self), timeout, state)

    def delivered_guids(self, event="token.revoked"):
        return [p["guid"] for _, _, p in self.answered() if p["event"] == event]

    def close(self):
        self.release.set()
        self.httpd.shutdown()


def signed_by(secret, headers, body):
    mac = hmac.new(secret, headers["X-Sigil-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + mac, headers["X-Sigil-Signature"])


def secret_file(root, name, value):
    path = root / name
    path.write_bytes(value + b"\n")
    os.chmod(path, 0o600)
    return path


def ledger_rows(home, sql):
    """Rows of the home's SQLite ledger, read-only (as another process would)."""
    db = sqlite3.connect(f"file:{home / 'sigil.db'}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def start(root, receiver, *extra, secret=b"durable-secret-0123456789"):
    """An Env whose server sends every event to `receiver`, once its endpoint has a cursor
    (events before that are not sent)."""
    path = secret_file(root, "webhook.secret", secret)
    e = Env(root, "--webhook", receiver.url, "--webhook-secret-file", str(path), *FAST, *extra)
    eventually(lambda: ledger_rows(e.home, "SELECT count(*) FROM webhook_endpoints")[0][0] == 1, what="the cursor")
    return e


def revoke_new(e, name, client=None):
    """Issues a token through the API and revokes it; its GUID."""
    _, row = e.create(name, client=client)
    r = (client or e.org).post(f"/v1/tokens/{row['guid']}/revoke")
    assert r.status == 200, r
    return row["guid"]


def test_queued_deliveries_survive_a_restart(tmp_root):
    """The receiver fails while the server runs; the server stops with the deliveries queued;
    the next server sends them, with the delivery IDs of the failed attempts."""
    failing = threading.Event()
    failing.set()
    receiver = Receiver(lambda n, h, p: 503 if failing.is_set() else 200)
    e = start(tmp_root, receiver)
    try:
        guids = [revoke_new(e, f"restart {i}") for i in range(3)]
        receiver.wait(lambda r: len(r.answered(ok=False)) >= 3, what="three failed attempts")
        assert e.server.stop() == 0
        queued = ledger_rows(e.home, "SELECT delivery FROM webhook_deliveries")
        assert len(queued) == 3, queued
        failed_ids = {h["X-Sigil-Delivery"] for _, h, _ in receiver.answered(ok=False)}
        assert failed_ids == {d for (d,) in queued}
        assert "webhook sender stopped" in e.server.log_text()
        failing.clear()
        e.server = Server(e.home, "--webhook", receiver.url, "--webhook-secret-file",
                          str(tmp_root / "webhook.secret"), *FAST)
        receiver.wait(lambda r: sorted(r.delivered_guids()) == sorted(guids), what="the queued deliveries")
        assert {h["X-Sigil-Delivery"] for _, h, _ in receiver.answered()} == failed_ids
        eventually(lambda: ledger_rows(e.home, "SELECT count(*) FROM webhook_deliveries")[0][0] == 0,
                   what="an empty queue")
    finally:
        e.close()
        receiver.close()


def test_a_sender_killed_mid_delivery_sends_it_again_after_restart(tmp_root):
    """SIGKILL while the receiver holds the request open: nothing records the attempt's end. The
    next server takes the lease when it runs out and sends the same delivery once its claim ends."""
    receiver = Receiver(lambda n, h, p: "hold" if n == 1 else 200)
    e = start(tmp_root, receiver, "--webhook-timeout", "3")
    try:
        guid = revoke_new(e, "in flight")
        assert receiver.held.wait(20), "the first attempt never arrived"
        killed_at = time.monotonic()
        assert e.server.stop(signal.SIGKILL) == -signal.SIGKILL
        receiver.release.set()
        e.server = Server(e.home, "--webhook", receiver.url, "--webhook-secret-file",
                          str(tmp_root / "webhook.secret"), *FAST, "--webhook-timeout", "3")
        receiver.wait(lambda r: r.answered(), timeout=30, what="the delivery sent again")
        (_, held_headers, _, _), (arrived, headers, body, _) = receiver.attempts[:2]
        assert headers["X-Sigil-Delivery"] == held_headers["X-Sigil-Delivery"], "the same delivery ID"
        assert json.loads(body)["guid"] == guid
        assert signed_by(b"durable-secret-0123456789", headers, body)
        # The claim lasts two attempt timeouts (6 s) from the first attempt; the lease 2 s.
        assert arrived - killed_at < 6 + 3, f"sent again {arrived - killed_at:.1f} s after the kill"
        assert "webhook sender lease taken" in e.server.log_text()
    finally:
        e.close()
        receiver.close()


STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not BASE_URL, reason="SIGIL_TEST_DATABASE_URL is unset: run scripts/postgres-test.sh"))]


def two_servers(store, tmp_root, request, *hooks):
    """Two servers on one ledger: one SQLite home, or two homes (one keyring) on a fresh
    PostgreSQL database. Returns the servers, an org token and a function reading ledger rows."""
    if store == "sqlite":
        home = tmp_root / "home"
        org_token, _ = cli_issue(home, "org admin", "sigil", "--all")
        return [Server(home, *hooks), Server(home, *hooks)], org_token, lambda sql: ledger_rows(home, sql)
    url = request.getfixturevalue("database")
    homes = [tmp_root / "a", tmp_root / "b"]
    out = run_cli(homes[0], "--database", url, "issue", "--json", "--name", "org admin", "--audience", "sigil",
                  "--all").stdout
    homes[1].mkdir(mode=0o700)
    shutil.copy2(homes[0] / "keyring.json", homes[1] / "keyring.json")

    def rows(sql):
        out = subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("|")) for line in out.splitlines()]
    return [Server(h, "--database", url, *hooks) for h in homes], json.loads(out)["token"], rows


def holder_of(servers):
    """The one server that took the lease, and the other."""
    holders = [s for s in servers if "webhook sender lease taken" in s.log_text()]
    assert len(holders) == 1, "exactly one replica took the lease"
    return holders[0], servers[1 - servers.index(holders[0])]


def revoke_through(server, org_token, name):
    client = server.client(org_token)
    r = client.post("/v1/tokens", {"name": name, "audience": "billing", "scope": "all"})
    assert r.status == 201, r
    assert client.post(f"/v1/tokens/{r.json['guid']}/revoke").status == 200
    return r.json["guid"]


@pytest.mark.parametrize("store", STORES)
def test_two_servers_one_ledger_one_sends_and_the_other_takes_over(store, tmp_root, request):
    receiver = Receiver()
    secret = secret_file(tmp_root, "webhook.secret", b"replica-secret-0123456789")
    servers, org_token, rows = two_servers(
        store, tmp_root, request, "--webhook", receiver.url, "--webhook-secret-file", str(secret), *FAST)
    try:
        eventually(lambda: int(rows("SELECT count(*) FROM webhook_endpoints")[0][0]) == 1, what="the cursor")
        holder, standby = holder_of(servers)
        assert "webhook lease held by another sender; standing by" in standby.log_text()
        first = [revoke_through(servers[i % 2], org_token, f"both {i}") for i in range(12)]
        receiver.wait(lambda r: sorted(r.delivered_guids()) == sorted(first), what="the first twelve")
        time.sleep(2)  # a second sender would have sent its copies by now
        ids = [h["X-Sigil-Delivery"] for _, h, _ in receiver.answered()]
        assert len(ids) == len(set(ids)) == 12, "no notification was sent twice"
        assert "webhook delivered" not in standby.log_text()

        holder.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        later = [revoke_through(standby, org_token, f"after {i}") for i in range(3)]
        receiver.wait(lambda r: set(later) <= set(r.delivered_guids()), timeout=30, what="the survivor's deliveries")
        took = time.monotonic() - killed_at
        assert "webhook sender lease taken" in standby.log_text()
        # The lease runs out 2 s after its last renewal; the survivor looks every second.
        assert took < 2 + 1 + 2, f"taken over after {took:.1f} s"
        ids = [h["X-Sigil-Delivery"] for _, h, _ in receiver.answered()]
        assert len(ids) == len(set(ids)) == 15
        assert all(signed_by(b"replica-secret-0123456789", h, b) for _, h, b, _ in receiver.attempts)
    finally:
        for s in servers:
            s.stop()
        receiver.close()


@pytest.mark.parametrize("store", STORES)
def test_the_sender_killed_mid_delivery_the_other_server_sends_it_again(store, tmp_root, request):
    """SIGKILL the holder while the receiver holds its request open: the other replica takes
    the lease once it runs out and sends the same delivery once the claim ends."""
    receiver = Receiver(lambda n, h, p: "hold" if n == 1 else 200)
    secret = secret_file(tmp_root, "webhook.secret", b"replica-secret-0123456789")
    servers, org_token, rows = two_servers(
        store, tmp_root, request, "--webhook", receiver.url, "--webhook-secret-file", str(secret), *FAST,
        "--webhook-timeout", "3")
    try:
        eventually(lambda: int(rows("SELECT count(*) FROM webhook_endpoints")[0][0]) == 1, what="the cursor")
        holder, standby = holder_of(servers)
        guid = revoke_through(standby, org_token, "in flight")
        assert receiver.held.wait(20), "the first attempt never arrived"
        holder.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        receiver.release.set()
        receiver.wait(lambda r: r.answered(), timeout=30, what="the delivery sent again")
        (_, held_headers, _, _), (arrived, headers, body, _) = receiver.attempts[:2]
        assert headers["X-Sigil-Delivery"] == held_headers["X-Sigil-Delivery"]
        assert json.loads(body)["guid"] == guid and signed_by(b"replica-secret-0123456789", headers, body)
        assert arrived - killed_at < 6 + 3, f"sent again {arrived - killed_at:.1f} s after the kill"
        assert "webhook sender lease taken" in standby.log_text()
        eventually(lambda: int(rows("SELECT count(*) FROM webhook_deliveries")[0][0]) == 0, what="an empty queue")
    finally:
        for s in servers:
            s.stop()
        receiver.close()


def test_each_endpoint_gets_its_events_signed_with_its_secret(tmp_root):
    """A webhooks file with two filtered endpoints beside a plain --webhook: each receiver gets
    exactly its events, each signed with its own secret."""
    revoked_only, deactivated_only, everything = Receiver(), Receiver(), Receiver()
    secrets = {"rev": b"secret-for-revokes-0123", "deact": b"secret-for-deactivations", "all": b"secret-for-everything"}
    for name, value in secrets.items():
        secret_file(tmp_root, f"{name}.secret", value)
    config = tmp_root / "webhooks.json"
    config.write_text(json.dumps({"endpoints": [
        {"name": "revokes", "url": revoked_only.url, "secret_file": "rev.secret", "events": ["token.revoked"]},
        {"name": "deactivations", "url": deactivated_only.url, "secret_file": str(tmp_root / "deact.secret"),
         "events": ["token.deactivated"]},
    ]}))
    os.chmod(config, 0o600)
    e = Env(tmp_root, "--webhooks-file", str(config), "--webhook", everything.url, "--webhook-secret-file",
            str(tmp_root / "all.secret"), *FAST)
    try:
        eventually(lambda: ledger_rows(e.home, "SELECT count(*) FROM webhook_endpoints")[0][0] == 3, what="the cursors")
        revoked = revoke_new(e, "revoked")
        _, row = e.create("deactivated")
        assert e.org.post(f"/v1/tokens/{row['guid']}/deactivate").status == 200
        everything.wait(lambda r: len(r.answered()) == 2, what="both events")
        revoked_only.wait(lambda r: len(r.answered()) == 1)
        deactivated_only.wait(lambda r: len(r.answered()) == 1)
        time.sleep(1.5)
        for receiver, key, expected in [(revoked_only, "rev", [("token.revoked", revoked)]),
                                        (deactivated_only, "deact", [("token.deactivated", row["guid"])]),
                                        (everything, "all", [("token.revoked", revoked),
                                                             ("token.deactivated", row["guid"])])]:
            with receiver.lock:
                attempts = list(receiver.attempts)
            assert sorted((json.loads(b)["event"], json.loads(b)["guid"]) for _, _, b, _ in attempts) == sorted(expected)
            for _, headers, body, _ in attempts:
                assert signed_by(secrets[key], headers, body)
                assert not any(signed_by(v, headers, body) for k, v in secrets.items() if k != key)
        names = {n for (n,) in ledger_rows(e.home, "SELECT name FROM webhook_endpoints")}
        assert {"revokes", "deactivations"} <= names and len(names) == 3
        log = e.server.log_text()
        assert everything.url not in log and "secret-for" not in log
    finally:
        e.close()
        for r in (revoked_only, deactivated_only, everything):
            r.close()


def test_a_receiver_down_for_a_while_gets_everything_once_it_is_back(tmp_root):
    """While it answers 503 the deliveries back off; the first retry it accepts makes the
    others due at once, and they follow in event order (one in flight at a time)."""
    down = threading.Event()
    down.set()
    receiver = Receiver(lambda n, h, p: 503 if down.is_set() else 200)
    e = start(tmp_root, receiver, "--webhook-concurrency", "1", "--webhook-first-retry-seconds", "0.5")
    try:
        guids = [revoke_new(e, f"while down {i}") for i in range(5)]
        receiver.wait(lambda r: len(r.answered(ok=False)) >= 8, what="failed attempts")
        down.clear()
        back = time.monotonic()
        receiver.wait(lambda r: sorted(set(r.delivered_guids())) == sorted(guids), timeout=30, what="everything")
        delivered = [(t, p["guid"]) for t, _, p in receiver.answered()]
        assert delivered[-1][0] - back < 8, "the backlog is sent soon after the receiver is back"
        after_first = [g for _, g in delivered[1:]]
        assert after_first == [g for g in guids if g in after_first], "the rest follow in event order"
        assert "retries_now_due" in e.server.log_text()
    finally:
        e.close()
        receiver.close()


def test_a_huge_or_missing_answer_holds_nothing_up(tmp_root):
    """A 200 with a 1 GiB body counts at its headers; a receiver that never answers fails at
    --webhook-timeout and is retried; the server stays responsive and small."""
    receiver = Receiver(lambda n, h, p: "huge" if p["name"] == "huge" else ("silent" if n <= 2 else 200))
    e = start(tmp_root, receiver, "--webhook-timeout", "1")
    try:
        started = time.monotonic()
        huge = revoke_new(e, "huge")
        receiver.wait(lambda r: huge in r.delivered_guids(), what="the huge answer")
        eventually(lambda: "webhook delivered" in e.server.log_text(), seconds=10, what="delivered at its headers")
        assert time.monotonic() - started < 5
        silent = revoke_new(e, "silent")
        receiver.wait(lambda r: silent in [p["guid"] for _, _, p in r.answered()], timeout=30, what="the retry")
        log = e.server.log_text()
        assert "no answer within 1 s" in log
        assert e.org.get("/v1/health").status == 200
        rss_kib = int(open(f"/proc/{e.server.proc.pid}/status").read().split("VmRSS:")[1].split()[0])
        assert rss_kib < 512 * 1024, f"the server holds {rss_kib} KiB"
    finally:
        e.close()
        receiver.close()


def test_a_burst_of_sends_judged_at_their_headers_leaves_the_server_standing(tmp_root):
    """1,500 notifications answered 200 with no body, 8 in flight: each transfer ends at its
    headers. Cancelling such a transfer as it finished on its own made FoundationNetworking
    trap about once in a thousand sends; the server must deliver them all and stop cleanly."""
    receiver = Receiver()
    e = start(tmp_root, receiver, "--webhook-concurrency", "8")
    try:
        guids = [e.create(f"burst {i}")[1]["guid"] for i in range(300)]
        for _ in range(4):
            e.cli("deactivate", "--yes", *guids)
            e.cli("activate", *guids)
        e.cli("revoke", "--yes", *guids)
        receiver.wait(lambda r: len(r.answered()) >= 1_500, timeout=60, what="the burst")
        assert e.server.proc.poll() is None, "the server died under the burst"
        ids = [h["X-Sigil-Delivery"] for _, h, _, _ in receiver.attempts]
        assert len(ids) == len(set(ids)) == 1_500
    finally:
        e.close()
        receiver.close()


def test_retries_back_off_and_stop_at_the_end_of_the_window(tmp_root):
    """--webhook-first-retry-seconds 0.3, --webhook-retry-seconds 2: attempts 0.3 s and 0.6 s
    apart; a 1.2 s wait would pass the window, so the third failure drops it."""
    receiver = Receiver(lambda n, h, p: 500)
    e = start(tmp_root, receiver, "--webhook-first-retry-seconds", "0.3", "--webhook-retry-seconds", "2")
    try:
        revoke_new(e, "always failing")
        eventually(lambda: "webhook given up" in e.server.log_text(), seconds=15, what="the delivery given up")
        time.sleep(1.5)
        times = [t for t, _, _, _ in receiver.attempts]
        assert len(times) == 3, times
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Each wait is at least its delay; the loop looks every 0.1 s, and the record and claim
        # are two commits.
        for gap, delay in zip(gaps, [0.3, 0.6]):
            assert delay <= gap < delay + 0.6, gaps
        assert len({h["X-Sigil-Delivery"] for _, h, _, _ in receiver.attempts}) == 1
        assert ledger_rows(e.home, "SELECT count(*) FROM webhook_deliveries")[0][0] == 0
    finally:
        e.close()
        receiver.close()


@pytest.mark.parametrize("args, message", [
    (["--webhook-secret-file", "/x"], "--webhook and --webhook-secret-file go together"),
    (["--webhook", "http://127.0.0.1:9/", "--webhook-secret-file", "/a", "--webhook-secret-file", "/b"],
     "one per --webhook"),
    (["--webhook-concurrency", "0"], "--webhook-concurrency must be 1...16"),
    (["--webhook-concurrency", "17"], "--webhook-concurrency must be 1...16"),
    (["--webhook-lease-seconds", "1"], "--webhook-lease-seconds must be 2...3600"),
    (["--webhook-retry-seconds", "0"], "--webhook-retry-seconds must be"),
    (["--webhook-first-retry-seconds", "0"], "--webhook-first-retry-seconds must be 0.1...3600"),
    (["--webhook-timeout", "0"], "--webhook-timeout must be 1...120"),
    (["--webhooks-file", "/nonexistent/webhooks.json"], "/nonexistent/webhooks.json"),
])
def test_bad_webhook_options_refuse_to_start(tmp_path, args, message):
    cli_issue(tmp_path / "home", "x", "billing", "--all")
    r = subprocess.run([SERVER_BIN, "--home", str(tmp_path / "home"), "--port", "0", *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


@pytest.mark.parametrize("content, mode, message", [
    ('{"endpoints": [{"url": "https://x/", "secret_file": "s", "evnets": []}]}', 0o600, 'unknown key "evnets"'),
    ('{"endpoints": [{"url": "https://x/", "secret_file": "s"}]}', 0o644, "are too open"),
    ('{"endpoints": [{"url": "https://x/", "secret_file": "missing.secret"}]}', 0o600, "endpoint 1"),
])
def test_a_bad_webhooks_file_refuses_to_start(tmp_path, content, mode, message):
    cli_issue(tmp_path / "home", "x", "billing", "--all")
    secret_file(tmp_path, "s", b"0123456789")
    config = tmp_path / "webhooks.json"
    config.write_text(content)
    os.chmod(config, mode)
    r = subprocess.run([SERVER_BIN, "--home", str(tmp_path / "home"), "--port", "0", "--webhooks-file", str(config)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    # Not a terminal, so the refusal is a JSON log line (docs/OPERATIONS.md).
    said = " ".join(record["message"] for record in log_records(r.stderr))
    assert message in said, r.stderr
    assert "0123456789" not in r.stderr


def test_deliveries_and_the_queue_show_in_the_metrics(tmp_root):
    """sigil_webhook_deliveries_total counts each attempt by result and
    sigil_webhook_queue_depth shows what waits in the ledger (read at the scrape)."""
    from test_metrics import Scrape, metrics_port

    answers = {1: 500, 2: 503}
    receiver = Receiver(lambda n, h, p: answers.get(n, "hold" if n == 3 else 200))
    e = start(tmp_root, receiver, "--metrics-port", "0", "--webhook-concurrency", "1")
    try:
        port = metrics_port(e.server)
        revoke_new(e, "first")
        receiver.wait(lambda r: r.held.is_set(), what="the third attempt, held")
        revoke_new(e, "second")
        eventually(lambda: ledger_rows(e.home, "SELECT count(*) FROM webhook_deliveries")[0][0] == 2,
                   what="both deliveries queued")
        # The depth is read from the ledger, shared by the scrapes of a second.
        eventually(lambda: Scrape(port).value("sigil_webhook_queue_depth") == 2, what="a depth of 2")
        held = Scrape(port)
        assert held.value("sigil_webhook_deliveries_total", result="failed") == 2
        assert held.value("sigil_webhook_deliveries_total", result="delivered") == 0
        receiver.release.set()
        receiver.wait(lambda r: len(r.attempts) == 4, what="the second event's attempt")
        eventually(lambda: Scrape(port).value("sigil_webhook_deliveries_total", result="delivered") == 2,
                   what="two deliveries counted")
        eventually(lambda: Scrape(port).value("sigil_webhook_queue_depth") == 0, what="an empty queue")
        done = Scrape(port)
        assert done.value("sigil_webhook_deliveries_total", result="failed") == 2
        assert done.value("sigil_webhook_deliveries_total", result="given_up") == 0
    finally:
        e.close()
        receiver.close()
