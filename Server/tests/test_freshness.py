"""Revocation lists on one ledger written by hosts whose clocks disagree (issue #20, items 1 and 12).

Item 1: the list in force is the one with the highest sequence; clocks only fill issued_at. Three
servers on one home run with SIGIL_NOW an hour apart (it stands in for a host's skewed clock in
sigil-server's publisher, as it does in the CLI), and a CLI export is stamped 300 s ahead. Every
revoke the API acknowledges must be served by every server within a second, and the servers must
not re-sign each other's lists.

Item 12: with the sequence at 2^64 - 2 the server publishes once, then reports the exhausted
sequence on /v1/health (503 degraded) and backs off instead of retrying on every tick.
"""

import json
import os
import shutil
import struct
import subprocess
import time
import uuid

import pytest

from conftest import Server, cli_issue, run_cli

BASE_URL = os.environ.get("SIGIL_TEST_DATABASE_URL")

SKEWS = (-3600, 0, 3600)


def parse_list(body):
    """(sequence, {guid: status}) of a list in the v1 format (docs/FORMAT.md §4.1); no signature check."""
    assert body[:5] == b"SGLR\x01", body[:8]
    kid_length = body[5]
    at = 6 + kid_length
    sequence, _issued_at, _next_update, count = struct.unpack_from(">QqqI", body, at)
    at += 28
    entries = {}
    for i in range(count):
        raw = body[at + 17 * i: at + 17 * i + 16]
        entries[str(uuid.UUID(bytes=raw))] = body[at + 17 * i + 16]
    return sequence, entries


def export_events(home, *database):
    out = run_cli(home, *database, "log", "--action", "export", "--json", "--limit", "100000").stdout
    return len(json.loads(out))


def served_within(servers, guid, deadline):
    """Polls every server until each serves a list naming `guid` as revoked; the ones still missing it."""
    missing = set(range(len(servers)))
    while missing and time.monotonic() < deadline:
        for i in sorted(missing):
            r = servers[i].client().get("/v1/revocations")
            if r.status == 200 and parse_list(r.body)[1].get(guid) == 2:
                missing.discard(i)
        if missing:
            time.sleep(0.02)
    return missing


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, tmp_root):
    """(homes, database args) for three servers on one ledger: one SQLite home, or three homes
    with copies of one keyring on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield [tmp_root / "home"] * 3, ()
        return
    if not BASE_URL:
        pytest.skip("SIGIL_TEST_DATABASE_URL is unset: run scripts/postgres-test.sh for the PostgreSQL pass")
    name = "freshness_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", BASE_URL, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    try:
        yield [tmp_root / f"home{i}" for i in range(3)], ("--database", BASE_URL.rsplit("/", 1)[0] + "/" + name)
    finally:
        subprocess.run(["psql", BASE_URL, "-q", "-c", f"DROP DATABASE {name} WITH (FORCE)"], capture_output=True)


def test_skewed_clocks_serve_every_revoke_within_a_second_without_a_storm(tmp_root, ledger):
    homes, database = ledger
    org_token, _ = cli_issue(homes[0], "org admin", "sigil", "--all", *database)
    for home in set(homes[1:]) - {homes[0]}:
        home.mkdir(mode=0o700)
        shutil.copy2(homes[0] / "keyring.json", home / "keyring.json")
    now = int(time.time())
    servers = [
        Server(home, *database, "--failed-auth-burst", "100000", env={"SIGIL_NOW": str(now + skew)})
        for home, skew in zip(homes, SKEWS)
    ]
    try:
        # One export by a host whose clock is 300 s ahead: its list must not hide later ones.
        run_cli(
            homes[0], *database, "revocations", "export", "-o", str(tmp_root / "ahead.sgl"),
            env={"SIGIL_NOW": str(now + 300)})
        worst = 0.0
        for i in range(6):
            server = servers[i % len(servers)]
            org = server.client(org_token)
            r = org.post("/v1/tokens", {"name": f"skew {i}", "audience": "billing", "scope": "all"})
            assert r.status == 201, r
            guid = r.json["guid"]
            r = org.post(f"/v1/tokens/{guid}/revoke")
            assert r.status == 200, r
            acknowledged = time.monotonic()
            missing = served_within(servers, guid, acknowledged + 1.0)
            assert not missing, f"revoke {i} (via server {i % 3}) not served by servers {sorted(missing)} within 1 s"
            worst = max(worst, time.monotonic() - acknowledged)
        print(f"slowest revoke → served by all three: {worst * 1000:.0f} ms")

        # No storm: with the ledger quiet, the servers sign nothing more.
        sequences = {parse_list(s.client().get("/v1/revocations").body)[0] for s in servers}
        assert len(sequences) == 1, sequences
        before = export_events(homes[0], *database)
        time.sleep(3)
        after = export_events(homes[0], *database)
        sequence = parse_list(servers[0].client().get("/v1/revocations").body)[0]
        print(f"export events: {before} → {after} in 3 s; sequence {sequence}")
        assert after == before, f"{after - before} lists signed in 3 s with nothing changed"
        assert sequence == sequences.pop()
        # Startup (at most one list per server), one CLI export and at most one list per revoke.
        assert before <= 3 + 1 + 6, before
    finally:
        for s in servers:
            assert s.stop() == 0
            s.assert_no_token_in_log()


def test_an_exhausted_sequence_degrades_health_and_backs_off(tmp_root):
    home = tmp_root / "home"
    org_token, _ = cli_issue(home, "org admin", "sigil", "--all")
    # The high-water mark the next sequence must exceed (docs/DATABASE.md): 2^64 - 2.
    (home / "revocations.seq").write_text(f"{2**64 - 2}\n")
    server = Server(home, "--failed-auth-burst", "100000")
    try:
        client = server.client()
        assert parse_list(client.get("/v1/revocations").body)[0] == 2**64 - 1
        health = client.get("/v1/health")
        assert (health.status, health.json) == (200, {"status": "ok"})

        org = server.client(org_token)
        guid = org.post("/v1/tokens", {"name": "late", "audience": "billing", "scope": "all"}).json["guid"]
        assert org.post(f"/v1/tokens/{guid}/revoke").status == 200
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and client.get("/v1/health").status == 200:
            time.sleep(0.05)
        health = client.get("/v1/health")
        assert health.status == 503, health
        assert health.json == {"status": "degraded", "reasons": ["revocation_sequence_exhausted"]}
        assert health.header("Cache-Control") == "no-store"
        # The last list is still served.
        assert parse_list(client.get("/v1/revocations").body)[0] == 2**64 - 1

        # Backing off: a line per attempt (1 s, 2 s, 4 s apart), not seven a second.
        first = server.log_text().count("revocation list not published")
        time.sleep(3.5)
        lines = server.log_text().count("revocation list not published") - first
        print(f"refusal log lines in 3.5 s: {lines}")
        assert 1 <= lines <= 3, lines
        assert "exhausted" in server.log_text()

        # The CLI refuses with exit 65 and says what to do.
        result = run_cli(home, "revocations", "export", "-o", str(tmp_root / "next.sgl"), check=False)
        assert result.returncode == 65, result
        assert "exhausted" in result.stderr
        assert "sigil keys rotate --revocation" in result.stderr
        assert not (tmp_root / "next.sgl").exists()
    finally:
        assert server.stop() == 0
        server.assert_no_token_in_log()
