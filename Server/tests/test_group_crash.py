"""#22 item 2: grouped commits on SQLite keep every acknowledged change through SIGKILL.

One sigil-server on a SQLite home takes creates and revokes from 16 clients at once, so its
writer commits them in groups (the `sigil_db_write_group_size` histogram shows groups of more
than one); it is killed with SIGKILL three times in the middle of that load and restarted on the
same home. Afterwards every create answered 201 is in the ledger, every revoke answered 200 left
its token revoked, the newest list names every acknowledged revocation, and SQLite's
`integrity_check` finds the ledger whole. A request cut off by the kill was not acknowledged and
may or may not have committed: the test asks nothing of it.
"""

import json
import signal
import sqlite3
import threading
import time

from conftest import Server, cli_issue, run_cli
from test_metrics import Scrape, metrics_port

WORKERS = 16
KILLS = 3


class Target:
    """The server the clients talk to right now; replaced on each restart."""

    def __init__(self, home):
        self.home = home
        self.lock = threading.Lock()
        self.server = None
        self.groups = []  # (count, sum) of the group-size histogram just before each kill
        self.start()

    def start(self):
        server = Server(self.home, "--failed-auth-burst", "100000", "--metrics-port", "0")
        self.metrics = metrics_port(server)
        with self.lock:
            self.server = server

    def client(self, token):
        with self.lock:
            return self.server.client(token)

    def kill(self):
        scrape = Scrape(self.metrics)
        self.groups.append(
            (scrape.value("sigil_db_write_group_size_count"), scrape.value("sigil_db_write_group_size_sum")))
        with self.lock:
            server = self.server
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL


def test_acknowledged_changes_survive_sigkill_of_a_grouping_writer(tmp_root, request):
    home = tmp_root / "home"
    org_token, _ = cli_issue(home, "org admin", "sigil", "--all")
    target = Target(home)
    # Whatever happens below, the server of the moment does not outlive the test.
    request.addfinalizer(lambda: target.server.stop(signal.SIGKILL))

    issued, revoked, attempted, errors = set(), set(), set(), []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(n):
        i = 0
        while not stop.is_set():
            i += 1
            try:
                client = target.client(org_token)
                r = client.post("/v1/tokens", {"name": f"c{n}-{i}", "audience": "billing", "scope": "all"}, timeout=10)
                if r.status != 201:
                    if r.status != 503:
                        errors.append(f"create answered {r.status}: {r.body[:200]!r}")
                    continue
                guid = r.json["guid"]
                with lock:
                    issued.add(guid)
                if i % 3 == 0:
                    with lock:
                        attempted.add(guid)
                    r = client.post(f"/v1/tokens/{guid}/revoke", timeout=10)
                    if r.status == 200:
                        with lock:
                            revoked.add(guid)
                    elif r.status != 503:
                        errors.append(f"revoke answered {r.status}: {r.body[:200]!r}")
            except OSError:
                time.sleep(0.02)  # killed under us: that request was not acknowledged

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            time.sleep(1.5)
            target.kill()
            target.start()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)

    assert not errors, errors[:5]
    assert len(issued) >= 200 and len(revoked) >= 50, (len(issued), len(revoked))
    # The writer grouped: before each kill, more writes than transactions had committed.
    for count, total in target.groups:
        assert count > 0 and total / count > 1.2, target.groups
    means = ", ".join(f"{total / count:.1f}" for count, total in target.groups)
    print(f"{len(issued)} creates and {len(revoked)} revokes acknowledged over {KILLS} kills; "
          f"mean writes per transaction before each kill: {means}")

    org = target.client(org_token)
    for guid in sorted(issued):
        r = org.get(f"/v1/tokens/{guid}")
        assert r.status == 200, (guid, r)
        if guid in revoked:
            assert r.json["status"] == "revoked", r.json
        elif guid not in attempted:
            assert r.json["status"] == "active", r.json
        # A revoke cut off by a kill may have committed or not.

    # The newest list names every acknowledged revocation (the publisher debounces: settle).
    path = tmp_root / "newest.sgl"
    deadline = time.monotonic() + 10
    while True:
        r = org.get("/v1/revocations")
        assert r.status == 200, r
        path.write_bytes(r.body)
        shown = json.loads(run_cli(home, "revocations", "show", str(path), "--entries", "--json").stdout)
        listed = {e["guid"] for e in shown["entries"]}
        if revoked <= listed or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert revoked <= listed, sorted(revoked - listed)[:5]

    assert target.server.stop() == 0
    with sqlite3.connect(f"file:{home / 'sigil.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
