"""The CLI's remote mode (`sigil --server URL --token-file F`) against a real sigil-server.

Every command's output is compared with the same command run locally on the server's home:
same stdout, same --json keys (and values), same exit codes. Every run is checked for the
caller's token in stdout and stderr, and the server's log for any token (conftest's Env.close).
"""

import http.server
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
import uuid

import pytest

from conftest import SIGIL_BIN, Env, cli_issue, run_cli

ROW_KEYS = {
    "audience", "created_at", "created_by", "deleted", "description", "expires", "guid", "kid", "name",
    "revoked_at", "scope", "status", "updated_at", "valid_from", "valid_to",
}


def write_token_file(folder, token, name=None, mode=0o600):
    path = folder / (name or f"caller-{uuid.uuid4().hex[:8]}.token")
    path.write_text(token + "\n")
    os.chmod(path, mode)
    return path


def sigil(*args, server=None, token_file=None, stdin=None, env=None, secrets=(), timeout=60):
    """Runs sigil in remote mode (no home); asserts no secret in `secrets` reaches its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")}
    full_env.update(env or {})
    prefix = []
    if server is not None:
        prefix += ["--server", server]
    if token_file is not None:
        prefix += ["--token-file", str(token_file)]
    result = subprocess.run(
        [SIGIL_BIN, *prefix, *args], capture_output=True, text=True, env=full_env, timeout=timeout,
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
    for secret in secrets:
        assert secret not in result.stdout, f"a token reached stdout of sigil {args}"
        assert secret not in result.stderr, f"a token reached stderr of sigil {args}"
    return result


class Remote:
    """Runs sigil against `env`'s server with a token (the org token by default)."""

    def __init__(self, env, token=None):
        self.env = env
        self.token = token or env.org_token
        self.file = write_token_file(env.root, self.token)
        self.url = f"http://127.0.0.1:{env.server.port}"

    def __call__(self, *args, **kw):
        return sigil(*args, server=self.url, token_file=self.file, secrets=(self.token,), **kw)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.returncode == 0, f"sigil {args} exited {r.returncode}: {r.stderr}"
        return r

    def json(self, *args, **kw):
        return json.loads(self.ok("--json", *args, **kw).stdout)


@pytest.fixture(scope="module")
def remote(env):
    return Remote(env)


def local_json(env, *args):
    return json.loads(run_cli(env.home, "--json", *args).stdout)


# ---- every command, output parity with local mode ----

def test_issue_answers_the_token_and_the_local_keys(env, remote):
    issued = remote.json("issue", "--name", "remote issue", "--audience", "billing", "--scope", "invoices.*",
                         "--expires-in", "30d", "--description", "made remotely")
    local = local_json(env, "issue", "--name", "local issue", "--audience", "billing", "--scope", "invoices.*")
    assert set(issued) == set(local) == ROW_KEYS | {"token"}
    assert issued["token"].startswith("sgl_") and issued["token"] != env.org_token
    assert issued["scope"] == ["invoices.get", "invoices.list", "invoices.pay"]
    assert issued["created_by"] == f"token:{env.org_guid}"
    assert issued["valid_to"] - issued["valid_from"] == 30 * 86400
    # Text mode: the token alone on stdout, the summary on stderr.
    r = remote.ok("issue", "--name", "remote text", "--audience", "billing", "--read-only")
    token = r.stdout.strip()
    assert token.startswith("sgl_") and "\n" not in token
    assert "shown once" in r.stderr and "remote text" in r.stderr


def test_issue_never_expiring_needs_a_never_expiring_caller(env, remote):
    r = remote("issue", "--name", "forever", "--audience", "billing", "--all", "--never-expires")
    assert r.returncode == 77, r.stderr
    assert "valid_to" in r.stderr and "insufficient_scope" in r.stderr
    forever_token, _ = cli_issue(env.home, "org forever", "sigil", "--all", "--never-expires")
    forever = Remote(env, forever_token)
    issued = forever.json("issue", "--name", "forever", "--audience", "billing", "--all", "--never-expires")
    assert issued["valid_to"] is None and issued["expires"] == "never"


def test_list_show_catalog_and_log_print_what_local_mode_prints(env, remote):
    remote.ok("issue", "--name", "parity one", "--audience", "parity", "--all")
    remote.ok("issue", "--name", "parity two", "--audience", "parity", "--read-only")
    for args in (["list"], ["list", "--audience", "parity", "--sort", "name"], ["list", "--status", "revoked"],
                 ["list", "--scope", "all"], ["catalog"], ["catalog", "show"], ["log", "--limit", "7"],
                 ["log", "--action", "issue", "--limit", "3"]):
        here = run_cli(env.home, *args)
        there = remote.ok(*args)
        assert there.stdout == here.stdout, args
        assert json.loads(remote.ok("--json", *args).stdout) == local_json(env, *args), args
    guid = local_json(env, "list", "--audience", "parity")[0]["guid"]
    for args in (["show", guid], ["show", guid[:8]], ["show", guid.replace("-", "")], ["log", guid],
                 ["log", guid[:10]]):
        assert remote.ok(*args).stdout == run_cli(env.home, *args).stdout, args
        assert remote.json(*args) == local_json(env, *args), args
    assert "parent       " + env.org_guid in remote.ok("show", guid).stdout


def test_list_and_bulk_changes_page_past_the_api_page_size(env, remote):
    # 1,001 tokens in one audience: the CLI follows next_cursor over two pages of 1,000.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: env.create(name=f"paged {i:04d}", audience="paged"), range(1001)))
    rows = remote.json("list", "--audience", "paged")
    assert len(rows) == 1001
    assert rows == local_json(env, "list", "--audience", "paged")
    # More than one all-or-nothing change can carry is refused before anything changes.
    r = remote("deactivate", "--yes", "--all-matching", "--audience", "paged")
    assert r.returncode == 64 and "at most 1000" in r.stderr
    assert {row["status"] for row in local_json(env, "list", "--audience", "paged")} == {"active"}
    expected = local_json(env, "list", "--audience", "paged", "--name", "paged 00")
    assert 20 < len(expected) < 1000
    out = remote.json("deactivate", "--yes", "--all-matching", "--audience", "paged", "--name", "paged 00")
    assert sorted(out["guids"]) == sorted(row["guid"] for row in expected)
    text = remote.ok("activate", "--all-matching", "--audience", "paged", "--status", "inactive")
    assert f"Activated {len(expected)} tokens." in text.stderr


def test_lifecycle_commands_match_local_shapes(env, remote):
    a = remote.json("issue", "--name", "life a", "--audience", "life", "--all")["guid"]
    b = remote.json("issue", "--name", "life b", "--audience", "life", "--all")["guid"]
    out = remote.json("deactivate", a[:9], b)
    assert out == {"action": "deactivate", "count": 2, "guids": [a, b]}
    assert {r["status"] for r in local_json(env, "list", "--audience", "life")} == {"inactive"}
    text = remote.ok("activate", a, b)
    assert f"Activated {a} (life a)" in text.stderr and f"Activated {b} (life b)" in text.stderr
    assert "within about a second" in text.stderr
    # Already active: counted as locally (the selected tokens), nothing changes.
    assert remote.json("activate", a) == {"action": "activate", "count": 1, "guids": [a]}
    # GUIDs on stdin, with comments and blank lines.
    out = remote.json("deactivate", "-", stdin=f"# two\n{a}\n\n{b}\n")
    assert out["count"] == 2
    # Permanent changes ask; without a terminal they need --yes (64, nothing changed).
    r = remote("revoke", a)
    assert r.returncode == 64 and "--yes" in r.stderr
    assert local_json(env, "show", a)["status"] == "inactive"
    r = remote("revoke", "-", stdin=f"{a}\n")
    assert r.returncode == 64 and "pass --yes" in r.stderr
    assert remote.json("revoke", "--yes", a) == {"action": "revoke", "count": 1, "guids": [a]}
    assert local_json(env, "show", a)["status"] == "revoked"
    assert remote.json("edit", b, "--name", "life b renamed", "--description", "d")["name"] == "life b renamed"
    assert local_json(env, "show", b)["description"] == "d"
    assert remote.ok("edit", b[:8], "--name", "life b2").stderr.startswith(f"Updated {b} (life b2)")
    deleted = remote.json("delete", "--yes", b)
    assert deleted == {"action": "delete", "count": 1, "guids": [b]}
    assert b not in [r["guid"] for r in local_json(env, "list")]
    # Local mode prints the same shape for the same kind of change.
    c = local_json(env, "issue", "--name", "life c", "--audience", "life", "--all")["guid"]
    assert set(local_json(env, "deactivate", c)) == {"action", "count", "guids"}


def test_all_matching_and_confirmation(env, remote):
    guids = [remote.json("issue", "--name", f"match {i}", "--audience", "matching", "--all")["guid"]
             for i in range(3)]
    r = remote("deactivate", "--all-matching", "--audience", "matching")
    assert r.returncode == 64 and "--yes" in r.stderr, r.stderr
    out = remote.json("deactivate", "--yes", "--all-matching", "--audience", "matching", "--name", "match")
    assert out["count"] == 3 and sorted(out["guids"]) == sorted(guids)
    out = remote.json("revoke", "--yes", "--all-matching", "--audience", "matching", "--status", "inactive")
    assert out["count"] == 3
    none = remote.json("delete", "--yes", "--all-matching", "--audience", "nobody-here")
    assert none == {"action": "delete", "count": 0, "guids": []}
    r = remote("revoke", "--yes", "--all-matching")
    assert r.returncode == 64 and "at least one filter" in r.stderr


def test_cascade_revokes_what_a_token_created(env, remote):
    parent_token = remote.json("issue", "--name", "cascade parent", "--audience", "cascade", "--all")
    child = Remote(env, parent_token["token"]).json("issue", "--name", "cascade child", "--audience", "cascade",
                                                   "--read-only")
    out = remote.json("revoke", "--yes", "--cascade", parent_token["guid"])
    assert out["action"] == "revoke" and out["guids"] == [parent_token["guid"], child["guid"]]
    assert local_json(env, "show", child["guid"])["status"] == "revoked"


# ---- HTTP status → exit code ----

def test_401_a_refused_token_is_77_and_names_the_reason(env, remote):
    issued = remote.json("issue", "--name", "soon revoked", "--audience", "sigil", "--all")
    caller = Remote(env, issued["token"])
    caller.ok("list")
    remote.ok("revoke", "--yes", issued["guid"])
    r = caller("list")
    assert r.returncode == 77, r.stderr
    assert "refused the token" in r.stderr and "revoked" in r.stderr
    assert str(caller.file) in r.stderr
    j = caller("--json", "show", issued["guid"])
    assert j.returncode == 77
    assert json.loads(j.stdout)["error"] == "invalid_token" and json.loads(j.stdout)["exit_code"] == 77
    # A token that is not one at all: 401 malformed.
    bad = Remote(env, "sgl_" + "A" * 80)
    r = bad("catalog")
    assert r.returncode == 77 and "malformed" in r.stderr


def test_403_a_read_only_token_cannot_issue_or_change(env, remote):
    reader = Remote(env, remote.json("issue", "--name", "reader", "--audience", "sigil", "--read-only")["token"])
    reader.ok("list")
    reader.ok("catalog")
    r = reader("issue", "--name", "x", "--audience", "billing", "--read-only")
    assert r.returncode == 77, r.stderr
    assert "insufficient_scope" in r.stderr and "tokens.create" in r.stderr
    target = remote.json("issue", "--name", "target", "--audience", "billing", "--all")["guid"]
    r = reader("deactivate", target)
    assert r.returncode == 77 and "tokens.deactivate" in r.stderr
    assert local_json(env, "show", target)["status"] == "active"
    # Audience reach: a billing token sees no other audience (404, as if it did not exist).
    billing = Remote(env, remote.json("issue", "--name", "billing admin", "--audience", "billing", "--all")["token"])
    other = remote.json("issue", "--name", "elsewhere", "--audience", "shop", "--all")["guid"]
    assert billing("show", other).returncode == 66
    assert other not in billing.ok("list").stdout


def test_404_unknown_guid_or_prefix_is_66(remote):
    unknown = str(uuid.uuid4())
    for args in (["show", unknown], ["edit", unknown, "--name", "x"], ["deactivate", unknown],
                 ["revoke", "--yes", unknown], ["delete", "--yes", unknown], ["show", "fffffff0"]):
        r = remote(*args)
        assert r.returncode == 66, (args, r.stderr)
    r = remote("--json", "show", unknown)
    assert json.loads(r.stdout)["error"] == "not_found"


def test_409_activating_a_revoked_token_is_65(env, remote):
    guid = remote.json("issue", "--name", "conflict", "--audience", "billing", "--all")["guid"]
    remote.ok("revoke", "--yes", guid)
    r = remote("activate", guid)
    assert r.returncode == 65, r.stderr
    assert "permanent" in r.stderr
    assert run_cli(env.home, "activate", guid, check=False).returncode == 65


def test_400_422_and_413_are_usage_errors_64(env, remote):
    guid = remote.json("issue", "--name", "usage", "--audience", "billing", "--all")["guid"]
    cases = [
        (["list", "--name", ""], "empty"),                                             # 400 bad_request
        (["list", "--audience", "bad audience!"], "audience"),                         # 400
        (["edit", guid, "--scope", "devices.list"], "sealed"),                         # 422 sealed_field
        (["edit", guid, "--never-expires"], "sealed"),                                 # 422 sealed_field
        (["issue", "--name", "x", "--audience", "billing", "--scope", "nope.nothing"], "nope.nothing"),  # 422
        (["issue", "--name", "x", "--audience", "billing", "--all", "--expires", "2001-01-01"], "past"),  # 422
        (["issue", "--name", "x", "--audience", "billing", "--all", "--description", "d" * 70000], "KiB"),  # 413
        (["show", "3f2a"], "not a GUID"),                                              # refused before a request
        (["show", guid[:8] + "zz"], "not a GUID"),
    ]
    for args, expected in cases:
        r = remote(*args)
        assert r.returncode == 64, (args[:3], r.returncode, r.stderr)
        assert expected in r.stderr, (args[:3], r.stderr)
    r = remote("--json", "edit", guid, "--audience", "shop")
    assert json.loads(r.stdout)["error"] == "sealed_field" and r.returncode == 64
    assert local_json(env, "show", guid)["audience"] == "billing"


def test_429_after_repeated_failed_authentications_is_69(tmp_root):
    env = Env(tmp_root, "--failed-auth-burst", "3", "--failed-auth-refill", "0.01")
    try:
        bad = Remote(env, "sgl_" + "B" * 80)
        codes = [bad("list").returncode for _ in range(4)]
        assert codes == [77, 77, 77, 69], codes
        r = bad("list")
        assert r.returncode == 69 and "429" in r.stderr and "retry" in r.stderr, r.stderr
        # Only failures meet the limit: the good token is never refused (#20 item 5).
        assert Remote(env)("catalog").returncode == 0
    finally:
        env.close()


def locked(env):
    """Holds the ledger's write lock (BEGIN IMMEDIATE) until closed."""
    db = sqlite3.connect(str(env.home / "sigil.db"), timeout=5, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    return db


def test_503_when_the_database_stays_locked_is_75_as_locally(tmp_root):
    """#21: a busy ledger was 75 locally and 69 remotely; the body's code now decides (75 both ways)."""
    env = Env(tmp_root, env={"SIGIL_LOCK_TIMEOUT": "0.3"})
    try:
        org = Remote(env)
        org.ok("list")
        db = locked(env)
        try:
            r = org("issue", "--name", "blocked", "--audience", "billing", "--all")
            here = run_cli(env.home, "issue", "--name", "blocked", "--audience", "billing", "--all", check=False,
                           env={"SIGIL_LOCK_TIMEOUT": "0.3"})
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert r.returncode == 75 == here.returncode, (r.returncode, r.stderr, here.returncode, here.stderr)
        assert "503" in r.stderr
        assert "blocked" not in [row["name"] for row in local_json(env, "list")]
        body = env.server.client(env.org_token)
        db = locked(env)
        try:
            answer = body.post("/v1/tokens", json_body={"name": "blocked", "audience": "billing", "scope": "all"})
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert answer.status == 503 and answer.json["error"] == "unavailable"
        assert answer.json["code"] == "lock_busy"
    finally:
        env.close()


@pytest.mark.parametrize("case", ["not_found", "conflict", "outside_policy", "forged_token", "invalid_selector"])
def test_the_same_failure_exits_the_same_locally_and_remotely(env, remote, case):
    """#21: one exit-code table: the server's body carries the issuer's code and remote mode
    maps it back through the table local mode exits by."""
    if case == "not_found":
        args, stdin, expected = ["show", str(uuid.uuid4())], None, 66
    elif case == "conflict":
        guid = remote.json("issue", "--name", "gone", "--audience", "billing", "--all")["guid"]
        remote.ok("revoke", "--yes", guid)
        args, stdin, expected = ["activate", guid], None, 65
    elif case == "outside_policy":
        run_cli(env.home, "policy", "set", "--audience", "policed-remote", "--max-lifetime", "1d")
        args, stdin, expected = ["issue", "--name", "long", "--audience", "policed-remote", "--all",
                                 "--expires-in", "30d"], None, 64
    elif case == "forged_token":
        token = remote.json("issue", "--name", "victim", "--audience", "billing", "--all")["token"]
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        args, stdin, expected = ["revoke", "--token", "-"], forged + "\n", 13
    else:
        args, stdin, expected = ["show", "xyz"], None, 64
    here = subprocess.run([SIGIL_BIN, "--home", str(env.home), *args], capture_output=True, text=True,
                          input=stdin, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("SIGIL_")})
    there = remote(*args, stdin=stdin)
    assert here.returncode == expected, (case, here.returncode, here.stderr)
    assert there.returncode == expected, (case, there.returncode, there.stderr)


def test_69_when_the_server_is_down_or_the_port_closed(tmp_root):
    env = Env(tmp_root)
    org = Remote(env)
    org.ok("catalog")
    env.close()
    for args in (["list"], ["catalog"], ["revoke", "--yes", env.org_guid], ["log"]):
        r = org(*args)
        assert r.returncode == 69, (args, r.stderr)
        assert "cannot reach sigil-server" in r.stderr
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    r = sigil("list", server=f"http://127.0.0.1:{port}", token_file=org.file, secrets=(env.org_token,))
    assert r.returncode == 69


# ---- a hostile or broken "server": bounds, redirects, the token's only place ----

class FakeServer:
    """A tiny HTTP server on 127.0.0.1 that records every request and answers as `mode` says."""

    def __init__(self, mode):
        self.mode = mode
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append((self.path, dict(self.headers)))
                if outer.mode == "hang":
                    time.sleep(5)
                    return
                if outer.mode == "huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(1 << 30))
                    self.end_headers()
                    self.wfile.write(b"[" * 1024)
                    time.sleep(3)
                    return
                if outer.mode == "redirect" and not self.path.startswith("/elsewhere"):
                    self.send_response(302)
                    self.send_header("Location", f"http://127.0.0.1:{outer.port}/elsewhere/v1/tokens")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if outer.mode == "echo":
                    body = json.dumps({"error": "internal", "message": "oops " + self.headers.get("Authorization", "")})
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body.encode())
                    return
                body = b"not json"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("mode,expected", [
    ("hang", "did not answer within 1 s"),
    ("huge", "larger than 16 MiB"),
    ("redirect", "does not follow redirects"),
    ("echo", "HTTP 500"),
    ("plain", "without JSON"),
])
def test_a_broken_server_is_69_and_the_token_only_travels_in_the_header(tmp_root, mode, expected):
    token = "sgl_test-only-" + uuid.uuid4().hex * 2
    file = write_token_file(tmp_root, token)
    fake = FakeServer(mode)
    try:
        start = time.monotonic()
        r = sigil("list", "--name", "x y", server=f"http://127.0.0.1:{fake.port}", token_file=file,
                  env={"SIGIL_SERVER_TIMEOUT": "1"}, secrets=(token,))
        elapsed = time.monotonic() - start
    finally:
        fake.close()
    assert r.returncode == 69, (r.returncode, r.stderr)
    assert expected in r.stderr, r.stderr
    assert elapsed < 4, f"{mode} took {elapsed:.1f} s"
    assert "sgl_" not in r.stderr
    assert fake.requests, "the request reached the fake server"
    path, headers = fake.requests[0]
    assert path.startswith("/v1/tokens?") and "name=x%20y" in path
    assert token not in path
    assert headers.get("Authorization") == f"Bearer {token}"
    # A redirect is not followed: the token never reaches the second URL.
    assert all(not p.startswith("/elsewhere") for p, _ in fake.requests)


# ---- the token file and the refusals ----

def test_a_token_file_others_can_read_is_77_with_the_fix(env, tmp_path):
    file = write_token_file(tmp_path, env.org_token, mode=0o644)
    r = sigil("list", server=f"http://127.0.0.1:{env.server.port}", token_file=file, secrets=(env.org_token,))
    assert r.returncode == 77 and f"chmod 600 {file}" in r.stderr
    link = tmp_path / "link.token"
    os.chmod(file, 0o600)
    link.symlink_to(file)
    r = sigil("list", server=f"http://127.0.0.1:{env.server.port}", token_file=link, secrets=(env.org_token,))
    assert r.returncode == 77 and "symbolic link" in r.stderr
    r = sigil("list", server=f"http://127.0.0.1:{env.server.port}", token_file=tmp_path / "missing")
    assert r.returncode == 66 and "no token file" in r.stderr
    r = sigil("list", server=f"http://127.0.0.1:{env.server.port}")
    assert r.returncode == 64 and "--token-file" in r.stderr
    # The environment variables work like the flags.
    r = sigil("catalog", env={"SIGIL_SERVER": f"http://127.0.0.1:{env.server.port}", "SIGIL_TOKEN_FILE": str(file)},
              secrets=(env.org_token,))
    assert r.returncode == 0 and "tokens.create" in r.stdout


@pytest.mark.parametrize("command", [
    ["init"], ["keys", "list"], ["keys", "rotate"], ["keys", "export", "--audience", "billing"],
    ["revocations", "export"], ["ledger", "compact"], ["catalog", "add", "reports", "export", "--access", "read"],
])
def test_commands_that_need_the_secrets_refuse_server(env, remote, command):
    before = local_json(env, "keys", "list")
    r = remote(*command)
    assert r.returncode == 64, r.stderr
    assert "issuer host" in r.stderr
    assert local_json(env, "keys", "list") == before


def test_verify_refuses_an_explicit_server(env, remote):
    r = remote("verify", "-", "--audience", "sigil", stdin=env.org_token + "\n")
    assert r.returncode == 64 and "works offline" in r.stderr
