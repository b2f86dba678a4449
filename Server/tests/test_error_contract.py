"""#21 item 3: one error contract. Every error body carries `code`, the issuer's code the exit
code and the status derive from (SigilIssuer's ErrorContract), beside the `error` and fields it
always had; ErrorMiddleware is the only place that picks a status."""

import uuid

# (status, error, code) as the table in Sources/SigilIssuer/Wire/ErrorContract.swift states them.
CONTRACT = {
    "invalid_input": (422, "invalid_input"),
    "invalid_selector": (400, "bad_request"),
    "sealed_field": (422, "sealed_field"),
    "token_not_verified": (422, "token_not_verified"),
    "not_found": (404, "not_found"),
    "conflict": (409, "conflict"),
    "forbidden": (403, "insufficient_scope"),
}


def check(r, code):
    status, error = CONTRACT[code]
    assert r.status == status, r
    assert r.json["error"] == error and r.json["code"] == code, r.json
    assert r.json["message"], r.json


def test_issuer_errors_carry_their_code(env):
    _, row = env.create(name="contract", audience="billing")
    guid = row["guid"]
    check(env.org.post("/v1/tokens", {"name": "x", "audience": "billing", "scope": ["nope.read"]}), "invalid_input")
    check(env.org.get("/v1/tokens/" + str(uuid.uuid4())), "not_found")
    check(env.org.patch("/v1/tokens/" + guid, {"audience": "shop"}), "sealed_field")
    env.org.post(f"/v1/tokens/{guid}/revoke")
    check(env.org.post(f"/v1/tokens/{guid}/activate"), "conflict")
    reader, _ = env.create(name="reader", audience="sigil", scope="read-only")
    check(env.server.client(reader).post("/v1/tokens", {"name": "x", "audience": "billing", "scope": "all"}),
          "forbidden")


def test_a_forged_token_is_token_not_verified_from_the_middleware(env):
    token, _ = env.create(name="victim", audience="billing")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = env.org.post("/v1/tokens/revoke-by-token", {"token": forged})
    check(r, "token_not_verified")
    assert r.json["reason"] == "bad_signature"
    assert "nothing revoked" in r.json["message"] and forged not in str(r.json)


def test_a_bad_query_value_is_400_with_the_issuers_code(env):
    """A value in the URL is 400, not a body's 422; the body still says which rule (`code`)."""
    r = env.org.get("/v1/audit?actor=" + "a" * 262)
    assert r.status == 400 and r.json["error"] == "bad_request" and r.json["code"] == "invalid_input", r.json
    r = env.org.get("/v1/tokens?name=%20")
    assert r.status == 400 and r.json["error"] == "bad_request" and r.json["code"] == "invalid_selector", r.json


def test_server_decided_errors_carry_the_code_their_status_means(env):
    r = env.anonymous.get("/v1/tokens")
    assert r.status == 401 and r.json["code"] == "forbidden"
    r = env.org.request("POST", "/v1/tokens", body=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status == 415 and r.json["code"] == "invalid_input"
    r = env.org.get("/v1/no-such-route")
    assert r.status == 404 and r.json["code"] == "not_found"
