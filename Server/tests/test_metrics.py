"""#24 item 1: GET /metrics in Prometheus text format, on a listener of its own (--metrics-port).

Scraped with prometheus_client's own text-format parser; every check is a value that must move
with traffic the test makes (a token issued, a bad token, a 429, a long poll, a revoke), plus the
rules: the API port never serves /metrics, the metrics port listens on loopback only by default,
and no label carries a GUID, a token or a path.
"""

import http.client
import re
import socket
import struct
import threading
import time
import uuid

import os
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families  # pip install prometheus_client

from conftest import SERVER_BIN, Env, Server, cli_issue, eventually

METRICS = re.compile(r"sigil-server: metrics on http://([^\s:\"]+|\[[^\]]+\]):(\d+)/metrics")

# docs/OPERATIONS.md lists these: each is in every scrape (at zero before its first event; the route
# series from the first request on).
FAMILIES = {
    "sigil_http_requests": "counter",
    "sigil_http_request_duration_seconds": "histogram",
    "sigil_http_rate_limited": "counter",
    "sigil_tokens_issued": "counter",
    "sigil_tokens_changed": "counter",
    "sigil_auth_failures": "counter",
    "sigil_revocation_long_polls_open": "gauge",
    "sigil_revocation_list_sequence": "gauge",
    "sigil_revocation_list_age_seconds": "gauge",
    "sigil_revocation_list_entries": "gauge",
    "sigil_revocation_list_bytes": "gauge",
    "sigil_revocation_publish_duration_seconds": "histogram",
    "sigil_db_transaction_duration_seconds": "histogram",
    "sigil_db_connection_wait_seconds": "histogram",
    "sigil_db_write_group_size": "histogram",
    "sigil_sessions_open": "gauge",
    "sigil_webhook_deliveries": "counter",
    "sigil_webhook_queue_depth": "gauge",
}

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def metrics_port(server):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        match = METRICS.search(server.log_text())
        if match:
            return int(match.group(2))
        time.sleep(0.05)
    raise AssertionError(f"no metrics line in the log:\n{server.log_text()}")


def raw_scrape(port, host="127.0.0.1", path="/metrics"):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


class Scrape:
    """One scrape, parsed: the families by name, and each sample by (name, labels)."""

    def __init__(self, port):
        status, headers, text = raw_scrape(port)
        assert status == 200, text
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for family in self.families.values():
            for s in family.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def value(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def label_values(self, label):
        return {dict(key)[label] for (_, key) in self.samples if label in dict(key)}


@pytest.fixture(scope="module")
def menv(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("metrics"), "--metrics-port", "0", "--failed-auth-burst", "100000")
    e.mport = metrics_port(e.server)
    yield e
    e.close()


def scrape(e):
    return Scrape(e.mport)


def test_every_family_is_there_with_its_type_and_help(menv):
    # The route series appear with the first request; every other family is there from the start.
    assert menv.anonymous.get("/v1/health").status == 200
    s = scrape(menv)
    for name, kind in FAMILIES.items():
        assert name in s.families, (name, sorted(s.families))
        assert s.families[name].type == kind, (name, s.families[name].type)
        assert s.families[name].documentation, f"{name} has no HELP line"


def test_the_api_port_never_serves_metrics(menv):
    for method in ("GET", "HEAD"):
        r = menv.anonymous.request(method, "/metrics")
        assert r.status == 404, r
    # And the metrics listener serves nothing else.
    assert raw_scrape(menv.mport, path="/v1/health")[0] == 404
    assert raw_scrape(menv.mport, path="/")[0] == 404


def test_issuing_a_token_moves_the_issued_counter_and_the_route_series(menv):
    before = scrape(menv)
    menv.create(name="counted")
    after = scrape(menv)
    assert after.value("sigil_tokens_issued_total") == before.value("sigil_tokens_issued_total") + 1
    labels = {"route": "/v1/tokens", "method": "POST", "status": "201"}
    assert after.value("sigil_http_requests_total", **labels) == before.value("sigil_http_requests_total", **labels) + 1
    count = "sigil_http_request_duration_seconds_count"
    timed = {"route": "/v1/tokens", "method": "POST"}
    assert after.value(count, **timed) == before.value(count, **timed) + 1
    # The write went through the writer: one more transaction, one more wait, one more group.
    writer = {"connection": "writer"}
    assert after.value("sigil_db_transaction_duration_seconds_count", **writer) > before.value(
        "sigil_db_transaction_duration_seconds_count", **writer)
    assert after.value("sigil_db_connection_wait_seconds_count", **writer) > before.value(
        "sigil_db_connection_wait_seconds_count", **writer)
    assert after.value("sigil_db_write_group_size_count") > before.value("sigil_db_write_group_size_count")
    # Authentication read the ledger on a reader.
    reader = {"connection": "reader"}
    assert after.value("sigil_db_transaction_duration_seconds_count", **reader) > before.value(
        "sigil_db_transaction_duration_seconds_count", **reader)


def test_refused_tokens_are_counted_by_reason(menv):
    token, row = menv.create(name="soon revoked")
    assert menv.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
    cases = [
        ("malformed", lambda: menv.org.with_token("sgl_bogus").get("/v1/catalog")),
        ("missing_token", lambda: menv.anonymous.get("/v1/catalog")),
        ("revoked", lambda: menv.org.with_token(token).get("/v1/catalog")),
        ("bad_signature", lambda: menv.org.with_token(menv.org_token[:-4] + (
            "AAAA" if not menv.org_token.endswith("AAAA") else "BBBB")).get("/v1/catalog")),
    ]
    for reason, send in cases:
        before = scrape(menv).value("sigil_auth_failures_total", reason=reason)
        r = send()
        assert r.status == 401, (reason, r)
        after = scrape(menv).value("sigil_auth_failures_total", reason=reason)
        assert after == before + 1, reason
    counted = scrape(menv).label_values("reason")
    assert "revoked" in counted and len(counted) < 40


def test_a_revoke_counts_the_action_publishes_and_raises_the_sequence(menv):
    _, row = menv.create(name="to revoke")
    before = scrape(menv)
    assert menv.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
    mid = scrape(menv)
    assert mid.value("sigil_tokens_changed_total", action="revoke") == before.value(
        "sigil_tokens_changed_total", action="revoke") + 1
    sequence = "sigil_revocation_list_sequence"
    eventually(lambda: scrape(menv).value(sequence) > before.value(sequence), 5, "the list sequence did not rise")
    after = scrape(menv)
    count = "sigil_revocation_publish_duration_seconds_count"
    assert after.value(count) > before.value(count)
    # The gauges describe the list the API serves now.
    r = menv.anonymous.get("/v1/revocations")
    served = int(r.header("ETag").strip('"'))
    after = scrape(menv)
    assert after.value(sequence) == served
    assert after.value("sigil_revocation_list_bytes") == len(r.body)
    entries = struct.unpack_from(">I", r.body, 6 + r.body[5] + 24)[0]
    assert after.value("sigil_revocation_list_entries") == entries >= 1
    assert 0 <= after.value("sigil_revocation_list_age_seconds") < 120


def test_a_bulk_change_counts_every_token(menv):
    guids = [menv.create(name=f"bulk {i}")[1]["guid"] for i in range(3)]
    before = scrape(menv).value("sigil_tokens_changed_total", action="deactivate")
    r = menv.org.post("/v1/tokens/bulk", {"action": "deactivate", "guids": guids})
    assert r.status == 200, r
    assert scrape(menv).value("sigil_tokens_changed_total", action="deactivate") == before + 3


def test_an_open_long_poll_shows_in_the_gauge_then_leaves_it(menv):
    gauge = "sigil_revocation_long_polls_open"
    assert scrape(menv).value(gauge) == 0
    etag = menv.anonymous.get("/v1/revocations").header("ETag")
    answers = []
    poll = threading.Thread(target=lambda: answers.append(
        menv.anonymous.get("/v1/revocations?wait=30", headers={"If-None-Match": etag}, timeout=40)))
    poll.start()
    try:
        eventually(lambda: scrape(menv).value(gauge) == 1, 5, "the long poll did not show as open")
        _, row = menv.create(name="wakes the poll")
        assert menv.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
        poll.join(10)
        assert answers and answers[0].status == 200, answers
        eventually(lambda: scrape(menv).value(gauge) == 0, 5, "the answered long poll still counts as open")
    finally:
        poll.join(40)


def test_a_console_session_shows_in_the_sessions_gauge(menv):
    time.sleep(1.1)  # past any earlier scrape's shared answer
    before = scrape(menv).value("sigil_sessions_open")
    r = menv.anonymous.post("/v1/session", {"token": menv.org_token}, token=None)
    assert r.status == 201, r
    # Read from the ledger and shared by the scrapes of a second (the listener has no
    # authentication), so the new value shows within about a second.
    eventually(lambda: scrape(menv).value("sigil_sessions_open") == before + 1, 5, "the session counted")


def test_labels_hold_route_templates_and_bounded_values_only(menv):
    # Paths with GUIDs, an unknown path, an odd method: none may become a label value.
    guid = str(uuid.uuid4())
    menv.org.get(f"/v1/tokens/{guid}")
    menv.anonymous.get(f"/v1/no-such-route/{guid}")
    assert menv.anonymous.request("PURGE", "/v1/health").status == 405
    menv.org.with_token("sgl_" + "A" * 40).get("/v1/catalog")
    s = scrape(menv)
    assert not UUID_TEXT.search(s.text), "a GUID reached a label"
    assert "sgl_" not in s.text and menv.org_token not in s.text
    routes = s.label_values("route")
    assert "/v1/tokens/{guid}" in routes and "unmatched" in routes, routes
    assert all(r == "unmatched" or r.startswith("/") for r in routes)
    assert not any("no-such-route" in r for r in routes), routes
    methods = s.label_values("method")
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
    assert "other" in methods


def test_429s_are_counted_by_limit(tmp_root):
    e = Env(tmp_root, "--metrics-port", "0", "--failed-auth-burst", "2", "--failed-auth-refill", "0.001")
    try:
        port = metrics_port(e.server)
        before = Scrape(port)
        statuses = [e.org.with_token("sgl_wrong").get("/v1/catalog").status for _ in range(5)]
        assert statuses == [401, 401, 429, 429, 429], statuses
        after = Scrape(port)
        assert after.value("sigil_http_rate_limited_total", limit="failed_auth") == before.value(
            "sigil_http_rate_limited_total", limit="failed_auth") + 3
        labels = {"route": "/v1/catalog", "method": "GET", "status": "429"}
        assert after.value("sigil_http_requests_total", **labels) == 3
    finally:
        e.close()


def listening_addresses(port):
    """The local addresses listening on TCP `port`, from /proc/net/tcp (IPv4)."""
    found = set()
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(socket.inet_ntoa(struct.pack("<I", int(address, 16))))
    return found


def refused(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def listeners_of(proc):
    """How many listening TCP sockets process `proc` holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{proc.pid}/fd"):
        try:
            target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                count += 1
    return count


def test_the_metrics_port_listens_on_loopback_only_by_default(menv):
    assert listeners_of(menv.server.proc) == 2  # the API and the metrics
    assert listening_addresses(menv.mport) == {"127.0.0.1"}
    # 127.0.0.2 is this machine too, but not the address the listener is bound to.
    assert refused("127.0.0.2", menv.mport)
    assert raw_scrape(menv.mport)[0] == 200


def test_metrics_host_chooses_the_address_and_off_means_no_listener(tmp_root):
    home = tmp_root / "home"
    cli_issue(home, "org admin", "sigil", "--all")
    server = Server(home, "--metrics-port", "0", "--metrics-host", "127.0.0.2")
    try:
        port = metrics_port(server)
        assert listening_addresses(port) == {"127.0.0.2"}
        assert refused("127.0.0.1", port)
        assert raw_scrape(port, host="127.0.0.2")[0] == 200
    finally:
        assert server.stop() == 0
    plain = Server(home)
    try:
        assert "metrics on" not in plain.log_text()
        assert listeners_of(plain.proc) == 1, "no --metrics-port, yet a second listener"
    finally:
        assert plain.stop() == 0


@pytest.mark.parametrize("args,message", [
    (["--metrics-port", "70000"], "--metrics-port must be 0...65535"),
    (["--port", "18080", "--metrics-port", "18080"], "--metrics-port must differ from --port"),
    (["--metrics-port", "0", "--metrics-host", ""], "--metrics-host must not be empty"),
])
def test_bad_metrics_options_exit_64(tmp_root, args, message):
    home = tmp_root / "home"
    cli_issue(home, "org admin", "sigil", "--all")
    r = subprocess.run([SERVER_BIN, "--home", str(home), *args], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 64, r
    assert message in r.stderr, r.stderr


def test_scrapes_at_once_share_one_ledger_read(menv):
    # The listener has no authentication: twenty scrapes at once ask the ledger once or twice.
    reads = "sigil_db_transaction_duration_seconds_count"
    time.sleep(1.1)
    before = scrape(menv).value(reads, connection="reader")
    threads = [threading.Thread(target=lambda: scrape(menv)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    time.sleep(1.1)
    checks = scrape(menv).value(reads, connection="reader") - before - 1
    assert 0 <= checks <= 2, checks
