"""Against a real sigil-server: a token revoked through its API is refused by the ASGI
middleware (Starlette) and by ./example-server (WSGI), each following GET /v1/revocations,
within 2 s. Skipped without the binaries (SIGIL_BIN / SIGIL_SERVER_BIN, defaulting to the
repository's .build/debug/sigil and Server/.build/debug/sigil-server)."""

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
from conftest import PACKAGE_ROOT, REPO, free_socket, get, python_env, wait_until

import sigil_verify as sv
from sigil_verify.asgi import SigilASGIMiddleware


def _binary(env: str, default: Path) -> Optional[str]:
    path = os.environ.get(env) or str(default)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


SIGIL = _binary("SIGIL_BIN", REPO / ".build" / "debug" / "sigil")
SERVER = _binary("SIGIL_SERVER_BIN", REPO / "Server" / ".build" / "debug" / "sigil-server")
pytestmark = pytest.mark.skipif(SIGIL is None or SERVER is None, reason="no sigil / sigil-server binary")
LISTENING = re.compile(r"sigil-server: listening on http://[^\s]+:(\d+)")


class Live:
    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.root = root

    def cli(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "SIGIL_HOME"}
        p = subprocess.run([str(SIGIL), "--home", str(self.home), *args], capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def issue(self, audience: str, *scope: str) -> Any:
        return json.loads(self.cli("issue", "--json", "--name", "t", "--audience", audience, *scope))

    def start_server(self) -> int:
        self.log = open(self.root / "server.log", "wb")
        self.proc = subprocess.Popen(
            [str(SERVER), "--home", str(self.home), "--port", "0"], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        found: List[int] = []

        def listening() -> bool:
            m = LISTENING.search((self.root / "server.log").read_text(errors="replace"))
            if m:
                found.append(int(m.group(1)))
            return bool(m) or self.proc.poll() is not None

        assert wait_until(listening, 30) and found, (self.root / "server.log").read_text(errors="replace")
        return found[0]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    env = Live(tmp_path)
    yield env
    if hasattr(env, "proc"):
        env.stop()


def test_revoke_through_sigil_server_is_refused_within_two_seconds(live: Live, tmp_path: Path) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    org = live.issue("sigil", "--all")
    svc = live.issue("billing", "--scope", "devices.list")
    keyset_path = tmp_path / "keyset.json"
    live.cli("keys", "export", "--audience", "billing", "-o", str(keyset_path))
    port = live.start_server()
    url = f"http://127.0.0.1:{port}/v1/revocations"

    # The ASGI side, in this process.
    keyset = sv.read_keyset(keyset_path)
    store = sv.RevocationStore(keyset.revocation_keys, stale_policy="fail_closed", when_no_list="fail_closed")
    follower = sv.RevocationFollower(url, store, wait=10).start()

    async def protected(request: Request) -> JSONResponse:
        return JSONResponse({"guid": request.state.sigil_token.guid})

    app = SigilASGIMiddleware(Starlette(routes=[Route("/protected", protected)]), sv.Verifier.from_keyset(keyset, revocations=store), sv.Permission("devices.list", "read"))
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # The WSGI side: the example server, in its own process.
    example = subprocess.Popen(
        [str(PACKAGE_ROOT / "example-server"), "--port", "0", "--keyset", str(keyset_path), "--revocations-url", url,
         "--permission", "devices.list", "--access", "read", "--wait", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=python_env(),
    )
    try:
        assert wait_until(lambda: server.started, 10)
        assert example.stdout is not None
        example_port = int(example.stdout.readline().split()[1])
        ports = [sock.getsockname()[1], example_port]
        auth = [("Authorization", f"Bearer {svc['token']}")]
        for p in ports:
            assert wait_until(lambda: get(p, "/protected", auth).status == 200, 10), p
            assert get(p, "/protected", auth).json() == {"guid": svc["guid"]}
        time.sleep(1.5)  # both followers are now holding a long poll
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/tokens/{svc['guid']}/revoke", method="POST", data=b"{}",
            headers={"Authorization": f"Bearer {org['token']}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        revoked_at = time.monotonic()
        for p in ports:
            assert wait_until(lambda: get(p, "/protected", auth).status == 401, 2 - (time.monotonic() - revoked_at)), p
            assert 'error_description="revoked"' in get(p, "/protected", auth).headers["WWW-Authenticate"]
        elapsed = time.monotonic() - revoked_at
        print(f"revoke refused by both middlewares after {elapsed:.2f} s")
        assert elapsed < 2
    finally:
        follower.stop()
        server.should_exit = True
        thread.join(10)
        example.send_signal(signal.SIGTERM)
        example.wait(10)
    assert svc["token"] not in (example.stderr.read() if example.stderr else "")
