"""RevocationFollower against a local HTTP server that long-polls like sigil-server's
GET /v1/revocations (ETag "<sequence>", If-None-Match, ?wait=), and FileWatcher."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import AUDIENCE, KEY, damage_signature, make_list, make_token, wait_until
from fake_issuer import Issuer

import sigil_verify as sv
from sigil_verify import ed25519
from sigil_verify.follower import MAX_BACKOFF, MIN_BACKOFF, FileWatcher, RevocationFollower


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.close()


def new_store(**kw: Any) -> sv.RevocationStore:
    return sv.RevocationStore({"r1": ed25519.public_key(b"\x11" * 32)}, when_no_list="fail_closed", **kw)


def test_follower_sees_a_revoke_within_two_seconds(issuer: Issuer) -> None:
    token, guid = make_token()
    issuer.publish(make_list([], sequence=1), 1)
    store = new_store()
    verifier = sv.Verifier(AUDIENCE, {"k1": KEY}, revocations=store)
    assert verifier.verify(token)[1] == "revocations_stale"  # fails closed until the first list
    follower = RevocationFollower(issuer.url, store, wait=5).start()
    try:
        assert wait_until(lambda: verifier.verify(token)[0], 5)
        assert wait_until(lambda: len(issuer.requests) >= 2, 5)  # now holding a long poll
        time.sleep(0.2)
        revoked_at = time.monotonic()
        issuer.publish(make_list([(guid, 2)], sequence=2), 2)
        assert wait_until(lambda: verifier.verify(token)[1] == "revoked", 2)
        assert time.monotonic() - revoked_at < 2
    finally:
        follower.stop()
    first, second = issuer.requests[0], issuer.requests[1]
    assert first[1] is None and "wait=5" in first[2]
    assert second[1] == '"1"'  # If-None-Match: the ETag of the list in force


def test_follower_refuses_rollback_equivocation_and_forgery(issuer: Issuer) -> None:
    store = new_store()
    follower = RevocationFollower(issuer.url, store, wait=1)
    _, g = make_token()
    issuer.publish(make_list([(g, 2)], sequence=5), 5)
    assert follower.poll_once() == "current" and store.current is not None and store.current.sequence == 5
    assert follower.poll_once() == "not_modified"
    in_force = store.current
    for data, seq in (
        (make_list([], sequence=4), 4),  # rollback
        (make_list([(g, 1)], sequence=5), 6),  # equivocation (served under another ETag)
        (make_list([], sequence=9, seed=b"\x22" * 32), 9),  # signed by another key
        (damage_signature(make_list([], sequence=10)), 10),  # damaged signature
    ):
        issuer.publish(data, seq)
        assert follower.poll_once() == "failed: refused"
        assert store.current is in_force and store.check(g, int(time.time())) == "revoked"
        assert follower.etag == '"5"'  # a refused list does not move the ETag
    issuer.publish(make_list([], sequence=11), 11)
    assert follower.poll_once() == "current" and store.current.sequence == 11


def test_follower_bounds_size_and_time(issuer: Issuer) -> None:
    store = new_store(max_bytes=4096)
    follower = RevocationFollower(issuer.url, store, wait=1)
    issuer.mode = "declare_huge"
    assert follower.poll_once().startswith("failed")
    issuer.mode = "stream_huge"  # no Content-Length: cut off past max_bytes
    assert follower.poll_once().startswith("failed")
    issuer.mode = "stall"
    follower.slack = 0.5
    started = time.monotonic()
    assert follower.poll_once().startswith("failed")
    assert time.monotonic() - started < 2.5
    assert store.current is None


def test_follower_backs_off_doubling_to_a_cap(issuer: Issuer) -> None:
    assert (MIN_BACKOFF, MAX_BACKOFF) == (1.0, 30.0)
    issuer.mode = "error"
    follower = RevocationFollower(issuer.url, new_store(), wait=1)
    follower.min_backoff, follower.max_backoff = 0.1, 0.4
    follower.start()
    try:
        assert wait_until(lambda: len(issuer.requests) >= 6, 5)
    finally:
        follower.stop(timeout=5)
    times = [t for t, _, _ in issuer.requests[:6]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    for gap, want in zip(gaps, (0.1, 0.2, 0.4, 0.4, 0.4)):
        assert want * 0.9 <= gap < want + 0.3, gaps


def test_follower_takes_only_http_urls() -> None:
    with pytest.raises(ValueError):
        RevocationFollower("file:///etc/passwd", new_store())


def test_file_watcher(tmp_path: Path) -> None:
    path = tmp_path / "revocations.sgl"
    store = new_store()
    watcher = FileWatcher(path, store, interval=0.05)
    assert watcher.check_once() is None  # absent: nothing to do
    _, g = make_token()
    path.write_bytes(make_list([(g, 1)], sequence=3))
    first = watcher.check_once()
    assert first is not None and first.kind == "installed" and first.sequence == 3
    assert watcher.check_once() is None  # unchanged file: not read again
    path.write_bytes(make_list([], sequence=2) + b"")
    os.utime(path, ns=(1, 1))
    refused = watcher.check_once()
    assert refused is not None and refused.error is not None and refused.error.reason == "rollback"
    assert store.check(g, 0) == "deactivated"
    watcher.start()
    try:
        path.write_bytes(make_list([], sequence=4))
        assert wait_until(lambda: store.current is not None and store.current.sequence == 4, 3)
        assert store.check(g, 0) is None
    finally:
        watcher.stop(timeout=2)
