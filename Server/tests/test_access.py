"""Who may do what: delegation, audience reach, permissions, authentication, the audit log."""

import time

import pytest

from conftest import cli_issue

# Every caller expires in 30 days, so "inside" is 10 days, "outside" 60, "never" null.
CALLERS = {
    "all": ["--all"],
    "read-only": ["--read-only"],
    "custom": ["--scope", "tokens.create", "--scope", "devices.list", "--scope", "devices.get"],
}
REQUESTS = {
    "all": "all",
    "read-only": "read-only",
    "custom-subset": ["devices.list"],
    "custom-wider": ["devices.list", "users.list"],
    "read-pairs": ["devices.list", "devices.get"],
    "write-pairs": ["devices.create"],
}
WINDOWS = {"inside": 10 * 86400, "outside": 60 * 86400, "never": None}

# Which requested scopes each caller's scope covers (read-only lacks tokens.create altogether).
COVERS = {
    "all": set(REQUESTS),
    "read-only": set(),
    "custom": {"custom-subset", "read-pairs"},
}


@pytest.fixture(scope="module")
def callers(env):
    return {
        kind: cli_issue(env.home, f"caller {kind}", "sigil", *args, "--expires-in", "30d")[0]
        for kind, args in CALLERS.items()
    }


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("requested", list(REQUESTS))
@pytest.mark.parametrize("caller", list(CALLERS))
def test_delegation_table(env, callers, caller, requested, window):
    body = {"name": f"{caller} {requested} {window}", "audience": "billing", "scope": REQUESTS[requested]}
    seconds = WINDOWS[window]
    body["valid_to"] = None if seconds is None else rfc3339(int(time.time()) + seconds)
    r = env.org.with_token(callers[caller]).post("/v1/tokens", body)
    allowed = requested in COVERS[caller] and window == "inside"
    assert r.status == (201 if allowed else 403), r
    if not allowed:
        assert r.json["error"] == "insufficient_scope"
        assert r.json["scope"]  # names what was too wide
        assert r.json["message"]


def test_default_expiry_is_capped_at_the_callers(env, callers):
    r = env.org.with_token(callers["all"]).post("/v1/tokens", {"name": "capped", "audience": "x", "scope": "all"})
    assert r.status == 201
    assert r.json["valid_to"] - r.json["created_at"] <= 30 * 86400


def test_audience_reach(env):
    billing_token, billing = env.create(name="billing admin", audience="billing", scope="all")
    _, payments = env.create(name="payments svc", audience="payments", scope="all")
    _, billing_child = env.create(name="billing svc", audience="billing", scope="read-only")
    billing_client = env.org.with_token(billing_token)
    # A billing token neither sees nor manages a payments token: 404, as if it did not exist.
    assert billing_client.get(f"/v1/tokens/{payments['guid']}").status == 404
    assert billing_client.post(f"/v1/tokens/{payments['guid']}/deactivate").status == 404
    assert billing_client.patch(f"/v1/tokens/{payments['guid']}", {"name": "mine"}).status == 404
    assert billing_client.delete(f"/v1/tokens/{payments['guid']}").status == 404
    r = billing_client.post("/v1/tokens/bulk", {"action": "revoke", "guids": [billing_child["guid"], payments["guid"]]})
    assert r.status == 404
    assert env.org.get(f"/v1/tokens/{billing_child['guid']}").json["status"] == "active"
    listed = billing_client.get("/v1/tokens?limit=1000").json["tokens"]
    assert listed and {t["audience"] for t in listed} == {"billing"}
    assert billing_client.get("/v1/tokens?audience=payments").json["tokens"] == []
    r = billing_client.post("/v1/tokens", {"name": "x", "audience": "payments", "scope": "read-only"})
    assert r.status == 403 and r.json["error"] == "insufficient_scope"
    # Its own audience it manages.
    assert billing_client.post(f"/v1/tokens/{billing_child['guid']}/deactivate").status == 200
    # The org token reaches both.
    assert env.org.get(f"/v1/tokens/{payments['guid']}").status == 200
    assert env.org.get(f"/v1/tokens/{billing['guid']}").status == 200
    audiences = {t["audience"] for t in env.org.get("/v1/tokens?limit=1000").json["tokens"]}
    assert {"billing", "payments", "sigil"} <= audiences


def test_permissions_per_route(env):
    reader, _ = env.create(name="token reader", audience="sigil", scope=["tokens.list", "tokens.get"])
    client = env.org.with_token(reader)
    _, target = env.create(name="target")
    assert client.get("/v1/tokens").status == 200
    assert client.get(f"/v1/tokens/{target['guid']}").status == 200
    for method, path, body in [
        ("POST", "/v1/tokens", {"name": "x", "audience": "a", "scope": "read-only"}),
        ("PATCH", f"/v1/tokens/{target['guid']}", {"name": "y"}),
        ("POST", f"/v1/tokens/{target['guid']}/deactivate", None),
        ("POST", f"/v1/tokens/{target['guid']}/activate", None),
        ("POST", f"/v1/tokens/{target['guid']}/revoke", None),
        ("DELETE", f"/v1/tokens/{target['guid']}", None),
        ("POST", "/v1/tokens/bulk", {"action": "revoke", "guids": [target["guid"]]}),
        ("GET", "/v1/audit", None),
    ]:
        r = client.request(method, path, json_body=body)
        assert r.status == 403 and r.json["error"] == "insufficient_scope", (method, path, r)
    r = client.get("/v1/audit")
    assert r.json["scope"] == "audit.list"


def test_missing_and_invalid_tokens_are_401(env):
    r = env.anonymous.get("/v1/tokens")
    assert r.status == 401 and r.json["error"] == "invalid_token" and r.json["reason"] == "missing_token"
    assert r.header("WWW-Authenticate").startswith("Bearer")
    assert r.header("Cache-Control") == "no-store"
    r = env.org.with_token("sgl_not-a-real-token").get("/v1/tokens")
    assert r.status == 401 and r.json["reason"] == "malformed"
    assert r.header("WWW-Authenticate") == 'Bearer error="invalid_token", error_description="malformed"'
    assert b"sgl_" not in r.body
    # A token altered in one character fails its MAC.
    token, _ = env.create(name="to alter", audience="sigil")
    altered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    r = env.org.with_token(altered).get("/v1/tokens")
    assert r.status == 401 and r.json["reason"] in {"bad_signature", "malformed"}
    r = env.org.request("GET", "/v1/tokens", token=None, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status == 401


def test_a_revoked_caller_is_refused_on_its_next_request(env):
    token, row = env.create(name="soon revoked", audience="sigil", scope="all")
    client = env.org.with_token(token)
    assert client.get("/v1/tokens?limit=1").status == 200
    assert env.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
    r = client.get("/v1/tokens?limit=1")
    assert r.status == 401 and r.json["reason"] == "revoked"
    assert 'error_description="revoked"' in r.header("WWW-Authenticate")


def test_a_caller_revoked_through_the_cli_is_refused_at_once(env):
    token, row = env.create(name="cli revoked", audience="sigil", scope="all")
    client = env.org.with_token(token)
    assert client.get("/v1/catalog").status == 200
    env.cli("revoke", row["guid"], "--yes")
    r = client.get("/v1/catalog")
    assert r.status == 401 and r.json["reason"] == "revoked"


def test_a_deactivated_caller_is_refused_until_activated(env):
    token, row = env.create(name="paused", audience="sigil", scope="all")
    client = env.org.with_token(token)
    env.cli("deactivate", row["guid"])
    r = client.get("/v1/catalog")
    assert r.status == 401 and r.json["reason"] == "deactivated"
    env.cli("activate", row["guid"])
    assert client.get("/v1/catalog").status == 200


def test_the_server_sees_cli_changes(env):
    _, guid = cli_issue(env.home, "made by the cli", "billing", "--read-only")
    r = env.org.get(f"/v1/tokens/{guid}")
    assert r.status == 200 and r.json["created_by"] != f"token:{env.org_guid}"
    env.cli("edit", guid, "--name", "renamed by the cli")
    assert env.org.get(f"/v1/tokens/{guid}").json["name"] == "renamed by the cli"


def test_audit_log(env):
    _, row = env.create(name="audited")
    env.org.patch(f"/v1/tokens/{row['guid']}", {"name": "audited 2"})
    r = env.org.get(f"/v1/audit?guid={row['guid']}")
    assert r.status == 200, r
    events = r.json["events"]
    assert [e["action"] for e in events] == ["edit", "issue"]
    assert events[0]["actor"] == f"token:{env.org_guid}"
    assert events[0]["guids"] == [row["guid"]]
    assert events[0]["details"]["name"] == "audited 2"
    assert set(events[0]) == {"at", "actor", "actor_name", "action", "guids", "details"}
    assert events[0]["actor_name"] == "org admin"
    page = env.org.get("/v1/audit?limit=2").json
    assert len(page["events"]) == 2 and page["next_cursor"]
    nxt = env.org.get(f"/v1/audit?limit=2&cursor={page['next_cursor']}").json
    assert nxt["events"] and nxt["events"][0] != page["events"][0]
    issues = env.org.get(f"/v1/audit?action=issue&actor=token:{env.org_guid}&since=2020-01-01T00:00:00Z").json
    assert issues["events"] and all(e["action"] == "issue" for e in issues["events"])
    for query in ["action=explode", "since=yesterday", "guid=abc", "actor=bad%20actor", "limit=0"]:
        r = env.org.get(f"/v1/audit?{query}")
        assert r.status == 400 and r.json["error"] == "bad_request", query


def test_audit_log_outside_the_org_is_limited_to_the_callers_audience(env):
    token, _ = env.create(name="billing auditor", audience="billing", scope="all")
    _, payments = env.create(name="payments hidden", audience="payments")
    events = env.org.with_token(token).get("/v1/audit?limit=1000").json["events"]
    assert events
    assert all(payments["guid"] not in e["guids"] for e in events)
