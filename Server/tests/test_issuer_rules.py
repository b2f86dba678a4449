"""Issuer rules of hardening round 3 (#20 items 7, 9, 13) through a real sigil-server.

The rules live in SigilIssuer; these tests check the API answers them as documented in docs/API.md.
"""

import subprocess
import time

from conftest import SERVER_BIN, cli_issue


def test_a_child_may_not_change_its_parent(env):
    """#20 item 7: a child re-activated, revoked and renamed the parent that created it."""
    parent_token, parent = env.create(name="ancestor parent", audience="family", scope="all")
    parent_client = env.org.with_token(parent_token)
    child_token, child = env.create(name="ancestor child", audience="family", client=parent_client)
    child_client = env.org.with_token(child_token)
    _, grandchild = env.create(name="ancestor grandchild", audience="family", client=child_client)

    r = env.org.post(f"/v1/tokens/{parent['guid']}/deactivate")
    assert r.status == 200, r
    for method, path, body in [
        ("POST", f"/v1/tokens/{parent['guid']}/activate", None),
        ("POST", f"/v1/tokens/{parent['guid']}/revoke", None),
        ("DELETE", f"/v1/tokens/{parent['guid']}", None),
        ("PATCH", f"/v1/tokens/{parent['guid']}", {"name": "mine now"}),
        ("POST", "/v1/tokens/bulk", {"action": "revoke", "guids": [grandchild["guid"], parent["guid"]]}),
    ]:
        r = child_client.request(method, path, json_body=body)
        assert r.status == 403, (method, path, r)
        assert r.json["error"] == "insufficient_scope" and r.json["scope"] == "ancestor", r
    row = env.org.get(f"/v1/tokens/{parent['guid']}").json
    assert row["status"] == "inactive" and row["name"] == "ancestor parent"
    assert env.org.get(f"/v1/tokens/{grandchild['guid']}").json["status"] == "active", "all or nothing"

    # Itself and its descendants stay its own to change.
    r = child_client.patch(f"/v1/tokens/{child['guid']}", {"name": "ancestor child renamed"})
    assert r.status == 200 and r.json["name"] == "ancestor child renamed", r
    r = child_client.post(f"/v1/tokens/{grandchild['guid']}/revoke")
    assert r.status == 200 and r.json["status"] == "revoked", r


def test_only_revoke_cascades(env):
    """#21: cascade is decided once (revoke only); the API refuses it elsewhere, as the CLI does."""
    _, row = env.create(name="cascade rule", audience="family")
    for method, path, body in [
        ("POST", f"/v1/tokens/{row['guid']}/deactivate", {"cascade": True}),
        ("POST", f"/v1/tokens/{row['guid']}/activate", {"cascade": True}),
        ("DELETE", f"/v1/tokens/{row['guid']}", {"cascade": True}),
        ("POST", "/v1/tokens/bulk", {"action": "delete", "guids": [row["guid"]], "cascade": True}),
    ]:
        r = env.org.request(method, path, json_body=body)
        assert r.status == 400 and "cascade applies to revoke only" in r.json["message"], (method, path, r)
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["status"] == "active"


def test_a_token_pasted_into_scope_is_not_echoed(env):
    """#20 item 13b: a 422 echoed a token pasted into scope."""
    pasted, _ = env.create(name="pasted by mistake", audience="billing")
    for scope in [[pasted], [pasted + ".*"], ["invoices.list", pasted]]:
        r = env.org.post("/v1/tokens", {"name": "x", "audience": "billing", "scope": scope})
        assert r.status == 422, r
        assert "sgl_" not in r.body.decode() and pasted not in r.body.decode(), r
        assert "looks like a token" in r.json["message"], r


def test_an_empty_patch_writes_no_event(env):
    """#20 item 13c: PATCH {} wrote an edit event."""
    _, row = env.create(name="untouched", audience="billing", description="words")
    before = env.org.get(f"/v1/audit?guid={row['guid']}").json["events"]
    for body in [{}, {"name": "untouched"}, {"description": "words"}]:
        r = env.org.patch(f"/v1/tokens/{row['guid']}", body)
        assert r.status == 200, r
        assert r.json == row, "answered unchanged"
    assert env.org.get(f"/v1/audit?guid={row['guid']}").json["events"] == before
    r = env.org.patch(f"/v1/tokens/{row['guid']}", {"name": "touched"})
    assert r.status == 200 and r.json["name"] == "touched"
    events = env.org.get(f"/v1/audit?guid={row['guid']}&action=edit").json["events"]
    assert len(events) == 1 and events[0]["details"] == {"name": "touched"}, events


def test_a_child_may_not_start_before_its_parent(env):
    """#20 item 13d: a child's valid_from could precede its parent's (a backdated child)."""
    parent_token, parent = env.create(name="parent starting now", audience="billing")
    r = env.org.with_token(parent_token).post(
        "/v1/tokens", {"name": "backdated child", "audience": "billing", "scope": "all",
                       "valid_from": "2020-01-01T00:00:00Z"})
    assert r.status == 403 and r.json["scope"] == "valid_from", r
    earliest = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(parent["valid_from"]))
    assert f"the earliest allowed is {earliest}" in r.json["message"], r
    r = env.org.with_token(parent_token).post(
        "/v1/tokens", {"name": "child starting with it", "audience": "billing", "scope": "all",
                       "valid_from": earliest})
    assert r.status == 201 and r.json["valid_from"] == parent["valid_from"], r


def test_server_refuses_a_keyword_database_without_printing_it(tmp_root):
    """#20 item 9: sigil-server takes the same --database rule as the CLI (exit 64, no password shown)."""
    home = tmp_root / "home"
    cli_issue(home, "org admin", "sigil", "--all")
    for args, env in [
        (["--database", "host=127.0.0.1 port=1 password=PW"], {}),
        ([], {"SIGIL_DATABASE": "dbname=sigil password=PW"}),
    ]:
        r = subprocess.run([SERVER_BIN, "--home", str(home), "--port", "0", *args], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=30, cwd=tmp_root,
                           env={"PATH": "/usr/bin:/bin", **env})
        assert r.returncode == 64, r
        assert "PW" not in r.stdout + r.stderr and "keyword string" in r.stderr, r
    assert sorted(p.name for p in tmp_root.iterdir()) == ["home"], "no file named after the password"
