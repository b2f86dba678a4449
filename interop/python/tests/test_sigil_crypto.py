"""The primitives against published vectors: RFC 4231 (HMAC-SHA256, the standard library's),
RFC 5869 (HKDF over it), RFC 8032 and Wycheproof (Ed25519, each backend available here)."""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import ssl
from typing import Any, Dict, List

import pytest
from conftest import BACKENDS, FIXTURES

import sigil_verify as sv
from sigil_verify import ed25519


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("case", load("rfc4231_hmac_sha256.json")["tests"], ids=lambda c: c["section"])
def test_hmac_sha256_rfc4231(case: Dict[str, Any]) -> None:
    mac = hmac.digest(bytes.fromhex(case["key"]), bytes.fromhex(case["data"]), "sha256")
    bits = case["truncation_bits"]
    assert (mac[: bits // 8] if bits else mac).hex() == case["mac"]
    assert hmac.new(bytes.fromhex(case["key"]), bytes.fromhex(case["data"]), hashlib.sha256).digest() == mac


@pytest.mark.parametrize("case", load("rfc5869_hkdf_sha256.json")["tests"], ids=lambda c: c["section"])
def test_hkdf_sha256_rfc5869_expand_lengths(case: Dict[str, Any]) -> None:
    ikm, salt, info = (bytes.fromhex(case[k]) for k in ("ikm", "salt", "info"))
    okm = bytes.fromhex(case["okm"])
    for n in (1, 31, 32, 33, case["L"]):
        assert sv.hkdf_sha256(ikm, salt, info, n) == okm[:n]
    with pytest.raises(ValueError):
        sv.hkdf_expand(b"\x00" * 32, b"", 255 * 32 + 1)


@pytest.mark.parametrize("case", load("rfc8032_ed25519.json")["tests"], ids=lambda c: c["name"])
def test_ed25519_rfc8032(case: Dict[str, Any], ed_backend: str) -> None:
    seed, pub = bytes.fromhex(case["secret_key"]), bytes.fromhex(case["public_key"])
    msg, sig = bytes.fromhex(case["message"]), bytes.fromhex(case["signature"])
    assert ed25519.public_key(seed) == pub
    assert ed25519.sign(seed, msg) == sig
    assert ed25519.verify(pub, msg, sig)
    assert not ed25519.verify(pub, msg + b"\x00", sig)
    assert not ed25519.verify(pub, msg, sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not ed25519.verify(pub, msg, sig[:63])
    assert not ed25519.verify(pub[:31], msg, sig)


def _wycheproof() -> List[Any]:
    out = []
    for group in load("wycheproof_ed25519_test.json")["testGroups"]:
        for t in group["tests"]:
            out.append(pytest.param(group["publicKey"]["pk"], t, id=str(t["tcId"])))
    return out


@pytest.mark.parametrize("pk,case", _wycheproof())
def test_ed25519_wycheproof(pk: str, case: Dict[str, Any], ed_backend: str) -> None:
    ok = ed25519.verify(bytes.fromhex(pk), bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    assert ok == (case["result"] == "valid"), case["comment"]


@pytest.mark.skipif("libcrypto" not in BACKENDS, reason="no libcrypto here")
def test_libcrypto_leaves_no_error_for_the_ssl_module() -> None:
    """A failed verification must not leave an entry in OpenSSL's error queue, where the ssl
    module would later find it and report it as its own failure."""
    lib = ed25519._libcrypto()
    assert not ed25519.verify(b"\x00" * 32, b"m", b"\x00" * 64, backend="libcrypto")
    assert not ed25519.verify(b"\xff" * 32, b"m", b"\xff" * 64, backend="libcrypto")
    peek = lib.lib.ERR_peek_error
    peek.restype = ctypes.c_ulong
    assert peek() == 0
    assert lib is ed25519._libcrypto()
    ssl.create_default_context()  # still works


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGIL_ED25519_BACKEND", raising=False)
    assert ed25519.backend_name() == BACKENDS[0]
    with pytest.raises(ValueError):
        ed25519.backend_name("rot13")
    monkeypatch.setenv("SIGIL_ED25519_BACKEND", "nope")
    with pytest.raises(ValueError):
        ed25519.verify(b"\x00" * 32, b"", b"\x00" * 64)


@pytest.mark.skipif("libcrypto" not in BACKENDS, reason="no libcrypto here")
def test_without_cryptography_the_standard_library_path_is_used() -> None:
    """With `cryptography` absent, lists still verify: through libcrypto."""
    import subprocess
    import sys

    from conftest import python_env

    case = load("rfc8032_ed25519.json")["tests"][1]
    code = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from sigil_verify import ed25519\n"
        "assert ed25519.backend_name() == 'libcrypto', ed25519.backend_name()\n"
        f"assert ed25519.verify(bytes.fromhex('{case['public_key']}'), bytes.fromhex('{case['message']}'),"
        f" bytes.fromhex('{case['signature']}'))\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in python_env().items() if k != "SIGIL_ED25519_BACKEND"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env)
    assert p.stdout.strip() == "ok", p.stderr
