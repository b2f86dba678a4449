"""The /v1/members routes (#25 item 1): every route, its permissions, the delegation rule (nobody
adds or edits a member with more than they hold), errors through the one error table, and a
member's console session (GET /v1/session shows the person; suspended or removed, the session
ends at its next request).

The rules are SigilIssuer's (Issuer+Members.swift, MemberTests on both stores); these tests
drive them over HTTP. A member's session is normally opened by single sign-on (test_oidc.py runs
the real OpenID Connect flow); here `member_session` writes the session row the issuer's
openMemberSession would write, straight into the test ledger, so the routes can be tested
without an identity provider.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import SIGIL_BIN, Env, cli_issue, run_cli

MEMBER_KEYS = {"id", "email", "name", "audience", "scope", "status", "created_by", "created_at", "last_sign_in_at"}


@pytest.fixture(scope="module")
def env():
    """A server whose org token never expires: a member never does, so only such a caller may
    add one (the delegation rule's window)."""
    root = Path(tempfile.mkdtemp(prefix="sigil-members-test-"))
    e = Env(root, "--failed-auth-burst", "100000")
    e.admin_token, e.admin_guid = cli_issue(e.home, "member admin", "sigil", "--all", "--never-expires")
    e.admin = e.server.client(e.admin_token)
    yield e
    e.close()
    shutil.rmtree(root, ignore_errors=True)


def email():
    return f"person-{uuid.uuid4().hex[:10]}@example.com"


def add(env, client=None, status=201, **fields):
    body = {"email": email(), "name": "Ada Lovelace", "audience": "sigil", "scope": "all", **fields}
    r = (client or env.admin).post("/v1/members", body)
    assert r.status == status, r
    return r.json


def assert_error(r, status, error, code):
    assert r.status == status, r
    body = r.json
    assert body["error"] == error and body["code"] == code, body
    return body


class Session:
    """A member's console session: the cookie and the CSRF header the page would send."""

    def __init__(self, env, session_id):
        self.env = env
        self.id = session_id
        mac = hmac.new(session_id.encode(), b"sigil/v1/session-csrf", hashlib.sha256).digest()
        self.csrf = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def request(self, method, path, body=None):
        headers = {"Cookie": f"sigil_session={self.id}"}
        if method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = self.csrf
        return self.env.server.client().request(method, path, json_body=body, headers=headers, token=None)


def member_session(env, member):
    """Writes the session row openMemberSession writes (sessions.guid and .member = the member's
    ID, the ID's HMAC under `sigil/v1/session-id`), as a stand-in for a single sign-on."""
    session_id = secrets.token_urlsafe(32)
    id_hash = hmac.new(b"sigil/v1/session-id", session_id.encode(), hashlib.sha256).digest()
    member_id = uuid.UUID(member["id"]).bytes
    now = int(time.time())
    db = sqlite3.connect(env.home / "sigil.db", timeout=10)
    try:
        with db:
            db.execute(
                "INSERT INTO sessions (id_hash, guid, created_at, expires_at, member) VALUES (?, ?, ?, ?, ?)",
                (id_hash, member_id, now, now + 8 * 3600, member_id))
    finally:
        db.close()
    return Session(env, session_id)


# ---- every route ------------------------------------------------------------------------------


def test_add_answers_201_with_the_member(env):
    address = email()
    r = env.admin.post("/v1/members", {"email": address.upper(), "name": "Grace Hopper", "audience": "sigil",
                                       "scope": "read-only"})
    assert r.status == 201, r
    m = r.json
    assert MEMBER_KEYS <= set(m) and set(m) <= MEMBER_KEYS | {"created_by_name"}
    assert m["email"] == address, "stored lower-cased"
    assert m["name"] == "Grace Hopper" and m["audience"] == "sigil" and m["scope"] == "read-only"
    assert m["status"] == "active" and m["last_sign_in_at"] is None
    assert m["created_by"] == f"token:{env.admin_guid}" and m["created_by_name"] == "member admin"
    assert str(uuid.UUID(m["id"])) == m["id"] and uuid.UUID(m["id"]).version == 4
    assert r.header("Location") == f"/v1/members/{m['id']}"
    assert r.header("Cache-Control") == "no-store"
    # The audit log has a member event by the caller.
    events = env.admin.get(f"/v1/audit?actor=token:{env.admin_guid}&action=member&limit=5").json["events"]
    assert events and events[0]["details"].get("change") == "add"


def test_add_expands_a_custom_scope_like_issue(env):
    m = add(env, audience="billing", scope=["invoices.*", "devices.list"])
    assert m["scope"] == ["devices.list", "invoices.get", "invoices.list", "invoices.pay"]


def test_show_answers_the_member(env):
    m = add(env)
    r = env.admin.get(f"/v1/members/{m['id']}")
    assert r.status == 200 and r.json == m


def test_list_pages_and_filters_by_status(env):
    added = [add(env, audience="paged", scope="read-only", name=f"paged {i}") for i in range(5)]
    r = env.admin.post(f"/v1/members/{added[1]['id']}/suspend")
    assert r.status == 200, r
    ids = []
    cursor = None
    while True:
        url = "/v1/members?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = env.admin.get(url)
        assert page.status == 200, page
        assert len(page.json["members"]) <= 2
        ids += [m["id"] for m in page.json["members"]]
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert [a["id"] for a in added] == [i for i in ids if i in {a["id"] for a in added}], "in the order added"
    suspended = env.admin.get("/v1/members?status=suspended&limit=1000").json["members"]
    assert added[1]["id"] in [m["id"] for m in suspended]
    assert all(m["status"] == "suspended" for m in suspended)
    active = env.admin.get("/v1/members?status=active&limit=1000").json["members"]
    assert added[1]["id"] not in [m["id"] for m in active] and added[0]["id"] in [m["id"] for m in active]


@pytest.mark.parametrize("query", ["status=gone", "limit=0", "limit=1001", "cursor=x", "email=a@b.c"])
def test_list_refuses_bad_query_values(env, query):
    r = env.admin.get(f"/v1/members?{query}")
    assert r.status == 400 and r.json["error"] == "bad_request", r


def test_edit_changes_name_audience_and_scope(env):
    m = add(env)
    r = env.admin.patch(f"/v1/members/{m['id']}", {"name": "Ada King"})
    assert r.status == 200 and r.json["name"] == "Ada King" and r.json["scope"] == "all"
    r = env.admin.patch(f"/v1/members/{m['id']}", {"audience": "billing", "scope": ["invoices.get"]})
    assert r.status == 200, r
    assert r.json["audience"] == "billing" and r.json["scope"] == ["invoices.get"]
    assert env.admin.get(f"/v1/members/{m['id']}").json["audience"] == "billing"


@pytest.mark.parametrize("body,status", [
    ({}, 422), ({"name": None}, 400), ({"email": "other@example.com"}, 400), ({"status": "suspended"}, 400),
    ({"name": ""}, 422), ({"audience": "bad audience"}, 422), ({"scope": ["devices.fly"]}, 422),
])
def test_edit_refuses_bad_bodies(env, body, status):
    m = add(env)
    r = env.admin.patch(f"/v1/members/{m['id']}", body)
    assert r.status == status, r
    assert env.admin.get(f"/v1/members/{m['id']}").json == m, "nothing changed"


def test_suspend_and_activate(env):
    m = add(env)
    r = env.admin.post(f"/v1/members/{m['id']}/suspend")
    assert r.status == 200, r
    assert r.json["member"]["status"] == "suspended" and r.json["deactivated"] == []
    # The member in the answer is written as every other member answer writes it.
    assert r.json["member"] == {**env.admin.get(f"/v1/members/{m['id']}").json}, r.json
    assert r.json["member"]["created_by_name"] == "member admin"
    r = env.admin.post(f"/v1/members/{m['id']}/activate")
    assert r.status == 200 and r.json["status"] == "active", r
    assert r.json["created_by_name"] == "member admin"
    assert env.admin.get(f"/v1/members/{m['id']}").json["status"] == "active"


def test_suspend_with_cascade_deactivates_the_members_active_tokens(env):
    m = add(env)
    actor = f"member:{m['email']}"
    # Tokens the member made (the issuer host records the creator as given).
    _, made = cli_issue(env.home, "member made 1", "billing", "--all", "--created-by", actor)
    _, revoked = cli_issue(env.home, "member made 2", "billing", "--all", "--created-by", actor)
    env.admin.post(f"/v1/tokens/{revoked}/revoke")
    _, other = cli_issue(env.home, "someone else's", "billing", "--all")
    r = env.admin.post(f"/v1/members/{m['id']}/suspend", {"cascade": True})
    assert r.status == 200, r
    assert r.json["deactivated"] == [made]
    assert env.admin.get(f"/v1/tokens/{made}").json["status"] == "inactive"
    assert env.admin.get(f"/v1/tokens/{revoked}").json["status"] == "revoked"
    assert env.admin.get(f"/v1/tokens/{other}").json["status"] == "active"
    # Activating the member leaves its tokens as the cascade left them.
    assert env.admin.post(f"/v1/members/{m['id']}/activate").json["status"] == "active"
    assert env.admin.get(f"/v1/tokens/{made}").json["status"] == "inactive"


@pytest.mark.parametrize("body", [{"cascade": "yes"}, {"cascade": True, "other": 1}])
def test_suspend_refuses_bad_bodies(env, body):
    m = add(env)
    assert env.admin.post(f"/v1/members/{m['id']}/suspend", body).status == 400
    assert env.admin.get(f"/v1/members/{m['id']}").json["status"] == "active"


def test_remove_answers_204_then_404(env):
    m = add(env)
    r = env.admin.delete(f"/v1/members/{m['id']}")
    assert r.status == 204 and r.body == b"", r
    assert_error(env.admin.get(f"/v1/members/{m['id']}"), 404, "not_found", "not_found")
    assert_error(env.admin.delete(f"/v1/members/{m['id']}"), 404, "not_found", "not_found")
    # The email may be added again.
    add(env, email=m["email"])


# ---- errors through the one table --------------------------------------------------------------


def test_a_duplicate_email_is_409_whatever_its_case(env):
    m = add(env)
    r = env.admin.post("/v1/members", {"email": m["email"].upper(), "name": "Twin", "audience": "sigil",
                                       "scope": "all"})
    assert_error(r, 409, "conflict", "conflict")


@pytest.mark.parametrize("route", ["GET", "PATCH", "DELETE", "suspend", "activate"])
def test_an_unknown_member_is_404(env, route):
    unknown = str(uuid.uuid4())
    if route in ("suspend", "activate"):
        r = env.admin.post(f"/v1/members/{unknown}/{route}")
    else:
        r = env.admin.request(route, f"/v1/members/{unknown}", json_body={"name": "x"} if route == "PATCH" else None)
    assert_error(r, 404, "not_found", "not_found")


@pytest.mark.parametrize("bad", ["not-a-guid", "1234", "ada@example.com"])
def test_a_malformed_member_id_is_400(env, bad):
    r = env.admin.get(f"/v1/members/{bad}")
    assert r.status == 400 and r.json["error"] == "bad_request", r


@pytest.mark.parametrize("body,status", [
    ({"email": "not an email", "name": "x", "audience": "sigil", "scope": "all"}, 422),
    ({"email": "a@localhost", "name": "x", "audience": "sigil", "scope": "all"}, 422),
    ({"email": "a@example.com", "name": "", "audience": "sigil", "scope": "all"}, 422),
    ({"email": "a@example.com", "name": "x", "audience": "bad audience", "scope": "all"}, 422),
    ({"email": "a@example.com", "name": "x", "audience": "sigil", "scope": ["devices.fly"]}, 422),
    ({"email": "a@example.com", "name": "x", "audience": "sigil"}, 400),
    ({"email": "a@example.com", "name": "x", "audience": "sigil", "scope": "everything"}, 400),
    ({"email": "a@example.com", "name": "x", "audience": "sigil", "scope": "all", "status": "active"}, 400),
])
def test_add_refuses_bad_bodies(env, body, status):
    r = env.admin.post("/v1/members", body)
    assert r.status == status, r
    assert "message" in r.json


def test_every_route_needs_authentication(env):
    m = add(env)
    for method, path in [("GET", "/v1/members"), ("POST", "/v1/members"), ("GET", f"/v1/members/{m['id']}"),
                         ("PATCH", f"/v1/members/{m['id']}"), ("DELETE", f"/v1/members/{m['id']}"),
                         ("POST", f"/v1/members/{m['id']}/suspend"), ("POST", f"/v1/members/{m['id']}/activate")]:
        r = env.anonymous.request(method, path)
        assert r.status == 401 and r.json["error"] == "invalid_token", (method, path, r)


# ---- permissions and delegation -------------------------------------------------------------------


def test_a_token_without_members_permissions_gets_403_naming_the_permission(env):
    token, _ = cli_issue(env.home, "tokens only", "sigil", "--scope", "tokens.list,tokens.create,tokens.get",
                         "--never-expires")
    c = env.server.client(token)
    m = add(env)
    checks = [
        (c.get("/v1/members"), "members.list"),
        (c.post("/v1/members", {"email": email(), "name": "x", "audience": "sigil", "scope": "read-only"}),
         "members.create"),
        (c.get(f"/v1/members/{m['id']}"), "members.read"),
        (c.patch(f"/v1/members/{m['id']}", {"name": "y"}), "members.update"),
        (c.post(f"/v1/members/{m['id']}/suspend"), "members.update"),
        (c.post(f"/v1/members/{m['id']}/activate"), "members.update"),
        (c.delete(f"/v1/members/{m['id']}"), "members.delete"),
    ]
    for r, permission in checks:
        body = assert_error(r, 403, "insufficient_scope", "forbidden")
        assert body["scope"] == permission, (permission, body)
    assert env.admin.get(f"/v1/members/{m['id']}").json == m


def test_a_read_only_token_lists_and_reads_but_changes_nothing(env):
    token, _ = cli_issue(env.home, "reader", "sigil", "--read-only", "--never-expires")
    c = env.server.client(token)
    m = add(env)
    assert c.get("/v1/members").status == 200
    assert c.get(f"/v1/members/{m['id']}").status == 200
    assert_error(c.patch(f"/v1/members/{m['id']}", {"name": "y"}), 403, "insufficient_scope", "forbidden")
    assert_error(c.delete(f"/v1/members/{m['id']}"), 403, "insufficient_scope", "forbidden")


def test_nobody_adds_or_edits_a_member_with_more_than_they_hold(env):
    # A billing manager with members.* and some invoices rights, that never expires.
    token, _ = cli_issue(env.home, "billing people", "billing", "--scope",
                         "members.list,members.read,members.create,members.update,members.delete,invoices.get,invoices.list",
                         "--never-expires")
    c = env.server.client(token)
    # Wider audience, wider scope, a scope kind it does not hold: 403 naming what.
    r = c.post("/v1/members", {"email": email(), "name": "x", "audience": "sigil", "scope": ["invoices.get"]})
    assert assert_error(r, 403, "insufficient_scope", "forbidden")["scope"] == "audience sigil"
    for scope, what in [("all", "all"), ("read-only", "read-only"), (["invoices.pay"], "invoices.pay")]:
        r = c.post("/v1/members", {"email": email(), "name": "x", "audience": "billing", "scope": scope})
        assert assert_error(r, 403, "insufficient_scope", "forbidden")["scope"] == what, scope
    # Within its rights: fine, and it sees only its audience's members.
    m = add(env, client=c, audience="billing", scope=["invoices.get"])
    assert m["created_by_name"] == "billing people"
    listed = [x["id"] for x in c.get("/v1/members?limit=1000").json["members"]]
    assert m["id"] in listed
    assert all(x["audience"] == "billing" for x in c.get("/v1/members?limit=1000").json["members"])
    # Widening an existing member is refused too, and changes nothing.
    r = c.patch(f"/v1/members/{m['id']}", {"scope": ["invoices.get", "invoices.pay"]})
    assert assert_error(r, 403, "insufficient_scope", "forbidden")["scope"] == "invoices.pay"
    r = c.patch(f"/v1/members/{m['id']}", {"audience": "sigil"})
    assert_error(r, 403, "insufficient_scope", "forbidden")
    assert env.admin.get(f"/v1/members/{m['id']}").json["scope"] == ["invoices.get"]
    # A member of the organization is outside its reach: 404, as if it did not exist.
    org_member = add(env)
    assert_error(c.get(f"/v1/members/{org_member['id']}"), 404, "not_found", "not_found")
    assert_error(c.post(f"/v1/members/{org_member['id']}/suspend"), 404, "not_found", "not_found")
    assert org_member["id"] not in listed


def test_a_caller_that_expires_adds_no_member(env):
    # The conftest org token expires in a year; a member never expires.
    r = env.org.post("/v1/members", {"email": email(), "name": "x", "audience": "sigil", "scope": "read-only"})
    assert assert_error(r, 403, "insufficient_scope", "forbidden")["scope"] == "valid_to"


# ---- GET /v1/session and a member's session ----------------------------------------------------


def test_a_token_session_names_its_actor(env):
    r = env.admin.get("/v1/session")
    assert r.status == 200
    assert r.json["actor"] == f"token:{env.admin_guid}" and r.json["member"] is None
    assert "members.create" in r.json["permissions"]


def test_a_member_session_shows_the_person_and_acts_as_them(env):
    m = add(env, name="Katherine Johnson", audience="sigil", scope="all")
    s = member_session(env, m)
    r = s.request("GET", "/v1/session")
    assert r.status == 200, r
    me = r.json
    assert me["actor"] == f"member:{m['email']}"
    assert me["member"] == {"id": m["id"], "email": m["email"], "name": "Katherine Johnson"}
    assert me["csrf_token"] == s.csrf
    assert "members.list" in me["permissions"] and "tokens.create" in me["permissions"]
    # A token the member creates names the member as creator, by name; no parent.
    r = s.request("POST", "/v1/tokens", {"name": "by a person", "audience": "billing", "scope": "read-only"})
    assert r.status == 201, r
    row = r.json
    assert row["created_by"] == f"member:{m['email']}" and row["created_by_name"] == "Katherine Johnson"
    assert row["parent"] is None
    mine = s.request("GET", "/v1/tokens?created_by_me=true").json["tokens"]
    assert [t["guid"] for t in mine] == [row["guid"]]
    # The audit log names the person.
    events = env.admin.get(f"/v1/audit?guid={row['guid']}").json["events"]
    assert events[0]["actor"] == f"member:{m['email']}" and events[0]["actor_name"] == "Katherine Johnson"
    # A member added by this member shows its creator by name too.
    added = s.request("POST", "/v1/members", {"email": email(), "name": "New hire", "audience": "billing",
                                              "scope": "read-only"})
    assert added.status == 201, added
    assert added.json["created_by"] == f"member:{m['email']}"
    assert added.json["created_by_name"] == "Katherine Johnson"


def test_a_member_session_without_csrf_is_refused(env):
    m = add(env)
    s = member_session(env, m)
    r = env.server.client().request("POST", "/v1/tokens", json_body={"name": "x", "audience": "b", "scope": "all"},
                                    headers={"Cookie": f"sigil_session={s.id}"}, token=None)
    assert r.status == 403 and r.json["error"] == "csrf_failed", r


@pytest.mark.parametrize("how", ["suspend", "remove"])
def test_a_suspended_or_removed_members_session_ends_at_its_next_request(env, how):
    m = add(env)
    s = member_session(env, m)
    assert s.request("GET", "/v1/tokens?limit=1").status == 200
    if how == "suspend":
        assert env.admin.post(f"/v1/members/{m['id']}/suspend").status == 200
    else:
        assert env.admin.delete(f"/v1/members/{m['id']}").status == 204
    r = s.request("GET", "/v1/tokens?limit=1")
    assert r.status == 401 and r.json["error"] == "invalid_token", r
    # For good: activating the member does not bring the session back.
    if how == "suspend":
        assert env.admin.post(f"/v1/members/{m['id']}/activate").status == 200
    assert s.request("GET", "/v1/session").status == 401


def test_a_member_cannot_widen_itself(env):
    m = add(env, audience="billing", scope=["members.update", "members.read", "invoices.get"])
    s = member_session(env, m)
    r = s.request("PATCH", f"/v1/members/{m['id']}", {"scope": "all"})
    assert r.status == 403 and r.json["error"] == "insufficient_scope", r
    assert env.admin.get(f"/v1/members/{m['id']}").json["scope"] == ["invoices.get", "members.read", "members.update"]


# ---- the CLI through the server: sigil members … --server ------------------------------------


def sigil_remote(env, token, *args):
    """`sigil --server URL --token-file F ARGS`, without a home (remote mode)."""
    token_file = env.root / f"members-{uuid.uuid4().hex[:8]}.token"
    token_file.write_text(token + "\n")
    os.chmod(token_file, 0o600)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
    r = subprocess.run(
        [SIGIL_BIN, "--server", f"http://127.0.0.1:{env.server.port}", "--token-file", str(token_file), *args],
        capture_output=True, text=True, env=full_env, stdin=subprocess.DEVNULL, timeout=60)
    assert token not in r.stdout and token not in r.stderr, "a token reached the CLI's output"
    return r


def test_sigil_members_through_the_server(env):
    address = email()
    r = sigil_remote(env, env.admin_token, "--json", "members", "add", "--email", address, "--name", "Remote Ada",
                     "--audience", "billing", "--read-only")
    assert r.returncode == 0, r.stderr
    added = json.loads(r.stdout)
    assert added["email"] == address and added["created_by"] == f"token:{env.admin_guid}"
    shown = json.loads(sigil_remote(env, env.admin_token, "--json", "members", "show", address).stdout)
    assert shown["id"] == added["id"]
    listed = json.loads(sigil_remote(env, env.admin_token, "--json", "members", "list", "--status", "active").stdout)
    assert added["id"] in [m["id"] for m in listed]
    edited = sigil_remote(env, env.admin_token, "--json", "members", "edit", added["id"], "--name", "Remote Ada K")
    assert edited.returncode == 0 and json.loads(edited.stdout)["name"] == "Remote Ada K", edited.stderr
    suspended = sigil_remote(env, env.admin_token, "--json", "members", "suspend", address, "--cascade")
    assert suspended.returncode == 0, suspended.stderr
    assert env.admin.get(f"/v1/members/{added['id']}").json["status"] == "suspended"
    assert sigil_remote(env, env.admin_token, "members", "activate", address).returncode == 0
    assert env.admin.get(f"/v1/members/{added['id']}").json["status"] == "active"
    # The server's refusals exit as they would on the issuer host (the one error table).
    twin = sigil_remote(env, env.admin_token, "members", "add", "--email", address.upper(), "--name", "Twin",
                        "--audience", "billing", "--read-only")
    assert twin.returncode == 65, (twin.returncode, twin.stderr)  # conflict
    reader, _ = cli_issue(env.home, "remote reader", "sigil", "--read-only", "--never-expires")
    refused = sigil_remote(env, reader, "members", "remove", address)
    assert refused.returncode == 77, (refused.returncode, refused.stderr)  # forbidden
    assert sigil_remote(env, env.admin_token, "members", "remove", address).returncode == 0
    assert env.admin.get(f"/v1/members/{added['id']}").status == 404
    gone = sigil_remote(env, env.admin_token, "members", "show", added["id"])
    assert gone.returncode == 66, (gone.returncode, gone.stderr)  # not found
