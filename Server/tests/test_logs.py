"""#24 item 2: --log-format json|text, one line per request, request IDs, and no secret in any line.

The server runs with --log-format json and is sent requests as a token, as a console session,
anonymously, with a refused token and with the leak-report intake's secret. Every line it writes
must parse as JSON; each request line carries its request ID (the client's X-Request-Id when
valid, else one the server made, and either way answered in X-Request-Id), route template,
status, duration, caller kind and only the first 8 hex digits of the caller's GUID. Then the
whole log is searched for every token, cookie, CSRF secret and intake secret the test used.
"""

import os
import pty
import re
import subprocess
import time

import pytest

from conftest import SERVER_BIN, Env, cli_issue, log_records, request_lines

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
HEX8 = re.compile(r"^[0-9a-f]{8}$")
INTAKE_SECRET = "test-only-intake-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def lenv(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    secret = root / "intake.secret"
    secret.write_text(INTAKE_SECRET)
    os.chmod(secret, 0o600)
    e = Env(root, "--log-format", "json", "--failed-auth-burst", "100000", "--leak-report-token-file", str(secret))
    yield e
    e.close()


def sent_id(response):
    value = response.header("X-Request-Id")
    assert value, response
    return value


def line_for(e, request_id):
    """The request line with `request_id` (it is written just before the answer goes out)."""
    deadline = time.monotonic() + 5
    while True:
        lines = request_lines(e.server.log_records(), request_id=request_id)
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, (request_id, lines)
            return lines[0]
        time.sleep(0.02)


def test_every_line_is_json_with_the_fixed_fields(lenv):
    lenv.org.get("/v1/catalog")
    records = lenv.server.log_records()  # fails on any line that is not JSON
    assert len(records) >= 5
    for r in records:
        assert TIME.match(r["time"]), r
        assert r["level"] in {"trace", "debug", "info", "notice", "warning", "error", "critical"}, r
        assert isinstance(r["message"], str) and r["label"] == "sigil-server", r
    # The start-up lines too, the address line among them.
    messages = [r["message"] for r in records]
    assert any(m.startswith("sigil-server: listening on http://127.0.0.1:") for m in messages), messages
    assert "connection limits" in messages


def test_a_token_request_line_has_every_field(lenv):
    r = lenv.org.get("/v1/tokens", headers={"X-Request-Id": "trace-7f3a.01:b_2"})
    assert r.status == 200
    assert sent_id(r) == "trace-7f3a.01:b_2"
    line = line_for(lenv, "trace-7f3a.01:b_2")
    assert line["method"] == "GET" and line["route"] == "/v1/tokens" and line["status"] == 200, line
    assert line["level"] == "info" and line["message"] == "request"
    assert isinstance(line["duration_ms"], (int, float)) and 0 <= line["duration_ms"] < 30_000, line
    assert line["caller"] == "token" and line["guid"] == lenv.org_guid[:8], line
    assert HEX8.match(line["guid"])


def test_a_route_with_a_guid_logs_its_template(lenv):
    _, row = lenv.create(name="looked up")
    r = lenv.org.get(f"/v1/tokens/{row['guid']}")
    line = line_for(lenv, sent_id(r))
    assert line["route"] == "/v1/tokens/{guid}" and line["status"] == 200, line
    assert row["guid"] not in lenv.server.log_text(), "a path's GUID reached the log"


def test_without_an_id_the_server_makes_one_and_answers_it(lenv):
    first = sent_id(lenv.anonymous.get("/v1/health"))
    second = sent_id(lenv.anonymous.get("/v1/health"))
    assert first != second
    for made in (first, second):
        assert re.fullmatch(r"[0-9a-f]{16,32}", made), made
        line = line_for(lenv, made)
        assert line["caller"] == "anonymous" and "guid" not in line and line["route"] == "/v1/health", line


@pytest.mark.parametrize("bad", [
    "x" * 65,  # too long
    "has space",
    "slash/inside",
    "quote\"d",
    "ünïcode",
    "sgl_looks-like-a-token",  # a token pasted into the wrong header never reaches the log
    "SGL_shouted",
])
def test_an_invalid_request_id_is_replaced(lenv, bad):
    r = lenv.anonymous.get("/v1/health", headers={"X-Request-Id": bad.encode("utf-8").decode("latin-1")})
    made = sent_id(r)
    assert made != bad and re.fullmatch(r"[0-9a-f]{16,32}", made), made
    line_for(lenv, made)
    assert bad not in lenv.server.log_text()


def test_an_empty_or_repeated_request_id_is_replaced(lenv):
    r = lenv.anonymous.get("/v1/health", headers={"X-Request-Id": ""})
    assert re.fullmatch(r"[0-9a-f]{16,32}", sent_id(r))
    # Two headers: which one is meant is unclear, so neither is taken.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", lenv.server.port, timeout=10)
    conn.putrequest("GET", "/v1/health")
    conn.putheader("X-Request-Id", "first-one")
    conn.putheader("X-Request-Id", "second-one")
    conn.endheaders()
    answer = conn.getresponse()
    answer.read()
    conn.close()
    made = answer.getheader("X-Request-Id")
    assert made not in ("first-one", "second-one") and re.fullmatch(r"[0-9a-f]{16,32}", made), made


def test_every_line_of_a_request_carries_its_id(lenv):
    r = lenv.org.with_token("sgl_refused").get("/v1/catalog", headers={"X-Request-Id": "refusal-1"})
    assert r.status == 401 and sent_id(r) == "refusal-1"
    line = line_for(lenv, "refusal-1")
    assert line["caller"] == "anonymous" and line["status"] == 401 and "guid" not in line, line
    refusals = [x for x in lenv.server.log_records() if x["message"] == "refused token"
                and x.get("request_id") == "refusal-1"]
    assert len(refusals) == 1 and refusals[0]["reason"] == "malformed", refusals


def test_a_session_request_logs_the_session_caller_and_no_secret(lenv):
    signed_in = lenv.anonymous.post("/v1/session", {"token": lenv.org_token}, token=None)
    assert signed_in.status == 201, signed_in
    line = line_for(lenv, sent_id(signed_in))
    assert line["caller"] == "token" and line["guid"] == lenv.org_guid[:8], line
    cookie = signed_in.header("Set-Cookie").split(";")[0]
    csrf = signed_in.json["csrf_token"]
    r = lenv.anonymous.request("GET", "/v1/session", headers={"Cookie": cookie}, token=None)
    assert r.status == 200, r
    line = line_for(lenv, sent_id(r))
    assert line["caller"] == "session" and line["guid"] == lenv.org_guid[:8], line
    r = lenv.anonymous.request("DELETE", "/v1/session", headers={"Cookie": cookie, "X-CSRF-Token": csrf}, token=None)
    assert r.status == 204, r
    text = lenv.server.log_text()
    assert cookie.split("=", 1)[1] not in text and csrf not in text, "a session secret reached the log"


def test_no_token_cookie_or_secret_reaches_the_log(lenv):
    token, row = lenv.create(name="secret holder")
    lenv.org.with_token(token).get("/v1/catalog")
    lenv.org.post("/v1/tokens/revoke-by-token", {"token": token})
    lenv.org.with_token(token).get("/v1/catalog")  # refused now: revoked
    # The leak-report intake, with its secret and with a wrong one.
    intake = lenv.anonymous.get("/v1/leak-reports/revocable_token_types", token=INTAKE_SECRET)
    assert intake.status == 200, intake
    assert lenv.anonymous.get("/v1/leak-reports/revocable_token_types", token="wrong-intake").status == 401
    text = lenv.server.log_text()
    for secret in (token, lenv.org_token, INTAKE_SECRET, "wrong-intake", row["guid"]):
        assert secret not in text, "a secret or a whole GUID reached the log"
    assert "sgl_" not in text and "Bearer" not in text and "sigil_session=" not in text
    lenv.server.log_records()  # and still every line is JSON


def test_text_is_the_choice_on_request_and_the_default_on_a_terminal(tmp_root):
    home = tmp_root / "home"
    cli_issue(home, "org admin", "sigil", "--all")
    # --log-format text into a file: swift-log's text lines.
    text_server = subprocess.Popen([SERVER_BIN, "--home", str(home), "--port", "0", "--log-format", "text"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        lines = [text_server.stderr.readline().decode()]
        while lines[-1] and "sigil-server: listening on" not in lines[-1]:
            lines.append(text_server.stderr.readline().decode())
        assert lines[-1].startswith("sigil-server: listening on http://127.0.0.1:"), lines
        assert "info sigil-server:" in lines[0] and "connection limits" in lines[0], lines
        assert not any(line.startswith("{") for line in lines), lines
    finally:
        text_server.terminate()
        assert text_server.wait(10) == 0
    # No flag, stderr a terminal: text as well.
    main, child = pty.openpty()
    tty_server = subprocess.Popen([SERVER_BIN, "--home", str(home), "--port", "0"],
                                  stdout=subprocess.DEVNULL, stderr=child, stdin=subprocess.DEVNULL)
    os.close(child)
    try:
        seen = b""
        deadline = time.monotonic() + 15
        while b"sigil-server: listening on" not in seen and time.monotonic() < deadline:
            seen += os.read(main, 4096)
        assert b"sigil-server: listening on http://127.0.0.1:" in seen, seen
        assert not seen.lstrip().startswith(b"{"), seen
    finally:
        tty_server.terminate()
        assert tty_server.wait(10) == 0
        os.close(main)


def test_a_start_up_error_is_a_json_line_too(tmp_root):
    r = subprocess.run([SERVER_BIN, "--home", str(tmp_root / "nothing-here"), "--port", "0", "--log-format", "json"],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 66, r
    records = log_records(r.stderr)
    assert records[-1]["level"] == "critical" and "no Sigil home" in records[-1]["message"], records


def test_an_unknown_log_format_is_64(tmp_root):
    r = subprocess.run([SERVER_BIN, "--home", str(tmp_root), "--log-format", "xml"], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 64 and "log-format" in r.stderr, r
