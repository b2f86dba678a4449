"""The /v1/tokens routes: every route, its answer and its error statuses."""

import json
import time
import uuid

from conftest import cli_issue, run_cli

ROW_KEYS = {
    "audience", "created_at", "created_by", "deleted", "description", "expires", "guid", "kid", "name",
    "revoked_at", "scope", "status", "updated_at", "valid_from", "valid_to", "parent",
}


def assert_api_headers(r):
    assert r.header("Cache-Control") == "no-store", r.headers
    assert r.header("Content-Type").startswith("application/json")


def test_health_needs_no_token(env):
    r = env.anonymous.get("/v1/health")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert_api_headers(r)


def test_create_answers_the_token_once_and_the_row(env):
    r = env.org.post("/v1/tokens", {"name": "billing deploy", "description": "CI", "audience": "billing",
                                    "scope": ["invoices.*"]})
    assert r.status == 201, r
    assert_api_headers(r)
    body = r.json
    assert body["token"].startswith("sgl_")
    # created_by_name: the creating token's name (docs/API.md "Token rows").
    assert set(body) == ROW_KEYS | {"token", "created_by_name"}
    assert body["created_by_name"] == "org admin"
    assert body["scope"] == ["invoices.get", "invoices.list", "invoices.pay"]
    assert body["parent"] == env.org_guid
    assert body["created_by"] == f"token:{env.org_guid}"
    assert r.header("Location") == f"/v1/tokens/{body['guid']}"
    # Default expiry: one year, capped at the caller's own expiry (the org token was issued a
    # moment earlier with a one-year default, so the cap can take a second or two off).
    org = env.org.get(f"/v1/tokens/{env.org_guid}").json
    assert body["valid_to"] == min(body["valid_from"] + 365 * 86400, org["valid_to"])
    assert body["valid_to"] - body["valid_from"] > 365 * 86400 - 60
    # The token is shown once: never in a later answer.
    again = env.org.get(f"/v1/tokens/{body['guid']}")
    assert "token" not in again.json and b"sgl_" not in again.body


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_create_never_expiring_and_explicit_window(env):
    # The bootstrap token expires in a year, so only a never-expiring one may grant "never".
    forever_token, _ = cli_issue(env.home, "org forever", "sigil", "--all", "--never-expires")
    _, never = env.create(name="forever", valid_to=None, client=env.org.with_token(forever_token))
    assert never["valid_to"] is None and never["expires"] == "never"
    start = (int(time.time()) // 86400 + 2) * 86400
    _, windowed = env.create(name="window", valid_from=rfc3339(start), valid_to=rfc3339(start + 86400))
    assert windowed["valid_from"] == start and windowed["valid_to"] == start + 86400


def test_rows_have_the_cli_list_json_keys(env):
    _, row = env.create(name="same keys")
    cli_rows = json.loads(run_cli(env.home, "list", "--json").stdout)
    cli_row = next(r for r in cli_rows if r["guid"] == row["guid"])
    assert set(row) - {"parent", "created_by_name"} == set(cli_row)
    for key in cli_row:
        assert row[key] == cli_row[key], key


def test_list_filters_sorts_and_pages(env):
    names = [f"page item {i:02d}" for i in range(7)]
    guids = [env.create(name=n, audience="paging")[1]["guid"] for n in names]
    r = env.org.get("/v1/tokens?audience=paging&limit=3")
    assert r.status == 200
    assert_api_headers(r)
    page1 = r.json
    assert [t["guid"] for t in page1["tokens"]] == guids[:3]
    assert page1["next_cursor"]
    page2 = env.org.get(f"/v1/tokens?audience=paging&limit=3&cursor={page1['next_cursor']}").json
    page3 = env.org.get(f"/v1/tokens?audience=paging&limit=3&cursor={page2['next_cursor']}").json
    assert [t["guid"] for t in page2["tokens"] + page3["tokens"]] == guids[3:]
    assert page3["next_cursor"] is None
    by_name = env.org.get("/v1/tokens?audience=paging&sort=name&name=item+06").json["tokens"]
    assert [t["name"] for t in by_name] == ["page item 06"]
    by_prefix = env.org.get(f"/v1/tokens?guid={guids[0][:8]}").json["tokens"]
    assert [t["guid"] for t in by_prefix] == [guids[0]]
    env.org.post(f"/v1/tokens/{guids[1]}/deactivate")
    inactive = env.org.get("/v1/tokens?audience=paging&status=inactive").json["tokens"]
    assert [t["guid"] for t in inactive] == [guids[1]]
    scoped = env.org.get("/v1/tokens?audience=paging&scope=all").json["tokens"]
    assert len(scoped) == 7


def test_list_by_granted_permission(env):
    # Regression: a resource.action scope filter once built broken SQL (a 500 here, exit 65 in the CLI).
    grants = [env.create(name=n, audience="grants", scope=s)[1]["guid"]
              for n, s in [("everything", "all"), ("reader", "read-only"), ("lister", ["devices.list"])]]
    env.create(name="inviter", audience="grants", scope=["users.invite"])
    r = env.org.get("/v1/tokens?audience=grants&scope=devices.list")
    assert r.status == 200, r
    assert [t["guid"] for t in r.json["tokens"]] == grants
    writers = env.org.get("/v1/tokens?audience=grants&scope=devices.create").json["tokens"]
    assert [t["name"] for t in writers] == ["everything"]


def test_list_refuses_bad_query_values(env):
    for query in ["limit=0", "limit=1001", "limit=x", "sort=size", "status=gone", "cursor=-1", "cursor=abc",
                  "name=+", "scope=not%20a%20pair", "guid=xyz", "limit=1&limit=2"]:
        r = env.org.get(f"/v1/tokens?{query}")
        assert r.status == 400, (query, r)
        assert r.json["error"] == "bad_request"


def test_get_unknown_and_bad_guid(env):
    r = env.org.get(f"/v1/tokens/{uuid.uuid4()}")
    assert r.status == 404 and r.json["error"] == "not_found"
    for bad in ["abc", "12345678", "sgl_notaguid"]:
        r = env.org.get(f"/v1/tokens/{bad}")
        assert r.status == 400 and r.json["error"] == "bad_request", bad
        assert b"sgl_" not in r.body  # never echoed


def test_patch_renames_and_seals_everything_else(env):
    _, row = env.create(name="old name")
    r = env.org.patch(f"/v1/tokens/{row['guid']}", {"name": "new name", "description": "now described"})
    assert r.status == 200, r
    assert r.json["name"] == "new name" and r.json["description"] == "now described"
    for field in [{"scope": "all"}, {"audience": "other"}, {"valid_to": None}, {"name": "x", "status": "revoked"}]:
        r = env.org.patch(f"/v1/tokens/{row['guid']}", field)
        assert r.status == 422 and r.json["error"] == "sealed_field", (field, r)
    for body in [{"description": None}, {"name": None}, {"name": 3}]:
        r = env.org.patch(f"/v1/tokens/{row['guid']}", body)
        assert r.status == 400 and r.json["error"] == "bad_request", (body, r)
    r = env.org.patch(f"/v1/tokens/{row['guid']}", {"name": "bad\u202ename"})
    assert r.status == 422 and r.json["error"] == "invalid_input"
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["name"] == "new name"


def test_lifecycle_routes(env):
    _, row = env.create(name="lifecycle")
    path = f"/v1/tokens/{row['guid']}"
    r = env.org.post(path + "/deactivate")
    assert r.status == 200 and r.json["status"] == "inactive"
    assert_api_headers(r)
    r = env.org.post(path + "/activate", {})
    assert r.status == 200 and r.json["status"] == "active"
    r = env.org.post(path + "/revoke")
    assert r.status == 200 and r.json["status"] == "revoked" and r.json["revoked_at"]
    r = env.org.post(path + "/activate")
    assert r.status == 409 and r.json["error"] == "conflict"
    r = env.org.delete(path)
    assert r.status == 200 and r.json["deleted"] is True
    assert env.org.get(path).status == 404
    assert row["guid"] not in [t["guid"] for t in env.org.get("/v1/tokens?limit=1000").json["tokens"]]


def test_revoke_cascade_revokes_what_the_token_created(env):
    parent_token, parent = env.create(name="parent", audience="sigil", scope="all")
    _, child = env.create(name="child", client=env.org.with_token(parent_token))
    assert child["parent"] == parent["guid"]
    r = env.org.post(f"/v1/tokens/{parent['guid']}/revoke", {"cascade": True})
    assert r.status == 200
    assert env.org.get(f"/v1/tokens/{child['guid']}").json["status"] == "revoked"
    r = env.org.post(f"/v1/tokens/{parent['guid']}/deactivate", {"cascade": True})
    assert r.status == 400


def test_bulk_is_all_or_nothing(env):
    rows = [env.create(name=f"bulk {i}")[1] for i in range(3)]
    guids = [r["guid"] for r in rows]
    r = env.org.post("/v1/tokens/bulk", {"action": "deactivate", "guids": guids})
    assert r.status == 200, r
    assert r.json == {"action": "deactivate", "count": 3, "guids": guids}
    env.org.post(f"/v1/tokens/{guids[0]}/revoke")
    # One revoked token makes the whole activate fail; nothing changes.
    r = env.org.post("/v1/tokens/bulk", {"action": "activate", "guids": guids})
    assert r.status == 409
    assert [env.org.get(f"/v1/tokens/{g}").json["status"] for g in guids] == ["revoked", "inactive", "inactive"]
    r = env.org.post("/v1/tokens/bulk", {"action": "revoke", "guids": guids[1:] + [str(uuid.uuid4())]})
    assert r.status == 404
    assert env.org.get(f"/v1/tokens/{guids[1]}").json["status"] == "inactive"
    r = env.org.post("/v1/tokens/bulk", {"action": "revoke", "guids": guids})
    assert r.status == 200 and r.json["count"] == 2
    for body in [{"action": "explode", "guids": guids}, {"action": "revoke", "guids": []},
                 {"action": "revoke", "guids": ["nope"]}, {"action": "revoke"}, {"guids": guids}]:
        assert env.org.post("/v1/tokens/bulk", body).status == 400, body


def test_malformed_bodies_are_400(env):
    for body in [b"{", b"[]", b'{"name": 5, "audience": "a", "scope": "all"}', b'"text"',
                 b'{"name": "x", "audience": "a", "scope": "everything"}',
                 b'{"name": "x", "audience": "a", "scope": "all", "expires": "2030-01-01T00:00:00Z"}',
                 b'{"name": "x", "audience": "a", "scope": "all", "valid_to": "next year"}',
                 b'{"audience": "a", "scope": "all"}']:
        r = env.org.request("POST", "/v1/tokens", body=body, headers={"Content-Type": "application/json"})
        assert r.status == 400 and r.json["error"] == "bad_request", (body, r)
    r = env.org.request("POST", "/v1/tokens", headers={"Content-Type": "application/json"})
    assert r.status == 400


def test_invalid_input_is_422(env):
    for body in [{"name": " ", "audience": "billing", "scope": "all"},
                 {"name": "x\u200by", "audience": "billing", "scope": "all"},
                 {"name": "x", "audience": "bad audience!", "scope": "all"},
                 {"name": "x", "audience": "billing", "scope": ["nothing.known"]},
                 {"name": "x", "audience": "billing", "scope": ["devices"]},
                 {"name": "x", "audience": "billing", "scope": "all", "valid_to": "2001-01-01T00:00:00Z"},
                 {"name": "x", "audience": "billing", "scope": "all",
                  "valid_from": rfc3339(time.time() + 20 * 86400), "valid_to": rfc3339(time.time() + 10 * 86400)}]:
        r = env.org.post("/v1/tokens", body)
        assert r.status == 422 and r.json["error"] == "invalid_input", (body, r)


def test_body_over_64_kib_is_413(env):
    body = json.dumps({"name": "x", "audience": "billing", "scope": "all", "description": "d" * 70_000}).encode()
    r = env.org.request("POST", "/v1/tokens", body=body, headers={"Content-Type": "application/json"})
    assert r.status == 413 and r.json["error"] == "too_large"


def test_body_that_is_not_json_is_415(env):
    r = env.org.request("POST", "/v1/tokens", body=b"name=x", headers={"Content-Type": "text/plain"})
    assert r.status == 415 and r.json["error"] == "unsupported_media_type"
    _, row = env.create(name="415")
    r = env.org.request("POST", f"/v1/tokens/{row['guid']}/revoke", body=b"cascade",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 415
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["status"] == "active"
    r = env.org.request("PATCH", f"/v1/tokens/{row['guid']}", body=b'{"name": "y"}')
    assert r.status == 415


def test_unknown_routes_and_methods(env):
    r = env.org.get("/v1/nothing")
    assert r.status == 404 and r.json["error"] == "not_found"
    r = env.org.request("PUT", "/v1/tokens")
    assert r.status == 405 and r.header("Allow") == "GET, POST"
    assert r.header("Cache-Control") == "no-store"


def test_openapi_is_served_without_a_token_byte_for_byte(env):
    r = env.anonymous.get("/v1/openapi.yaml")
    assert r.status == 200
    assert r.header("Cache-Control") == "no-store"
    from conftest import ROOT
    assert r.body == (ROOT / "docs/openapi.yaml").read_bytes()


def test_catalog_for_any_valid_token(env):
    reader, _ = env.create(name="reader", audience="devices", scope=["devices.list"])
    r = env.org.with_token(reader).get("/v1/catalog")
    assert r.status == 200
    resources = r.json["resources"]
    assert resources["devices"]["list"] == "read" and resources["devices"]["create"] == "write"
    assert resources["tokens"]["create"] == "write" and resources["audit"]["list"] == "read"
    assert env.anonymous.get("/v1/catalog").status == 401
