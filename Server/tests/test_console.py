"""The web console's server side over plain HTTP: sessions, CSRF, cookies, security headers and
the static files. The browser tests are in test_console_browser.py."""

import http.client
import json
import re
import time

import pytest

from conftest import ROOT, Env, cli_issue, log_records, request_lines

CONSOLE = ROOT / "Server/Sources/SigilServer/Resources/console"


def sign_in(client, token):
    """POST /v1/session; returns (response, cookie header value for later requests)."""
    r = client.post("/v1/session", {"token": token}, token=None)
    cookie = None
    set_cookie = r.header("Set-Cookie")
    if set_cookie:
        cookie = set_cookie.split(";", 1)[0]
    return r, cookie


def with_session(client, method, path, cookie, csrf=None, json_body=None):
    headers = {"Cookie": cookie}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return client.request(method, path, json_body=json_body, headers=headers, token=None)


def cookie_attributes(set_cookie):
    parts = [p.strip() for p in set_cookie.split(";")]
    attrs = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        attrs[key.lower()] = value
    return parts[0], attrs


def test_sign_in_sets_a_strict_http_only_cookie(env):
    r, cookie = sign_in(env.anonymous, env.org_token)
    assert r.status == 201, r
    first, attrs = cookie_attributes(r.header("Set-Cookie"))
    name, _, value = first.partition("=")
    assert name == "sigil_session"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), "a 256-bit random ID, base64url"
    assert "httponly" in attrs and attrs["samesite"] == "Strict" and attrs["path"] == "/"
    assert "secure" not in attrs, "plain HTTP: no Secure unless --secure-cookies"
    assert 28_790 <= int(attrs["max-age"]) <= 28_800, "8 hours for a token that never expires"
    body = r.json
    assert body["guid"] == env.org_guid and body["audience"] == "sigil" and body["scope"] == "all"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["csrf_token"]) and body["csrf_token"] != value
    assert abs(body["expires_at"] - (time.time() + 8 * 3600)) < 15
    assert "tokens.create" in body["permissions"] and body["grantable"]["all"] is True
    assert "sgl_" not in r.body.decode(), "the token never comes back"
    assert r.header("Cache-Control") == "no-store"
    # The cookie authenticates in place of the bearer header, with the token's rights.
    listed = with_session(env.anonymous, "GET", "/v1/tokens", cookie)
    assert listed.status == 200, listed
    me = with_session(env.anonymous, "GET", "/v1/session", cookie)
    assert me.status == 200 and me.json["csrf_token"] == body["csrf_token"]
    log = env.server.log_text()
    assert value not in log and body["csrf_token"] not in log, "session secrets never reach the log"
    assert request_lines(log_records(log), route="/v1/session", status=201), log[-2000:]


def test_sign_in_refuses_a_bad_token_with_401(env):
    for token in ["sgl_nope", "", env.org_token[:-2] + ("AA" if not env.org_token.endswith("AA") else "BB")]:
        r = env.anonymous.post("/v1/session", {"token": token}, token=None)
        assert r.status == 401, r
        assert r.json["error"] == "invalid_token"
        assert r.header("Set-Cookie") is None
    assert env.anonymous.post("/v1/session", {"token": 5}, token=None).status == 400
    assert env.anonymous.post("/v1/session", {"token": "x", "extra": 1}, token=None).status == 400
    assert env.anonymous.post("/v1/session", None, token=None).status == 400


def test_sign_in_takes_json_only_so_a_cross_site_form_cannot_post_it(env):
    r = env.anonymous.request(
        "POST", "/v1/session", body=f"token={env.org_token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"}, token=None)
    assert r.status == 415, r


def test_state_changing_requests_need_the_csrf_header(env):
    r, cookie = sign_in(env.anonymous, env.org_token)
    csrf = r.json["csrf_token"]
    body = {"name": "csrf probe", "audience": "billing", "scope": "read-only"}
    for bad in [None, "", csrf[:-1] + ("A" if csrf[-1] != "A" else "B"), csrf + "x"]:
        refused = with_session(env.anonymous, "POST", "/v1/tokens", cookie, csrf=bad, json_body=body)
        assert refused.status == 403, (bad, refused)
        assert refused.json["error"] == "csrf_failed"
    # Two CSRF headers are refused too, even if one is right.
    conn = http.client.HTTPConnection("127.0.0.1", env.server.port, timeout=30)
    try:
        conn.putrequest("POST", "/v1/tokens")
        payload = json.dumps(body).encode()
        for name, value in [("Cookie", cookie), ("X-CSRF-Token", csrf), ("X-CSRF-Token", csrf),
                            ("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]:
            conn.putheader(name, value)
        conn.endheaders(payload)
        assert conn.getresponse().status == 403
    finally:
        conn.close()
    assert env.org.get("/v1/tokens?name=csrf+probe").json["tokens"] == [], "nothing was created"
    created = with_session(env.anonymous, "POST", "/v1/tokens", cookie, csrf=csrf, json_body=body)
    assert created.status == 201, created
    guid = created.json["guid"]
    assert with_session(env.anonymous, "POST", f"/v1/tokens/{guid}/revoke", cookie).status == 403
    assert with_session(env.anonymous, "DELETE", f"/v1/tokens/{guid}", cookie).status == 403
    assert with_session(env.anonymous, "PATCH", f"/v1/tokens/{guid}", cookie, json_body={"name": "x"}).status == 403
    assert with_session(env.anonymous, "POST", f"/v1/tokens/{guid}/revoke", cookie, csrf=csrf).status == 200
    # The CSRF secret of one session does not open another.
    _, other_cookie = sign_in(env.anonymous, env.org_token)
    assert with_session(env.anonymous, "DELETE", f"/v1/tokens/{guid}", other_cookie, csrf=csrf).status == 403


def test_a_session_has_exactly_its_tokens_rights(env):
    reader, _ = cli_issue(env.home, "console reader", "billing", "--read-only")
    r, cookie = sign_in(env.anonymous, reader)
    assert r.status == 201
    me = r.json
    assert me["permissions"] == ["audit.list", "members.list", "members.read", "tokens.get", "tokens.list"]
    assert me["grantable"]["all"] is False and me["audiences"] == ["billing"]
    csrf = me["csrf_token"]
    _, row = env.create(name="target of reader", audience="billing")
    for method, path, body in [
        ("POST", "/v1/tokens", {"name": "n", "audience": "billing", "scope": "read-only"}),
        ("POST", f"/v1/tokens/{row['guid']}/revoke", None),
        ("POST", "/v1/tokens/bulk", {"action": "revoke", "guids": [row["guid"]]}),
        ("DELETE", f"/v1/tokens/{row['guid']}", None),
    ]:
        refused = with_session(env.anonymous, method, path, cookie, csrf=csrf, json_body=body)
        assert refused.status == 403, (method, path, refused)
        assert refused.json["error"] == "insufficient_scope"
    # Audience reach: a billing token's session sees billing only.
    other = env.create(name="other audience", audience="shipping")[1]
    assert with_session(env.anonymous, "GET", f"/v1/tokens/{other['guid']}", cookie).status == 404


def test_a_session_is_refused_once_its_token_is_revoked_or_deactivated(env):
    for action in ["revoke", "deactivate"]:
        token, guid = cli_issue(env.home, f"session {action}", "sigil", "--all")
        r, cookie = sign_in(env.anonymous, token)
        assert with_session(env.anonymous, "GET", "/v1/tokens", cookie).status == 200
        env.cli(action, guid, "--yes")  # through the CLI, behind the server's back
        refused = with_session(env.anonymous, "GET", "/v1/tokens", cookie)
        assert refused.status == 401, refused
        assert refused.json["reason"] in ("revoked", "deactivated")
        if action == "deactivate":
            env.cli("activate", guid)
        # The session is gone for good, even once the token would work again.
        again = with_session(env.anonymous, "GET", "/v1/tokens", cookie)
        assert again.status == 401 and again.json["reason"] == "session_expired", again
        assert "Max-Age=0" in again.header("Set-Cookie")


def test_a_session_ends_with_its_token(env):
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    token, _ = env.create(name="short lived", audience="sigil", valid_to=soon)
    r, cookie = sign_in(env.anonymous, token)
    assert r.status == 201
    _, attrs = cookie_attributes(r.header("Set-Cookie"))
    assert 3_580 <= int(attrs["max-age"]) <= 3_600
    assert r.json["expires_at"] == r.json["valid_to"]


def test_sign_out_ends_the_session(env):
    r, cookie = sign_in(env.anonymous, env.org_token)
    csrf = r.json["csrf_token"]
    assert with_session(env.anonymous, "DELETE", "/v1/session", cookie).status == 403, "sign-out needs CSRF too"
    out = with_session(env.anonymous, "DELETE", "/v1/session", cookie, csrf=csrf)
    assert out.status == 204
    _, attrs = cookie_attributes(out.header("Set-Cookie"))
    assert attrs["max-age"] == "0"
    after = with_session(env.anonymous, "GET", "/v1/tokens", cookie)
    assert after.status == 401 and after.json["reason"] == "session_expired"
    assert with_session(env.anonymous, "GET", "/v1/session", "sigil_session=forged").status == 401
    assert env.anonymous.get("/v1/session").status == 401
    assert env.anonymous.request("PUT", "/v1/session").status == 405


def test_secure_cookies_flag(tmp_root):
    e = Env(tmp_root, "--secure-cookies")
    try:
        r, _ = sign_in(e.anonymous, e.org_token)
        _, attrs = cookie_attributes(r.header("Set-Cookie"))
        assert "secure" in attrs
    finally:
        e.close()


def test_failed_sign_ins_drain_the_same_budget_as_bearer_failures(tmp_root):
    e = Env(tmp_root, "--failed-auth-burst", "3", "--failed-auth-refill", "0.01")
    try:
        for _ in range(3):
            assert e.anonymous.post("/v1/session", {"token": "sgl_bad"}, token=None).status == 401
        limited = e.anonymous.post("/v1/session", {"token": "sgl_bad"}, token=None)
        assert limited.status == 429 and limited.header("Retry-After")
        # The right token still signs in (#20 item 5: failures never lock it out).
        assert e.anonymous.post("/v1/session", {"token": e.org_token}, token=None).status == 201
        # Guessing session IDs drains it as well.
        assert e.anonymous.get("/v1/tokens", headers={"Cookie": "sigil_session=guess"}).status == 429
    finally:
        e.close()


SECURITY = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@pytest.mark.parametrize("path", ["/", "/console/app.js", "/v1/health", "/v1/tokens", "/v1/nope", "/console/nope.js"])
def test_security_headers_on_every_answer(env, path):
    r = env.anonymous.get(path)
    csp = r.header("Content-Security-Policy")
    assert csp and "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for name, value in SECURITY.items():
        assert r.header(name) == value, (path, name)
    if path.startswith("/v1/"):
        assert r.header("Cache-Control") == "no-store", path


def test_console_files_are_served_as_they_are_in_the_repository(env):
    index = env.anonymous.get("/")
    assert index.status == 200 and index.header("Content-Type").startswith("text/html")
    assert index.body == (CONSOLE / "index.html").read_bytes()
    for path in CONSOLE.iterdir():
        if path.name == "index.html":
            continue
        r = env.anonymous.get(f"/console/{path.name}")
        assert r.status == 200, path.name
        assert r.body == path.read_bytes(), f"{path.name} is not the repository's copy"
        expected = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}[path.suffix]
        assert r.header("Content-Type").startswith(expected)
    assert env.anonymous.get("/console/../v1/health").status in (200, 404)  # normalised or refused, never a file
    assert env.anonymous.get("/console/nope.js").status == 404


def test_the_console_has_no_inline_script_style_or_external_origin():
    html = (CONSOLE / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert "<style" not in html and "style=" not in html
    for path in CONSOLE.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{path.name} names another origin"
        if path.suffix == ".js":
            assert "innerHTML" not in text and "eval(" not in text and "localStorage" not in text, path.name
            assert "sessionStorage" not in text and "console.log" not in text, path.name
