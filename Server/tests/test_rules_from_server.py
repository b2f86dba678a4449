"""#21 item 1: every rule in SigilIssuer, through a real sigil-server and the real CLI.

A rule has one definition and one message: the API, the CLI (local and remote) and the console's
`GET /v1/rules` all answer with SigilIssuer's. `expires_in` is counted on the server's clock
(`SIGIL_NOW`), never the client's.
"""

import time
import urllib.parse

import pytest

from conftest import Env, run_cli
from test_cli_remote import sigil, write_token_file

DAY = 86400
AUDIENCE_RULE = "audience must be 1-64 ASCII characters of A-Z a-z 0-9 . _ : -"
ACTOR_RULE = "actor must be 1-261 characters of A-Z a-z 0-9 . _ @ : + -"


@pytest.fixture
def clocked(tmp_root):
    """A server whose clock (SIGIL_NOW) runs an hour ahead of this host's."""
    server_now = int(time.time()) + 3600
    e = Env(tmp_root, env={"SIGIL_NOW": str(server_now)})
    e.server_now = server_now
    yield e
    e.close()


def test_expires_in_is_counted_on_the_servers_clock(clocked):
    """#21: remote `issue --expires-in` computed valid_to on the client's clock."""
    now = clocked.server_now
    for given, seconds in [("90d", 90 * DAY), ("12h", 12 * 3600), (3600, 3600), ("2w", 14 * DAY)]:
        _, row = clocked.create(name=f"expires in {given}", expires_in=given)
        assert row["valid_from"] == now and row["valid_to"] == now + seconds, (given, row)
    _, row = clocked.create(name="expires in from a start", expires_in="30d",
                            valid_from=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + DAY)))
    assert row["valid_from"] == now + DAY and row["valid_to"] == now + 31 * DAY, row


@pytest.mark.parametrize("given", ["90x", "", "d", "0d", "-5d", "+5d", 0, -60, 1.5, True, None, [], "101y"])
def test_a_bad_expires_in_is_400(clocked, given):
    r = clocked.org.post("/v1/tokens", {"name": "bad expires_in", "audience": "billing", "scope": "all",
                                        "expires_in": given})
    assert r.status == 400 and "expires_in must be" in r.json["message"], (given, r)
    assert "90d" in r.json["message"], r


@pytest.mark.parametrize("valid_to, named", [
    ("2099-01-01T00:00:00Z", "expires_in conflicts with valid_to; give one of them"),
    (None, "expires_in conflicts with valid_to: null (never expires); give one of them"),
])
def test_expires_in_with_valid_to_is_400_naming_the_conflict(clocked, valid_to, named):
    r = clocked.org.post("/v1/tokens", {"name": "conflict", "audience": "billing", "scope": "all",
                                        "expires_in": "90d", "valid_to": valid_to})
    assert r.status == 400 and r.json["message"] == named, r
    assert "conflict" not in clocked.cli("list").stdout


def test_remote_issue_expires_in_uses_the_servers_clock(clocked):
    """The client's clock (SIGIL_NOW two days behind) no longer decides the expiry."""
    folder = clocked.root / "caller"
    folder.mkdir()
    token_file = write_token_file(folder, clocked.org_token)
    client_now = clocked.server_now - 2 * DAY
    r = sigil("issue", "--json", "--name", "remote expires in", "--audience", "billing", "--all",
              "--expires-in", "30d", server=f"http://127.0.0.1:{clocked.server.port}", token_file=token_file,
              env={"SIGIL_NOW": str(client_now)}, secrets=[clocked.org_token])
    assert r.returncode == 0, r.stderr
    import json
    issued = json.loads(r.stdout)
    assert issued["valid_from"] == clocked.server_now, issued
    assert issued["valid_to"] == clocked.server_now + 30 * DAY, issued


def test_rules_route_states_the_issuers_rules(env):
    """#21: the console allowed 2,000-character descriptions and listed no `policy` action."""
    r = env.org.get("/v1/rules")
    assert r.status == 200, r
    rules = r.json
    assert rules["description"] == {"max_bytes": 1000, "required": False}
    assert rules["name"] == {"max_bytes": 200, "required": True}
    assert rules["audience"] == {"max_bytes": 64, "pattern": "[A-Za-z0-9._:-]{1,64}", "message": AUDIENCE_RULE}
    assert rules["actor"]["message"] == ACTOR_RULE
    assert rules["page"] == {"max_limit": 1000, "default_limit": 100}
    assert "policy" in rules["audit_actions"] and "issue" in rules["audit_actions"]
    assert rules["statuses"] == ["active", "inactive", "revoked"]
    assert rules["cascading_actions"] == ["revoke"]
    assert rules["scope_kinds"] == ["all", "read-only", "custom"]
    assert rules["default_lifetime"] == 365 * DAY
    assert env.anonymous.get("/v1/rules").status == 401

    # The values are the ones the issuer applies: at the limit accepted, one byte over refused.
    limit = rules["description"]["max_bytes"]
    _, row = env.create(name="description at the limit", description="é" * (limit // 2))
    assert len(row["description"].encode()) == limit
    r = env.org.post("/v1/tokens", {"name": "one byte over", "audience": "billing", "scope": "all",
                                    "description": "é" * (limit // 2) + "x"})
    assert r.status == 422 and f"longer than {limit} bytes" in r.json["message"], r
    # Every audit action the rules list is one the API filters by.
    for action in rules["audit_actions"]:
        assert env.org.get(f"/v1/audit?action={action}&limit=1").status == 200, action


def test_session_states_the_callers_window_and_policies(env):
    env.cli("policy", "set", "--audience", "ruled", "--max-lifetime", "30d")
    try:
        r = env.org.post("/v1/session", {"token": env.org_token}, token=None)
        assert r.status == 201, r
        session = r.json
        assert "valid_from" in session and session["valid_to"] is not None
        policy = next(p for p in session["policies"] if p["audience"] == "ruled")
        assert policy == {"audience": "ruled", "max_lifetime": "30d", "max_lifetime_seconds": 30 * DAY,
                          "allow_never_expires": False}
    finally:
        env.cli("policy", "clear", "--audience", "ruled")


def test_a_bad_audience_has_one_message_in_the_api_and_the_cli(env):
    """#21: the audience rule was spelled out on 24 lines of 17 files, in four wordings."""
    bad = "bill ing"
    expected = f"{AUDIENCE_RULE} (got 8 bytes)"
    r = env.org.post("/v1/tokens", {"name": "bad audience", "audience": bad, "scope": "all"})
    assert r.status == 422 and r.json["message"] == expected, r
    r = env.org.get("/v1/tokens?audience=" + urllib.parse.quote(bad))
    assert r.status == 400 and r.json["message"] == expected, r
    for args in (["issue", "--name", "bad audience", "--audience", bad, "--all"],
                 ["list", "--audience", bad],
                 ["verify", "--audience", bad]):
        result = run_cli(env.home, *args, check=False)
        assert result.returncode == 64, (args, result.stderr)
        assert result.stderr.strip() == "sigil: error: --" + expected, (args, result.stderr)


def test_a_bad_actor_has_one_message_in_the_api_and_the_cli(env):
    """#21: actor names were checked in AuditController and Log with their own words."""
    expected = f"{ACTOR_RULE} (got 6 bytes)"
    r = env.org.get("/v1/audit?actor=al+ice")
    assert r.status == 400 and r.json["message"] == expected, r
    result = run_cli(env.home, "log", "--actor", "al ice", check=False)
    assert result.returncode == 64 and result.stderr.strip() == "sigil: error: --" + expected, result.stderr


@pytest.mark.parametrize("query, message", [
    ("limit=0", "limit must be an integer from 1 to 1000"),
    ("limit=1001", "limit must be an integer from 1 to 1000"),
    ("limit=ten", "limit must be an integer from 1 to 1000"),
    ("cursor=-1", "cursor is not one this server gave out"),
    ("cursor=1e3", "cursor is not one this server gave out"),
])
def test_paging_limits_are_the_issuers(env, query, message):
    for route in ("/v1/tokens", "/v1/audit"):
        r = env.org.get(f"{route}?{query}")
        assert r.status == 400 and r.json["message"] == message, (route, r)


def test_a_page_peeks_one_row_ahead(env):
    for i in range(3):
        env.create(name=f"peek {i}", audience="peeking")
    first = env.org.get("/v1/tokens?audience=peeking&limit=2").json
    assert [t["name"] for t in first["tokens"]] == ["peek 0", "peek 1"] and first["next_cursor"] == "2"
    last = env.org.get(f"/v1/tokens?audience=peeking&limit=2&cursor={first['next_cursor']}").json
    assert [t["name"] for t in last["tokens"]] == ["peek 2"] and last["next_cursor"] is None


def test_the_console_checks_with_the_servers_rules():
    """#21: the console kept its own audience regex, a 2,000-character description limit, an
    audit action list without `policy`, and refused editing a revoked token."""
    browser = pytest.importorskip("test_console_browser")
    if browser.webdriver is None or browser.CHROMIUM is None or browser.CHROMEDRIVER is None:
        pytest.skip("browser tests need chromium, chromium-driver and selenium")
    from selenium.webdriver.common.by import By

    gen = browser.console.__wrapped__()
    console = next(gen)
    try:
        d = console.driver
        browser.sign_in(console, console.org_token)
        rules = console.org.get("/v1/rules").json
        d.get(console.url + "#/create")
        browser.heading(d, "Create token")
        description = d.find_element(By.ID, "token-description")
        assert description.get_attribute("maxlength") == str(rules["description"]["max_bytes"]) == "1000"
        assert d.find_element(By.ID, "token-audience").get_attribute("pattern") == rules["audience"]["pattern"]
        d.find_element(By.ID, "token-name").send_keys("console rules")
        d.find_element(By.ID, "token-audience").send_keys("bill ing")
        problems = d.find_element(By.ID, "create-problems")
        browser.wait(d, lambda d: rules["audience"]["message"] in problems.text)

        d.get(console.url + "#/audit")
        browser.heading(d, "Audit")
        options = [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#audit-action option")]
        assert options == [""] + rules["audit_actions"] and "policy" in options

        _, row = console.create(name="revoked, still renamed", audience="billing")
        assert console.org.post(f"/v1/tokens/{row['guid']}/revoke").status == 200
        d.get(console.url + f"#/token/{row['guid']}")
        browser.heading(d, "(Revoked)")
        assert d.find_element(By.ID, "edit-name").is_displayed(), "the issuer lets a revoked token be renamed"
    finally:
        gen.close()
