"""Failed-authentication limits that never lock out the right credentials (#20 items 5, 6).

- Wrong bearer tokens, guessed session cookies and wrong intake tokens cost the client's
  budget and are answered 429 once it is used up, but a token that authenticates, a live
  session and the right intake token are never refused.
- `--trusted-proxy CIDR`: the client is the right-most X-Forwarded-For entry that is not a
  trusted proxy, only when the peer is one; IPv6 clients are counted by their /64.
- Console sessions: at most 16 per token (its own oldest goes), and a full store refuses a
  sign-in (503) rather than sign anyone else out.
"""

import http.client
import json
import os

import pytest

from conftest import Env, Server, cli_issue

SLOW = ("--failed-auth-burst", "3", "--failed-auth-refill", "0.01")  # 3 tries, then one per 100 s
BAD = "sgl_" + "B" * 80


def sign_in(client, token, headers=None):
    r = client.post("/v1/session", {"token": token}, token=None, headers=headers)
    cookie = r.header("Set-Cookie").split(";", 1)[0] if r.status == 201 else None
    return r, cookie


def xff(address):
    return {"X-Forwarded-For": address}


def test_wrong_tokens_never_lock_out_a_valid_token_or_sign_in(tmp_root):
    e = Env(tmp_root, *SLOW)
    try:
        _, cookie = sign_in(e.anonymous, e.org_token)
        bad = e.org.with_token(BAD)
        statuses = [bad.get("/v1/catalog").status for _ in range(12)]
        assert statuses == [401] * 3 + [429] * 9, statuses
        limited = bad.get("/v1/catalog")
        assert limited.json["error"] == "too_many_requests" and int(limited.header("Retry-After")) >= 1
        # The address's bucket is empty, yet the right token, a new sign-in and a live session work.
        for _ in range(5):
            assert e.org.get("/v1/catalog").status == 200
        r, fresh = sign_in(e.anonymous, e.org_token)
        assert r.status == 201, r
        for c in (cookie, fresh):
            assert e.anonymous.get("/v1/session", headers={"Cookie": c}).status == 200
        # Failures stay refused meanwhile: a wrong sign-in, a guessed cookie, no credentials at all.
        assert e.anonymous.post("/v1/session", {"token": BAD}, token=None).status == 429
        assert e.anonymous.get("/v1/tokens", headers={"Cookie": "sigil_session=guess"}).status == 429
        assert e.anonymous.get("/v1/tokens").status == 429
        assert e.org.get("/v1/catalog").status == 200
    finally:
        e.close()


def test_guessed_session_cookies_cost_the_budget_but_a_live_one_is_never_refused(tmp_root):
    e = Env(tmp_root, *SLOW)
    try:
        _, cookie = sign_in(e.anonymous, e.org_token)
        guesses = [e.anonymous.get("/v1/session", headers={"Cookie": f"sigil_session=guess{i}"}).status
                   for i in range(5)]
        assert guesses == [401, 401, 401, 429, 429], guesses
        assert e.anonymous.get("/v1/session", headers={"Cookie": cookie}).status == 200
    finally:
        e.close()


def test_wrong_intake_tokens_never_lock_out_the_right_one(tmp_root):
    secret = tmp_root / "intake.token"
    secret.write_text("s3cret-intake-0123456789\n")
    os.chmod(secret, 0o600)
    e = Env(tmp_root, "--leak-report-token-file", str(secret))
    try:
        path = "/v1/leak-reports/revocable_token_types"
        wrong = [e.anonymous.get(path, headers={"Authorization": f"nope{i}"}, token=None).status for i in range(10)]
        assert wrong[0] == 401 and wrong[-1] == 429, wrong
        right = {"Authorization": "s3cret-intake-0123456789"}
        for _ in range(3):
            assert e.anonymous.get(path, headers=right, token=None).status == 200
        token, row = e.create("leaked")
        report = [{"type": "gitleaks_rule_id_sigil_api_token", "token": token, "location": "https://git.example/x"}]
        r = e.anonymous.post("/v1/leak-reports/revoke_tokens", report, headers=right, token=None)
        assert r.status == 204, r
        assert e.org.get(f"/v1/tokens/{row['guid']}").json["status"] == "revoked"
        assert e.anonymous.get(path, headers={"Authorization": "nope"}, token=None).status == 429
    finally:
        e.close()


def test_trusted_proxy_limits_each_forwarded_client_on_its_own(tmp_root):
    e = Env(tmp_root, "--trusted-proxy", "127.0.0.1/32", *SLOW)
    try:
        bad = e.org.with_token(BAD)
        a = [bad.get("/v1/catalog", headers=xff("203.0.113.1")).status for _ in range(4)]
        assert a == [401, 401, 401, 429], a
        # Another client behind the same proxy has its own budget.
        assert bad.get("/v1/catalog", headers=xff("203.0.113.2")).status == 401
        # A client cannot escape by writing its own entry on the left: the proxy appends the real one.
        assert bad.get("/v1/catalog", headers=xff("198.51.100.7, 203.0.113.1")).status == 429
        # A malformed header counts against the peer (the proxy), a fresh bucket here.
        assert bad.get("/v1/catalog", headers=xff("203.0.113.1, nonsense")).status == 401
        # The right token is never refused, whatever client the proxy names.
        assert e.org.get("/v1/catalog", headers=xff("203.0.113.1")).status == 200
    finally:
        e.close()


@pytest.mark.parametrize("extra", [(), ("--trusted-proxy", "10.0.0.0/8")], ids=["no proxy", "another proxy"])
def test_an_untrusted_peers_forwarded_for_is_ignored(tmp_root, extra):
    e = Env(tmp_root, *extra, *SLOW)
    try:
        bad = e.org.with_token(BAD)
        statuses = [bad.get("/v1/catalog", headers=xff(f"203.0.113.{i}")).status for i in range(1, 6)]
        assert statuses == [401, 401, 401, 429, 429], statuses
    finally:
        e.close()


def test_ipv6_clients_are_counted_by_their_64(tmp_root):
    e = Env(tmp_root, "--trusted-proxy", "127.0.0.1", *SLOW)
    try:
        bad = e.org.with_token(BAD)
        same = [bad.get("/v1/catalog", headers=xff(f"2001:db8:1:2::{i}")).status for i in range(1, 5)]
        assert same == [401, 401, 401, 429], same
        assert bad.get("/v1/catalog", headers=xff("2001:db8:1:2:ffff:ffff:ffff:ffff")).status == 429
        assert bad.get("/v1/catalog", headers=xff("2001:db8:1:3::1")).status == 401
    finally:
        e.close()


def v6_get(port, path, token):
    conn = http.client.HTTPConnection("::1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def test_a_server_on_ipv6_loopback_limits_its_peer_and_says_it_is_loopback(tmp_root):
    home = tmp_root / "home"
    org, _ = cli_issue(home, "org", "sigil", "--all")
    server = Server(home, "--hostname", "::1", *SLOW)
    try:
        assert [v6_get(server.port, "/v1/catalog", BAD) for _ in range(4)] == [401, 401, 401, 429]
        assert v6_get(server.port, "/v1/catalog", org) == 200
        assert "non-loopback" not in server.log_text()
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("value", ["127.0.0.1/33", "127.1", "localhost", "10.0.0.0/8/8"])
def test_a_bad_trusted_proxy_is_a_usage_error(tmp_root, value):
    home = tmp_root / "home"
    cli_issue(home, "org", "sigil", "--all")
    with pytest.raises(AssertionError, match="exited 64"):
        Server(home, "--trusted-proxy", value)


def test_a_token_holds_at_most_16_sessions_and_only_its_own_oldest_goes(tmp_root):
    e = Env(tmp_root)
    try:
        _, admin = sign_in(e.anonymous, e.org_token)
        reader, _ = e.create("reader", audience="billing", scope=["invoices.list"])
        cookies = []
        for _ in range(17):
            r, cookie = sign_in(e.anonymous, reader)
            assert r.status == 201, r
            cookies.append(cookie)
        first = e.anonymous.get("/v1/session", headers={"Cookie": cookies[0]})
        assert first.status == 401 and first.json["reason"] == "session_expired"
        for c in cookies[1:]:
            assert e.anonymous.get("/v1/session", headers={"Cookie": c}).status == 200
        assert e.anonymous.get("/v1/session", headers={"Cookie": admin}).status == 200
    finally:
        e.close()


def test_a_full_session_store_refuses_a_sign_in_instead_of_evicting(tmp_root):
    e = Env(tmp_root, "--max-sessions", "4")
    try:
        _, admin = sign_in(e.anonymous, e.org_token)
        reader, _ = e.create("reader", audience="billing", scope=["invoices.list"])
        for _ in range(3):
            assert sign_in(e.anonymous, reader)[0].status == 201
        for token in (reader, e.org_token):
            r, _ = sign_in(e.anonymous, token)
            assert r.status == 503 and r.json["error"] == "unavailable", r
            assert "console sessions" in r.json["message"] and r.header("Retry-After")
        assert e.anonymous.get("/v1/session", headers={"Cookie": admin}).status == 200
        # Signing out makes room again.
        csrf = e.anonymous.get("/v1/session", headers={"Cookie": admin}).json["csrf_token"]
        out = e.anonymous.delete("/v1/session", headers={"Cookie": admin, "X-CSRF-Token": csrf})
        assert out.status == 204
        assert sign_in(e.anonymous, e.org_token)[0].status == 201
    finally:
        e.close()


def test_malformed_bearer_credentials_are_401_malformed_and_cost_a_try(tmp_root):
    """The server reads Authorization with SigilVerifier's BearerCredentials, as SigilHummingbird does."""
    e = Env(tmp_root, *SLOW)
    try:
        statuses = []
        for value in ("Bearer sgl_AAAA extra", "bearer  sgl_AA=A", "Bearer "):
            r = e.anonymous.get("/v1/catalog", headers={"Authorization": value}, token=None)
            statuses.append(r.status)
            if r.status == 401:
                assert r.json["error"] == "invalid_token" and r.json["reason"] == "malformed", r
        assert statuses == [401, 401, 401], statuses
        assert e.anonymous.get("/v1/catalog", headers={"Authorization": "Bearer x y"}, token=None).status == 429
        assert e.anonymous.get("/v1/catalog", headers={"Authorization": f"BEARER   {e.org_token}"},
                               token=None).status == 200
    finally:
        e.close()
