"""Console sessions live in the ledger (issue #22 item 7): any replica serves any session.

On SQLite (always): the database holds a hash of the session ID and the token's GUID, never
the ID, the CSRF secret or the token, and a restarted server still serves the session.

On PostgreSQL (needs SIGIL_TEST_DATABASE_URL; scripts/postgres-test.sh sets it): two
sigil-server replicas on one database. A console signs in on A and works on B with the same
cookie and CSRF header; its token is revoked through B, and A refuses the session on the very
next request (nothing sticky: A never saw the revocation but through the ledger).
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import uuid

import pytest

from conftest import Env, Server, cli_issue, run_cli

BASE_URL = os.environ.get("SIGIL_TEST_DATABASE_URL")
needs_postgres = pytest.mark.skipif(
    not BASE_URL, reason="SIGIL_TEST_DATABASE_URL is unset: run scripts/postgres-test.sh for the replica test")


def sign_in(client, token):
    """POST /v1/session; returns (cookie pair, csrf secret)."""
    r = client.post("/v1/session", {"token": token}, token=None)
    assert r.status == 201, r
    return r.header("Set-Cookie").split(";", 1)[0], r.json["csrf_token"]


def with_session(client, method, path, cookie, csrf=None, json_body=None):
    headers = {"Cookie": cookie}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return client.request(method, path, json_body=json_body, headers=headers, token=None)


def id_hash(session_id):
    """What the ledger stores for a session ID (Issuer.sessionHash)."""
    return hmac.new(b"sigil/v1/session-id", session_id.encode(), hashlib.sha256).digest()


def b64url_bytes(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_sqlite_ledger_holds_only_a_hash_of_the_session_id_and_no_token(tmp_root):
    e = Env(tmp_root)
    try:
        token, guid = cli_issue(e.home, "console", "sigil", "--all")
        cookie, csrf = sign_in(e.anonymous, token)
        session_id = cookie.split("=", 1)[1]
        db = sqlite3.connect(e.home / "sigil.db")
        rows = db.execute("SELECT id_hash, guid, expires_at - created_at FROM sessions").fetchall()
        db.close()
        assert len(rows) == 1
        stored, stored_guid, lifetime = rows[0]
        assert stored == id_hash(session_id)
        assert uuid.UUID(bytes=stored_guid) == uuid.UUID(guid)
        assert lifetime == 8 * 3600
        # Nowhere in the database files: not the ID (as text or bytes), the CSRF secret or the token.
        blobs = b"".join(p.read_bytes() for p in e.home.iterdir() if p.name.startswith("sigil.db"))
        for secret in [session_id.encode(), b64url_bytes(session_id), csrf.encode(), b64url_bytes(csrf),
                       token.encode()]:
            assert secret not in blobs
        # The session is a row, not process memory: a restarted server still serves it.
        assert e.server.stop() == 0
        e.server = Server(e.home)
        e.anonymous = e.server.client()
        e.org = e.server.client(e.org_token)
        assert with_session(e.anonymous, "GET", "/v1/tokens", cookie).status == 200
        me = with_session(e.anonymous, "GET", "/v1/session", cookie)
        assert me.status == 200 and me.json["csrf_token"] == csrf and me.json["guid"] == guid
    finally:
        e.close()


@pytest.fixture
def database():
    """A fresh, empty database on the test cluster; its URL."""
    name = "sessions_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", BASE_URL, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    yield BASE_URL.rsplit("/", 1)[0] + "/" + name
    subprocess.run(["psql", BASE_URL, "-q", "-c", f"DROP DATABASE {name} WITH (FORCE)"], capture_output=True)


def psql(url, sql):
    return subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True).stdout


@needs_postgres
def test_a_session_opened_on_one_replica_works_on_the_other_and_ends_on_both(database, tmp_root):
    home_a, home_b = tmp_root / "a", tmp_root / "b"
    def issue(name):
        out = run_cli(home_a, "--database", database, "issue", "--json", "--name", name, "--audience", "sigil", "--all")
        issued = json.loads(out.stdout)
        return issued["token"], issued["guid"]

    org, _ = issue("org admin")
    token, guid = issue("console")
    home_b.mkdir(mode=0o700)
    shutil.copy2(home_a / "keyring.json", home_b / "keyring.json")
    a = Server(home_a, "--database", database, "--failed-auth-burst", "100000")
    b = Server(home_b, "--database", database, "--failed-auth-burst", "100000")
    try:
        cookie, csrf = sign_in(a.client(), token)
        session_id = cookie.split("=", 1)[1]

        # B serves A's session: reads, its description and CSRF secret, and a change.
        assert with_session(b.client(), "GET", "/v1/tokens", cookie).status == 200
        me = with_session(b.client(), "GET", "/v1/session", cookie)
        assert me.status == 200 and me.json["guid"] == guid and me.json["csrf_token"] == csrf
        body = {"name": "made on b", "audience": "billing", "scope": "read-only"}
        assert with_session(b.client(), "POST", "/v1/tokens", cookie, json_body=body).status == 403
        created = with_session(b.client(), "POST", "/v1/tokens", cookie, csrf=csrf, json_body=body)
        assert created.status == 201, created

        # The shared database holds the hash of the ID and the GUID, never the ID or a token.
        rows = psql(database, "SELECT encode(id_hash, 'hex'), encode(guid, 'hex') FROM sessions").split()
        assert rows == [f"{id_hash(session_id).hex()}|{uuid.UUID(guid).hex}"]
        dump = subprocess.run(["pg_dump", "--data-only", database], check=True, capture_output=True).stdout
        for secret in [session_id.encode(), b64url_bytes(session_id).hex().encode(), csrf.encode(),
                       token.encode(), org.encode(), created.json["token"].encode()]:
            assert secret not in dump

        # Revoked through B; A refuses the session on its next request, then it is gone.
        assert b.client(org).post(f"/v1/tokens/{guid}/revoke").status == 200
        refused = with_session(a.client(), "GET", "/v1/tokens", cookie)
        assert refused.status == 401 and refused.json["reason"] == "revoked", refused
        for server in (a, b):
            after = with_session(server.client(), "GET", "/v1/tokens", cookie)
            assert after.status == 401 and after.json["reason"] == "session_expired", after
        assert psql(database, "SELECT count(*) FROM sessions").strip() == "0"

        # A sign-out on B ends a session opened on A.
        cookie2, csrf2 = sign_in(a.client(), org)
        assert with_session(b.client(), "DELETE", "/v1/session", cookie2, csrf=csrf2).status == 204
        gone = with_session(a.client(), "GET", "/v1/session", cookie2)
        assert gone.status == 401 and gone.json["reason"] == "session_expired"
    finally:
        for server in (a, b):
            assert server.stop() == 0
            server.assert_no_token_in_log()
