"""Unknown input is refused, not ignored (#20 items 11 and 13): unknown body fields, duplicate
JSON keys and unknown query parameters are 400 naming them, on every route; console files
carry `Cache-Control: no-store` as docs/API.md promises."""

import pytest

from conftest import cli_issue

GUID = "00000000-0000-4000-8000-000000000000"


def post_raw(client, path, raw):
    return client.request("POST", path, body=raw.encode(), headers={"Content-Type": "application/json"})


def test_revoke_by_token_refuses_cascade(env):
    token, row = env.create("revoke me by token")
    r = env.org.post("/v1/tokens/revoke-by-token", {"token": token, "cascade": True})
    assert r.status == 400, r
    assert r.json["error"] == "bad_request" and "unknown field cascade" in r.json["message"]
    assert "sgl_" not in r.body.decode()
    # Nothing was revoked by the refused request.
    assert env.org.get(f"/v1/tokens/{row['guid']}").json["status"] == "active"
    assert env.org.post("/v1/tokens/revoke-by-token", {"token": token}).status == 200


@pytest.mark.parametrize("method, path, raw", [
    ("POST", "/v1/tokens", '{"name": "a", "name": "b", "audience": "billing", "scope": "all"}'),
    ("POST", "/v1/tokens/bulk", '{"action": "revoke", "guids": ["%s"], "action": "delete"}' % GUID),
    ("POST", "/v1/tokens/revoke-by-token", '{"token": "x", "token": "y"}'),
    ("POST", "/v1/session", '{"token": "x", "token": "y"}'),
    ("POST", f"/v1/tokens/{GUID}/revoke", '{"cascade": false, "cascade": true}'),
    ("PATCH", f"/v1/tokens/{GUID}", '{"name": "a", "na\\u006de": "b"}'),
])
def test_duplicate_json_keys_are_400(env, method, path, raw):
    r = env.org.request(method, path, body=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    assert r.json["error"] == "bad_request" and "twice" in r.json["message"], r.json


def test_duplicate_keys_in_nested_objects_and_arrays(env):
    r = post_raw(env.org, "/v1/tokens", '{"name": "n", "audience": "billing", "scope": [{"a": 1, "a": 2}]}')
    assert r.status == 400 and "the field a twice" in r.json["message"], r
    # Equal keys in different objects are fine; so is a key equal to a value.
    r = post_raw(env.org, "/v1/tokens", '{"name": "name", "audience": "billing", "scope": "all"}')
    assert r.status == 201, r


def test_a_quoted_key_inside_a_value_is_not_a_key(env):
    # The value holds `", "name": "` escaped: one name, not two.
    r = post_raw(env.org, "/v1/tokens", r'{"name": "x\", \"name\": \"y", "audience": "billing", "scope": "all"}')
    assert r.status == 201 and r.json["name"] == 'x", "name": "y', r
    # A value ending in an escaped backslash ends at the quote after it: the next key is seen.
    r = post_raw(env.org, "/v1/tokens",
                 r'{"description": "a\\", "name": "b", "name": "c", "audience": "billing", "scope": "all"}')
    assert r.status == 400 and "the field name twice" in r.json["message"], r


@pytest.mark.parametrize("content_type, status", [
    ("application/json", 201),
    ("Application/JSON; charset=utf-8", 201),
    ("application/json ;charset=utf-8", 201),
    ("APPLICATION/JSON", 201),
    ("application/jsonp", 415),
    ("text/json", 415),
    ("application/json-patch+json", 415),
    ("application/xml; x=application/json", 415),
])
def test_content_type_is_json_in_any_case(env, content_type, status):
    raw = '{"name": "typed", "audience": "billing", "scope": "all"}'
    r = env.org.request("POST", "/v1/tokens", body=raw.encode(), headers={"Content-Type": content_type})
    assert r.status == status, (content_type, r)
    if status == 415:
        assert r.json["error"] == "unsupported_media_type", r.json


@pytest.mark.parametrize("scope, message", [
    ('5', "scope has the wrong type"),
    ('null', "scope must not be null"),
    ('{"tokens": "read"}', "scope has the wrong type"),
    ('["tokens.read", 5]', "scope has the wrong type"),
    ('"everything"', 'scope must be "all", "read-only" or an array of resource.action'),
])
def test_a_wrong_scope_says_what_is_wrong(env, scope, message):
    r = post_raw(env.org, "/v1/tokens", '{"name": "s", "audience": "billing", "scope": %s}' % scope)
    assert r.status == 400 and r.json["message"] == message, r


def test_each_form_of_scope_is_taken(env):
    r = post_raw(env.org, "/v1/tokens", '{"name": "s", "audience": "billing"}')
    assert r.status == 400 and r.json["message"] == "scope is required", r
    for scope, expected in (('"all"', "all"), ('"read-only"', "read-only"), ('["invoices.get"]', ["invoices.get"])):
        r = post_raw(env.org, "/v1/tokens", '{"name": "s", "audience": "billing", "scope": %s}' % scope)
        assert r.status == 201 and r.json["scope"] == expected, r


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/tokens?stauts=revoked"),
    ("GET", "/v1/audit?guid_prefix=abc"),
    ("GET", "/v1/revocations?wiat=5"),
    ("GET", "/v1/catalog?x=1"),
    ("GET", "/v1/session?x"),
    ("GET", "/v1/health?verbose=true"),
    ("GET", f"/v1/tokens/{GUID}?include=deleted"),
    ("POST", f"/v1/tokens/{GUID}/revoke?cascade=true"),
    ("POST", "/v1/tokens?name=x"),
])
def test_unknown_query_parameters_are_400(env, method, path):
    r = env.org.request(method, path)
    assert r.status == 400, r
    name = path.split("?")[1].split("=")[0]
    assert r.json["error"] == "bad_request"
    assert f"unknown query parameter {name}" in r.json["message"], r.json


def test_unknown_parameter_message_lists_what_the_route_takes(env):
    r = env.org.get("/v1/tokens?stauts=revoked")
    assert "status" in r.json["message"] and "cursor" in r.json["message"]
    r = env.org.get("/v1/catalog?x=1")
    assert "takes none" in r.json["message"]


def test_declared_parameters_still_work(env):
    assert env.org.get("/v1/tokens?status=active&sort=name&limit=5&violating_policy=false").status == 200
    assert env.org.get("/v1/audit?action=issue&limit=5").status == 200
    assert env.anonymous.get("/v1/revocations?wait=1").status == 200
    # A method the path does not take stays 405, an unknown path 404, whatever the query.
    assert env.org.request("PUT", "/v1/tokens?x=1").status == 405
    assert env.org.get("/v1/nope?x=1").status == 404


def test_query_values_are_form_decoded(env):
    _, row = env.create("q+b é/%")
    for query in ["name=q%2Bb+%C3%A9%2F%25", "name=q%2bb%20%c3%a9/%25", "n%61me=q%2Bb+%C3%A9%2F%25"]:
        r = env.org.get(f"/v1/tokens?{query}")
        assert r.status == 200, (query, r)
        assert [t["guid"] for t in r.json["tokens"]] == [row["guid"]], query


@pytest.mark.parametrize("query", ["name=%", "name=%2", "name=%zz", "name=%G0", "name=%FF", "name=%C3", "%zz=1"])
def test_a_malformed_escape_in_the_query_is_400(env, query):
    r = env.org.get(f"/v1/tokens?{query}")
    assert r.status == 400, (query, r)
    assert r.json["error"] == "bad_request" and "malformed %-escape" in r.json["message"], r.json
    assert "write a literal % as %25" in r.json["message"], r.json


@pytest.mark.parametrize("path", ["/", "/console/app.js", "/console/console.css", "/console/favicon.svg"])
def test_console_files_are_no_store(env, path):
    r = env.anonymous.get(path)
    assert r.status == 200
    assert r.header("Cache-Control") == "no-store", r.headers
