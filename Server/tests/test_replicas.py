"""Two sigil-server replicas on one PostgreSQL database (issue #15).

Clients issue and revoke through both replicas at once while one replica is killed with SIGKILL
and restarted. Afterwards: every acknowledged change is in the ledger, revocation-list
sequences strictly increase with no number used twice (and no sequence ever carried two
different lists), and both replicas serve the same newest list, which names every
acknowledged revocation.

Needs SIGIL_TEST_DATABASE_URL (scripts/postgres-test.sh starts a throwaway cluster and sets it);
without it the test is skipped and says so. Each test gets a database of its own.
"""

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest

from conftest import Restartable, newest_list_naming, run_cli, running

BASE_URL = os.environ.get("SIGIL_TEST_DATABASE_URL")

pytestmark = pytest.mark.skipif(
    not BASE_URL, reason="SIGIL_TEST_DATABASE_URL is unset: run scripts/postgres-test.sh for the replica test")


@pytest.fixture
def database():
    """A fresh, empty database on the test cluster; its URL."""
    name = "replicas_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", BASE_URL, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    yield BASE_URL.rsplit("/", 1)[0] + "/" + name
    subprocess.run(["psql", BASE_URL, "-q", "-c", f"DROP DATABASE {name} WITH (FORCE)"], capture_output=True)


def Replica(home, url):
    """One sigil-server on its own home (a copy of the keyring) and the shared database."""
    return Restartable(home, "--database", url, "--failed-auth-burst", "100000")


def newest(replica):
    r = replica.client().get("/v1/revocations")
    assert r.status == 200, r
    return int(r.header("ETag").strip('"')), r.body


def test_two_replicas_one_killed_and_restarted(database, tmp_root, request):
    home_a = tmp_root / "a"
    home_b = tmp_root / "b"
    out = run_cli(
        home_a, "--database", database, "issue", "--json", "--name", "org admin", "--audience", "sigil", "--all").stdout
    org_token = json.loads(out)["token"]
    # The operator distributes the keyring; the database holds no secret.
    home_b.mkdir(mode=0o700)
    shutil.copy2(home_a / "keyring.json", home_b / "keyring.json")
    replicas = [Replica(home_a, database), Replica(home_b, database)]
    # Stopped before the database is dropped, and whatever happens below.
    request.addfinalizer(lambda: [replica.kill() for replica in replicas])

    issued, revoked, errors = set(), set(), []
    seen = {}  # sequence -> sha256 of the list body, from every answer of either replica
    seen_lock = threading.Lock()
    stop = threading.Event()

    def record_list(r):
        if r.status != 200:
            return
        digest = hashlib.sha256(r.body).hexdigest()
        sequence = int(r.header("ETag").strip('"'))
        with seen_lock:
            if seen.setdefault(sequence, digest) != digest:
                errors.append(f"sequence {sequence} carried two different lists")

    def worker(n):
        i = 0
        while not stop.is_set():
            replica = replicas[(n + i) % 2]
            i += 1
            try:
                client = replica.client(org_token)
                r = client.post("/v1/tokens", {"name": f"w{n}-{i}", "audience": "billing", "scope": "all"}, timeout=10)
                if r.status != 201:
                    if r.status not in (503,):
                        errors.append(f"issue answered {r.status}: {r.body[:200]!r}")
                    continue
                guid = r.json["guid"]
                issued.add(guid)
                if i % 2 == 0:
                    # Revoke through the other replica.
                    other = replicas[(n + i + 1) % 2].client(org_token)
                    r = other.post(f"/v1/tokens/{guid}/revoke", timeout=10)
                    if r.status == 200:
                        revoked.add(guid)
                    elif r.status != 503:
                        errors.append(f"revoke answered {r.status}: {r.body[:200]!r}")
            except OSError:
                time.sleep(0.05)  # the replica is down (killed): not acknowledged, try the other

    def poller(k):
        etag = '"0"'
        while not stop.is_set():
            try:
                r = replicas[k].client().get("/v1/revocations?wait=2", headers={"If-None-Match": etag}, timeout=10)
            except OSError:
                time.sleep(0.05)
                continue
            record_list(r)
            if r.status == 200:
                etag = r.header("ETag")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=poller, args=(k,)) for k in range(2)]
    with running(threads, stop):
        time.sleep(2)
        replicas[1].kill()
        time.sleep(1)
        replicas[1].start()
        time.sleep(2)
        replicas[0].kill()
        time.sleep(0.5)
        replicas[0].start()
        time.sleep(2)

    assert not errors, errors[:5]
    assert len(issued) >= 20 and len(revoked) >= 10, (len(issued), len(revoked))

    # Both replicas converge on the same newest list.
    deadline = time.monotonic() + 10
    while True:
        (seq_a, body_a), (seq_b, body_b) = newest(replicas[0]), newest(replicas[1])
        if (seq_a, body_a) == (seq_b, body_b) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (seq_a, body_a) == (seq_b, body_b), (seq_a, seq_b)
    record_list(replicas[0].client().get("/v1/revocations"))
    assert not errors, errors[:5]

    # Every acknowledged change is in the ledger.
    org = replicas[0].client(org_token)
    for guid in issued:
        r = org.get(f"/v1/tokens/{guid}")
        assert r.status == 200, (guid, r)
        if guid in revoked:
            assert r.json["status"] == "revoked", r.json

    # The newest list names every acknowledged revocation (settle: the publisher debounces).
    shown, listed = newest_list_naming(replicas[1].client(), home_a, revoked, tmp_root / "newest.sgl")
    assert shown.get("verified", True) is True, shown
    assert revoked <= listed, sorted(revoked - listed)[:5]

    # Sequences: strictly increasing in commit order, no number used twice.
    log = json.loads(run_cli(
        home_a, "--database", database, "log", "--action", "export", "--limit", "10000", "--json").stdout)
    events = log["events"] if isinstance(log, dict) else log
    sequences = [int(json.loads(e["details"])["sequence"]) if isinstance(e["details"], str)
                 else int(e["details"]["sequence"]) for e in reversed(events)]
    assert len(sequences) >= 2
    assert all(a < b for a, b in zip(sequences, sequences[1:])), sequences
    assert max(sequences) == shown["sequence"]
    with seen_lock:
        assert set(seen) <= set(sequences), sorted(set(seen) - set(sequences))

    for replica in replicas:
        code = replica.server.stop()
        replica.server.assert_no_token_in_log()
        assert code == 0, f"sigil-server exited {code} on SIGTERM"


def test_a_replica_refuses_to_start_without_its_database(tmp_root, database):
    home = tmp_root / "home"
    run_cli(home, "--database", database, "issue", "--json", "--name", "org", "--audience", "sigil", "--all")
    password = "s3cret-Pw-never-shown"
    port = database.rsplit(":", 1)[1].split("/", 1)[0]
    bad = [
        f"postgres://nobody:{password}@127.0.0.1:{port}/sigil_test",  # wrong credentials
        f"postgres://postgres:{password}@127.0.0.1:1/sigil_test",  # nothing listening
        f"postgres://postgres:{password}@[::1/sigil_test",  # not a URL
    ]
    for url in bad:
        proc = subprocess.run(
            [os.environ.get("SIGIL_SERVER_BIN", "Server/.build/debug/sigil-server"), "--home", str(home),
             "--database", url, "--port", "0"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 69, (url, proc.returncode, proc.stderr)
        assert "cannot reach the ledger database" in proc.stderr, proc.stderr
        assert password not in proc.stderr and password not in proc.stdout
        cli = run_cli(home, "--database", url, "list", check=False)
        assert cli.returncode == 69, cli.stderr
        assert password not in cli.stderr
