"""Issue #24, items 4 and 6: `sigil ledger backup` while sigil-server is hammered with creates and
revokes, `sigil ledger restore` into a fresh home, and a long command's progress on a real
terminal (python's pty module).

A backup holds every change acknowledged before it began; after the restore the next list is
above every sequence the old server ever served, so no sequence is used twice.
"""

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import termios
import threading
import time

from conftest import SIGIL_BIN, Env, Server, run_cli


def sequence(response):
    return int(response.header("ETag").strip('"'))


def fresh_home(root, name, keyring_from):
    home = root / name
    home.mkdir(mode=0o700)
    shutil.copyfile(keyring_from / "keyring.json", home / "keyring.json")
    os.chmod(home / "keyring.json", 0o600)
    return home


def test_a_backup_under_load_restores_every_acknowledged_change_and_no_sequence_repeats(tmp_root):
    env = Env(tmp_root)
    acknowledged = []  # (monotonic time of the answer, "create" | "revoke", guid)
    served = set()  # every list sequence the old server served
    lock, stop = threading.Lock(), threading.Event()

    def hammer(worker):
        i = 0
        while not stop.is_set():
            r = env.org.post("/v1/tokens", {"name": f"h{worker}-{i}", "audience": "billing", "scope": "all"})
            assert r.status == 201, r
            guid = r.json["guid"]
            with lock:
                acknowledged.append((time.monotonic(), "create", guid))
            if i % 3 == 0:
                assert env.org.post(f"/v1/tokens/{guid}/revoke").status == 200
                with lock:
                    acknowledged.append((time.monotonic(), "revoke", guid))
            i += 1

    def watch():
        while not stop.is_set():
            served.add(sequence(env.anonymous.get("/v1/revocations")))
            time.sleep(0.05)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(3)] + [threading.Thread(target=watch)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        began = time.monotonic()
        backup = tmp_root / "backup.db"
        made = json.loads(run_cli(env.home, "--json", "ledger", "backup", "--to", str(backup)).stdout)
        ended = time.monotonic()
        # The load goes on: lists signed after the backup carry sequences the backup never saw.
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    held = env.anonymous.get("/v1/revocations")  # the list services hold now
    served.add(sequence(held))
    (tmp_root / "held.sgl").write_bytes(held.body)
    env.close()

    before = [(kind, guid) for at, kind, guid in acknowledged if at < began]
    after = {guid for at, kind, guid in acknowledged if at > ended and kind == "create"}
    assert len(before) > 20 and after, "the load ran before and after the backup"
    assert made["checked"] is True and made["sequence"] < max(served)
    assert oct(backup.stat().st_mode & 0o777) == "0o600"

    home = fresh_home(tmp_root, "restored", env.home)
    restored = json.loads(run_cli(home, "--json", "ledger", "restore", "--from", str(backup),
                                  "--list", str(tmp_root / "held.sgl")).stdout)
    assert restored["sequence"] >= max(served) and restored["backup_sequence"] == made["sequence"]

    rows = {row["guid"]: row for row in json.loads(run_cli(home, "--json", "list").stdout)}
    for kind, guid in before:
        assert guid in rows, f"a create acknowledged before the backup is missing: {guid}"
        if kind == "revoke":
            assert rows[guid]["status"] == "revoked", guid
    assert not after & rows.keys(), "a create acknowledged after the backup ended is in it"

    # A server on the restored home signs above every list ever served, at once.
    server = Server(home)
    try:
        deadline = time.monotonic() + 20
        r = server.client().get("/v1/revocations")
        while sequence(r) <= max(served) and time.monotonic() < deadline:
            time.sleep(0.1)
            r = server.client().get("/v1/revocations")
        assert sequence(r) > max(served), (sequence(r), max(served))
        assert sequence(r) not in served
    finally:
        assert server.stop() == 0
    exported = json.loads(run_cli(home, "--json", "revocations", "export").stdout)
    assert exported["sequence"] > sequence(r)


def v01_home(root, name, tokens):
    """A v0.1 home: a real keyring, `ledger.jsonl` with `tokens` issues, no database."""
    home = root / name
    run_cli(home, "init")
    for leftover in ("sigil.db", "sigil.db-wal", "sigil.db-shm", "revocations.seq"):
        (home / leftover).unlink(missing_ok=True)
    kid = json.loads((home / "keyring.json").read_text())["token_keys"][0]["kid"]
    with open(home / "ledger.jsonl", "w") as f:
        for i in range(tokens):
            token = {"audience": "billing", "created_at": 1795000000, "created_by": "a", "description": "",
                     "guid": f"00000000-0000-4000-8000-{i:012x}", "kid": kid, "name": f"t{i}", "scope": "all",
                     "status": "active", "updated_at": 1795000000, "valid_from": 1795000000,
                     "valid_to": 1900000000}
            f.write(json.dumps({"at": 1795000000, "op": "issue", "token": token}, sort_keys=True) + "\n")
    os.chmod(home / "ledger.jsonl", 0o600)
    return home


def on_terminal(args, columns=72):
    """Runs sigil with stderr on a pseudo-terminal `columns` wide: (exit code, stderr bytes, seconds)."""
    started = time.monotonic()
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([SIGIL_BIN, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=follower, env=dict(os.environ, TERM="xterm"))
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    code = proc.wait(timeout=120)
    return code, out, time.monotonic() - started


def test_progress_on_a_terminal_appears_and_ends_cleanly(tmp_root):
    home = v01_home(tmp_root, "v01", 30_000)
    code, out, seconds = on_terminal(["--home", str(home), "catalog", "show"])
    assert code == 0, out[-500:]
    assert b"import: reading the v0.1 ledger" in out and b"import: importing" in out, out[:300]
    draws = out.split(b"\r\x1b[K")
    progress = [d for d in draws[1:-1] if d]
    assert progress and all(d.startswith(b"import: ") and b"%)" in d for d in progress), progress[:3]
    # Columns, not bytes: a line cut to fit ends in "…", three bytes in UTF-8.
    assert all(len(d.decode()) < 72 for d in progress), "a line wider than the terminal would wrap"
    # Erased before the command's own output: what follows the last erase is the import note.
    assert draws[-1].startswith(b"sigil: imported the v0.1 ledger into the database: 30000 tokens"), draws[-1]
    assert len(progress) <= 10 * seconds + 1, f"{len(progress)} draws in {seconds:.1f} s: at most ten a second"


def test_json_on_a_terminal_draws_nothing(tmp_root):
    home = v01_home(tmp_root, "v01", 30_000)
    code, out, _ = on_terminal(["--home", str(home), "--json", "catalog", "show"])
    assert code == 0, out[-500:]
    assert b"\x1b" not in out and b"\r\x1b" not in out and b"import:" not in out, out[:300]
    assert b"imported the v0.1 ledger" in out
