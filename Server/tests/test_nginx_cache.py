"""Issue #22 item 6: Debian's nginx with the `proxy_cache` of docs/API.md in front of sigil-server.

200 followers poll GET /v1/revocations through nginx as the real followers do without a long poll
(`?since=<sequence in force>`, `If-None-Match`, every POLL seconds), each into its own
sigil_verify.RevocationStore (interop/python), which checks every list's Ed25519 signature and
applies every delta. Meanwhile the test revokes a few tokens on the origin directly (through the
API and the CLI) and checks:

- the origin answers a few requests per change while the followers make thousands (counted from
  nginx's access log: the requests it sent upstream). No URL reaches the origin twice within
  max-age (no stampede when an entry is new or expires), and in all the origin gets at most one
  request per change (its new `since` URL) plus one per max-age (a refresh of the URL in force):
  measured, 2-3 per change, since nginx keeps an answer up to 2 s (below);
- every follower holds the new list, with the revoked token in it, soon after it is published.

Timing is measured from the moment the new list is *published*, not from the revoke's answer:
the publisher debounces (it signs a list up to ~0.7 s after a change through the API, and sees a
CLI's commit within 150 ms more), and no cache can serve a list before it exists. A watcher
long-polls the origin directly (not through nginx, so it is not counted) and notes when each new
list appears; the revoke-to-publication delay is printed as well.

nginx's cache clock counts whole seconds (an answer with `max-age=N` stays fresh until the end
of the second N seconds after the one it was stored in), so nginx keeps a list between N and
N + 1 s. Two bounds follow, both asserted:

- every request a follower *sends* later than N + 1 s after publication is answered with the
  new list (plus FRESH_SLACK for nginx's own clock lagging on a busy machine);
- every follower *holds* the new list within N + 1 s plus its poll interval (plus POLL_SLACK for
  200 Python threads on a busy 2-core machine).

nginx's configuration is read from docs/API.md's ```nginx block in the `GET /v1/revocations`
section, with only paths and ports substituted, so the documentation and this test cannot drift.
"""

import grp
import http.client
import os
import pwd
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, Client, Env

sys.path.insert(0, str(ROOT / "interop/python/src"))
import sigil_verify as sv  # noqa: E402

NGINX = os.environ.get("SIGIL_NGINX_BIN", "/usr/sbin/nginx")
FOLLOWERS = 200
POLL = 0.25  # seconds between a follower's polls
MAX_AGE = 1  # sigil-server's --list-max-age
CHANGES = 4  # revokes, alternately through the API and the CLI
CYCLE = 3.0  # seconds from one change's publication to the next revoke
FRESH_SLACK = 0.25
POLL_SLACK = 0.5
MEDIA = "application/vnd.sigil.revocations, application/vnd.sigil.revocation-delta"

if not os.access(NGINX, os.X_OK):
    if os.environ.get("CI"):
        raise RuntimeError(f"{NGINX} is not installed (Debian package nginx; .ci/run installs it)")
    pytest.skip(f"{NGINX} not found (apt-get install nginx)", allow_module_level=True)


def documented_nginx_block():
    """The ```nginx block of docs/API.md's `GET /v1/revocations` section."""
    text = (ROOT / "docs/API.md").read_text()
    section = text.split("### `GET /v1/revocations`", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```nginx\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "docs/API.md's GET /v1/revocations section should have one nginx block"
    return blocks[0]


def substitute(text, old, new, pattern=False):
    """Replaces `old` (once, and it must be there) so a changed doc fails here, not silently."""
    result, count = re.subn(old if pattern else re.escape(old), lambda _: new, text)
    assert count == 1, f"docs/API.md's nginx block no longer has {old!r}"
    return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """Debian's nginx as this user, in the foreground, with everything it writes under `root`."""

    LOG_FORMAT = "$msec $upstream_cache_status $upstream_addr $upstream_status $status $request_uri"

    def __init__(self, root, origin_port):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.access_log = self.root / "access.log"
        self.error_log = self.root / "error.log"
        block = documented_nginx_block()
        for needed in ["proxy_cache_lock on;", "proxy_cache_use_stale updating;", "proxy_cache_key $request_uri;",
                       "proxy_cache_bypass $arg_wait;", "proxy_no_cache $arg_wait;"]:
            assert needed in block, f"docs/API.md's nginx block lost {needed!r}"
        block = substitute(block, r"proxy_cache_path \S+", f"proxy_cache_path {self.root / 'cache'}", pattern=True)
        block = substitute(block, r"proxy_pass http://127\.0\.0\.1:\d+;", f"proxy_pass http://127.0.0.1:{origin_port};",
                           pattern=True)
        self.port = free_port()
        block = substitute(block, r"server \{\n", f"server {{\n    listen 127.0.0.1:{self.port};\n", pattern=True)
        # As root, nginx would switch its workers to `nobody`; run them as this user instead.
        user = ""
        if os.geteuid() == 0:
            user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
        temp = "\n".join(f"    {kind}_temp_path {self.root / kind};" for kind in
                         ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"])
        self.conf = self.root / "nginx.conf"
        self.conf.write_text(f"""{user}
worker_processes 1;
pid {self.root / 'nginx.pid'};
error_log {self.error_log} warn;
events {{ worker_connections 2048; }}
http {{
    log_format cache '{self.LOG_FORMAT}';
    access_log {self.access_log} cache;
{temp}
    # docs/API.md, GET /v1/revocations, with paths and ports substituted:
{block}
}}
""")
        with open(self.root / "stderr.log", "wb") as stderr:
            self.proc = subprocess.Popen(
                [NGINX, "-p", str(self.root), "-e", str(self.error_log), "-c", str(self.conf), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited {self.proc.returncode}:\n{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"nginx did not listen on {self.port}:\n{self.errors()}")
                time.sleep(0.05)

    def errors(self):
        paths = [self.error_log, self.root / "stderr.log"]
        return "\n".join(p.read_text(errors="replace") for p in paths if p.exists())

    def log_lines(self):
        """(epoch seconds, cache status, upstream address, upstream status, status, URI) per request."""
        rows = []
        for line in self.access_log.read_text().splitlines():
            at, cache, upstream, upstream_status, status, uri = line.split(" ", 5)
            rows.append((float(at), cache, upstream, upstream_status, status, uri))
        return rows

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finishes its requests, flushes its log
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class Follower(threading.Thread):
    """Polls through nginx every POLL seconds on one keep-alive connection, like
    sigil_verify.RevocationFollower does when there is no long poll: `?since=` while a list is in
    force, `If-None-Match` with the last ETag, every answer offered to its own store."""

    def __init__(self, port, keys, stop):
        super().__init__(daemon=True)
        self.port = port
        self.store = sv.RevocationStore(keys)
        self.stop_event = stop
        self.etag = None
        self.answers = []  # (sent, received, sequence in force after the answer)
        self.statuses = {}
        self.errors = []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        self.stop_event.wait(random.uniform(0, POLL))
        while not self.stop_event.is_set():
            current = self.store.current
            path = "/v1/revocations" + (f"?since={current.sequence}" if current is not None else "")
            headers = {"Accept": MEDIA}
            if self.etag is not None:
                headers["If-None-Match"] = self.etag
            sent = time.monotonic()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                conn.close()
                self.stop_event.wait(POLL)
                continue
            received = time.monotonic()
            self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
            if r.status == 200:
                outcome = self.store.offer(body)
                if outcome.kind == "refused":
                    self.errors.append(f"refused {outcome.error}")
                else:
                    self.etag = r.getheader("ETag")
            elif r.status != 304:
                self.errors.append(f"HTTP {r.status}")
            current = self.store.current
            self.answers.append((sent, received, current.sequence if current else 0))
            self.stop_event.wait(max(0.0, POLL - (time.monotonic() - sent)))
        conn.close()


class Watcher(threading.Thread):
    """Long-polls the origin directly and notes when each new list is first served (monotonic)."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port = port
        self.stop_event = stop
        self.published = {}  # sequence -> monotonic time first seen
        self.ready = threading.Event()

    def run(self):
        etag = None
        while not self.stop_event.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", "/v1/revocations" + ("?wait=2" if etag else ""),
                             headers={"If-None-Match": etag} if etag else {})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    etag = r.getheader("ETag")
                    self.published.setdefault(int(etag.strip('"')), time.monotonic())
                self.ready.set()
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
            finally:
                conn.close()

    def first_after(self, sequence, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            newer = sorted(s for s in self.published if s > sequence)
            if newer:
                return newer[0], self.published[newer[0]]
            time.sleep(0.01)
        raise AssertionError(f"no list after {sequence} was published within {timeout} s")


@pytest.fixture
def stack(tmp_root):
    env = Env(tmp_root, "--list-max-age", str(MAX_AGE))
    nginx = Nginx(tmp_root / "nginx", env.server.port)
    yield env, nginx
    nginx.stop()
    env.close()
    if nginx.proc.returncode not in (0, -signal.SIGQUIT):
        print(nginx.errors())


def test_200_followers_through_nginx_cost_the_origin_a_few_requests_per_change(stack):
    env, nginx = stack
    # Enough revoked tokens that one more revoke is smaller as a delta than as a list, so the
    # followers' `?since=` answers are deltas (docs/FORMAT.md §4.3), cached under their own URL.
    for i in range(8):
        env.org.post(f"/v1/tokens/{env.create(name=f'filler {i}')[1]['guid']}/revoke")
    targets = [env.create(name=f"target {i}")[1]["guid"] for i in range(CHANGES)]
    keyset = env.root / "keyset.json"
    env.cli("keys", "export", "--audience", "billing", "-o", str(keyset))
    keys = sv.read_keyset(keyset).revocation_keys

    direct = env.anonymous.get("/v1/revocations")
    assert direct.header("Cache-Control") == f"public, max-age={MAX_AGE}", direct
    proxied = Client(nginx.port).get("/v1/revocations")
    assert proxied.status == 200 and proxied.header("X-Cache-Status") in ("MISS", "HIT", "EXPIRED"), proxied

    stop = threading.Event()
    watcher = Watcher(env.server.port, stop)
    followers = [Follower(nginx.port, keys, stop) for _ in range(FOLLOWERS)]
    try:
        watcher.start()
        assert watcher.ready.wait(10)
        time.sleep(1.5)  # the fillers' list is published (debounced) before the first change
        for f in followers:
            f.start()
        start_sequence = max(watcher.published)
        deadline = time.monotonic() + 15
        while any(f.store.current is None or f.store.current.sequence < start_sequence for f in followers):
            assert time.monotonic() < deadline, "the followers did not all get the first list"
            time.sleep(0.1)
        time.sleep(2 * (MAX_AGE + 1))  # a steady state: every follower polling `since` the same list

        changes = []  # (sequence, published at, revoke answered at, guid, how)
        phase_start_epoch = time.time()
        phase_start = time.monotonic()
        sequence = max(watcher.published)
        for i, guid in enumerate(targets):
            how = "api" if i % 2 == 0 else "cli"
            if how == "api":
                r = env.org.post(f"/v1/tokens/{guid}/revoke")
                assert r.status == 200, r
            else:
                env.cli("revoke", guid, "--yes")
            answered = time.monotonic()
            sequence, published = watcher.first_after(sequence, 5)
            changes.append((sequence, published, answered, guid, how))
            deadline = published + MAX_AGE + 1 + POLL + POLL_SLACK + 5
            while any(f.store.current.sequence < sequence for f in followers):
                assert time.monotonic() < deadline, f"list {sequence} did not reach every follower"
                time.sleep(0.05)
            time.sleep(max(0.0, published + CYCLE - time.monotonic()))  # the cache serves it a while
        phase_end = time.monotonic()
        phase_end_epoch = time.time()
    finally:
        stop.set()
        for f in followers:
            f.join(15)
        watcher.join(5)
    nginx.stop()

    errors = [e for f in followers for e in f.errors]
    assert not errors, errors[:10]

    # What reached the origin: the requests nginx sent upstream (MISS, EXPIRED, REVALIDATED, …;
    # a HIT, or an UPDATING answered from the expired entry while another request refreshes it,
    # has no upstream address). The watcher's long polls go to the origin directly.
    to_epoch = phase_start_epoch - phase_start
    rows = nginx.log_lines()
    during = [row for row in rows if phase_start_epoch <= row[0] <= phase_end_epoch]
    origin = [row for row in during if row[2] != "-"]
    follower_requests = sum(1 for f in followers for a in f.answers if phase_start <= a[0] <= phase_end)
    seconds = phase_end - phase_start
    kinds = {}
    for row in during:
        kinds[row[1]] = kinds.get(row[1], 0) + 1
    statuses = {}
    for f in followers:
        for code, n in f.statuses.items():
            statuses[code] = statuses.get(code, 0) + n
    print(f"\n{FOLLOWERS} followers, {CHANGES} changes in {seconds:.1f} s: the followers made {follower_requests} "
          f"requests through nginx (its log: {len(during)}, {kinds}; the followers got {statuses}); "
          f"the origin got {len(origin)}, {len(origin) / CHANGES:.1f} per change")
    starts = [published + to_epoch for _, published, _, _, _ in changes] + [phase_end_epoch]
    per_change = [[row for row in origin if starts[k] <= row[0] < starts[k + 1]] for k in range(CHANGES)]
    for (sequence, *_), rows_k in zip(changes, per_change):
        print(f"  list {sequence}: {len(rows_k)} origin requests: "
              + ", ".join(f"{uri.split('?')[-1]} {cache} {up_status}" for _, cache, _, up_status, _, uri in rows_k))

    # Latency, per change, from publication.
    bound_sent = MAX_AGE + 1 + FRESH_SLACK
    bound_held = MAX_AGE + 1 + POLL + POLL_SLACK
    worst_sent = worst_held = worst_end_to_end = 0.0
    for sequence, published, answered, guid, how in changes:
        held, last_stale_sent = [], []
        for f in followers:
            held.append(next(received for sent, received, seq in f.answers if seq >= sequence) - published)
            stale = [sent for sent, received, seq in f.answers if seq < sequence]
            last_stale_sent.append(max(stale) - published if stale else float("-inf"))
            assert f.store.current.status(sv.guid_bytes(guid)) == "revoked"
        held.sort()
        print(f"  list {sequence} ({how} revoke) published {published - answered:.2f} s after the revoke's answer; "
              f"the followers held it {held[0]:.2f}–{held[-1]:.2f} s after (median {held[len(held) // 2]:.2f}); "
              f"the last request answered with the old list was sent {max(last_stale_sent):.2f} s after")
        worst_sent = max(worst_sent, max(last_stale_sent))
        worst_held = max(worst_held, held[-1])
        worst_end_to_end = max(worst_end_to_end, published - answered + held[-1])
    assert worst_sent <= bound_sent, f"the old list answered a request sent {worst_sent:.2f} s after publication"
    assert worst_held <= bound_held, f"a follower got the new list {worst_held:.2f} s after publication"
    # From the revoke's answer: the publisher's debounce (~0.7 s at most, a CLI's commit is seen
    # within 150 ms more) comes first.
    print(f"  revoke answered → every follower holds the list: at most {worst_end_to_end:.2f} s")
    assert worst_end_to_end <= 1.0 + bound_held

    # Few origin requests, whatever the number of followers. No stampede: each URL reaches the
    # origin at most once per max-age, when it is new (proxy_cache_lock) or expired
    # (proxy_cache_use_stale updating). In all: one request per change for its new `since` URL,
    # plus a refresh per max-age of the one URL the followers ask (they all hold the same list).
    assert follower_requests >= 2000, f"only {follower_requests} follower requests: the test did not load the cache"
    by_uri = {}
    for row in origin:
        by_uri.setdefault(row[5], []).append(row[0])
    for uri, times in by_uri.items():
        gaps = [round(b - a, 3) for a, b in zip(times, times[1:])]
        assert all(gap >= MAX_AGE - 0.05 for gap in gaps), f"{uri} reached the origin {gaps} s apart"
    allowed = CHANGES + 1 + seconds / MAX_AGE
    assert len(origin) <= allowed, f"the origin got {len(origin)} requests for {CHANGES} changes in {seconds:.1f} s"
