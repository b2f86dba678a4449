"""A graceful shutdown does not wait out the long polls it holds (issue #22 item 8).

SIGTERM closes the revocation broadcaster first: every waiting long poll is answered at once
(304, the list it holds is still the newest), and the process exits. With a thousand polls
open it still ends within two seconds, and no poll is dropped without an answer.
"""

import selectors
import signal
import socket
import time

from conftest import Env

POLLS = 1000


def read_status(sock, deadline):
    """The status line of the answer on `sock`, or None if none came before `deadline`."""
    data = b""
    while b"\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            return None
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_sigterm_with_a_thousand_long_polls_ends_within_two_seconds(tmp_root):
    e = Env(tmp_root, "--max-connections", str(POLLS + 100))
    etag = e.anonymous.get("/v1/revocations").header("ETag")
    request = (
        f"GET /v1/revocations?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {etag}\r\n\r\n").encode()
    socks = []
    try:
        for _ in range(POLLS):
            s = socket.create_connection(("127.0.0.1", e.server.port), timeout=5)
            s.sendall(request)
            socks.append(s)
        # Every poll is held: none has an answer yet, and the server still answers others.
        selector = selectors.DefaultSelector()
        for s in socks:
            selector.register(s, selectors.EVENT_READ)
        time.sleep(1.0)
        assert not selector.select(timeout=0), "a long poll was answered before anything changed"
        selector.close()
        assert e.anonymous.get("/v1/health").status == 200

        start = time.monotonic()
        code = e.server.stop(signal.SIGTERM, timeout=10)
        elapsed = time.monotonic() - start
        assert code == 0
        assert elapsed < 2.0, f"shutdown with {POLLS} long polls took {elapsed:.2f} s"

        deadline = time.monotonic() + 2
        statuses = [read_status(s, deadline) for s in socks]
        unanswered = sum(1 for st in statuses if st is None)
        assert unanswered == 0, f"{unanswered} of {POLLS} long polls got no answer"
        assert all(st.startswith("HTTP/1.1 304") for st in statuses), {st for st in statuses}
        e.server.assert_no_token_in_log()
    finally:
        for s in socks:
            s.close()


def test_sighup_reads_the_keyring_again_and_keeps_serving(tmp_root):
    e = Env(tmp_root)
    try:
        assert e.org.get("/v1/tokens?limit=1").status == 200
        e.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "SIGHUP: the keyring is read again" not in e.server.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "SIGHUP: the keyring is read again" in e.server.log_text()
        # Still running, and the keyring it reads again still authenticates the token.
        assert e.server.proc.poll() is None
        assert e.org.get("/v1/tokens?limit=1").status == 200
    finally:
        e.close()
