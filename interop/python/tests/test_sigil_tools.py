"""The executables and the example: examples/verify_token.py, ./example-server (over real
HTTP, following a local list endpoint), ./conformance and ./bench."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from conftest import AUDIENCE, KEY, PACKAGE_ROOT, REPO, get, damage_signature, keyset_json, make_list, make_token, python_env, wait_until
from fake_issuer import Issuer

import sigil_verify as sv
from sigil_verify import ed25519


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer()
    yield server
    server.close()


def test_example_verify_token(tmp_path: Path) -> None:
    keyset = tmp_path / "keyset.json"
    keyset.write_text(keyset_json())
    good, _ = make_token(("devices.list",))
    revoked, g = make_token("all")
    listed = tmp_path / "revocations.sgl"
    listed.write_bytes(make_list([(g, 2)], sequence=1))

    def run(token: str) -> str:
        p = subprocess.run(
            [sys.executable, str(PACKAGE_ROOT / "examples" / "verify_token.py"), str(keyset), str(listed)],
            input=token + "\n", capture_output=True, text=True, timeout=30, env=python_env(),
        )
        assert p.returncode == 0, p.stderr
        assert token not in p.stdout + p.stderr
        return p.stdout.strip()

    assert run(good) == f"valid {sv.parse_token(good).claims.guid}"
    assert run(revoked) == "refused revoked"
    read_only, g_ro = make_token("read-only")
    assert run(read_only) == f"valid {sv.guid_text(g_ro)}"  # devices.list is a read
    assert run("sgl_nope") == "refused malformed"
    assert len((PACKAGE_ROOT / "examples" / "verify_token.py").read_text().splitlines()) <= 15


def test_example_server(issuer: Issuer, tmp_path: Path) -> None:
    keyset = tmp_path / "keyset.json"
    keyset.write_text(keyset_json())
    token, g = make_token(("devices.list",))
    p = subprocess.Popen(
        [str(PACKAGE_ROOT / "example-server"), "--port", "0", "--keyset", str(keyset), "--revocations-url", issuer.url,
         "--permission", "devices.list", "--access", "read", "--wait", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=python_env(),
    )
    try:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        assert line.startswith("listening "), (line, p.stderr.read() if p.poll() is not None else "")
        port = int(line.split()[1])
        auth = [("Authorization", f"Bearer {token}")]
        # Fails closed before the first list.
        assert get(port, "/protected", auth).status == 503
        issuer.publish(make_list([], sequence=1), 1)
        assert wait_until(lambda: get(port, "/protected", auth).status == 200, 5)
        ok = get(port, "/protected", auth)
        assert ok.json() == {"guid": sv.guid_text(g)}
        assert get(port, "/protected").status == 401
        assert get(port, "/elsewhere", auth).status == 404
        ro, _ = make_token(("invoices.read",))
        assert get(port, "/protected", [("Authorization", f"Bearer {ro}")]).status == 403
        time.sleep(0.3)  # let the follower's next long poll start
        issuer.publish(make_list([(g, 2)], sequence=2), 2)
        started = time.monotonic()
        assert wait_until(lambda: get(port, "/protected", auth).status == 401, 2)
        assert time.monotonic() - started < 2
        assert 'error_description="revoked"' in get(port, "/protected", auth).headers["WWW-Authenticate"]
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
        _, err = p.communicate(timeout=5)
        assert token not in err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)


# ---------------------------------------------------------------------------------------------
# The conformance runner


def _vector_cases() -> List[Dict[str, Any]]:
    path = REPO / "Tests" / "Vectors" / "tokens-v1.json"
    if not path.exists():
        return []
    seed = b"\x33" * 32
    pub = ed25519.public_key(seed)
    cases = []
    for v in json.loads(path.read_text())["vectors"]:
        revoked = [(sv.guid_bytes(r["guid"]), 2 if r["status"] == "revoked" else 1) for r in v.get("revoked") or []]
        data = None
        if revoked:
            data = base64.b64encode(make_list(revoked, sequence=1, seed=seed)).decode()
        perm = v.get("permission")
        cases.append(
            {
                "case": {
                    "keyset": {
                        "format": "sigil-keyset-v1",
                        "audience": v["audience"] if sv.is_valid_audience(v["audience"]) else "billing",
                        "token_keys": [{"kid": k["kid"], "key": sv.b64url_encode(bytes.fromhex(k["key_hex"]))} for k in v["keys"]],
                        "revocation_keys": [{"kid": "r1", "public_key": sv.b64url_encode(pub)}],
                    },
                    "revocations": data,
                    "token": v["token"],
                    "audience": v["audience"],
                    "permission": perm["name"] if perm else None,
                    "access": perm["access"] if perm else None,
                    "now": v["now"],
                    "leeway": v["leeway"],
                    "when_no_list": "fail_open",
                },
                "expected": v["expected"],
            }
        )
    return cases


def run_conformance(cases: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    stdin = "".join(json.dumps(c) + "\n" for c in cases)
    p = subprocess.run(
        [str(PACKAGE_ROOT / "conformance")], input=stdin, capture_output=True, text=True, timeout=60, env=python_env()
    )
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_conformance_runner_agrees_with_the_vectors() -> None:
    cases = _vector_cases()
    if not cases:
        pytest.skip("Tests/Vectors/tokens-v1.json is missing")
    # Repeat them to 5,000 cases: the runner must answer them in a few seconds.
    batch = (cases * (5000 // len(cases) + 1))[:5000]
    started = time.monotonic()
    answers = run_conformance([c["case"] for c in batch])
    took = time.monotonic() - started
    assert len(answers) == len(batch)
    for c, a in zip(batch, answers):
        exp = c["expected"]
        if exp["valid"]:
            assert a == {"valid": True, "guid": exp["claims"]["guid"]}, c
        else:
            assert a == {"valid": False, "reason": exp["reason"]}, c
    assert took < 20, took


def test_conformance_runner_lists_and_policies() -> None:
    token, g = make_token()
    keyset = json.loads(keyset_json())
    base: Dict[str, Any] = {
        "keyset": keyset, "revocations": None, "token": token, "audience": AUDIENCE, "permission": None,
        "access": None, "now": int(time.time()), "leeway": 60, "when_no_list": "fail_open",
    }
    good = base64.b64encode(make_list([(g, 1)], sequence=1)).decode()
    damaged = base64.b64encode(damage_signature(make_list([], sequence=1))).decode()
    stale = base64.b64encode(make_list([], sequence=1, next_update=1)).decode()
    answers = run_conformance(
        [
            base,
            {**base, "when_no_list": "fail_closed"},
            {**base, "revocations": good},
            {**base, "revocations": damaged},
            {**base, "revocations": base64.b64encode(b"SGLR\x02\x02r1").decode()},
            {**base, "revocations": stale},
            {**base, "token": "sgl_x", "when_no_list": "fail_closed"},
            {**base, "permission": "devices.delete", "access": "write"},
        ]
    )
    guid = sv.guid_text(g)
    assert answers == [
        {"valid": True, "guid": guid},
        {"valid": False, "reason": "revocations_stale"},
        {"valid": False, "reason": "deactivated"},
        {"valid": False, "list_error": "bad_signature"},
        {"valid": False, "list_error": "unsupported_version"},
        {"valid": True, "guid": guid},  # stale, but the default policy keeps serving
        {"valid": False, "reason": "malformed"},
        {"valid": True, "guid": guid},  # scope all
    ]


def test_bench_prints_one_json_line() -> None:
    p = subprocess.run(
        [str(PACKAGE_ROOT / "bench"), "--seconds", "0.2"], capture_output=True, text=True, timeout=60, env=python_env()
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["language"] == "python" and out["verify_ns"] > 0 and out["hmac_ns"] > 0
    assert out["ratio"] == pytest.approx(out["verify_ns"] / out["hmac_ns"], rel=0.01)
