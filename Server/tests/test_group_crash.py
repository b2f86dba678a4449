"""#22 item 2: grouped commits on SQLite keep every acknowledged change through SIGKILL.

One sigil-server on a SQLite home takes creates and revokes from 16 clients at once, so its
writer commits them in groups (the `sigil_db_write_group_size` histogram shows groups of more
than one); it is killed with SIGKILL three times in the middle of that load and restarted on the
same home. Afterwards every create answered 201 is in the ledger, every revoke answered 200 left
its token revoked, the newest list names every acknowledged revocation, and SQLite's
`integrity_check` finds the ledger whole. A request cut off by the kill was not acknowledged and
may or may not have committed: the test asks nothing of it.
"""

import signal
import sqlite3
import threading
import time

from conftest import Restartable, cli_issue, newest_list_naming, running
from test_metrics import Scrape, metrics_port

WORKERS = 16
KILLS = 3


def test_acknowledged_changes_survive_sigkill_of_a_grouping_writer(tmp_root, request):
    home = tmp_root / "home"
    org_token, _ = cli_issue(home, "org admin", "sigil", "--all")
    target = Restartable(home, "--failed-auth-burst", "100000", "--metrics-port", "0")
    # Whatever happens below, the server of the moment does not outlive the test.
    request.addfinalizer(target.kill)
    groups = []  # (count, sum) of the group-size histogram just before each kill

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
    with running(threads, stop):
        for _ in range(KILLS):
            time.sleep(1.5)
            scrape = Scrape(metrics_port(target.server))
            groups.append(
                (scrape.value("sigil_db_write_group_size_count"), scrape.value("sigil_db_write_group_size_sum")))
            assert target.kill() == -signal.SIGKILL
            target.start()
        time.sleep(1.0)

    assert not errors, errors[:5]
    assert len(issued) >= 200 and len(revoked) >= 50, (len(issued), len(revoked))
    # The writer grouped: before each kill, more writes than transactions had committed.
    for count, total in groups:
        assert count > 0 and total / count > 1.2, groups
    means = ", ".join(f"{total / count:.1f}" for count, total in groups)
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

    # The newest list names every acknowledged revocation.
    _, listed = newest_list_naming(org, home, revoked, tmp_root / "newest.sgl")
    assert revoked <= listed, sorted(revoked - listed)[:5]

    assert target.server.stop() == 0
    with sqlite3.connect(f"file:{home / 'sigil.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
