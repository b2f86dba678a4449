"""The writer keeps a group's savepoint journals in memory (#22, grouped commits).

SQLite moves a savepoint's undo copies to a temp file once they pass 64 KiB, and one create
changes about 16 pages: in a group of creates every later savepoint then wrote each page it
touched to that file, three of every four writes the writer made. The temp file (SQLite names
it etilqs_*, unlinked once open) must never appear while creates are grouped."""

import os
import threading

PER_CLIENT = 30
CLIENTS = 16


def open_temp_files(pid):
    found = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


def test_grouped_creates_write_no_temp_journal(fresh_env):
    pid = fresh_env.server.proc.pid
    seen = []
    statuses = []

    def create(n):
        client = fresh_env.server.client(fresh_env.org_token)
        for i in range(PER_CLIENT):
            r = client.post("/v1/tokens", {"name": f"grouped {n}-{i}", "audience": "billing", "scope": "all"})
            statuses.append(r.status)

    clients = [threading.Thread(target=create, args=(n,)) for n in range(CLIENTS)]
    for t in clients:
        t.start()
    # This thread watches the server's descriptors until the last client is answered.
    while any(t.is_alive() for t in clients):
        seen.extend(open_temp_files(pid))
    for t in clients:
        t.join()

    assert statuses.count(201) == PER_CLIENT * CLIENTS, sorted(set(statuses))
    assert seen == [], f"the writer opened SQLite temp files: {sorted(set(seen))[:3]}"
