"""Lifetime policies (issue #17): a policy set with `sigil policy set` on the issuer host is
checked by the server's issue route, for a bearer caller and for a console session alike, and
`GET /v1/tokens?violating_policy=true` lists the tokens it would refuse today."""

import subprocess
import time
from datetime import datetime, timezone

import pytest

from conftest import SIGIL_BIN, run_cli
from test_console import sign_in, with_session


def rfc3339(seconds):
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def body(name, days=None, never=False, audience="billing"):
    b = {"name": name, "audience": audience, "scope": "read-only"}
    if never:
        b["valid_to"] = None
    elif days is not None:
        b["valid_to"] = rfc3339(int(time.time()) + days * 86400)
    return b


@pytest.fixture
def policed(fresh_env):
    """A server whose billing audience has a 90-day policy, set after a 300-day token."""
    _, old = fresh_env.create("issued before the policy", valid_to=rfc3339(int(time.time()) + 300 * 86400))
    run_cli(fresh_env.home, "policy", "set", "--audience", "billing", "--max-lifetime", "90d")
    fresh_env.old_guid = old["guid"]
    return fresh_env


def test_the_issue_route_refuses_outside_the_policy_naming_it(policed):
    # (The org token expires, so it may not create a never-expiring one: that is a 403 before
    # any policy; the never case is in the library and CLI tests.)
    for b in [body("too long", days=120), body("ten months", days=300)]:
        r = policed.org.post("/v1/tokens", b)
        assert r.status == 422, r
        assert r.json["error"] == "outside_policy"
        assert "lifetime policy of audience billing" in r.json["message"]
        assert "at most 90d" in r.json["message"]
        assert r.json["audience"] == "billing" and r.json["max_lifetime"] == "90d"
        assert r.json["allow_never_expires"] == "false"
    ok = policed.org.post("/v1/tokens", body("fits", days=90))
    assert ok.status == 201, ok
    other = policed.org.post("/v1/tokens", body("no policy here", days=300, audience="devices"))
    assert other.status == 201, other
    names = [t["name"] for t in policed.org.get("/v1/tokens?limit=1000").json["tokens"]]
    assert "too long" not in names and "ten months" not in names and "fits" in names


def test_the_console_session_is_refused_the_same_way(policed):
    r, cookie = sign_in(policed.anonymous, policed.org_token)
    csrf = r.json["csrf_token"]
    refused = with_session(policed.anonymous, "POST", "/v1/tokens", cookie, csrf, body("console long", days=300))
    assert refused.status == 422 and refused.json["error"] == "outside_policy", refused
    assert "lifetime policy of audience billing" in refused.json["message"]
    made = with_session(policed.anonymous, "POST", "/v1/tokens", cookie, csrf, body("console short", days=30))
    assert made.status == 201, made


def test_violating_policy_lists_what_the_policy_would_refuse(policed):
    policed.create("short", valid_to=rfc3339(int(time.time()) + 10 * 86400))
    r = policed.org.get("/v1/tokens?violating_policy=true")
    assert r.status == 200, r
    assert [t["guid"] for t in r.json["tokens"]] == [policed.old_guid]
    assert r.json["tokens"][0]["status"] == "active", "existing tokens are untouched"
    everything = policed.org.get("/v1/tokens?violating_policy=false").json["tokens"]
    assert len(everything) == 3  # the org token, the old one, the short one
    for bad in ["yes", "1", "", "TRUE"]:
        assert policed.org.get(f"/v1/tokens?violating_policy={bad}").status == 400
    # The CLI in remote mode asks the same question.
    token_file = policed.root / "org.token"
    token_file.write_text(policed.org_token)
    token_file.chmod(0o600)
    out = subprocess.run(
        [SIGIL_BIN, "--server", f"http://127.0.0.1:{policed.server.port}", "--token-file", str(token_file),
         "--json", "list", "--violating-policy"], capture_output=True, text=True, check=True, timeout=60).stdout
    assert policed.old_guid in out and "short" not in out


def test_a_policy_change_on_the_host_applies_to_the_running_server_at_once(policed):
    run_cli(policed.home, "policy", "set", "--audience", "billing", "--max-lifetime", "400d")
    assert policed.org.post("/v1/tokens", body("now allowed", days=300)).status == 201
    run_cli(policed.home, "policy", "clear", "--audience", "billing")
    assert policed.org.post("/v1/tokens", body("free again", days=200)).status == 201
