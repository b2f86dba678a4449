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
    assert r.header("Content-Type") == "application/vnd.sigil.revocations"
    # Public and signed: a CDN or proxy may keep it for --list-max-age (default 1 s).
    assert r.header("Cache-Control") == "public, max-age=1"
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


def settled(env, before):
    """The list once the publisher has signed one newer than `before` (debounced: within a second)."""
    deadline = time.monotonic() + 3
    r = current(env)
    while sequence(r) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
        r = current(env)
    assert sequence(r) > before, r
    return r


def show(env, tmp_path, data, *args):
    path = tmp_path / f"shown-{time.monotonic_ns()}"
    path.write_bytes(data)
    return run_cli(env.home, "revocations", "show", str(path), "--json", *args, check=False)


def fill(env):
    """Six revoked tokens in the list (published), so one more revoke is smaller as a delta than as a list."""
    for i in range(6):
        env.org.post(f"/v1/tokens/{env.create(name=f'delta filler {i}')[1]['guid']}/revoke")
    time.sleep(1.5)  # the publisher signs within ~0.7 s of a burst's first change


def test_since_answers_a_delta_that_rebuilds_the_list(env, tmp_path):
    """Issue #22: ?since=SEQ answers the changes (docs/FORMAT.md §4.3), a few bytes per revoke."""
    fill(env)
    _, row = env.create(name="delta target")
    base = current(env)
    env.org.post(f"/v1/tokens/{row['guid']}/revoke")
    full = settled(env, sequence(base))
    r = env.anonymous.get(f"/v1/revocations?since={sequence(base)}")
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/vnd.sigil.revocation-delta"
    assert r.header("ETag") == full.header("ETag")
    assert r.header("Cache-Control") == "public, max-age=1"
    assert r.body[:4] == b"SGLD" and len(r.body) < len(full.body)
    base_path = tmp_path / "base.sgl"
    base_path.write_bytes(base.body)
    shown = show(env, tmp_path, r.body, "--base", str(base_path), "--entries")
    assert shown.returncode == 0, shown.stderr
    delta = json.loads(shown.stdout)
    assert delta["kind"] == "delta" and delta["verified"] is True
    assert delta["base_sequence"] == sequence(base) and delta["sequence"] == sequence(full)
    assert {"guid": row["guid"], "status": "revoked"} in delta["entries"]
    assert delta["list"]["count"] == json.loads(show(env, tmp_path, full.body).stdout)["count"]
    # Unchecked without its base; refused over another base (exit 24).
    alone = json.loads(show(env, tmp_path, r.body).stdout)
    assert alone["verified"] is None and alone["changes"] == delta["changes"]
    other = tmp_path / "other.sgl"
    other.write_bytes(full.body)
    mismatch = show(env, tmp_path, r.body, "--base", str(other))
    assert mismatch.returncode == 24 and json.loads(mismatch.stdout)["reason"] == "delta_base_mismatch"
    # The same delta again (cached), and a 304 for a caller that already holds the newest list.
    assert env.anonymous.get(f"/v1/revocations?since={sequence(base)}").body == r.body
    again = env.anonymous.get(f"/v1/revocations?since={sequence(base)}", headers={"If-None-Match": full.header("ETag")})
    assert again.status == 304


def test_since_the_server_does_not_hold_answers_the_whole_list(env):
    r = current(env)
    for since in ["0", str(sequence(r)), str(sequence(r) + 1000), "18446744073709551615"]:
        got = env.anonymous.get(f"/v1/revocations?since={since}")
        assert got.status == 200 and got.header("Content-Type") == "application/vnd.sigil.revocations", since
        assert got.body[:4] == b"SGLR"


def test_since_must_be_a_sequence(env):
    for value in ["-1", "x", "1.5", "18446744073709551616", "", "0x10", "+1"]:
        r = env.anonymous.get(f"/v1/revocations?since={value}")
        assert r.status == 400 and r.json["error"] == "bad_request", value
        assert "since" in r.json["message"]
    assert env.anonymous.get("/v1/revocations?since=1&since=2").status == 400


def test_a_long_poll_with_since_wakes_with_a_delta_and_is_not_cached(env):
    fill(env)
    _, row = env.create(name="delta long poll")
    base = current(env)
    result = {}

    def poll():
        result["r"] = env.anonymous.get(
            f"/v1/revocations?since={sequence(base)}&wait=20", headers={"If-None-Match": base.header("ETag")}, timeout=30
        )

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    env.org.post(f"/v1/tokens/{row['guid']}/revoke")
    thread.join(25)
    r = result["r"]
    assert r.status == 200 and r.header("Content-Type") == "application/vnd.sigil.revocation-delta"
    assert r.header("Cache-Control") == "no-store"
    timed_out = env.anonymous.get("/v1/revocations?wait=0.2", headers={"If-None-Match": r.header("ETag")})
    assert timed_out.header("Cache-Control") == "no-store"


def test_pull_asks_with_since_and_writes_the_whole_list(env, tmp_path):
    out = tmp_path / "pulled.sgl"
    url = f"http://127.0.0.1:{env.server.port}/v1/revocations"
    first = json.loads(env.cli("revocations", "pull", url, "-o", str(out), "--json").stdout)
    assert first["outcome"] == "replaced" and first["via"] == "list"
    _, row = env.create(name="pulled by delta")
    before = sequence(current(env))
    env.org.post(f"/v1/tokens/{row['guid']}/revoke")
    full = settled(env, before)
    second = json.loads(env.cli("revocations", "pull", url, "-o", str(out), "--json").stdout)
    assert second["outcome"] == "replaced" and second["via"] == "delta", second
    assert second["list"]["sequence"] == sequence(full)
    assert out.read_bytes() == full.body, "the file holds the whole list, byte for byte"
