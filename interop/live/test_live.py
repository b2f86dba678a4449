"""Every language's example server against one real sigil-server (issue 23, item 2).

One sigil-server issues a token; each `interop/<lang>/example-server` that exists (and whose
toolchain is installed) follows its GET /v1/revocations and serves GET /protected. All must
answer 200, then, once the token is revoked through the server's API, 401 within 2 s.

Binaries: SIGIL_BIN (default .build/debug/sigil) and SIGIL_SERVER_BIN (default
Server/.build/debug/sigil-server); the test is skipped without them. Every wait is bounded and
every process started here is stopped, whatever happens. Standard library and pytest only.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
# The toolchain each example server needs, beside its script.
LANGUAGES = {"python": "python3", "go": "go", "typescript": "node", "java": "java"}
# Go and Java compile on first start; later starts take well under a second.
START_TIMEOUT = float(os.environ.get("SIGIL_LIVE_START_TIMEOUT", "120"))
REFUSE_WITHIN = 2.0
LISTENING = re.compile(r"sigil-server: listening on http://[^\s]+:(\d+)")


def _binary(env: str, default: Path) -> Optional[str]:
    path = os.environ.get(env) or str(default)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


SIGIL = _binary("SIGIL_BIN", REPO / ".build" / "debug" / "sigil")
SERVER = _binary("SIGIL_SERVER_BIN", REPO / "Server" / ".build" / "debug" / "sigil-server")
pytestmark = pytest.mark.skipif(SIGIL is None or SERVER is None, reason="no sigil / sigil-server binary")


def wait_until(check: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


def status(port: int, token: str) -> int:
    """The status of GET /protected with `token`, or 0 if the server did not answer in 1 s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/protected", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """SIGTERM, then SIGKILL if it has not exited within 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Live:
    """A sigil home, the sigil-server over it, and the example servers started against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.procs: List[subprocess.Popen] = []  # type: ignore[type-arg]

    def cli(self, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "SIGIL_HOME"}
        p = subprocess.run(
            [str(SIGIL), "--home", str(self.home), *args], capture_output=True, text=True, timeout=60, env=env
        )
        assert p.returncode == 0, p.stderr
        return p.stdout

    def issue(self, audience: str, *scope: str) -> Dict[str, str]:
        return json.loads(self.cli("issue", "--json", "--name", "live", "--audience", audience, *scope))

    def start_server(self) -> int:
        log = self.root / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(SERVER), "--home", str(self.home), "--port", "0"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.procs.append(proc)
        found: List[int] = []

        def listening() -> bool:
            m = LISTENING.search(log.read_text(errors="replace"))
            if m:
                found.append(int(m.group(1)))
            return bool(m) or proc.poll() is not None

        assert wait_until(listening, 30) and found, log.read_text(errors="replace")
        return found[0]

    def start_example(self, language: str, keyset: Path, url: str) -> Tuple[Optional[int], str]:
        """Starts interop/<language>/example-server; (its port, "") or (None, why it did not start)."""
        err = open(self.root / f"{language}.err", "wb")
        proc = subprocess.Popen(
            [str(REPO / "interop" / language / "example-server"), "--port", "0", "--keyset", str(keyset),
             "--revocations-url", url, "--permission", "devices.list", "--access", "read"],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
        )
        err.close()
        self.procs.append(proc)
        lines: "queue.Queue[str]" = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None and lines.empty():
                    break
                continue
            m = re.match(r"listening (\d+)\s*$", line)
            if m:
                return int(m.group(1)), ""
        return None, f"no 'listening <port>' line within {START_TIMEOUT:.0f} s (exit {proc.poll()})"

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    env = Live(tmp_path)
    try:
        yield env
    finally:
        env.stop_all()


def available() -> Dict[str, str]:
    """Languages with an example server and their toolchain; the rest with why they are skipped."""
    out: Dict[str, str] = {}
    for language, tool in LANGUAGES.items():
        script = REPO / "interop" / language / "example-server"
        if not os.access(script, os.X_OK):
            out[language] = "no example-server"
        elif shutil.which(tool) is None:
            out[language] = f"{tool} is not installed"
        else:
            out[language] = ""
    return out


def test_every_example_server_refuses_a_revoked_token_within_two_seconds(live: Live, tmp_path: Path) -> None:
    languages = available()
    runnable = [lang for lang, why in languages.items() if not why]
    for lang, why in languages.items():
        if why:
            print(f"live: {lang} skipped: {why}")
    if not runnable:
        pytest.skip("no language has an example-server and its toolchain")

    org = live.issue("sigil", "--all")
    svc = live.issue("billing", "--scope", "devices.list")
    keyset = tmp_path / "keyset.json"
    live.cli("keys", "export", "--audience", "billing", "-o", str(keyset))
    port = live.start_server()
    url = f"http://127.0.0.1:{port}/v1/revocations"

    ports: Dict[str, int] = {}
    problems: Dict[str, str] = {}
    for lang in runnable:
        started = time.monotonic()
        example_port, why = live.start_example(lang, keyset, url)
        if example_port is None:
            problems[lang] = why
            continue
        ports[lang] = example_port
        print(f"live: {lang} example-server listening after {time.monotonic() - started:.1f} s")

    token = svc["token"]
    for lang, p in ports.items():
        # Fail-closed until the first list arrives: 503 first, then 200.
        if not wait_until(lambda: status(p, token) == 200, 15):
            problems[lang] = f"GET /protected never answered 200 (last {status(p, token)})"
    allowed = {lang: p for lang, p in ports.items() if lang not in problems}
    time.sleep(1.0)  # every follower now holds a long poll, as in production

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/tokens/{svc['guid']}/revoke", method="POST", data=b"{}",
        headers={"Authorization": f"Bearer {org['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 200
    revoked_at = time.monotonic()
    pending = dict(allowed)
    refused_after: Dict[str, float] = {}
    while pending and time.monotonic() - revoked_at < REFUSE_WITHIN:
        for lang, p in list(pending.items()):
            if status(p, token) == 401:
                refused_after[lang] = time.monotonic() - revoked_at
                del pending[lang]
        time.sleep(0.02)
    for lang in pending:
        problems[lang] = f"still not 401 {REFUSE_WITHIN:.0f} s after the revoke (last {status(pending[lang], token)})"
    for lang, seconds in sorted(refused_after.items()):
        print(f"live: {lang} refused the revoked token after {seconds:.2f} s")

    live.stop_all()
    for lang in ports:
        if token in (tmp_path / f"{lang}.err").read_text(errors="replace"):
            problems[lang] = "the token appears in its stderr"
    assert not problems, "\n".join(f"{lang}: {why}" for lang, why in sorted(problems.items()))
