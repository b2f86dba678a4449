#!/usr/bin/env python3
"""A second, independent verifier of Sigil v1 tokens and revocation lists.

Written from docs/FORMAT.md alone, with the Python standard library only (hmac, hashlib),
so that the Swift implementation has something to disagree with. Revocation-list
signatures are Ed25519 and need the `cryptography` package; everything else works without it.

Library use:

    keyset = load_keyset(open("keyset.json", "rb").read())
    verifier = Verifier(keyset.audience, keyset.token_keys)
    valid, reason, claims = verifier.verify(token, permission="devices.list", access="read")

CLI use (exit 0 valid, 10..19 per reason; see EXIT_CODES):

    python3 sigil_verify.py --keyset keyset.json [--revocations FILE] \
        [--permission devices.list --access read] TOKEN|-
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import struct
import sys
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Protocol, Tuple, Union

# ---------------------------------------------------------------------------------------------
# Constants (docs/FORMAT.md)

TOKEN_PREFIX = b"sgl_"
TOKEN_VERSION = 1
MAX_TOKEN_TEXT = 4096
TAG_LENGTH = 32
MAX_SCOPE_ENTRIES = 256
HKDF_INFO_PREFIX = b"sigil/v1/token\x00"
DEFAULT_LEEWAY = 60

SCOPE_ALL = 1
SCOPE_READ_ONLY = 2
SCOPE_CUSTOM = 3

REVOCATION_MAGIC = b"SGLR"
REVOCATION_VERSION = 1
REVOCATION_CONTEXT = b"sigil/v1/revocations\x00"
REVOCATION_ENTRY_SIZE = 17
REVOCATION_SIGNATURE_SIZE = 64
REVOCATION_DEFAULT_MAX_BYTES = 64 << 20
STATUS_DEACTIVATED = 1
STATUS_REVOKED = 2
STATUS_NAMES = {STATUS_DEACTIVATED: "deactivated", STATUS_REVOKED: "revoked"}

KEYSET_FORMAT = "sigil-keyset-v1"
KEYSET_MAX_BYTES = 1 << 20

#: Token reason codes in the order the verifier checks them.
REASONS = (
    "malformed",
    "wrong_audience",
    "unknown_key",
    "bad_signature",
    "revocations_stale",
    "revoked",
    "deactivated",
    "not_yet_valid",
    "expired",
    "scope_not_granted",
)

#: CLI exit codes, the same as `sigil verify`.
EXIT_CODES = {
    "malformed": 10,
    "wrong_audience": 11,
    "unknown_key": 12,
    "bad_signature": 13,
    "revoked": 14,
    "deactivated": 15,
    "not_yet_valid": 16,
    "expired": 17,
    "scope_not_granted": 18,
    "revocations_stale": 19,
}
#: CLI exit codes for a refused revocation list or keyset, the same as `sigil`.
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_NO_INPUT = 66
REVOCATION_EXIT_CODES = {
    "too_large": EXIT_DATA,
    "malformed": EXIT_DATA,
    "unsupported_version": EXIT_DATA,
    "unknown_key": 20,
    "bad_signature": 21,
    "rollback": 22,
    "equivocation": 23,
    "io": EXIT_NO_INPUT,
}

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUE = {c: i for i, c in enumerate(_B64_ALPHABET)}
_KID_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_AUDIENCE_CHARS = _KID_CHARS | frozenset(b".:")
_PART_FIRST = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_PART_CHARS = _PART_FIRST | frozenset(b"0123456789_-")

# ---------------------------------------------------------------------------------------------
# Errors


class SigilError(Exception):
    """Base class: `reason` is a stable code, `detail` is safe to log (never a token or key)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"[{reason}] {detail}" if detail else f"[{reason}]")
        self.reason = reason
        self.detail = detail


class VerificationError(SigilError):
    """A token was refused; `reason` is one of REASONS."""


class RevocationListError(SigilError):
    """A revocation list was refused: too_large, malformed, unsupported_version, unknown_key,
    bad_signature, rollback or equivocation."""


class KeysetError(ValueError):
    """A keyset or verifier configuration that cannot be used."""


# ---------------------------------------------------------------------------------------------
# Base64url (RFC 4648 section 5), strict: no padding, URL alphabet only, no length 1 mod 4,
# unused bits zero. Every byte string has exactly one accepted encoding.


def b64url_encode(data: bytes) -> str:
    out = bytearray()
    for i in range(0, len(data), 3):
        chunk = data[i : i + 3]
        n = int.from_bytes(chunk.ljust(3, b"\x00"), "big")
        chars = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63]
        out += bytes(_B64_ALPHABET[c] for c in chars[: len(chunk) + 1])
    return out.decode("ascii")


def b64url_decode(text: Union[str, bytes]) -> Optional[bytes]:
    """Decodes canonical unpadded base64url, or returns None for anything else."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            return None
    else:
        raw = bytes(text)
    if len(raw) % 4 == 1:
        return None
    values = []
    for c in raw:
        v = _B64_VALUE.get(c)
        if v is None:
            return None
        values.append(v)
    out = bytearray()
    full = len(values) // 4 * 4
    for i in range(0, full, 4):
        n = values[i] << 18 | values[i + 1] << 12 | values[i + 2] << 6 | values[i + 3]
        out += n.to_bytes(3, "big")
    rest = values[full:]
    if len(rest) == 2:
        if rest[1] & 0x0F:
            return None
        out.append((rest[0] << 2 | rest[1] >> 4) & 0xFF)
    elif len(rest) == 3:
        if rest[2] & 0x03:
            return None
        n = rest[0] << 10 | rest[1] << 4 | rest[2] >> 2
        out += n.to_bytes(2, "big")
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# HKDF-SHA256 (RFC 5869) and the per-audience key


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """PRK = HMAC-SHA256(salt, IKM); an empty salt means HashLen zero bytes (RFC 5869 2.2)."""
    return hmac.new(salt if salt else b"\x00" * 32, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF-SHA256 output length must be 1..8160 bytes")
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


def audience_key(master_secret: bytes, audience: str) -> bytes:
    """K_aud = HKDF-SHA256(IKM = master secret, salt = empty, info = "sigil/v1/token" 0x00 audience, L = 32)."""
    if len(master_secret) != 32:
        raise ValueError("a master secret is 32 bytes")
    if not is_valid_audience(audience):
        raise ValueError("audience must be 1-64 characters of [A-Za-z0-9._:-]")
    return hkdf_sha256(master_secret, b"", HKDF_INFO_PREFIX + audience.encode("ascii"), 32)


# ---------------------------------------------------------------------------------------------
# Field rules


def _is_kid_bytes(b: bytes) -> bool:
    return 1 <= len(b) <= 32 and all(c in _KID_CHARS for c in b)


def _is_audience_bytes(b: bytes) -> bool:
    return 1 <= len(b) <= 64 and all(c in _AUDIENCE_CHARS for c in b)


def _is_part_bytes(b: bytes) -> bool:
    return 1 <= len(b) <= 32 and b[0] in _PART_FIRST and all(c in _PART_CHARS for c in b[1:])


def _is_pair_bytes(b: bytes) -> bool:
    dot = b.find(b".")
    return dot >= 0 and _is_part_bytes(b[:dot]) and _is_part_bytes(b[dot + 1 :])


def _ascii(s: str) -> Optional[bytes]:
    try:
        return s.encode("ascii")
    except UnicodeEncodeError:
        return None


def is_valid_kid(kid: str) -> bool:
    b = _ascii(kid)
    return b is not None and _is_kid_bytes(b)


def is_valid_audience(audience: str) -> bool:
    b = _ascii(audience)
    return b is not None and _is_audience_bytes(b)


def is_valid_pair(pair: str) -> bool:
    b = _ascii(pair)
    return b is not None and _is_pair_bytes(b)


def guid_text(b: bytes) -> str:
    """Lowercase hyphenated 8-4-4-4-12 form of 16 bytes."""
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def guid_bytes(text: str) -> bytes:
    """Parses the 36-character hyphenated form or 32 hex digits, either case."""
    t = text.strip()
    if len(t) == 36:
        if any(t[i] != "-" for i in (8, 13, 18, 23)):
            raise ValueError(f"not a GUID: {text!r}")
        t = t.replace("-", "")
    if len(t) != 32 or any(c not in "0123456789abcdefABCDEF" for c in t):
        raise ValueError(f"not a GUID: {text!r}")
    return bytes.fromhex(t)


# ---------------------------------------------------------------------------------------------
# Token claims and strict parsing

Scope = Union[str, Tuple[str, ...]]  # "all", "read-only" or the sorted resource.action pairs


@dataclass(frozen=True)
class Claims:
    kid: str
    audience: str
    guid: str  # lowercase hyphenated
    valid_from: int
    valid_to: Optional[int]  # None: never expires
    scope: Scope

    @property
    def guid_bytes(self) -> bytes:
        return guid_bytes(self.guid)

    def to_json(self) -> dict:
        return {
            "kid": self.kid,
            "audience": self.audience,
            "guid": self.guid,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "scope": self.scope if isinstance(self.scope, str) else list(self.scope),
        }


@dataclass(frozen=True)
class ParsedToken:
    claims: Claims
    body: bytes  # what the tag covers
    tag: bytes


def _malformed(detail: str) -> VerificationError:
    return VerificationError("malformed", detail)


def decode_token_text(token: Union[str, bytes]) -> bytes:
    """The decoded bytes (body || tag) of a token's text, after the text-level checks."""
    if isinstance(token, str):
        try:
            text = token.encode("utf-8")
        except UnicodeEncodeError:
            raise _malformed("not UTF-8 text") from None
    else:
        text = bytes(token)
    if len(text) > MAX_TOKEN_TEXT:
        raise _malformed("longer than 4096 characters")
    if not text.startswith(TOKEN_PREFIX):
        raise _malformed("missing the sgl_ prefix")
    payload = text[len(TOKEN_PREFIX) :]
    if len(payload) % 4 == 1 or len(payload) * 3 // 4 <= TAG_LENGTH:
        raise _malformed("too short or an impossible base64url length")
    raw = b64url_decode(payload)
    if raw is None:
        raise _malformed("not canonical unpadded base64url")
    return raw


def parse_token_bytes(raw: bytes) -> ParsedToken:
    """Strictly parses body || tag. Anything outside the rules raises `malformed`."""
    if len(raw) <= TAG_LENGTH:
        raise _malformed("too short")
    end = len(raw) - TAG_LENGTH
    if raw[0] != TOKEN_VERSION:
        raise _malformed("unknown version")
    i = 1
    if i >= end:
        raise _malformed("truncated at key id")
    n = raw[i]
    i += 1
    kid = raw[i : i + n]
    if not (1 <= n <= 32 and i + n <= end and _is_kid_bytes(kid)):
        raise _malformed("bad key id field")
    i += n
    if i >= end:
        raise _malformed("truncated at audience")
    n = raw[i]
    i += 1
    aud = raw[i : i + n]
    if not (1 <= n <= 64 and i + n <= end and _is_audience_bytes(aud)):
        raise _malformed("bad audience field")
    i += n
    if i + 16 + 8 + 8 + 1 > end:
        raise _malformed("truncated at guid or times")
    guid = raw[i : i + 16]
    i += 16
    valid_from, valid_to = struct.unpack_from(">qq", raw, i)
    i += 16
    if not (valid_to == 0 or valid_to > valid_from):
        raise _malformed("valid_to is not after valid_from")
    kind = raw[i]
    i += 1
    scope: Scope
    if kind == SCOPE_ALL:
        scope = "all"
    elif kind == SCOPE_READ_ONLY:
        scope = "read-only"
    elif kind == SCOPE_CUSTOM:
        if i + 2 > end:
            raise _malformed("truncated at scope count")
        count = raw[i] << 8 | raw[i + 1]
        i += 2
        if not 1 <= count <= MAX_SCOPE_ENTRIES:
            raise _malformed("scope count out of range")
        pairs: List[bytes] = []
        for _ in range(count):
            if i >= end:
                raise _malformed("truncated in scope")
            n = raw[i]
            i += 1
            if n < 3 or i + n > end:
                raise _malformed("bad scope entry length")
            entry = raw[i : i + n]
            if not _is_pair_bytes(entry):
                raise _malformed("bad scope entry")
            if pairs and not pairs[-1] < entry:  # bytes compare bytewise
                raise _malformed("scope entries not strictly ascending")
            pairs.append(entry)
            i += n
        scope = tuple(p.decode("ascii") for p in pairs)
    else:
        raise _malformed("unknown scope kind")
    if i != end:
        raise _malformed("trailing bytes after the scope")
    claims = Claims(
        kid=kid.decode("ascii"),
        audience=aud.decode("ascii"),
        guid=guid_text(guid),
        valid_from=valid_from,
        valid_to=None if valid_to == 0 else valid_to,
        scope=scope,
    )
    return ParsedToken(claims=claims, body=raw[:end], tag=raw[end:])


def parse_token(token: Union[str, bytes]) -> ParsedToken:
    """Parses a token **without checking its MAC**: nothing in it may be trusted yet."""
    return parse_token_bytes(decode_token_text(token))


def encode_body(claims: Claims) -> bytes:
    """The canonical body bytes of `claims` (for tests and the worked example)."""
    kid = claims.kid.encode("ascii")
    aud = claims.audience.encode("ascii")
    out = bytearray([TOKEN_VERSION, len(kid)]) + kid + bytes([len(aud)]) + aud
    out += guid_bytes(claims.guid)
    out += struct.pack(">qq", claims.valid_from, claims.valid_to or 0)
    if claims.scope == "all":
        out.append(SCOPE_ALL)
    elif claims.scope == "read-only":
        out.append(SCOPE_READ_ONLY)
    else:
        out.append(SCOPE_CUSTOM)
        out += struct.pack(">H", len(claims.scope))
        for pair in claims.scope:
            p = pair.encode("ascii")
            out.append(len(p))
            out += p
    return bytes(out)


def mint(claims: Claims, key: bytes) -> str:
    """`sgl_` + base64url(body || HMAC-SHA256(K_aud, body)). Does not validate `claims`:
    tests use it to build deliberately broken tokens."""
    body = encode_body(claims)
    return "sgl_" + b64url_encode(body + hmac.new(key, body, hashlib.sha256).digest())


# ---------------------------------------------------------------------------------------------
# Revocation sources


class RevocationSource(Protocol):
    def check(self, guid: bytes, now: int) -> Optional[str]:
        """None (clear), "revoked", "deactivated" or "stale" (fail closed)."""


class StaticRevocations:
    """A fixed GUID -> status mapping (what test vectors describe)."""

    def __init__(self, entries: Mapping[bytes, str]) -> None:
        self.entries = dict(entries)

    def check(self, guid: bytes, now: int) -> Optional[str]:
        return self.entries.get(guid)


# ---------------------------------------------------------------------------------------------
# Verifier


def _permission_bytes(permission: Optional[str], access: Optional[str]) -> Optional[Tuple[bytes, str]]:
    if permission is None:
        if access is not None:
            raise ValueError("access needs a permission")
        return None
    if not is_valid_pair(permission):
        raise ValueError("permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}")
    if access not in ("read", "write"):
        raise ValueError("access must be read or write")
    return permission.encode("ascii"), access


class Verifier:
    """Verifies v1 tokens for one audience under a set of K_aud keys (by key id)."""

    def __init__(
        self,
        audience: str,
        keys: Union[Mapping[str, bytes], Iterable[Tuple[str, bytes]]],
        leeway: int = DEFAULT_LEEWAY,
        revocations: Optional[RevocationSource] = None,
    ) -> None:
        if not is_valid_audience(audience):
            raise KeysetError("audience is not [A-Za-z0-9._:-]{1,64}")
        if not 0 <= leeway <= 86_400:
            raise KeysetError("leeway must be 0..86400 seconds")
        pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
        self.keys: Dict[bytes, bytes] = {}
        for kid, key in pairs:
            if not is_valid_kid(kid):
                raise KeysetError("token key id is not [A-Za-z0-9_-]{1,32}")
            if len(key) != 32:
                raise KeysetError(f"token key {kid} must be 32 bytes")
            if kid.encode("ascii") in self.keys:
                raise KeysetError(f"key id {kid} appears twice")
            self.keys[kid.encode("ascii")] = bytes(key)
        self.audience = audience
        self.leeway = leeway
        self.revocations = revocations

    def check(
        self,
        token: Union[str, bytes],
        permission: Optional[str] = None,
        access: Optional[str] = None,
        now: Optional[int] = None,
    ) -> Claims:
        """Returns the claims of a valid token or raises VerificationError (first failed check)."""
        wanted = _permission_bytes(permission, access)
        parsed = parse_token(token)
        c = parsed.claims
        if c.audience != self.audience:
            raise VerificationError("wrong_audience")
        key = self.keys.get(c.kid.encode("ascii"))
        if key is None:  # never tried against another key
            raise VerificationError("unknown_key", f"key id {c.kid}")
        expected = hmac.new(key, parsed.body, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, parsed.tag):
            raise VerificationError("bad_signature", f"key id {c.kid}")
        # From here on the claims are authentic.
        t = int(time.time()) if now is None else int(now)
        if self.revocations is not None:
            status = self.revocations.check(guid_bytes(c.guid), t)
            if status == "stale":
                raise VerificationError("revocations_stale")
            if status == "revoked":
                raise VerificationError("revoked")
            if status == "deactivated":
                raise VerificationError("deactivated")
        # Exact integer arithmetic; equal to the Swift verifier's overflow-skipping checks.
        if t + self.leeway < c.valid_from:
            raise VerificationError("not_yet_valid")
        if c.valid_to is not None and t - self.leeway >= c.valid_to:
            raise VerificationError("expired")
        if wanted is not None:
            name, mode = wanted
            if c.scope == "all":
                granted = True
            elif c.scope == "read-only":
                granted = mode == "read"
            else:
                granted = name.decode("ascii") in c.scope
            if not granted:
                raise VerificationError("scope_not_granted", name.decode("ascii"))
        return c

    def verify(
        self,
        token: Union[str, bytes],
        permission: Optional[str] = None,
        access: Optional[str] = None,
        now: Optional[int] = None,
    ) -> Tuple[bool, Optional[str], Optional[Claims]]:
        """(valid, reason, claims). Claims are returned whenever the MAC matched (also for
        revoked, expired, ... tokens) and are None before that: unauthenticated bytes are
        never handed out."""
        try:
            return True, None, self.check(token, permission, access, now)
        except VerificationError as e:
            if e.reason in ("malformed", "wrong_audience", "unknown_key", "bad_signature"):
                return False, e.reason, None
            return False, e.reason, parse_token(token).claims


# ---------------------------------------------------------------------------------------------
# Keyset export


@dataclass(frozen=True)
class Keyset:
    audience: str
    token_keys: Dict[str, bytes]  # kid -> K_aud
    revocation_keys: Dict[str, bytes]  # kid -> Ed25519 public key


def load_keyset(data: Union[bytes, str]) -> Keyset:
    """Parses a `sigil-keyset-v1` export. Errors name the field, never its value."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > KEYSET_MAX_BYTES:
        raise KeysetError("keyset is larger than 1 MiB")
    try:
        wire = json.loads(data)
    except ValueError:
        raise KeysetError("keyset is not JSON") from None
    if not isinstance(wire, dict):
        raise KeysetError("keyset is not a JSON object")
    if wire.get("format") != KEYSET_FORMAT:
        raise KeysetError(f"keyset format is not {KEYSET_FORMAT}")
    audience = wire.get("audience")
    if not isinstance(audience, str) or not is_valid_audience(audience):
        raise KeysetError("audience is not [A-Za-z0-9._:-]{1,64}")

    def entries(field: str, value_field: str) -> Dict[str, bytes]:
        items = wire.get(field)
        if not isinstance(items, list):
            raise KeysetError(f"{field} is not a list")
        out: Dict[str, bytes] = {}
        for item in items:
            if not isinstance(item, dict):
                raise KeysetError(f"{field} holds a non-object")
            kid, value = item.get("kid"), item.get(value_field)
            if not isinstance(kid, str) or not is_valid_kid(kid):
                raise KeysetError(f"{field}: key id is not [A-Za-z0-9_-]{{1,32}}")
            if not isinstance(value, str):
                raise KeysetError(f"{field}: {kid} has no {value_field}")
            raw = b64url_decode(value)
            if raw is None:
                raise KeysetError(f"{field}: {kid} is not canonical base64url")
            if len(raw) != 32:
                raise KeysetError(f"{field}: {kid} must be 32 bytes")
            if kid in out:
                raise KeysetError(f"{field}: key id {kid} appears twice")
            out[kid] = raw
        return out

    return Keyset(audience, entries("token_keys", "key"), entries("revocation_keys", "public_key"))


# ---------------------------------------------------------------------------------------------
# Revocation lists


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification through `cryptography` (raises ImportError if it is missing)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


@dataclass(frozen=True)
class RevocationList:
    kid: str
    sequence: int
    issued_at: int
    next_update: Optional[int]  # None: no next update promised
    entries: Tuple[Tuple[bytes, int], ...]  # (guid, status), ascending
    raw: bytes
    verified: bool

    def status(self, guid: bytes) -> Optional[str]:
        lo, hi = 0, len(self.entries)
        while lo < hi:  # entries are strictly ascending: binary search
            mid = (lo + hi) // 2
            g, s = self.entries[mid]
            if g == guid:
                return STATUS_NAMES[s]
            if g < guid:
                lo = mid + 1
            else:
                hi = mid
        return None

    def is_stale(self, now: int) -> bool:
        return self.next_update is not None and now >= self.next_update

    def entries_json(self) -> List[dict]:
        return [{"guid": guid_text(g), "status": STATUS_NAMES[s]} for g, s in self.entries]


def parse_revocation_list(
    data: bytes,
    public_keys: Optional[Mapping[str, bytes]] = None,
    max_bytes: int = REVOCATION_DEFAULT_MAX_BYTES,
) -> RevocationList:
    """Parses a v1 list and, unless `public_keys` is None, checks its Ed25519 signature.

    Checks in this order: too_large, malformed (magic), unsupported_version, malformed
    (header, exact length, entry order and statuses), unknown_key, bad_signature.
    """
    b = bytes(data)
    if len(b) > max_bytes:
        raise RevocationListError("too_large", f"{len(b)} bytes, limit {max_bytes}")
    if len(b) < 6 or b[:4] != REVOCATION_MAGIC:
        raise RevocationListError("malformed", "missing the SGLR magic")
    if b[4] != REVOCATION_VERSION:
        raise RevocationListError("unsupported_version", f"version {b[4]}")
    n = b[5]
    i = 6
    if not (1 <= n <= 32 and len(b) >= i + n):
        raise RevocationListError("malformed", "bad key id length")
    kid = b[i : i + n]
    if not _is_kid_bytes(kid):
        raise RevocationListError("malformed", "bad key id")
    i += n
    if len(b) < i + 28:
        raise RevocationListError("malformed", "truncated header")
    sequence, issued_at, next_update, count = struct.unpack_from(">QqqI", b, i)
    i += 28
    expected = i + count * REVOCATION_ENTRY_SIZE + REVOCATION_SIGNATURE_SIZE
    if len(b) != expected:
        raise RevocationListError("malformed", f"length {len(b)} does not match {count} entries")
    entries = []
    previous = None
    for k in range(count):
        at = i + k * REVOCATION_ENTRY_SIZE
        guid, status = b[at : at + 16], b[at + 16]
        if status not in STATUS_NAMES or (previous is not None and not previous < guid):
            raise RevocationListError("malformed", "entries must be strictly ascending GUIDs with status 1 or 2")
        entries.append((guid, status))
        previous = guid
    kid_text = kid.decode("ascii")
    verified = False
    if public_keys is not None:
        key = public_keys.get(kid_text)
        if key is None:
            raise RevocationListError("unknown_key", f"signed by key {kid_text}")
        signed = REVOCATION_CONTEXT + b[:-REVOCATION_SIGNATURE_SIZE]
        if not ed25519_verify(key, signed, b[-REVOCATION_SIGNATURE_SIZE:]):
            raise RevocationListError("bad_signature", f"key {kid_text}")
        verified = True
    return RevocationList(
        kid=kid_text,
        sequence=sequence,
        issued_at=issued_at,
        next_update=None if next_update == 0 else next_update,
        entries=tuple(entries),
        raw=b,
        verified=verified,
    )


class RevocationStore:
    """The list in force for a service. Refuses forged, malformed, older (rollback) and
    same-sequence-different-bytes (equivocation) lists; the old list then stays in force."""

    def __init__(
        self,
        public_keys: Mapping[str, bytes],
        fail_closed: bool = False,
        max_bytes: int = REVOCATION_DEFAULT_MAX_BYTES,
    ) -> None:
        self.public_keys = dict(public_keys)
        self.fail_closed = fail_closed
        self.max_bytes = max_bytes
        self.current: Optional[RevocationList] = None

    def load(self, data: bytes) -> RevocationList:
        candidate = parse_revocation_list(data, self.public_keys, self.max_bytes)
        cur = self.current
        if cur is not None:
            if candidate.sequence < cur.sequence:
                raise RevocationListError("rollback", f"sequence {candidate.sequence} < {cur.sequence} in force")
            if candidate.sequence == cur.sequence:
                if candidate.raw != cur.raw:
                    raise RevocationListError("equivocation", f"sequence {candidate.sequence}")
                return cur
        self.current = candidate
        return candidate

    def check(self, guid: bytes, now: int) -> Optional[str]:
        cur = self.current
        if cur is None:
            return None
        if self.fail_closed and cur.is_stale(now):
            return "stale"
        return cur.status(guid)


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        description="Verify a Sigil v1 token offline (independent Python implementation).",
        epilog="Exit codes: 0 valid; 10 malformed, 11 wrong_audience, 12 unknown_key, 13 bad_signature, "
        "14 revoked, 15 deactivated, 16 not_yet_valid, 17 expired, 18 scope_not_granted, "
        "19 revocations_stale; 64 usage, 65 bad keyset or list, 66 unreadable file, "
        "20-23 list unknown_key/bad_signature/rollback/equivocation.",
    )
    p.add_argument("token", nargs="?", default="-", help="the token, or - to read it from stdin (default)")
    p.add_argument("--keyset", required=True, help="keyset export (sigil keys export)")
    p.add_argument("--revocations", help="signed revocation list file")
    p.add_argument("--fail-closed", action="store_true", help="refuse all tokens once the list is past next_update")
    p.add_argument("--permission", help="resource.action the request needs")
    p.add_argument("--access", choices=("read", "write"), help="whether the permission reads or writes")
    p.add_argument("--at", type=int, help="Unix seconds to verify at (default now)")
    p.add_argument("--leeway", type=int, default=DEFAULT_LEEWAY, help="clock-skew leeway in seconds (default 60)")
    args = p.parse_args(argv)

    def fail(code: int, reason: str, message: str) -> int:
        print(json.dumps({"error": reason, "message": message, "exit_code": code}))
        print(f"sigil_verify: {message}", file=sys.stderr)
        return code

    if (args.permission is None) != (args.access is None):
        return fail(EXIT_USAGE, "usage", "--permission and --access go together")
    if args.permission is not None and not is_valid_pair(args.permission):
        return fail(EXIT_USAGE, "usage", "--permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}")
    try:
        with open(args.keyset, "rb") as f:
            keyset = load_keyset(f.read(KEYSET_MAX_BYTES + 1))
    except OSError as e:
        return fail(EXIT_NO_INPUT, "io", f"cannot read the keyset: {e.strerror}")
    except KeysetError as e:
        return fail(EXIT_DATA, "bad_keyset", str(e))
    store = None
    if args.revocations is not None:
        store = RevocationStore(keyset.revocation_keys, fail_closed=args.fail_closed)
        try:
            with open(args.revocations, "rb") as f:
                store.load(f.read(store.max_bytes + 1))
        except OSError as e:
            return fail(EXIT_NO_INPUT, "io", f"cannot read the revocation list: {e.strerror}")
        except RevocationListError as e:
            return fail(REVOCATION_EXIT_CODES.get(e.reason, EXIT_DATA), e.reason, f"revocation list refused: {e}")
        except ImportError:
            return fail(EXIT_DATA, "unavailable", "checking a revocation list needs the 'cryptography' package")
    try:
        verifier = Verifier(keyset.audience, keyset.token_keys, leeway=args.leeway, revocations=store)
    except KeysetError as e:
        return fail(EXIT_USAGE, "usage", str(e))
    token = args.token
    if token == "-":
        token = sys.stdin.read(1 << 20).strip()
    valid, reason, claims = verifier.verify(token, args.permission, args.access, args.at)
    out: dict = {"valid": valid, "reason": reason, "guid": claims.guid if claims else None}
    if claims is not None:
        out.update({k: v for k, v in claims.to_json().items() if k != "guid"})
    print(json.dumps(out))
    return 0 if valid else EXIT_CODES[reason]  # type: ignore[index]


if __name__ == "__main__":
    sys.exit(main())
