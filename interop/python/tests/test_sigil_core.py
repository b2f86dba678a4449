"""Tests of the independent Python verifier against docs/FORMAT.md, the shared vectors in
Tests/Vectors, the RFC 5869 HKDF vectors and, when a `sigil` binary exists, the Swift CLI.

    python3 -m pytest -q interop/python
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

from conftest import PACKAGE_ROOT, REPO, python_env

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(PACKAGE_ROOT))

import make_example  # noqa: E402
import sigil_verify as sv  # noqa: E402
from sigil_verify import core as sv_core  # noqa: E402
from sigil_verify import ed25519  # noqa: E402

VECTORS = REPO / "Tests" / "Vectors"
TOKEN_VECTORS = VECTORS / "tokens-v1.json"
REVOCATION_VECTORS = VECTORS / "revocations-v1.json"
REGENERATE = "SIGIL_REGENERATE_VECTORS=1 swift test --filter VectorFileTests"

KEY = bytes(range(32))
GUID = "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90"
NOW = 1780000000


def claims(**changes) -> sv.Claims:
    base = sv.Claims("k1", "billing", GUID, 1767225600, 1798761600, ("devices.list", "invoices.read"))
    return dataclasses.replace(base, **changes)


def verifier(**kw) -> sv.Verifier:
    kw.setdefault("keys", {"k1": KEY})
    return sv.Verifier(kw.pop("audience", "billing"), **kw)


def seal(body: bytes, key: bytes = KEY) -> str:
    return "sgl_" + sv.b64url_encode(body + hmac.new(key, body, hashlib.sha256).digest())


def reason(token, **kw) -> Optional[str]:
    at = kw.pop("now", NOW)
    v = verifier(**{k: kw.pop(k) for k in list(kw) if k in ("keys", "audience", "leeway", "revocations")})
    valid, why, _ = v.verify(token, now=at, **kw)
    assert valid == (why is None)
    return why


# ---------------------------------------------------------------------------------------------
# Primitives


def _hkdf_vectors() -> List[dict]:
    for path in (HERE / "fixtures" / "rfc5869_hkdf_sha256.json",):
        if path.exists():
            return json.loads(path.read_text())["tests"]
    raise FileNotFoundError("rfc5869_hkdf_sha256.json")


@pytest.mark.parametrize("case", _hkdf_vectors(), ids=lambda c: c["section"])
def test_hkdf_rfc5869(case):
    ikm, salt, info = (bytes.fromhex(case[k]) for k in ("ikm", "salt", "info"))
    assert sv.hkdf_extract(salt, ikm).hex() == case["prk"]
    assert sv.hkdf_sha256(ikm, salt, info, case["L"]).hex() == case["okm"]


def test_base64url_round_trip_and_canonical():
    for n in range(0, 40):
        data = bytes((i * 37 + n) & 0xFF for i in range(n))
        text = sv.b64url_encode(data)
        assert "=" not in text
        assert sv.b64url_decode(text) == data
    assert sv.b64url_encode(b"\xfb\xff") == "-_8"
    assert sv.b64url_decode("-_8") == b"\xfb\xff"
    assert sv.b64url_decode("-_9") is None  # unused bits set
    assert sv.b64url_decode("Zh") is None  # 'f' is Zg; Zh has a non-zero unused bit
    assert sv.b64url_decode("Zg") == b"f"
    assert sv.b64url_decode("Zg==") is None  # padding
    assert sv.b64url_decode("Zm9vY") is None  # length 1 mod 4
    assert sv.b64url_decode("+/8") is None  # standard alphabet
    assert sv.b64url_decode("Zm 9v") is None
    assert sv.b64url_decode("Zm9v\n") is None
    assert sv.b64url_decode("Zm9vé") is None


# ---------------------------------------------------------------------------------------------
# The worked example of docs/FORMAT.md


def test_worked_example_is_in_format_md():
    doc = (REPO / "docs" / "FORMAT.md").read_text()
    lines, _, _ = make_example.token_example()
    assert "\n".join(lines) in doc, "docs/FORMAT.md is out of date: paste the output of make_example.py"


def test_worked_example_token_verifies():
    _, token, key = make_example.token_example()
    assert key == sv.audience_key(make_example.MASTER_SECRET, "billing")
    v = sv.Verifier("billing", {"k1": key})
    valid, why, c = v.verify(token, now=make_example.VERIFY_AT)
    assert (valid, why) == (True, None)
    assert c == make_example.claims()
    assert v.verify(token, "devices.list", "read", make_example.VERIFY_AT)[:2] == (True, None)
    assert v.verify(token, "devices.list", "write", make_example.VERIFY_AT)[:2] == (True, None)
    assert v.verify(token, "devices.delete", "write", make_example.VERIFY_AT)[1] == "scope_not_granted"
    assert v.verify(token, now=1798761600 + 60)[1] == "expired"
    assert v.verify(token, now=1798761600 + 59)[1] is None
    assert sv.Verifier("invoices", {"k1": key}).verify(token, now=make_example.VERIFY_AT)[1] == "wrong_audience"


def test_worked_example_revocation_list(ed_backend):
    doc = (REPO / "docs" / "FORMAT.md").read_text()
    lines, data, public = make_example.revocation_example()
    assert "\n".join(lines) in doc, "docs/FORMAT.md is out of date: paste the output of make_example.py"
    lst = sv.parse_revocation_list(data, {"r1": public})
    assert lst.verified and lst.sequence == 7 and lst.next_update == 1767229200 and lst.kid == "r1"
    assert len(data) == 36 + 17 * 2 + 64
    store = sv.RevocationStore({"r1": public})
    store.load(data)
    _, token, key = make_example.token_example()
    assert sv.Verifier("billing", {"k1": key}, revocations=store).verify(token, now=make_example.VERIFY_AT)[1] == "revoked"


# ---------------------------------------------------------------------------------------------
# Strict parsing (§2): each rule on its own


def test_minted_token_verifies_and_round_trips():
    c = claims()
    token = sv.mint(c, KEY)
    assert sv.parse_token(token).claims == c
    assert reason(token) is None
    for scope in ("all", "read-only"):
        assert reason(sv.mint(claims(scope=scope), KEY)) is None
    assert reason(sv.mint(claims(valid_to=None), KEY)) is None


def body_of(c: sv.Claims) -> bytes:
    return sv.encode_body(c)


MALFORMED_BODIES = {
    "version 0": b"\x00" + body_of(claims())[1:],
    "version 2": b"\x02" + body_of(claims())[1:],
    "empty key id": body_of(claims()).replace(b"\x02k1", b"\x00", 1),
    "key id 33 bytes": body_of(claims(kid="k" * 33)),
    "key id with a dot": body_of(claims(kid="k.1")),
    "key id non-ascii": body_of(claims(kid="k1")).replace(b"k1", b"k\xc3", 1),
    "empty audience": body_of(claims()).replace(b"\x07billing", b"\x00", 1),
    "audience 65 bytes": body_of(claims(audience="a" * 65)),
    "audience with a slash": body_of(claims(audience="bill/ing")),
    "valid_to equal valid_from": body_of(claims(valid_to=1767225600)),
    "valid_to before valid_from": body_of(claims(valid_to=1767225599)),
    "scope kind 0": body_of(claims(scope="all"))[:-1] + b"\x00",
    "scope kind 4": body_of(claims(scope="all"))[:-1] + b"\x04",
    "custom scope count 0": body_of(claims(scope="all"))[:-1] + b"\x03\x00\x00",
    "custom scope count 257": body_of(claims(scope=tuple(f"r.a{i:03d}" for i in range(257)))),
    "scope entries unsorted": body_of(claims(scope=("invoices.read", "devices.list"))),
    "scope entries duplicate": body_of(claims(scope=("devices.list", "devices.list"))),
    "scope entry upper case": body_of(claims(scope=("Devices.list",))),
    "scope entry without dot": body_of(claims(scope=("deviceslist",))),
    "scope entry two dots": body_of(claims(scope=("devices.list.x",))),
    "scope entry empty action": body_of(claims(scope=("devices.",))),
    "scope entry digit first": body_of(claims(scope=("1devices.list",))),
    "scope part 33 bytes": body_of(claims(scope=("d" * 33 + ".list",))),
    "scope entry length 2": body_of(claims(scope="all"))[:-1] + b"\x03\x00\x01\x02a.",
    "scope entry past the end": body_of(claims(scope="all"))[:-1] + b"\x03\x00\x01\x20a.b",
    "custom scope count truncated": body_of(claims(scope="all"))[:-1] + b"\x03\x00",
    "trailing byte after scope all": body_of(claims(scope="all")) + b"\x00",
    "trailing byte after custom scope": body_of(claims()) + b"\x00",
    "truncated in times": body_of(claims(scope="all"))[:-5],
    "key id past the end": b"\x01\x40k1",
    "only a version": b"\x01",
}


@pytest.mark.parametrize("name", sorted(MALFORMED_BODIES))
def test_malformed_body_even_with_a_correct_mac(name):
    assert reason(seal(MALFORMED_BODIES[name])) == "malformed"


def test_part_of_32_and_entry_of_65_bytes_are_fine():
    pair = "d" * 32 + "." + "l" * 32
    assert reason(sv.mint(claims(scope=(pair,)), KEY)) is None
    assert reason(sv.mint(claims(scope=("a.b",)), KEY)) is None
    assert reason(sv.mint(claims(scope=("a-_9.b_-0", "a.b")), KEY)) is None  # "-" (2d) < "." (2e)
    assert reason(sv.mint(claims(scope=("a.b", "a-_9.b_-0")), KEY)) == "malformed"
    assert reason(sv.mint(claims(scope=("a.b", "a.bc", "ab.c")), KEY)) is None


def test_text_level_malformed():
    good = sv.mint(claims(), KEY)
    assert reason(good) is None
    payload = good[4:]
    cases = {
        "no prefix": payload,
        "upper-case prefix": "SGL_" + payload,
        "other prefix": "sgk_" + payload,
        "empty": "",
        "prefix only": "sgl_",
        "padding": good + "=" * (-len(payload) % 4 or 4),
        "leading space": " " + good,
        "trailing newline": good + "\n",
        "inner space": good[:20] + " " + good[20:],
        "standard alphabet": good.replace("-", "+").replace("_", "/") if ("-" in payload or "_" in payload) else good + "+",
        "length 1 mod 4": good + "A" if len(payload) % 4 == 0 else good[: len(good) - len(payload) % 4 + 1],
        "non-ascii": good[:-1] + "é",
        "too short (32 bytes)": "sgl_" + sv.b64url_encode(bytes(32)),
        "4097 characters": "sgl_" + "A" * 4093,
    }
    for name, text in cases.items():
        assert reason(text) == "malformed", name


def test_unused_bits_must_be_zero():
    good = sv.mint(claims(), KEY)
    payload = good[4:]
    assert len(payload) % 4 in (2, 3), "the example token must leave unused bits"
    last = sv_core._B64_VALUE[ord(payload[-1])]
    bumped = chr(sv_core._B64_ALPHABET[last | 1])  # bit 0 is unused for lengths 2 and 3 mod 4
    assert bumped != payload[-1]
    assert reason(good[:-1] + bumped) == "malformed"


def test_4096_characters_is_the_limit():
    # A custom scope sized so the text is exactly 4096 characters verifies; one more byte does not.
    def token_with(n_entries: int, last_len: int) -> str:
        pairs = [f"r{i:03d}{'x' * 28}.{'a' * 32}" for i in range(n_entries)] + [f"z.{'b' * (last_len - 2)}"]
        return sv.mint(claims(scope=tuple(pairs)), KEY)

    found = None
    for n in range(40, 50):
        for last in range(3, 35):
            t = token_with(n, last)
            if len(t) == 4096:
                found = t
                break
        if found:
            break
    assert found is not None
    assert reason(found) is None
    longer = [t for t in (token_with(n, last) for n in range(40, 50) for last in range(3, 35)) if len(t) == 4097 or len(t) == 4098]
    assert longer and all(reason(t) == "malformed" for t in longer)


# ---------------------------------------------------------------------------------------------
# Verification order and outcomes (§3)


def test_reason_order():
    c = claims(valid_to=1767225600 + 10)
    token = sv.mint(c, KEY)
    gid = sv.guid_bytes(GUID)
    revoked = sv.StaticRevocations({gid: "revoked"})
    # Audience beats key id beats MAC.
    other_key = sv.mint(dataclasses.replace(c, kid="zz", audience="other"), b"\x01" * 32)
    assert reason(other_key) == "wrong_audience"
    assert reason(sv.mint(dataclasses.replace(c, kid="zz"), b"\x01" * 32)) == "unknown_key"
    assert reason(sv.mint(c, b"\x01" * 32), revocations=revoked) == "bad_signature"
    # After the MAC: stale, revoked, deactivated, then time, then scope.
    stale = sv.StaticRevocations({gid: "stale"})
    assert reason(token, revocations=stale, permission="x.y", access="write") == "revocations_stale"
    assert reason(token, revocations=revoked, permission="x.y", access="write") == "revoked"
    deact = sv.StaticRevocations({gid: "deactivated"})
    assert reason(token, revocations=deact, permission="x.y", access="write") == "deactivated"
    assert reason(token, now=0, permission="x.y", access="write") == "not_yet_valid"
    assert reason(token, now=NOW, permission="x.y", access="write") == "expired"
    assert reason(token, now=1767225600, permission="x.y", access="write") == "scope_not_granted"
    assert reason(token, now=1767225600, permission="devices.list", access="write") is None


def test_unknown_key_is_never_tried_against_another_key():
    token = sv.mint(claims(kid="k2"), KEY)  # MAC'd with k1's key but names k2
    assert reason(token) == "unknown_key"
    assert reason(token, keys={"k1": KEY, "k2": b"\x02" * 32}) == "bad_signature"
    assert reason(token, keys={"k2": KEY}) is None


def test_every_flipped_bit_is_refused():
    token = sv.mint(claims(), KEY)
    raw = sv.decode_token_text(token)
    for i in range(len(raw)):
        for bit in (0x01, 0x80):
            mutated = bytearray(raw)
            mutated[i] ^= bit
            why = reason("sgl_" + sv.b64url_encode(bytes(mutated)))
            assert why in ("malformed", "wrong_audience", "unknown_key", "bad_signature"), (i, bit, why)


def test_leeway_boundaries():
    vf, vt = 1767225600, 1767225600 + 3600
    token = sv.mint(claims(valid_from=vf, valid_to=vt), KEY)
    assert reason(token, now=vf - 60) is None
    assert reason(token, now=vf - 61) == "not_yet_valid"
    assert reason(token, now=vt + 59) is None
    assert reason(token, now=vt + 60) == "expired"
    assert reason(token, now=vf, leeway=0) is None
    assert reason(token, now=vf - 1, leeway=0) == "not_yet_valid"
    assert reason(token, now=vt - 1, leeway=0) is None
    assert reason(token, now=vt, leeway=0) == "expired"
    never = sv.mint(claims(valid_from=vf, valid_to=None), KEY)
    assert reason(never, now=2**62) is None


def test_extreme_times_do_not_overflow():
    lo, hi = -(2**63), 2**63 - 1
    token = sv.mint(claims(valid_from=lo, valid_to=hi), KEY)
    assert reason(token, now=hi) is None
    assert reason(token, now=lo) is None
    late = sv.mint(claims(valid_from=hi - 1, valid_to=hi), KEY)
    assert reason(late, now=hi) is None
    assert reason(late, now=hi - 100) == "not_yet_valid"


def test_scope_rules():
    all_ = sv.mint(claims(scope="all"), KEY)
    ro = sv.mint(claims(scope="read-only"), KEY)
    custom = sv.mint(claims(scope=("devices.list",)), KEY)
    assert reason(all_, permission="anything.new", access="write") is None
    assert reason(ro, permission="anything.new", access="read") is None
    assert reason(ro, permission="devices.list", access="write") == "scope_not_granted"
    assert reason(custom, permission="devices.list", access="read") is None
    assert reason(custom, permission="devices.list", access="write") is None
    assert reason(custom, permission="devices.lis", access="read") == "scope_not_granted"
    assert reason(custom, permission="devices.listx", access="read") == "scope_not_granted"
    assert reason(custom, permission="users.list", access="read") == "scope_not_granted"
    with pytest.raises(ValueError):
        verifier().verify(custom, "devices.*", "read", NOW)
    with pytest.raises(ValueError):
        verifier().verify(custom, "devices.list", "delete", NOW)


def test_claims_only_after_the_mac_matched():
    forged = sv.mint(claims(), b"\x09" * 32)
    assert verifier().verify(forged, now=NOW) == (False, "bad_signature", None)
    expired = sv.mint(claims(), KEY)
    valid, why, c = verifier().verify(expired, now=1798761600 + 60)
    assert (valid, why) == (False, "expired") and c is not None and c.guid == GUID


def test_verifier_configuration_errors():
    with pytest.raises(sv.KeysetError):
        sv.Verifier("bad/aud", {"k1": KEY})
    with pytest.raises(sv.KeysetError):
        sv.Verifier("billing", {"k1": b"short"})
    with pytest.raises(sv.KeysetError):
        sv.Verifier("billing", [("k1", KEY), ("k1", KEY)])
    with pytest.raises(sv.KeysetError):
        sv.Verifier("billing", {"k1": KEY}, leeway=-1)


# ---------------------------------------------------------------------------------------------
# Keyset (§5)


def test_keyset_parsing():
    good = {
        "format": "sigil-keyset-v1",
        "audience": "billing",
        "token_keys": [{"kid": "k1", "key": sv.b64url_encode(KEY)}],
        "revocation_keys": [{"kid": "r1", "public_key": sv.b64url_encode(b"\x05" * 32)}],
    }
    ks = sv.load_keyset(json.dumps(good))
    assert ks.audience == "billing" and ks.token_keys == {"k1": KEY} and ks.revocation_keys == {"r1": b"\x05" * 32}
    bad = [
        {**good, "format": "sigil-keyset-v2"},
        {**good, "audience": ""},
        {**good, "token_keys": [{"kid": "k1", "key": sv.b64url_encode(KEY) + "="}]},
        {**good, "token_keys": [{"kid": "k1", "key": sv.b64url_encode(KEY[:31])}]},
        {**good, "token_keys": [{"kid": "k 1", "key": sv.b64url_encode(KEY)}]},
        {**good, "token_keys": good["token_keys"] * 2},
        {**good, "revocation_keys": [{"kid": "r1", "public_key": "AAAA"}]},
        {k: v for k, v in good.items() if k != "token_keys"},
    ]
    for b in bad:
        with pytest.raises(sv.KeysetError):
            sv.load_keyset(json.dumps(b))
    with pytest.raises(sv.KeysetError):
        sv.load_keyset(b"not json")


# ---------------------------------------------------------------------------------------------
# Revocation lists (§4)


def build_list(entries, sequence=1, kid="r1", seed=b"\x11" * 32, issued_at=1767225600, next_update=0, sort=True, tamper=None):
    public = ed25519.public_key(seed)
    items = sorted(entries) if sort else list(entries)
    k = kid.encode()
    body = b"SGLR\x01" + bytes([len(k)]) + k + struct.pack(">QqqI", sequence, issued_at, next_update, len(items))
    body += b"".join(g + bytes([s]) for g, s in items)
    if tamper:
        body = tamper(body)
    return body + ed25519.sign(seed, sv.REVOCATION_CONTEXT + body), public


def g(n: int) -> bytes:
    return n.to_bytes(16, "big")


def test_revocation_list_parse_and_refusals(ed_backend):
    data, pub = build_list([(g(2), 2), (g(1), 1)], sequence=5, next_update=1767229200)
    keys = {"r1": pub}
    lst = sv.parse_revocation_list(data, keys)
    assert lst.entries == ((g(1), 1), (g(2), 2)) and lst.sequence == 5
    assert lst.status(g(1)) == "deactivated" and lst.status(g(2)) == "revoked" and lst.status(g(3)) is None
    assert lst.is_stale(1767229200) and not lst.is_stale(1767229199)

    def refused(blob, keys=keys, max_bytes=sv.REVOCATION_DEFAULT_MAX_BYTES):
        with pytest.raises(sv.RevocationListError) as e:
            sv.parse_revocation_list(blob, keys, max_bytes)
        return e.value.reason

    assert refused(data, max_bytes=len(data) - 1) == "too_large"
    assert sv.parse_revocation_list(data, keys, max_bytes=len(data)).verified
    assert refused(b"") == "malformed"
    assert refused(b"SGLR\x01") == "malformed"
    assert refused(b"SGLX" + data[4:]) == "malformed"
    assert refused(data[:4] + b"\x02" + data[5:]) == "unsupported_version"
    assert refused(data + b"\x00") == "malformed"
    assert refused(data[:-1]) == "malformed"
    assert refused(build_list([(g(1), 3)])[0]) == "malformed"
    assert refused(build_list([(g(2), 2), (g(1), 1)], sort=False)[0]) == "malformed"
    assert refused(build_list([(g(1), 2), (g(1), 1)], sort=False)[0]) == "malformed"
    assert refused(build_list([], kid="r.1")[0]) == "malformed"
    assert refused(build_list([], kid="r" * 33)[0]) == "malformed"
    assert refused(data, keys={"r2": pub}) == "unknown_key"
    # Malformed entries are refused before the key is looked up.
    assert refused(build_list([(g(1), 0)])[0], keys={}) == "malformed"
    flipped = bytearray(data)
    flipped[-70] ^= 1  # an entry byte
    assert refused(bytes(flipped)) == "bad_signature"
    flipped = bytearray(data)
    flipped[-1] ^= 1  # the signature
    assert refused(bytes(flipped)) == "bad_signature"
    assert refused(data, keys={"r1": b"\x00" * 32}) == "bad_signature"
    # Signed without the context: refused.
    raw = data[:-64]
    assert refused(raw + ed25519.sign(b"\x11" * 32, raw)) == "bad_signature"
    empty, _ = build_list([])
    assert sv.parse_revocation_list(empty, keys).entries == ()
    assert len(empty) == 36 + 64
    assert sv.parse_revocation_list(data, None).verified is False


def test_revocation_store_rollback_and_equivocation(ed_backend):
    v5, pub = build_list([(g(1), 2)], sequence=5)
    v5b, _ = build_list([(g(1), 1)], sequence=5)
    v4, _ = build_list([], sequence=4)
    v6, _ = build_list([], sequence=6, next_update=100)
    store = sv.RevocationStore({"r1": pub})
    store.load(v5)
    store.load(v5)  # same bytes: unchanged
    for blob, why in ((v4, "rollback"), (v5b, "equivocation")):
        with pytest.raises(sv.RevocationListError) as e:
            store.load(blob)
        assert e.value.reason == why
        assert store.check(g(1), 0) == "revoked"  # the old list stays in force
    store.load(v6)
    assert store.check(g(1), 0) is None
    assert store.check(g(1), 100) is None  # stale, but the default policy keeps serving
    closed = sv.RevocationStore({"r1": pub}, fail_closed=True)
    closed.load(v6)
    assert closed.check(g(1), 99) is None and closed.check(g(1), 100) == "stale"
    token = sv.mint(claims(guid=sv.guid_text(g(1))), KEY)
    assert reason(token, revocations=closed, now=NOW) == "revocations_stale"


# ---------------------------------------------------------------------------------------------
# Shared vectors (§7)


def _load(path: Path, fmt: str) -> List[dict]:
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    assert data["format"] == fmt
    return data["vectors"]


TOKEN_CASES = _load(TOKEN_VECTORS, "sigil-token-vectors-v1")
REVOCATION_CASES = _load(REVOCATION_VECTORS, "sigil-revocation-vectors-v1")


def test_vector_files_present():
    for path in (TOKEN_VECTORS, REVOCATION_VECTORS):
        if not path.exists():
            pytest.skip(f"{path.relative_to(REPO)} is missing; generate it with: {REGENERATE}")
    assert TOKEN_CASES and REVOCATION_CASES


def _vector_params(cases: List[dict], path: Path):
    if not cases:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{path.relative_to(REPO)} is missing; generate it with: {REGENERATE}"), id="missing")]
    return [pytest.param(v, id=v["name"]) for v in cases]


@pytest.mark.parametrize("vector", _vector_params(TOKEN_CASES, TOKEN_VECTORS))
def test_token_vector(vector):
    keys = [(k["kid"], bytes.fromhex(k["key_hex"])) for k in vector["keys"]]
    revs = sv.StaticRevocations({sv.guid_bytes(r["guid"]): r["status"] for r in vector.get("revoked") or []})
    perm = vector.get("permission")
    v = sv.Verifier(vector["audience"], keys, leeway=vector["leeway"], revocations=revs)
    valid, why, c = v.verify(
        vector["token"], perm["name"] if perm else None, perm["access"] if perm else None, vector["now"]
    )
    exp = vector["expected"]
    assert (valid, why) == (exp["valid"], exp["reason"]), vector["description"]
    if exp.get("claims") is not None:
        got = c.to_json() if c is not None else sv.parse_token(vector["token"]).claims.to_json()
        assert got == exp["claims"]
    if vector.get("master_secret_hex") and len(keys) == 1:
        derived = sv.audience_key(bytes.fromhex(vector["master_secret_hex"]), vector["audience"])
        assert derived == keys[0][1], "K_aud is not HKDF(master, 'sigil/v1/token' 0x00 audience)"


@pytest.mark.parametrize("vector", _vector_params(REVOCATION_CASES, REVOCATION_VECTORS))
def test_revocation_vector(vector, ed_backend):
    keys = {k["kid"]: bytes.fromhex(k["public_key_hex"]) for k in vector["public_keys"]}
    exp = vector["expected"]
    try:
        lst = sv.parse_revocation_list(bytes.fromhex(vector["list_hex"]), keys, vector["max_bytes"])
    except sv.RevocationListError as e:
        assert (False, e.reason) == (exp["valid"], exp["reason"]), vector["description"]
        return
    assert (True, None) == (exp["valid"], exp["reason"]), vector["description"]
    assert lst.kid == exp["kid"]
    assert lst.sequence == exp["sequence"]
    assert lst.issued_at == exp["issued_at"]
    assert lst.next_update == exp["next_update"]
    assert lst.entries_json() == exp["entries"]


# ---------------------------------------------------------------------------------------------
# The Python CLI


def run_py(args, stdin: Optional[str] = None):
    p = subprocess.run(
        [sys.executable, "-m", "sigil_verify", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=python_env(),
    )
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None)


@pytest.fixture
def keyset_file(tmp_path):
    path = tmp_path / "keyset.json"
    path.write_text(
        json.dumps(
            {
                "format": "sigil-keyset-v1",
                "audience": "billing",
                "token_keys": [{"kid": "k1", "key": sv.b64url_encode(KEY)}],
                "revocation_keys": [],
            }
        )
    )
    return path


def test_cli_exit_codes(keyset_file):
    token = sv.mint(claims(), KEY)
    code, out = run_py(["--keyset", str(keyset_file), "--at", str(NOW), token])
    assert code == 0 and out["valid"] is True and out["reason"] is None and out["guid"] == GUID
    code, out = run_py(["--keyset", str(keyset_file), "--at", str(NOW), "-"], stdin=token + "\n")
    assert code == 0 and out["guid"] == GUID
    cases = [
        ("sgl_nope", [], 10, "malformed"),
        (sv.mint(claims(audience="other"), KEY), [], 11, "wrong_audience"),
        (sv.mint(claims(kid="k9"), KEY), [], 12, "unknown_key"),
        (sv.mint(claims(), b"\x07" * 32), [], 13, "bad_signature"),
        (token, ["--at", "0"], 16, "not_yet_valid"),
        (token, ["--at", "1798761660"], 17, "expired"),
        (token, ["--permission", "devices.delete", "--access", "write"], 18, "scope_not_granted"),
    ]
    for tok, extra, want_code, want_reason in cases:
        args = ["--keyset", str(keyset_file)] + (extra if "--at" in extra else ["--at", str(NOW)] + extra) + [tok]
        code, out = run_py(args)
        assert (code, out["reason"], out["valid"]) == (want_code, want_reason, False), want_reason
        if want_code <= 13:
            assert out["guid"] is None
        else:
            assert out["guid"] == GUID


def test_cli_revocations(tmp_path):
    revoked_list, pub = build_list([(sv.guid_bytes(GUID), 2)])
    deact_list, _ = build_list([(sv.guid_bytes(GUID), 1)])
    ks = tmp_path / "ks.json"
    ks.write_text(
        json.dumps(
            {
                "format": "sigil-keyset-v1",
                "audience": "billing",
                "token_keys": [{"kid": "k1", "key": sv.b64url_encode(KEY)}],
                "revocation_keys": [{"kid": "r1", "public_key": sv.b64url_encode(pub)}],
            }
        )
    )
    token = sv.mint(claims(), KEY)
    for blob, want_code, want in ((revoked_list, 14, "revoked"), (deact_list, 15, "deactivated")):
        f = tmp_path / "list.sgl"
        f.write_bytes(blob)
        code, out = run_py(["--keyset", str(ks), "--revocations", str(f), "--at", str(NOW), token])
        assert (code, out["reason"], out["guid"]) == (want_code, want, GUID)
    f = tmp_path / "bad.sgl"
    f.write_bytes(revoked_list[:-1] + bytes([revoked_list[-1] ^ 1]))
    code, out = run_py(["--keyset", str(ks), "--revocations", str(f), "--at", str(NOW), token])
    assert code == 21 and out["error"] == "bad_signature"


# ---------------------------------------------------------------------------------------------
# Cross-implementation: tokens and lists made by the Swift CLI


def _sigil_binary() -> Optional[Path]:
    env = os.environ.get("SIGIL_BIN")
    if env:
        return Path(env) if Path(env).is_file() else None
    for candidate in (REPO / ".build" / "debug" / "sigil", REPO / ".build-py" / "debug" / "sigil"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("sigil")
    return Path(found) if found else None


SIGIL = _sigil_binary()
needs_sigil = pytest.mark.skipif(
    SIGIL is None, reason="no sigil binary: set SIGIL_BIN or run `swift build --product sigil` first"
)


class SwiftHome:
    def __init__(self, home: Path) -> None:
        self.home = home

    def run(self, *args: str, stdin: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "SIGIL_HOME"}
        p = subprocess.run(
            [str(SIGIL), "--home", str(self.home), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"sigil {' '.join(args)} exited {p.returncode}: {p.stderr}")
        return p

    def issue(self, *args: str) -> str:
        token = self.run("issue", "--name", "t", *args).stdout.strip()
        assert token.startswith("sgl_") and "\n" not in token
        return token

    def keyset(self, audience: str, path: Path) -> sv.Keyset:
        self.run("keys", "export", "--audience", audience, "-o", str(path))
        return sv.load_keyset(path.read_bytes())


@pytest.fixture
def swift(tmp_path):
    return SwiftHome(tmp_path / "home")


@needs_sigil
def test_swift_token_verifies_in_python(swift, tmp_path):
    token = swift.issue("--audience", "billing", "--all")
    ks = swift.keyset("billing", tmp_path / "keyset.json")
    assert ks.audience == "billing"
    valid, why, c = sv.Verifier(ks.audience, ks.token_keys).verify(token, "devices.delete", "write")
    assert (valid, why) == (True, None)
    assert c.scope == "all" and c.audience == "billing" and c.kid in ks.token_keys
    # HKDF agrees: the exported K_aud is HKDF(master secret in the keyring).
    ring = json.loads((swift.home / "keyring.json").read_text())
    for key in ring["token_keys"]:
        master = sv.b64url_decode(key["secret"])
        assert sv.audience_key(master, "billing") == ks.token_keys[key["kid"]]
    # And the Python CLI agrees.
    code, out = run_py(["--keyset", str(tmp_path / "keyset.json"), token])
    assert code == 0 and out["guid"] == c.guid


@needs_sigil
def test_swift_scopes_verify_in_python(swift, tmp_path):
    ro = swift.issue("--audience", "billing", "--read-only", "--never-expires")
    custom = swift.issue("--audience", "billing", "--scope", "devices.list", "--scope", "invoices.list", "--expires-in", "2h")
    v = sv.Verifier("billing", swift.keyset("billing", tmp_path / "ks.json").token_keys)
    assert v.verify(ro, "users.list", "read")[:2] == (True, None)
    assert v.verify(ro, "users.delete", "write")[1] == "scope_not_granted"
    assert sv.parse_token(ro).claims.valid_to is None
    c = sv.parse_token(custom).claims
    assert c.scope == ("devices.list", "invoices.list")
    assert c.valid_to == c.valid_from + 7200
    assert v.verify(custom, "invoices.list", "read")[:2] == (True, None)
    assert v.verify(custom, "devices.delete", "write")[1] == "scope_not_granted"
    assert v.verify(custom, now=c.valid_to + 60)[1] == "expired"


@needs_sigil
def test_swift_token_for_another_audience_is_wrong_audience(swift, tmp_path):
    token = swift.issue("--audience", "reports", "--all")
    ks = swift.keyset("billing", tmp_path / "keyset.json")
    assert sv.Verifier(ks.audience, ks.token_keys).verify(token)[:2] == (False, "wrong_audience")
    code, out = run_py(["--keyset", str(tmp_path / "keyset.json"), token])
    assert (code, out["reason"], out["guid"]) == (11, "wrong_audience", None)
    # Even a verifier that skipped the audience check would not accept it: K_aud differs.
    parsed = sv.parse_token(token)
    key = ks.token_keys[parsed.claims.kid]
    assert not hmac.compare_digest(hmac.new(key, parsed.body, hashlib.sha256).digest(), parsed.tag)


@needs_sigil
def test_swift_revocation_list_verifies_in_python(swift, tmp_path):
    revoked = swift.issue("--audience", "billing", "--all")
    deactivated = swift.issue("--audience", "billing", "--all")
    kept = swift.issue("--audience", "billing", "--all")
    gr, gd = sv.parse_token(revoked).claims.guid, sv.parse_token(deactivated).claims.guid
    swift.run("revoke", "--yes", gr)
    swift.run("deactivate", gd)
    first = tmp_path / "rev1.sgl"
    swift.run("revocations", "export", "-o", str(first), "--next-update", "1h")
    ks = swift.keyset("billing", tmp_path / "keyset.json")

    lst = sv.parse_revocation_list(first.read_bytes(), ks.revocation_keys)
    assert lst.verified and lst.kid in ks.revocation_keys
    assert {e["guid"]: e["status"] for e in lst.entries_json()} == {gr: "revoked", gd: "deactivated"}
    assert lst.next_update is not None and lst.next_update - lst.issued_at == 3600

    store = sv.RevocationStore(ks.revocation_keys)
    store.load(first.read_bytes())
    v = sv.Verifier(ks.audience, ks.token_keys, revocations=store)
    assert v.verify(revoked)[:2] == (False, "revoked")
    assert v.verify(deactivated)[:2] == (False, "deactivated")
    assert v.verify(kept)[:2] == (True, None)
    code, out = run_py(["--keyset", str(tmp_path / "keyset.json"), "--revocations", str(first), revoked])
    assert (code, out["reason"], out["guid"]) == (14, "revoked", gr)

    # A newer list supersedes it; the older one is then a rollback.
    swift.run("activate", gd)
    second = tmp_path / "rev2.sgl"
    swift.run("revocations", "export", "-o", str(second))
    newer = store.load(second.read_bytes())
    assert newer.sequence > lst.sequence
    assert v.verify(deactivated)[:2] == (True, None)
    with pytest.raises(sv.RevocationListError) as e:
        store.load(first.read_bytes())
    assert e.value.reason == "rollback"


@needs_sigil
def test_python_tokens_verify_in_swift(swift, tmp_path):
    """The other direction: tokens minted here with the exported K_aud pass `sigil verify`."""
    swift.issue("--audience", "billing", "--all")  # creates the keyring
    ks_path = tmp_path / "keyset.json"
    ks = swift.keyset("billing", ks_path)
    kid, key = next(iter(ks.token_keys.items()))
    base = claims(kid=kid, valid_from=NOW - 100, valid_to=NOW + 100)
    cases = [
        (sv.mint(base, key), [], 0),
        (sv.mint(dataclasses.replace(base, scope="read-only"), key), ["--permission", "devices.list", "--access", "read"], 0),
        (sv.mint(dataclasses.replace(base, scope="read-only"), key), ["--permission", "devices.delete", "--access", "write"], 18),
        (sv.mint(base, key), ["--permission", "devices.list", "--access", "write"], 0),
        (sv.mint(base, key)[:-2] + "AA", [], None),  # bad_signature or malformed
        (sv.mint(base, b"\x00" * 32), [], 13),
        (sv.mint(dataclasses.replace(base, audience="reports"), key), [], 11),
        (sv.mint(dataclasses.replace(base, kid="nope"), key), [], 12),
        (seal(body_of(dataclasses.replace(base, scope=("b.x", "a.x"))), key), [], 10),
        (seal(body_of(base) + b"\x00", key), [], 10),
        (sv.mint(base, key) + "=", [], 10),
    ]
    at = ["--at", "2026-05-28T20:26:40Z"]  # = NOW
    for i, (token, extra, want) in enumerate(cases):
        p = swift.run("verify", "--audience", "billing", "--keys", str(ks_path), *at, *extra, "-", stdin=token, check=False)
        py_code, _ = run_py(["--keyset", str(ks_path), "--at", str(NOW), *extra, token])
        if want is not None:
            assert p.returncode == want, (i, p.stdout, p.stderr)
        assert py_code == p.returncode, (i, p.stdout, p.stderr)


@needs_sigil
def test_worked_example_verifies_in_swift(tmp_path):
    _, token, key = make_example.token_example()
    _, data, public = make_example.revocation_example()
    ks = tmp_path / "keyset.json"
    ks.write_text(
        json.dumps(
            {
                "format": "sigil-keyset-v1",
                "audience": "billing",
                "token_keys": [{"kid": "k1", "key": sv.b64url_encode(key)}],
                "revocation_keys": [{"kid": "r1", "public_key": sv.b64url_encode(public)}],
            }
        )
    )
    ks.chmod(0o600)
    lst = tmp_path / "revocations.sgl"
    lst.write_bytes(data)
    swift = SwiftHome(tmp_path / "home")
    at = ["--at", "2026-05-28T20:26:40Z"]  # make_example.VERIFY_AT
    p = swift.run("verify", "--json", "--audience", "billing", "--keys", str(ks), *at, "-", stdin=token)
    out = json.loads(p.stdout)
    assert out["valid"] is True and out["guid"] == make_example.GUID
    assert out["scope"] == list(make_example.SCOPE)
    p = swift.run(
        "verify", "--json", "--audience", "billing", "--keys", str(ks), "--revocations", str(lst), *at, "-",
        stdin=token, check=False,
    )
    assert p.returncode == 14 and json.loads(p.stdout)["reason"] == "revoked"
