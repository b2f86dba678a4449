"""#24 item 3: GET /v1/health/ready answers 200 only when the server can do its work.

Each failure is made for real: the PostgreSQL cluster under the ledger is stopped (then started
again), the keyring is opened to other users (the server then refuses to load it), and a list
whose next_update has passed is put in force by a CLI export stamped two days ago. Each turns
readiness to 503 with its reason code while /v1/health (liveness) stays 200, and readiness
comes back once the cause is gone.
"""

import os
import shutil
import subprocess
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import Env, Server, run_cli
from test_metrics import Scrape, metrics_port

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None) if Path("/usr/lib/postgresql").exists() \
    else None


def ready(client):
    r = client.get("/v1/health/ready")
    assert r.header("Cache-Control") == "no-store", r
    return r


def until_ready_is(client, status, seconds=10, reasons=None):
    """Polls readiness until it answers `status` (with exactly `reasons`, when given); the last
    answer, and every distinct answer seen on the way."""
    deadline = time.monotonic() + seconds
    seen = []
    while True:
        r = ready(client)
        if r.json not in seen:
            seen.append(r.json)
        if r.status == status and (reasons is None or r.json.get("reasons") == reasons):
            return r
        if time.monotonic() > deadline:
            raise AssertionError(f"readiness did not become {status} {reasons or ''} in {seconds} s: {seen}")
        time.sleep(0.1)


def test_a_healthy_server_is_ready(fresh_env):
    r = ready(fresh_env.anonymous)
    assert r.status == 200 and r.json == {"status": "ready"}, r
    assert fresh_env.anonymous.get("/v1/health").json == {"status": "ok"}


def test_a_keyring_others_can_read_is_not_ready_until_it_is_private_again(fresh_env):
    keyring = fresh_env.home / "keyring.json"
    os.chmod(keyring, 0o644)
    try:
        r = until_ready_is(fresh_env.anonymous, 503)
        assert r.status == 503 and r.json["status"] == "not_ready", r
        assert r.json["reasons"] == ["keyring_unavailable"], r.json
        # Liveness is not readiness: the process is up.
        assert fresh_env.anonymous.get("/v1/health").status == 200
    finally:
        os.chmod(keyring, 0o600)
    r = until_ready_is(fresh_env.anonymous, 200)
    assert r.status == 200, r


def test_a_stale_list_in_force_is_not_ready_until_a_fresh_one_is_published(fresh_env):
    e = fresh_env
    before = int(e.anonymous.get("/v1/revocations").header("ETag").strip('"'))
    # A CLI on a host whose clock is two days behind exports a list promising its successor in an
    # hour: its sequence is the highest, so it is the list in force, and it is stale already.
    two_days_ago = int(time.time()) - 2 * 86_400
    e.cli("revocations", "export", "--next-update", "1h", env={"SIGIL_NOW": str(two_days_ago)})
    deadline = time.monotonic() + 10
    while int(e.anonymous.get("/v1/revocations").header("ETag").strip('"')) <= before:
        assert time.monotonic() < deadline, "the server did not take the exported list"
        time.sleep(0.05)
    r = until_ready_is(e.anonymous, 503)
    assert r.status == 503 and r.json["reasons"] == ["revocation_list_stale"], r
    # A change makes the server sign a list of its own, with a next_update ahead.
    _, row = e.create(name="fresh list")
    assert e.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
    r = until_ready_is(e.anonymous, 200)
    assert r.status == 200, r


def test_probes_at_once_share_one_check(tmp_root):
    # Twenty probes at once all answer, and the ledger is asked once or twice, not twenty times:
    # the metrics count reader transactions (a scrape adds one of its own, for the sessions).
    e = Env(tmp_root, "--metrics-port", "0")
    try:
        port = metrics_port(e.server)
        reads = "sigil_db_transaction_duration_seconds_count"
        before = Scrape(port).value(reads, connection="reader")
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(ready(e.anonymous).status)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert answers == [200] * 20
        time.sleep(1.1)  # so this scrape makes its own read (scrapes share one for a second too)
        checks = Scrape(port).value(reads, connection="reader") - before - 1
        assert 1 <= checks <= 3, checks
    finally:
        e.close()


class Cluster:
    """A throwaway PostgreSQL cluster of this test's own, so it can be stopped under a server."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="sigil-ready-pg."))
        os.chmod(self.dir, 0o755)
        self.as_owner = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.run("initdb", "-D", f"{self.dir}/data", "-A", "trust", "-U", "postgres")
        self.start()
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "sigil_ready")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/sigil_ready"

    def run(self, tool, *args):
        subprocess.run([*self.as_owner, str(PG_BIN / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self):
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log", "-w", "-o",
                 f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", f"{self.dir}/data", "-m", mode, "-w", "stop")

    def remove(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL's server binaries are missing (apt-get install postgresql; .ci/run does)")
    c = Cluster()
    yield c
    c.remove()


def test_a_stopped_database_is_not_ready_until_it_answers_again(cluster, tmp_root):
    home = tmp_root / "home"
    run_cli(home, "--database", cluster.url, "issue", "--json", "--name", "org admin", "--audience", "sigil", "--all")
    server = Server(home, "--database", cluster.url)
    try:
        client = server.client()
        assert until_ready_is(client, 200).status == 200
        cluster.stop()
        r = until_ready_is(client, 503, reasons=["database_unavailable"])
        assert r.json["status"] == "not_ready"
        assert client.get("/v1/health").status == 200, "liveness does not depend on the database"
        cluster.start()
        # The reader reconnects on its next transaction.
        r = until_ready_is(client, 200, seconds=20)
        assert r.status == 200, r
    finally:
        assert server.stop() == 0
