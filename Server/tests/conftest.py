"""End-to-end tests of sigil-server: real processes on 127.0.0.1, the standard library only.

Nothing is built here. The binaries come from the environment (scripts/server-test.sh builds them):
  SIGIL_SERVER_BIN  default Server/.build/debug/sigil-server
  SIGIL_BIN         default .build/debug/sigil
"""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_BIN = os.environ.get("SIGIL_SERVER_BIN", str(ROOT / "Server/.build/debug/sigil-server"))
SIGIL_BIN = os.environ.get("SIGIL_BIN", str(ROOT / ".build/debug/sigil"))
LISTENING = re.compile(r"sigil-server: listening on http://([^\s:]+|\[[^\]]+\]):(\d+)")


def run_cli(home, *args, check=True, env=None):
    """Runs the sigil CLI on `home`; returns the CompletedProcess."""
    full_env = dict(os.environ, **(env or {}))
    result = subprocess.run(
        [SIGIL_BIN, "--home", str(home), *args], capture_output=True, text=True, env=full_env,
        stdin=subprocess.DEVNULL, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"sigil {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def cli_issue(home, name, audience, *scope_args):
    """Issues a token with the CLI; returns (token, guid)."""
    out = run_cli(home, "issue", "--json", "--name", name, "--audience", audience, *scope_args).stdout
    issued = json.loads(out)
    return issued["token"], issued["guid"]


def eventually(predicate, seconds=20, what="the condition", interval=0.05):
    """Polls `predicate` until it returns something truthy, which it returns; fails after `seconds`
    naming `what` (a string, or a function of nothing that describes the last state)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what() if callable(what) else what}: not within {seconds} s")
        time.sleep(interval)


def log_records(text):
    """Every line of a JSON log (docs/OPERATIONS.md), parsed."""
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a log line is not JSON: {line!r}") from None
    return records


def request_lines(records, **fields):
    """The per-request lines whose fields equal `fields`."""
    return [r for r in records if r.get("message") == "request" and all(r.get(k) == v for k, v in fields.items())]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Client:
    """A tiny HTTP client: one connection per request, so threads can share it."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def with_token(self, token):
        return Client(self.port, token)

    def request(self, method, path, body=None, json_body=None, headers=None, token=..., timeout=30):
        headers = dict(headers or {})
        token = self.token if token is ... else token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body=json_body, **kw)

    def patch(self, path, json_body=None, **kw):
        return self.request("PATCH", path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


# Every server a test started, so that none outlives the run: a test that fails half-way (or
# keeps its servers to the end, as a kill-and-restart test does) leaves them running otherwise.
_started = []


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_run():
    yield
    for server in _started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


class Server:
    """A running sigil-server on a fresh port; its stdout and stderr go to one log file."""

    def __init__(self, home, *args, env=None):
        self.home = Path(home)
        self.log_path = self.home.parent / f"server-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ, **(env or {}))
        self.proc = subprocess.Popen(
            [SERVER_BIN, "--home", str(home), "--port", "0", *args], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=full_env)
        _started.append(self)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log_text())
            if match:
                return int(match.group(2))
            if self.proc.poll() is not None:
                raise AssertionError(f"sigil-server exited {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"sigil-server did not log its port:\n{self.log_text()}")

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def log_records(self):
        """The log's lines as JSON objects: stderr is not a terminal here, so sigil-server logs
        JSON (--log-format's default); a line that is not JSON fails the test."""
        return log_records(self.log_text())

    def client(self, token=None):
        return Client(self.port, token)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the server with `sig`; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"sigil-server ignored {sig!r} for {timeout} s")
        self.log.close()
        return self.proc.returncode

    def assert_no_token_in_log(self):
        text = self.log_text()
        assert "sgl_" not in text, "a token reached the server's log"
        assert "Bearer" not in text, "an Authorization header reached the server's log"


class Restartable:
    """A sigil-server that a test kills and starts again on the same home; clients ask for the
    server of the moment, so a worker thread follows each restart."""

    def __init__(self, home, *args):
        self.home = home
        self.args = args
        self.lock = threading.Lock()
        self.start()

    def start(self):
        server = Server(self.home, *self.args)
        with self.lock:
            self.server = server

    def client(self, token=None):
        with self.lock:
            return self.server.client(token)

    def kill(self):
        with self.lock:
            server = self.server
        return server.stop(signal.SIGKILL)


@contextmanager
def running(threads, stop):
    """Starts `threads`; when the block ends, however it ends, sets `stop` and joins them."""
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def newest_list_naming(client, home, guids, path, seconds=10):
    """`revocations show --entries --json` of the newest list once it names every GUID in `guids`
    (the publisher debounces, so it may take a moment), or of the last one read after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        r = client.get("/v1/revocations")
        assert r.status == 200, r
        path.write_bytes(r.body)
        shown = json.loads(run_cli(home, "revocations", "show", str(path), "--entries", "--json").stdout)
        listed = {e["guid"] for e in shown.get("entries") or []}
        if guids <= listed or time.monotonic() > deadline:
            return shown, listed
        time.sleep(0.3)


class Env:
    """A home with an org token (audience sigil, scope all) and a server over it."""

    def __init__(self, root, *server_args, env=None):
        self.root = Path(root)
        self.home = self.root / "home"
        self.org_token, self.org_guid = cli_issue(self.home, "org admin", "sigil", "--all")
        self.server = Server(self.home, *server_args, env=env)
        self.org = self.server.client(self.org_token)
        self.anonymous = self.server.client()

    def cli(self, *args, **kw):
        return run_cli(self.home, *args, **kw)

    def create(self, name="svc", audience="billing", scope="all", client=None, **extra):
        """Creates a token through the API; returns (token, row)."""
        body = {"name": name, "audience": audience, "scope": scope, **extra}
        r = (client or self.org).post("/v1/tokens", body)
        assert r.status == 201, r
        row = r.json
        return row.pop("token"), row

    def close(self):
        code = self.server.stop()
        self.server.assert_no_token_in_log()
        assert code == 0, f"sigil-server exited {code} on SIGTERM"


@pytest.fixture
def tmp_root():
    path = Path(tempfile.mkdtemp(prefix="sigil-server-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def env():
    """One server per test module, with a generous failed-auth budget (the 429 test has its own)."""
    root = Path(tempfile.mkdtemp(prefix="sigil-server-test-"))
    e = Env(root, "--failed-auth-burst", "100000")
    yield e
    e.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_env(tmp_root):
    """A server of its own, with the default limits."""
    e = Env(tmp_root)
    yield e
    e.close()


def pytest_sessionstart(session):
    for path in (SERVER_BIN, SIGIL_BIN):
        if not os.access(path, os.X_OK):
            raise pytest.UsageError(f"{path} is not built: run scripts/server-test.sh (or set SIGIL_SERVER_BIN/SIGIL_BIN)")
