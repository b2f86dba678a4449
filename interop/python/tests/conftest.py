"""Shared test setup: the package under test, the repository, the Ed25519 backends.

The tests import `sigil_verify` from ../src unless SIGIL_VERIFY_INSTALLED=1 (set by ../test,
which runs them against the package pip installed into a virtual environment).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parents[1]
SRC = PACKAGE_ROOT / "src"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
USE_INSTALLED = os.environ.get("SIGIL_VERIFY_INSTALLED") == "1"

if not USE_INSTALLED and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from sigil_verify import ed25519  # noqa: E402


def python_env() -> Dict[str, str]:
    """The environment for a child `python -m sigil_verify...` that imports the same package."""
    env = dict(os.environ)
    if not USE_INSTALLED:
        env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def available_backends() -> List[str]:
    out = []
    for name in ed25519.BACKENDS:
        try:
            ed25519.backend_name(name)
            out.append(name)
        except ed25519.Ed25519Unavailable:
            pass
    return out


BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS or ["none"])
def ed_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test once per Ed25519 backend available here (cryptography, libcrypto)."""
    if request.param == "none":
        pytest.fail("no Ed25519 backend: neither cryptography nor libcrypto is usable")
    monkeypatch.setenv("SIGIL_ED25519_BACKEND", request.param)
    yield request.param


# ---------------------------------------------------------------------------------------------
# Material for the HTTP, follower and example tests

import http.client  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402
from typing import Callable, Optional, Sequence, Tuple  # noqa: E402

import sigil_verify as sv  # noqa: E402

KEY = bytes(range(32))
SEED = b"\x11" * 32
AUDIENCE = "billing"


def make_token(scope: sv.Scope = "all", guid: Optional[bytes] = None, key: bytes = KEY) -> Tuple[str, bytes]:
    """A token valid now, and its GUID."""
    g = guid if guid is not None else os.urandom(16)
    now = int(time.time())
    c = sv.Claims("k1", AUDIENCE, sv.guid_text(g), now - 60, now + 3600, scope)
    return sv.mint(c, key), g


def make_list(entries: Sequence[Tuple[bytes, int]], sequence: int, next_update: int = 0, seed: bytes = SEED) -> bytes:
    items = sorted(entries)
    header = b"SGLR\x01\x02r1" + struct.pack(">QqqI", sequence, int(time.time()), next_update, len(items))
    body = header + b"".join(g + bytes([s]) for g, s in items)
    return body + ed25519.sign(seed, sv.REVOCATION_CONTEXT + body)


def make_delta(base: bytes, target: bytes, base_sequence: Optional[int] = None) -> bytes:
    """A revocation delta (FORMAT.md §4.3) from list `base` to list `target`, as sigil-server
    builds one: the GUIDs whose status differs (0 = leaves the list), `target`'s header fields
    and `target`'s signature. `base_sequence` overrides the base's sequence (a delta that does
    not fit). Test-only: the package reads deltas, it never makes them."""
    old = sv.parse_revocation_list(base)  # no keys: structure only
    new = sv.parse_revocation_list(target)
    before, after = dict(old.entries), dict(new.entries)
    changes = sorted((g, after.get(g, 0)) for g in before.keys() | after.keys() if before.get(g) != after.get(g))
    kid = new.kid.encode("ascii")
    header = b"SGLD\x01" + bytes([len(kid)]) + kid
    header += struct.pack(
        ">QQqqII",
        old.sequence if base_sequence is None else base_sequence,
        new.sequence,
        new.issued_at,
        new.next_update or 0,
        new.count,
        len(changes),
    )
    return header + b"".join(g + bytes([s]) for g, s in changes) + target[-64:]


def damage_signature(data: bytes) -> bytes:
    """Flips a bit of R, the signature's first half: always invalid, unlike overwriting the
    last byte, which is already 0 in about one signature in sixteen."""
    return data[:-64] + bytes([data[-64] ^ 0x01]) + data[-63:]


def keyset_json(public: Optional[bytes] = None) -> str:
    pub = public if public is not None else ed25519.public_key(SEED)
    return json.dumps(
        {
            "format": "sigil-keyset-v1",
            "audience": AUDIENCE,
            "token_keys": [{"kid": "k1", "key": sv.b64url_encode(KEY)}],
            "revocation_keys": [{"kid": "r1", "public_key": sv.b64url_encode(pub)}],
        }
    )


class Answer:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> object:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {dict(self.headers)}, {self.body!r})"


def get(port: int, path: str, headers: Sequence[Tuple[str, str]] = (), timeout: float = 10) -> Answer:
    """GET over a real connection to 127.0.0.1; repeated header names are sent as given."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest("GET", path)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return Answer(r.status, r.headers, r.read())
    finally:
        conn.close()


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """A bounded poll: True as soon as check() is, False after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def free_socket() -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    return s
