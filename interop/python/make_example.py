#!/usr/bin/env python3
"""Prints the worked examples of docs/FORMAT.md (a token and a revocation list).

Everything is fixed, so the output never changes: test_sigil_verify.py checks that
docs/FORMAT.md contains it verbatim and that the Python verifier accepts it. The keys here
are published test values: never use them for anything real.

    python3 interop/python/make_example.py
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import sys
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import sigil_verify as sv  # noqa: E402
from sigil_verify import ed25519  # noqa: E402

MASTER_SECRET = bytes(range(0x00, 0x20))  # 00 01 02 ... 1f
KID = "k1"
AUDIENCE = "billing"
GUID = "0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90"
VALID_FROM = 1767225600  # 2026-01-01T00:00:00Z
VALID_TO = 1798761600  # 2027-01-01T00:00:00Z
SCOPE = ("devices.list", "invoices.read")
VERIFY_AT = 1780000000  # 2026-05-28T20:26:40Z, inside the window

REVOCATION_SEED = bytes(range(0x20, 0x40))  # 20 21 22 ... 3f (Ed25519 private seed)
REVOCATION_KID = "r1"
REVOCATION_SEQUENCE = 7
REVOCATION_ISSUED_AT = 1767225600
REVOCATION_NEXT_UPDATE = 1767229200  # one hour later
REVOCATION_ENTRIES = (("0b0e5c6a-2f4d-4c1e-9a53-5d3f1e2b7c90", 2), ("7d444840-9dc0-41b2-a5d0-2f1c9e3b5a61", 1))


def claims() -> sv.Claims:
    return sv.Claims(KID, AUDIENCE, GUID, VALID_FROM, VALID_TO, SCOPE)


def token_example() -> Tuple[List[str], str, bytes]:
    """(lines, token, K_aud)."""
    c = claims()
    body = sv.encode_body(c)
    key = sv.audience_key(MASTER_SECRET, AUDIENCE)
    tag = hmac.new(key, body, hashlib.sha256).digest()
    token = "sgl_" + sv.b64url_encode(body + tag)
    kid, aud = KID.encode(), AUDIENCE.encode()
    fields = [
        ("version", bytes([1])),
        ("key id length", bytes([len(kid)])),
        ('key id "k1"', kid),
        ("audience length", bytes([len(aud)])),
        ('audience "billing"', aud),
        ("guid", sv.guid_bytes(GUID)),
        (f"valid_from {VALID_FROM}", struct.pack(">q", VALID_FROM)),
        (f"valid_to {VALID_TO}", struct.pack(">q", VALID_TO)),
        ("scope kind 3 (custom)", bytes([3])),
        ("scope count 2", struct.pack(">H", 2)),
    ]
    for pair in SCOPE:
        fields.append(("entry length", bytes([len(pair)])))
        fields.append((f'"{pair}"', pair.encode()))
    assert b"".join(v for _, v in fields) == body
    info = sv.HKDF_INFO_PREFIX + aud
    lines = [
        f"master secret (k1)  {MASTER_SECRET.hex()}",
        f"HKDF info           {info.hex()}",
        f"K_aud (billing)     {key.hex()}",
        "",
        "body, field by field:",
    ]
    lines += [f"  {v.hex():<34} {name}" for name, v in fields]
    lines += [
        "",
        f"body ({len(body)} bytes)     {body.hex()}",
        f"tag                 {tag.hex()}",
        "",
        f"token ({len(token)} chars)",
        token,
    ]
    return lines, token, key


def revocation_example() -> Tuple[List[str], bytes, bytes]:
    """(lines, list bytes, public key)."""
    public = ed25519.public_key(REVOCATION_SEED)
    kid = REVOCATION_KID.encode()
    header = (
        sv.REVOCATION_MAGIC
        + bytes([sv.REVOCATION_VERSION, len(kid)])
        + kid
        + struct.pack(">QqqI", REVOCATION_SEQUENCE, REVOCATION_ISSUED_AT, REVOCATION_NEXT_UPDATE, len(REVOCATION_ENTRIES))
    )
    entries = b"".join(sv.guid_bytes(g) + bytes([s]) for g, s in REVOCATION_ENTRIES)
    signature = ed25519.sign(REVOCATION_SEED, sv.REVOCATION_CONTEXT + header + entries)
    data = header + entries + signature
    lines = [
        f"signing seed (r1)   {REVOCATION_SEED.hex()}",
        f"public key (r1)     {public.hex()}",
        "",
        f"header              {header.hex()}",
        f"                    SGLR, version 1, key id r1, sequence {REVOCATION_SEQUENCE}, issued_at {REVOCATION_ISSUED_AT},",
        f"                    next_update {REVOCATION_NEXT_UPDATE}, count {len(REVOCATION_ENTRIES)}",
    ]
    for g, s in REVOCATION_ENTRIES:
        lines.append(f"entry               {(sv.guid_bytes(g) + bytes([s])).hex()}  {g} {sv.STATUS_NAMES[s]}")
    lines += [
        f"signed message      {sv.REVOCATION_CONTEXT.hex()} || header || entries",
        f"signature           {signature[:32].hex()}",
        f"                    {signature[32:].hex()}",
        f"list ({len(data)} bytes = {len(header)} + 17 x {len(REVOCATION_ENTRIES)} + 64)",
    ]
    return lines, data, public


def main() -> None:
    lines, _, _ = token_example()
    print("\n".join(lines))
    print()
    print("-" * 72)
    print()
    rlines, _, _ = revocation_example()
    print("\n".join(rlines))


if __name__ == "__main__":
    main()
