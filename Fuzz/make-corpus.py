#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/corpus/<harness>/ (test-only keys, fixed bytes).

Run from anywhere: python3 Fuzz/make-corpus.py. Needs the `cryptography` package for
Ed25519. The keys match the harnesses: token MAC key 0x5a*32, list seed 0x17*32.
"""
import base64, hashlib, hmac, json, os, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
TOKEN_KEY = bytes([0x5A]) * 32
LIST_SEED = bytes([0x17]) * 32
NOW = 1767225600
GUID = bytes.fromhex("d1498a2bb9ac4f14a81e17a512ca432d")


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "test-only-" + name), "wb") as f:
        f.write(data)


def token(kid, aud, guid, vfrom, vto, kind, pairs=()):
    body = bytes([1, len(kid)]) + kid + bytes([len(aud)]) + aud + guid + struct.pack(">qq", vfrom, vto) + bytes([kind])
    if kind == 3:
        body += struct.pack(">H", len(pairs)) + b"".join(bytes([len(p)]) + p for p in pairs)
    tag = hmac.new(TOKEN_KEY, body, hashlib.sha256).digest()
    return ("sgl_" + b64u(body + tag)).encode()


# Token harness: mode 0 = text, mode 1 = structured claims.
put("token", "all", b"\x00" + token(b"k1", b"billing", GUID, NOW, NOW + 86400, 1))
put("token", "read-only-never-expires", b"\x00" + token(b"k1", b"billing", GUID, NOW, 0, 2))
put("token", "custom", b"\x00" + token(b"k1", b"billing", GUID, NOW, NOW + 3600, 3, [b"devices.list", b"users.get"]))
put("token", "other-audience", b"\x00" + token(b"k20260101-080bee", b"api.example:eu", GUID, 0, 1, 1))
put("token", "claims-all", b"\x01\x01\x01" + GUID + struct.pack(">qq", NOW, NOW + 60) + b"\x01\x00\x00\x00")
put("token", "claims-custom", b"\x01\x01\x01" + GUID + struct.pack(">qq", NOW, NOW + 60) + b"\x01\x02\x03\x00"
    + b"\x03abc\x02de\x03fgh\x02ij\x03klm\x02no\x01" + b"\x01\x00\x01\x00\x00\x00\x01")
put("token", "claims-flip", b"\x01\x01\x01" + GUID + struct.pack(">qq", NOW, 0) + b"\x00\x01\x00\x00\x01\x00\x05\x04")

# Revocation harness: mode 0 = file, mode 1 = structured build.
signer = Ed25519PrivateKey.from_private_bytes(LIST_SEED)
CONTEXT = b"sigil/v1/revocations\x00"


def rlist(kid, seq, issued, nxt, entries):
    out = b"SGLR\x01" + bytes([len(kid)]) + kid + struct.pack(">Qqq", seq, issued, nxt) + struct.pack(">I", len(entries))
    for gid, status in sorted(entries):
        out += gid + bytes([status])
    return out + signer.sign(CONTEXT + out)


ids = [bytes.fromhex("0ba28b748a0441aea9a8b51c2231ba58"), GUID, bytes.fromhex("ffffffffffff4fffbfffffffffffffff")]
put("revocations", "empty", b"\x00" + rlist(b"r1", 1, NOW, 0, []))
put("revocations", "three", b"\x00" + rlist(b"r1", 7, NOW, NOW + 3600, [(ids[0], 1), (ids[1], 2), (ids[2], 2)]))
put("revocations", "other-kid", b"\x00" + rlist(b"r20260101-b8787e", 2, NOW, 0, [(ids[1], 1)]))
put("revocations", "build", b"\x01\x01\x03\x00\x05\x03" + ids[1] + b"\x02\x05" + struct.pack(">Qqq", 3, NOW, NOW + 60) + b"\x01\x00\x10\x01")

# Keyset, ledger and keyring harness: mode 0 = keyset, 1 = ledger, 2 = keyring.
keyset = {
    "audience": "billing", "format": "sigil-keyset-v1",
    "revocation_keys": [{"kid": "r1", "public_key": b64u(signer.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))}],
    "token_keys": [{"key": b64u(TOKEN_KEY), "kid": "k1"}, {"key": b64u(bytes(32)), "kid": "k2"}],
}
put("keyset-ledger", "keyset", b"\x00" + json.dumps(keyset, indent=2, sort_keys=True).encode())
guid = "d1498a2b-b9ac-4f14-a81e-17a512ca432d"
record = {"audience": "billing", "created_at": NOW, "created_by": "root", "description": "", "guid": guid,
          "kid": "k1", "name": "ci deploy", "scope": ["devices.list", "users.get"], "status": "active",
          "updated_at": NOW, "valid_from": NOW, "valid_to": NOW + 31536000}
lines = [
    {"at": NOW, "op": "issue", "token": record},
    {"at": NOW, "op": "issue", "token": dict(record, guid="0ba28b74-8a04-41ae-a9a8-b51c2231ba58", scope="all")},
    {"at": NOW, "description": "hi", "guids": [guid], "op": "edit"},
    {"at": NOW, "guids": [guid], "op": "status", "status": "inactive"},
    {"at": NOW, "op": "export", "sequence": 1},
    {"at": NOW, "guids": [guid], "op": "delete"},
]
journal = b"".join(json.dumps(l, sort_keys=True, separators=(",", ":")).encode() + b"\n" for l in lines)
put("keyset-ledger", "ledger", b"\x01" + journal)
put("keyset-ledger", "ledger-torn", b"\x01" + journal + b'{"at":1,"op":"iss')
put("keyset-ledger", "ledger-read-only-never", b"\x01" + json.dumps(
    {"at": NOW, "op": "issue", "token": dict(record, scope="read-only", valid_to=None)}).encode() + b"\n")
keyring = {"format": "sigil-keyring-v1",
           "revocation_keys": [{"created_at": NOW, "kid": "r1", "seed": b64u(LIST_SEED)}],
           "token_keys": [{"created_at": NOW, "kid": "k1", "secret": b64u(TOKEN_KEY), "state": "active"},
                          {"created_at": NOW, "kid": "k0", "secret": b64u(bytes(32)), "state": "retired"}]}
put("keyset-ledger", "keyring", b"\x02" + json.dumps(keyring, indent=2, sort_keys=True).encode() + b"\n")

# CLI parsers: mode 0 = time, 1 = duration, 2 = format(Int64), 3 = GUID selection.
for i, t in enumerate([b"2026-01-31T12:00:00Z", b"2026-01-31T14:00:00+02:00", b"2026-01-31",
                       b"2024-02-29t23:59:60.123456789z", b"1970-01-01T00:00:00-00:30"]):
    put("cli-parsers", "time-%d" % i, b"\x00" + t)
for i, d in enumerate([b"90d", b"12h", b"1y", b"3153600000s"]):
    put("cli-parsers", "duration-%d" % i, b"\x01" + d)
put("cli-parsers", "format", b"\x02" + struct.pack(">q", NOW))
for i, g in enumerate([b"abcdef01", b"0ba28b74-8a04-41ae-a9a8-b51c2231ba58", b"ABCDEF02-1111", b"deadbeef",
                       b"0ba28b748a0441aea9a8b51c2231ba58"]):
    put("cli-parsers", "guid-%d" % i, b"\x03" + g)
