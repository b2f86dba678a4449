"""GET /v1/revocations: ETag, 304, long polls, and the publisher that keeps the list current."""

import json
import threading
import time

from conftest import run_cli


def current(env):
    r = env.anonymous.get("/v1/revocations")
    assert r.status == 200, r
    return r


def sequence(r):
    return int(r.header("ETag").strip('"'))


def entries(env, body, tmp_path):
    """The GUIDs a list names, read back (and verified) by the CLI."""
    path = tmp_path / f"list-{time.monotonic_ns()}.sgl"
    path.write_bytes(body)
    shown = json.loads(run_cli(env.home, "revocations", "show", str(path), "--entries", "--json").stdout)
    assert shown.get("verified", True) is True, shown
    return json.dumps(shown)


def test_list_needs_no_token_and_has_an_etag(env):
    r = current(env)
    assert r.header("Content-Type") == "application/octet-stream"
    assert r.header("Cache-Control") == "no-store"
    assert sequence(r) >= 1
    again = env.anonymous.get("/v1/revocations", headers={"If-None-Match": r.header("ETag")})
    assert again.status == 304 and again.body == b""
    assert again.header("ETag") == r.header("ETag")
    other = env.anonymous.get("/v1/revocations", headers={"If-None-Match": '"0"'})
    assert other.status == 200 and other.body == r.body
    assert env.anonymous.get("/v1/revocations", headers={"If-None-Match": "*"}).status == 304


def test_wait_must_be_in_range(env):
    for value in ["0", "-1", "61", "soon", "nan"]:
        r = env.anonymous.get(f"/v1/revocations?wait={value}")
        assert r.status == 400 and r.json["error"] == "bad_request", value


def test_long_poll_times_out_with_304(env):
    etag = current(env).header("ETag")
    start = time.monotonic()
    r = env.anonymous.get("/v1/revocations?wait=0.5", headers={"If-None-Match": etag})
    elapsed = time.monotonic() - start
    if r.status == 200:  # another test's change landed meanwhile; that is a valid answer too
        assert sequence(r) > int(etag.strip('"'))
    else:
        assert r.status == 304 and 0.4 <= elapsed < 3


def long_poll_after(env, change):
    """Starts a long poll, makes `change`, and returns (response, seconds from change to answer)."""
    etag = current(env).header("ETag")
    result = {}

    def poll():
        result["r"] = env.anonymous.get("/v1/revocations?wait=20", headers={"If-None-Match": etag}, timeout=30)
        result["t"] = time.monotonic()

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    changed_at = time.monotonic()
    change()
    changed_done = time.monotonic()
    thread.join(25)
    r = result["r"]
    assert r.status == 200, r
    assert sequence(r) > int(etag.strip('"'))
    return r, result["t"] - changed_done, changed_done - changed_at


def test_long_poll_answers_within_a_second_of_an_api_revoke(env, tmp_path):
    _, row = env.create(name="long poll target")
    r, latency, _ = long_poll_after(env, lambda: env.org.post(f"/v1/tokens/{row['guid']}/revoke"))
    print(f"API revoke → long poll answer: {latency * 1000:.0f} ms")
    assert latency < 1.0
    assert row["guid"] in entries(env, r.body, tmp_path)


def test_long_poll_answers_within_a_second_of_a_cli_revoke(env, tmp_path):
    _, row = env.create(name="cli long poll target")
    r, latency, _ = long_poll_after(env, lambda: env.cli("revoke", row["guid"], "--yes"))
    print(f"CLI revoke → long poll answer: {latency * 1000:.0f} ms")
    assert latency < 1.0
    assert row["guid"] in entries(env, r.body, tmp_path)


def test_a_cli_export_is_served_too(env):
    before = sequence(current(env))
    env.cli("revocations", "export", "-o", str(env.root / "exported.sgl"))
    exported = (env.root / "exported.sgl").read_bytes()
    # The server serves the list its publisher holds, which sees the CLI's commit within a poll
    # interval (150 ms): allow a second.
    deadline = time.monotonic() + 1
    r = current(env)
    while sequence(r) <= before and time.monotonic() < deadline:
        time.sleep(0.02)
        r = current(env)
    assert sequence(r) > before
    assert r.body == exported


def test_a_burst_makes_few_lists(env):
    rows = [env.create(name=f"burst {i}")[1] for i in range(20)]
    before = sequence(current(env))
    for row in rows:
        env.org.post(f"/v1/tokens/{row['guid']}/revoke")
    time.sleep(1.5)
    after = sequence(current(env))
    # 20 revokes in quick succession: debounced into a handful of lists, not 20.
    assert before < after <= before + 8
