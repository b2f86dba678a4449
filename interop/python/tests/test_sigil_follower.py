"""RevocationFollower against a local HTTP server that long-polls like sigil-server's
GET /v1/revocations (ETag "<sequence>", If-None-Match, ?wait=, ?since= answered with a
revocation delta), and FileWatcher."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator, List

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
    assert first[1] is None and "wait=5" in first[2] and "since=" not in first[2]
    assert second[1] == '"1"'  # If-None-Match: the ETag of the list in force
    assert "since=1&wait=5" in second[2] and issuer.deltas_served >= 1  # the revoke came as a delta


ACCEPT = "application/vnd.sigil.revocations, application/vnd.sigil.revocation-delta"


def test_follower_asks_with_since_and_installs_a_delta(issuer: Issuer) -> None:
    store = new_store()
    follower = RevocationFollower(issuer.url, store, wait=1)
    _, a = make_token()
    _, b = make_token()
    l1 = make_list([(a, 1)], sequence=1)
    issuer.publish(l1, 1)
    assert follower.poll_once() == "current" and store.current is not None and store.current.raw == l1
    assert "since=" not in issuer.requests[-1][2]  # no list in force yet: the whole list
    assert issuer.accepts[-1] == ACCEPT == follower.accept
    l2 = make_list([(a, 2), (b, 1)], sequence=2, next_update=1800000000)
    issuer.publish(l2, 2)
    outcomes: List[sv.Outcome] = []
    store.on_event = outcomes.append
    assert follower.poll_once() == "current"
    assert issuer.requests[-1][2].endswith("?since=1&wait=1") and issuer.requests[-1][1] == '"1"'
    assert issuer.deltas_served == 1 and [(o.kind, o.delta) for o in outcomes] == [("installed", True)]
    assert store.current.raw == l2 and follower.etag == '"2"'  # the list the delta made, byte for byte
    assert store.check(a, 0) == "revoked" and store.check(b, 0) == "deactivated"
    assert follower.poll_once() == "not_modified"
    assert "since=2&wait=1" in issuer.requests[-1][2] and issuer.accepts[-1] == ACCEPT


def test_follower_recovers_from_a_delta_that_does_not_fit(issuer: Issuer) -> None:
    store = new_store()
    follower = RevocationFollower(issuer.url, store, wait=1)
    _, a = make_token()
    issuer.publish(make_list([], sequence=1), 1)
    assert follower.poll_once() == "current"
    l2 = make_list([(a, 1)], sequence=2)
    issuer.publish(l2, 2)
    assert follower.poll_once() == "current" and issuer.deltas_served == 1
    in_force = store.current

    # 1. A delta from list 1 while list 2 is in force (a confused cache): delta_base_mismatch.
    outcomes: List[sv.Outcome] = []
    store.on_event = outcomes.append
    issuer.delta_from = 1
    l3 = make_list([(a, 2)], sequence=3)
    issuer.publish(l3, 3)
    assert follower.poll_once() == "failed: refused"
    assert outcomes[-1].error is not None and outcomes[-1].error.reason == "delta_base_mismatch"
    assert store.current is in_force and follower.etag == '"2"' and follower.whole_list_next
    # The next request leaves since out and gets the whole list.
    assert follower.poll_once() == "current" and store.current.raw == l3
    assert "since=" not in issuer.requests[-1][2] and not follower.whole_list_next

    # 2. A delta from another list 3 than the one in force (an equivocating base): the list it
    #    rebuilds is not the one signed, bad_signature, and again the whole list recovers.
    issuer.delta_from = None
    _, b = make_token()
    _, c = make_token()
    issuer.history[3] = make_list([(b, 1)], sequence=3)  # the follower holds [(a, 2)] as list 3
    l4 = make_list([(b, 1), (c, 1)], sequence=4, next_update=1800000000)  # the delta adds c only
    issuer.publish(l4, 4)
    assert follower.poll_once() == "failed: refused"
    assert outcomes[-1].error is not None and outcomes[-1].error.reason == "bad_signature" and outcomes[-1].delta
    assert store.current.raw == l3
    assert follower.poll_once() == "current" and store.current.raw == l4

    # 3. Deltas again once a list is current.
    served = issuer.deltas_served
    l5 = make_list([], sequence=5)
    issuer.publish(l5, 5)
    assert follower.poll_once() == "current" and store.current.raw == l5
    assert "since=4" in issuer.requests[-1][2] and issuer.deltas_served == served + 1


def test_follower_thread_recovers_from_a_refused_delta_by_itself(issuer: Issuer) -> None:
    store = new_store()
    _, a = make_token()
    issuer.publish(make_list([], sequence=1), 1)
    follower = RevocationFollower(issuer.url, store, wait=1)
    follower.min_backoff = 0.05
    assert follower.poll_once() == "current"
    issuer.delta_from = 0  # every delta claims base 0: never the list in force
    issuer.history[0] = make_list([], sequence=0)
    issuer.publish(make_list([(a, 2)], sequence=2), 2)
    follower.start()
    try:
        assert wait_until(lambda: store.check(a, 0) == "revoked", 5)
    finally:
        follower.stop(timeout=5)
    paths = [p for _, _, p in issuer.requests]
    assert "since=1" in paths[1] and "since=" not in paths[2]


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
