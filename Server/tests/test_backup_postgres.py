"""Issue #24, item 4: a PostgreSQL ledger is backed up with pg_dump and restored with pg_restore,
as docs/DATABASE.md ("Backups") says, on the throwaway cluster of scripts/postgres-test.sh:

    scripts/postgres-test.sh -- python3 -m pytest -q Server/tests/test_backup_postgres.py

`pg_dump -Fc` of the ledger's database (one consistent snapshot; writers never wait), `pg_restore` into an
empty database, then the restored ledger answers with every token of the dump; `sigil ledger
reconcile` with the list services hold stops again what it stopped after the dump, and the next list
is above every sequence signed before.
"""

import glob
import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import run_cli

URL = os.environ.get("SIGIL_TEST_DATABASE_URL")
PORT = os.environ.get("SIGIL_TEST_PG_PORT")
pytestmark = pytest.mark.skipif(not URL or not PORT, reason="needs scripts/postgres-test.sh's cluster")


def pg_tool(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    assert found[-1], f"{name} is not installed (Debian: postgresql-client)"
    return found[-1]


def pg(name, *args):
    result = subprocess.run([pg_tool(name), "-h", "127.0.0.1", "-p", PORT, "-U", "postgres", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{name} {' '.join(args)}: {result.stderr}"
    return result


def new_database():
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    pg("createdb", name)
    return name, f"postgres://postgres@127.0.0.1:{PORT}/{name}"


def cli(home, url, *args):
    return json.loads(run_cli(home, "--database", url, "--json", *args).stdout)


def test_pg_dump_and_pg_restore_carry_the_ledger_and_lists_continue_above(tmp_root):
    source, source_url = new_database()
    home = tmp_root / "home"
    run_cli(home, "--database", source_url, "init")
    issued = [cli(home, source_url, "issue", "--name", f"t{i}", "--audience", "billing", "--all")["guid"]
              for i in range(3)]
    run_cli(home, "--database", source_url, "revoke", "--yes", issued[0])
    assert cli(home, source_url, "revocations", "export")["sequence"] == 1

    dump = tmp_root / "ledger.dump"
    # The ledger is the whole database here. A ledger in a schema of its own (search_path in the
    # URL) is dumped with -n SCHEMA instead; restoring -n public would fail on CREATE SCHEMA public.
    pg("pg_dump", "-Fc", "-f", str(dump), source)

    # After the dump: a token the dump does not hold, one it holds as active revoked and one
    # deactivated, and a list; services now hold list 2.
    late = cli(home, source_url, "issue", "--name", "late", "--audience", "billing", "--all")["guid"]
    run_cli(home, "--database", source_url, "revoke", "--yes", late, issued[1])
    run_cli(home, "--database", source_url, "deactivate", "--yes", issued[2])
    held = cli(home, source_url, "revocations", "export", "-o", str(tmp_root / "held.sgl"))
    assert held["sequence"] == 2

    target, target_url = new_database()
    # Into an empty database; --no-owner so another role may own the restored tables.
    restored = subprocess.run([pg_tool("pg_restore"), "-h", "127.0.0.1", "-p", PORT, "-U", "postgres",
                               "--no-owner", "--exit-on-error", "-d", target, str(dump)],
                              capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0 and restored.stderr == "", restored.stderr

    # A new host: the keyring from its own backup, the list services hold in the home.
    new_home = tmp_root / "new-home"
    new_home.mkdir(mode=0o700)
    shutil.copyfile(home / "keyring.json", new_home / "keyring.json")
    os.chmod(new_home / "keyring.json", 0o600)
    rows = {r["guid"]: r["status"] for r in cli(new_home, target_url, "list")}
    assert rows == {issued[0]: "revoked", issued[1]: "active", issued[2]: "active"}
    assert late not in rows
    # pg_restore alone brings back what the dump held; reconcile (docs/DATABASE.md, "Backups")
    # stops again what the list services hold stopped, and puts the next list above it.
    done = cli(new_home, target_url, "ledger", "reconcile", "--list", str(tmp_root / "held.sgl"))
    assert done["sequence"] == 2
    assert done["listed"] == {"revoked": 1, "deactivated": 1, "unknown": 1, "unverified": []}
    rows = {r["guid"]: r["status"] for r in cli(new_home, target_url, "list")}
    assert rows == {issued[0]: "revoked", issued[1]: "revoked", issued[2]: "inactive"}
    again = cli(new_home, target_url, "ledger", "reconcile", "--list", str(tmp_root / "held.sgl"))
    assert again["listed"] == {"revoked": 0, "deactivated": 0, "unknown": 1, "unverified": []}
    assert cli(new_home, target_url, "revocations", "export")["sequence"] == 3
