"""Sigil v1 tokens, keysets and revocation lists, verified as docs/FORMAT.md says.

Standard library only (hmac, hashlib, struct, json, threading); Ed25519 for revocation lists
(and for the lists revocation deltas rebuild) comes from `sigil_verify.ed25519` (the
`cryptography` package or the system's libcrypto).

    keyset = load_keyset(open("keyset.json", "rb").read())
    store = RevocationStore(keyset.revocation_keys, when_no_list="fail_closed")
    verifier = Verifier(keyset.audience, keyset.token_keys, revocations=store)
    claims = verifier.check(token, "devices.list", "read")     # raises VerificationError
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import struct
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Protocol, Tuple, Union

from typing import Literal

from . import ed25519

# ---------------------------------------------------------------------------------------------
# Constants (docs/FORMAT.md)

TOKEN_PREFIX = b"sgl_"
TOKEN_VERSION = 1
MAX_TOKEN_TEXT = 4096
TAG_LENGTH = 32
MAX_SCOPE_ENTRIES = 256
HKDF_INFO_PREFIX = b"sigil/v1/token\x00"
DEFAULT_LEEWAY = 60
MAX_LEEWAY = 86_400

SCOPE_ALL = 1
SCOPE_READ_ONLY = 2
SCOPE_CUSTOM = 3

REVOCATION_MAGIC = b"SGLR"
REVOCATION_VERSION = 1
REVOCATION_CONTEXT = b"sigil/v1/revocations\x00"
REVOCATION_ENTRY_SIZE = 17
REVOCATION_SIGNATURE_SIZE = 64
REVOCATION_DEFAULT_MAX_BYTES = 64 << 20
DELTA_MAGIC = b"SGLD"
DELTA_VERSION = 1
#: The media types sigil-server answers GET /v1/revocations with (docs/API.md).
REVOCATIONS_MEDIA_TYPE = "application/vnd.sigil.revocations"
REVOCATION_DELTA_MEDIA_TYPE = "application/vnd.sigil.revocation-delta"
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
#: Reasons for a token that is not authentic: nothing read from it is reported.
UNAUTHENTIC_REASONS = frozenset(REASONS[:4])

#: Revocation list refusal reasons (§4.2), `delta_base_mismatch` for a delta (§4.3) made for
#: another list than the one in force, and `io` for a file that cannot be read.
LIST_REASONS = (
    "too_large",
    "malformed",
    "unsupported_version",
    "unknown_key",
    "bad_signature",
    "rollback",
    "equivocation",
    "io",
    "delta_base_mismatch",
)

Access = Literal["read", "write"]
StalePolicy = Literal["keep_serving", "fail_closed"]
NoListPolicy = Literal["fail_open", "fail_closed"]
#: What a revocation source says about a GUID: clear (None), or one of these.
RevocationCheck = Optional[Literal["revoked", "deactivated", "stale"]]

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUE = {c: i for i, c in enumerate(_B64_ALPHABET)}
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_KID_BYTES = re.compile(rb"[A-Za-z0-9_-]{1,32}")
_AUDIENCE_BYTES = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_PAIR_BYTES = re.compile(rb"[a-z][a-z0-9_-]{0,31}\.[a-z][a-z0-9_-]{0,31}")

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
    """A revocation list or delta was refused; `reason` is one of LIST_REASONS.

    `delta_base_mismatch`: the delta applies to another list than the one in force (or none
    is in force); fetch the full list."""


class KeysetError(ValueError):
    """A keyset or verifier configuration that cannot be used."""


# ---------------------------------------------------------------------------------------------
# Base64url (RFC 4648 section 5), strict: no padding, URL alphabet only, no length 1 mod 4,
# unused bits zero. Every byte string has exactly one accepted encoding.


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode_bytes(raw: bytes) -> Optional[bytes]:
    rest = len(raw) % 4
    # Deleting every alphabet byte must leave nothing (faster than a regex).
    if rest == 1 or raw.translate(None, _B64_ALPHABET):
        return None
    # The unused low bits of the last character must be zero, or two texts would decode alike.
    if rest == 2 and _B64_VALUE[raw[-1]] & 0x0F:
        return None
    if rest == 3 and _B64_VALUE[raw[-1]] & 0x03:
        return None
    try:
        return binascii.a2b_base64(raw.translate(_URL_TO_STD) + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - the checks above exclude it
        return None


def b64url_decode(text: Union[str, bytes]) -> Optional[bytes]:
    """Decodes canonical unpadded base64url, or returns None for anything else."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            return None
    else:
        raw = bytes(text)
    return _b64url_decode_bytes(raw)


# ---------------------------------------------------------------------------------------------
# HKDF-SHA256 (RFC 5869) over the standard library's HMAC, and the per-audience key


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """PRK = HMAC-SHA256(salt, IKM); an empty salt means HashLen zero bytes (RFC 5869 2.2)."""
    return hmac.digest(salt if salt else b"\x00" * 32, ikm, "sha256")


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """OKM = T(1) || T(2) || ... truncated to `length` (1..8160) bytes."""
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF-SHA256 output length must be 1..8160 bytes")
    okm = b""
    block = b""
    counter = 1
    while len(okm) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        okm += block
        counter += 1
    return okm[:length]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 extract then expand, with SHA-256."""
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
    return _KID_BYTES.fullmatch(b) is not None


def _is_audience_bytes(b: bytes) -> bool:
    return _AUDIENCE_BYTES.fullmatch(b) is not None


def _is_pair_bytes(b: bytes) -> bool:
    return _PAIR_BYTES.fullmatch(b) is not None


def _ascii(s: str) -> Optional[bytes]:
    try:
        return s.encode("ascii")
    except UnicodeEncodeError:
        return None


def is_valid_kid(kid: str) -> bool:
    """A key id: 1-32 bytes of [A-Za-z0-9_-]."""
    b = _ascii(kid)
    return b is not None and _is_kid_bytes(b)


def is_valid_audience(audience: str) -> bool:
    """An audience: 1-64 bytes of [A-Za-z0-9._:-]."""
    b = _ascii(audience)
    return b is not None and _is_audience_bytes(b)


def is_valid_pair(pair: str) -> bool:
    """A permission name `resource.action`, each part [a-z][a-z0-9_-]{0,31}."""
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
            raise ValueError("not a GUID")
        t = t.replace("-", "")
    if len(t) != 32 or any(c not in "0123456789abcdefABCDEF" for c in t):
        raise ValueError("not a GUID")
    return bytes.fromhex(t)


# ---------------------------------------------------------------------------------------------
# Permissions


@dataclass(frozen=True)
class Permission:
    """What a request needs: a `resource.action` name and whether it reads or writes."""

    name: str
    access: Access

    def __post_init__(self) -> None:
        # A bad permission is the service's programming error, not a token outcome (§3).
        if not is_valid_pair(self.name):
            raise ValueError("permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}")
        if self.access not in ("read", "write"):
            raise ValueError("access must be read or write")


def _permission(permission: Union[Permission, str, None], access: Optional[str]) -> Optional[Permission]:
    if permission is None:
        if access is not None:
            raise ValueError("access needs a permission")
        return None
    if isinstance(permission, Permission):
        return permission
    if access not in ("read", "write"):
        raise ValueError("access must be read or write")
    return Permission(permission, "read" if access == "read" else "write")


# ---------------------------------------------------------------------------------------------
# Token claims and strict parsing

#: "all", "read-only" or the resource.action pairs in token order (strictly ascending).
Scope = Union[str, Tuple[str, ...]]


@dataclass(frozen=True)
class Claims:
    """What an authentic token says."""

    kid: str
    audience: str
    guid: str  # lowercase hyphenated
    valid_from: int
    valid_to: Optional[int]  # None: never expires
    scope: Scope

    @property
    def guid_bytes(self) -> bytes:
        return guid_bytes(self.guid)

    def grants(self, permission: Permission) -> bool:
        """The scope rule of §3: all grants everything, read-only every read, custom its names."""
        if self.scope == "all":
            return True
        if self.scope == "read-only":
            return permission.access == "read"
        return permission.name in self.scope

    def to_json(self) -> Dict[str, object]:
        return {
            "kid": self.kid,
            "audience": self.audience,
            "guid": self.guid,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "scope": self.scope if isinstance(self.scope, str) else list(self.scope),
        }


class ParsedToken(NamedTuple):
    """A strictly parsed token whose MAC has **not** been checked."""

    claims: Claims
    body: bytes  # what the tag covers
    tag: bytes
    guid: bytes  # the 16 raw bytes


def _claims(kid: str, audience: str, guid: str, valid_from: int, valid_to: Optional[int], scope: Scope) -> Claims:
    # The hot path skips the frozen dataclass's __init__ (one object.__setattr__ per field):
    # the values come from the strict parser, so there is nothing to check.
    c = object.__new__(Claims)
    c.__dict__.update(kid=kid, audience=audience, guid=guid, valid_from=valid_from, valid_to=valid_to, scope=scope)
    return c


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
    payload = text[4:]
    if len(payload) % 4 == 1 or len(payload) * 3 // 4 <= TAG_LENGTH:
        raise _malformed("too short or an impossible base64url length")
    raw = _b64url_decode_bytes(payload)
    if raw is None:
        raise _malformed("not canonical unpadded base64url")
    return raw


_TIMES = struct.Struct(">qq")


def parse_token_bytes(raw: bytes) -> ParsedToken:
    """Strictly parses body || tag. Anything outside the rules raises `malformed`."""
    if len(raw) <= TAG_LENGTH:
        raise _malformed("too short")
    end = len(raw) - TAG_LENGTH
    if raw[0] != TOKEN_VERSION:
        raise _malformed("unknown version")
    if end < 2:
        raise _malformed("truncated at key id")
    n = raw[1]
    i = 2 + n
    kid = raw[2:i]
    if i > end or not _is_kid_bytes(kid):
        raise _malformed("bad key id field")
    if i >= end:
        raise _malformed("truncated at audience")
    n = raw[i]
    aud = raw[i + 1 : i + 1 + n]
    i += 1 + n
    if i > end or not _is_audience_bytes(aud):
        raise _malformed("bad audience field")
    if i + 33 > end:
        raise _malformed("truncated at guid or times")
    guid = raw[i : i + 16]
    valid_from, valid_to = _TIMES.unpack_from(raw, i + 16)
    i += 32
    if valid_to != 0 and valid_to <= valid_from:
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
            if pairs and not pairs[-1] < entry:  # bytes compare bytewise, shorter prefix first
                raise _malformed("scope entries not strictly ascending")
            pairs.append(entry)
            i += n
        scope = tuple(p.decode("ascii") for p in pairs)
    else:
        raise _malformed("unknown scope kind")
    if i != end:
        raise _malformed("trailing bytes after the scope")
    h = guid.hex()
    claims = _claims(
        kid.decode("ascii"),
        aud.decode("ascii"),
        f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}",
        valid_from,
        None if valid_to == 0 else valid_to,
        scope,
    )
    return ParsedToken(claims, raw[:end], raw[end:], guid)


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
    tests use it to build deliberately broken tokens. Services never mint."""
    body = encode_body(claims)
    return "sgl_" + b64url_encode(body + hmac.digest(key, body, "sha256"))


# ---------------------------------------------------------------------------------------------
# Revocation sources


class RevocationSource(Protocol):
    """Anything a Verifier can ask about a GUID after the token's MAC matched."""

    def check(self, guid: bytes, now: int) -> RevocationCheck:
        """None (clear), "revoked", "deactivated" or "stale" (the policy fails closed)."""
        ...


class StaticRevocations:
    """A fixed GUID -> status mapping (what test vectors describe); never stale."""

    def __init__(self, entries: Mapping[bytes, str]) -> None:
        for status in entries.values():
            if status not in ("revoked", "deactivated", "stale"):
                raise ValueError("a status is revoked, deactivated or stale")
        self.entries: Dict[bytes, str] = dict(entries)

    def check(self, guid: bytes, now: int) -> RevocationCheck:
        s = self.entries.get(guid)
        if s == "revoked":
            return "revoked"
        if s == "deactivated":
            return "deactivated"
        if s == "stale":
            return "stale"
        return None


# ---------------------------------------------------------------------------------------------
# Verifier


class Verifier:
    """Verifies v1 tokens for one audience under a set of K_aud keys (by key id).

    Immutable after construction and safe to share between threads.
    """

    def __init__(
        self,
        audience: str,
        keys: Union[Mapping[str, bytes], Iterable[Tuple[str, bytes]]],
        leeway: int = DEFAULT_LEEWAY,
        revocations: Optional[RevocationSource] = None,
    ) -> None:
        if not is_valid_audience(audience):
            raise KeysetError("audience is not [A-Za-z0-9._:-]{1,64}")
        if isinstance(leeway, bool) or not isinstance(leeway, int) or not 0 <= leeway <= MAX_LEEWAY:
            raise KeysetError("leeway must be 0..86400 seconds")
        pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
        self.keys: Dict[str, bytes] = {}
        for kid, key in pairs:
            if not is_valid_kid(kid):
                raise KeysetError("token key id is not [A-Za-z0-9_-]{1,32}")
            if len(key) != 32:
                raise KeysetError(f"token key {kid} must be 32 bytes")
            if kid in self.keys:
                raise KeysetError(f"key id {kid} appears twice")
            self.keys[kid] = bytes(key)
        self.audience = audience
        self.leeway = leeway
        self.revocations = revocations

    @classmethod
    def from_keyset(
        cls, keyset: "Keyset", leeway: int = DEFAULT_LEEWAY, revocations: Optional[RevocationSource] = None
    ) -> "Verifier":
        """A verifier for the keyset's audience and token keys."""
        return cls(keyset.audience, keyset.token_keys, leeway, revocations)

    def authenticate(self, token: Union[str, bytes]) -> ParsedToken:
        """Checks 1-4 of §3 (malformed, wrong_audience, unknown_key, bad_signature)."""
        parsed = parse_token(token)
        c = parsed.claims
        if c.audience != self.audience:
            raise VerificationError("wrong_audience")
        key = self.keys.get(c.kid)
        if key is None:  # never tried against another key
            raise VerificationError("unknown_key", f"key id {c.kid}")
        if not hmac.compare_digest(hmac.digest(key, parsed.body, "sha256"), parsed.tag):
            raise VerificationError("bad_signature", f"key id {c.kid}")
        return parsed

    def _after_mac(self, parsed: ParsedToken, wanted: Optional[Permission], now: Optional[int]) -> Claims:
        c = parsed.claims
        t = int(time.time()) if now is None else int(now)
        if self.revocations is not None:
            status = self.revocations.check(parsed.guid, t)
            if status is not None:
                raise VerificationError("revocations_stale" if status == "stale" else status)
        # Exact integers: the same answers as the Swift verifier's overflow-skipping checks.
        if t + self.leeway < c.valid_from:
            raise VerificationError("not_yet_valid")
        if c.valid_to is not None and t - self.leeway >= c.valid_to:
            raise VerificationError("expired")
        if wanted is not None and not c.grants(wanted):
            raise VerificationError("scope_not_granted", wanted.name)
        return c

    def check(
        self,
        token: Union[str, bytes],
        permission: Union[Permission, str, None] = None,
        access: Optional[str] = None,
        now: Optional[int] = None,
    ) -> Claims:
        """Returns the claims of a valid token or raises VerificationError (first failed check).

        `permission` is a Permission, or a `resource.action` name with `access` "read" or
        "write"; a bad permission raises ValueError (a programming error, not a token outcome).
        """
        wanted = _permission(permission, access)
        return self._after_mac(self.authenticate(token), wanted, now)

    def verify(
        self,
        token: Union[str, bytes],
        permission: Union[Permission, str, None] = None,
        access: Optional[str] = None,
        now: Optional[int] = None,
    ) -> Tuple[bool, Optional[str], Optional[Claims]]:
        """(valid, reason, claims). Claims are returned whenever the MAC matched (also for
        revoked, expired, ... tokens) and are None before that: unauthenticated bytes are
        never handed out."""
        wanted = _permission(permission, access)
        try:
            parsed = self.authenticate(token)
        except VerificationError as e:
            return False, e.reason, None
        try:
            return True, None, self._after_mac(parsed, wanted, now)
        except VerificationError as e:
            return False, e.reason, parsed.claims


# ---------------------------------------------------------------------------------------------
# Keyset export


@dataclass(frozen=True)
class Keyset:
    """A `sigil-keyset-v1` export: what one service needs."""

    audience: str
    token_keys: Dict[str, bytes]  # kid -> K_aud
    revocation_keys: Dict[str, bytes]  # kid -> Ed25519 public key


def load_keyset(data: Union[bytes, str]) -> Keyset:
    """Parses a `sigil-keyset-v1` export. Errors name the field, never its value."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > KEYSET_MAX_BYTES:
        raise KeysetError("keyset is larger than 1 MiB")
    try:
        wire: object = json.loads(raw)
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
            decoded = b64url_decode(value)
            if decoded is None:
                raise KeysetError(f"{field}: {kid} is not canonical base64url")
            if len(decoded) != 32:
                raise KeysetError(f"{field}: {kid} must be 32 bytes")
            if kid in out:
                raise KeysetError(f"{field}: key id {kid} appears twice")
            out[kid] = decoded
        return out

    return Keyset(audience, entries("token_keys", "key"), entries("revocation_keys", "public_key"))


def read_keyset(path: Union[str, "os.PathLike[str]"]) -> Keyset:
    """Reads and parses a keyset file, reading at most 1 MiB + 1 bytes."""
    with open(path, "rb") as f:
        return load_keyset(f.read(KEYSET_MAX_BYTES + 1))


# ---------------------------------------------------------------------------------------------
# Revocation lists


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification (see sigil_verify.ed25519 for where it comes from)."""
    return ed25519.verify(public_key, message, signature)


#: Lists with more entries than this are searched in their bytes instead of a dict
#: (a dict costs about 100 bytes per entry in CPython).
INDEX_LIMIT = 1 << 18

_HEADER_TAIL = struct.Struct(">QqqI")


class RevocationList:
    """A parsed v1 list. Lookups are O(1) (a dict) up to INDEX_LIMIT entries, else a binary
    search over the list's own bytes."""

    __slots__ = ("kid", "sequence", "issued_at", "next_update", "raw", "verified", "count", "_start", "_index")

    def __init__(
        self,
        kid: str,
        sequence: int,
        issued_at: int,
        next_update: Optional[int],
        raw: bytes,
        verified: bool,
        count: int,
        start: int,
        index_limit: int = INDEX_LIMIT,
    ) -> None:
        self.kid = kid
        self.sequence = sequence
        self.issued_at = issued_at
        self.next_update = next_update  # None: no next update promised
        self.raw = raw
        self.verified = verified
        self.count = count
        self._start = start
        self._index: Optional[Dict[bytes, int]] = None
        if count <= index_limit:
            self._index = {raw[at : at + 16]: raw[at + 16] for at in range(start, start + 17 * count, 17)}

    @property
    def entries(self) -> Tuple[Tuple[bytes, int], ...]:
        """(guid, status) pairs in list order (ascending GUIDs)."""
        r, s = self.raw, self._start
        return tuple((r[at : at + 16], r[at + 16]) for at in range(s, s + 17 * self.count, 17))

    def status(self, guid: bytes) -> Optional[str]:
        """"revoked", "deactivated" or None (not listed)."""
        if self._index is not None:
            found = self._index.get(guid)
            return None if found is None else STATUS_NAMES[found]
        r, start = self.raw, self._start
        lo, hi = 0, self.count
        while lo < hi:  # entries are strictly ascending
            mid = (lo + hi) // 2
            at = start + 17 * mid
            g = r[at : at + 16]
            if g == guid:
                return STATUS_NAMES[r[at + 16]]
            if g < guid:
                lo = mid + 1
            else:
                hi = mid
        return None

    def is_stale(self, now: int) -> bool:
        """Past its next_update (a list without one is never stale)."""
        return self.next_update is not None and now >= self.next_update

    def entries_json(self) -> List[Dict[str, str]]:
        return [{"guid": guid_text(g), "status": STATUS_NAMES[s]} for g, s in self.entries]


def parse_revocation_list(
    data: bytes,
    public_keys: Optional[Mapping[str, bytes]] = None,
    max_bytes: int = REVOCATION_DEFAULT_MAX_BYTES,
    index_limit: int = INDEX_LIMIT,
) -> RevocationList:
    """Parses a v1 list and, unless `public_keys` is None, checks its Ed25519 signature.

    Checks in this order (§4.2): too_large, malformed (magic), unsupported_version, malformed
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
    sequence, issued_at, next_update, count = _HEADER_TAIL.unpack_from(b, i)
    i += 28
    if len(b) != i + count * REVOCATION_ENTRY_SIZE + REVOCATION_SIGNATURE_SIZE:
        raise RevocationListError("malformed", f"length {len(b)} does not match {count} entries")
    previous = b""
    for at in range(i, i + 17 * count, 17):
        guid = b[at : at + 16]
        if b[at + 16] not in STATUS_NAMES or (at > i and not previous < guid):
            raise RevocationListError("malformed", "entries must be strictly ascending GUIDs with status 1 or 2")
        previous = guid
    kid_text = kid.decode("ascii")
    verified = False
    if public_keys is not None:
        _check_list_signature(b, kid_text, public_keys)
        verified = True
    return RevocationList(
        kid=kid_text,
        sequence=sequence,
        issued_at=issued_at,
        next_update=None if next_update == 0 else next_update,
        raw=b,
        verified=verified,
        count=count,
        start=i,
        index_limit=index_limit,
    )


def _check_list_signature(b: bytes, kid: str, public_keys: Mapping[str, bytes]) -> None:
    """§4.2 rules 5-6 on a list's whole bytes: unknown_key, then bad_signature."""
    key = public_keys.get(kid)
    if key is None:
        raise RevocationListError("unknown_key", f"signed by key {kid}")
    signed = REVOCATION_CONTEXT + b[:-REVOCATION_SIGNATURE_SIZE]
    if not ed25519_verify(key, signed, b[-REVOCATION_SIGNATURE_SIZE:]):
        raise RevocationListError("bad_signature", f"key {kid}")


# ---------------------------------------------------------------------------------------------
# Revocation deltas (§4.3)

_DELTA_HEADER_TAIL = struct.Struct(">QQqqII")


def is_revocation_delta(data: bytes) -> bool:
    """Whether `data` starts like a delta (`SGLD`) rather than a full list (`SGLR`)."""
    return bytes(data[:4]) == DELTA_MAGIC


class RevocationDelta:
    """The changes that turn one signed revocation list into the next (§4.3).

    A delta has no signature of its own: it carries the **resulting list's** signature.
    `apply()` merges the changes into the list in force, rebuilds the resulting list's exact
    bytes and checks them as a full list (known key, Ed25519 signature), so a delta is trusted
    exactly as far as the list it makes. Rollback and equivocation are the store's checks, as
    for a full list; `RevocationStore.offer()` takes a delta as well as a list.

        delta = RevocationDelta.parse(downloaded)
        newer = delta.apply(store.current, keyset.revocation_keys)

    Immutable; the changes stay in the delta's own bytes (`changes` decodes them).
    """

    __slots__ = (
        "kid",
        "base_sequence",
        "sequence",
        "issued_at",
        "next_update",
        "count",
        "change_count",
        "signature",
        "raw",
        "_start",
    )

    def __init__(
        self,
        kid: str,
        base_sequence: int,
        sequence: int,
        issued_at: int,
        next_update: Optional[int],
        count: int,
        change_count: int,
        raw: bytes,
        start: int,
    ) -> None:
        self.kid = kid
        self.base_sequence = base_sequence  # the sequence of the list the changes apply to
        self.sequence = sequence  # the resulting list's sequence, issued_at, next_update, count
        self.issued_at = issued_at
        self.next_update = next_update  # None: no next update promised
        self.count = count
        self.change_count = change_count
        self.signature = raw[-REVOCATION_SIGNATURE_SIZE:]  # the resulting list's signature
        self.raw = raw
        self._start = start

    @property
    def changes(self) -> Tuple[Tuple[bytes, int], ...]:
        """(guid, status) pairs in ascending GUID order; status 0 = the GUID leaves the list."""
        r, s = self.raw, self._start
        return tuple((r[at : at + 16], r[at + 16]) for at in range(s, s + 17 * self.change_count, 17))

    @classmethod
    def parse(cls, data: bytes, max_bytes: int = REVOCATION_DEFAULT_MAX_BYTES) -> "RevocationDelta":
        """Parses a delta's structure: rules 1-4 of §4.3 in order (too_large, malformed,
        unsupported_version, malformed). Nothing in it is trusted until apply()."""
        b = bytes(data)
        if len(b) > max_bytes:
            raise RevocationListError("too_large", f"{len(b)} bytes, limit {max_bytes}")
        if len(b) < 6 or b[:4] != DELTA_MAGIC:
            raise RevocationListError("malformed", "missing the SGLD magic")
        if b[4] != DELTA_VERSION:
            raise RevocationListError("unsupported_version", f"delta version {b[4]}")
        n = b[5]
        i = 6
        if not (1 <= n <= 32 and len(b) >= i + n) or not _is_kid_bytes(b[i : i + n]):
            raise RevocationListError("malformed", "bad key id")
        kid = b[i : i + n].decode("ascii")
        i += n
        if len(b) < i + _DELTA_HEADER_TAIL.size:
            raise RevocationListError("malformed", "truncated delta header")
        base_sequence, sequence, issued_at, next_update, count, change_count = _DELTA_HEADER_TAIL.unpack_from(b, i)
        i += _DELTA_HEADER_TAIL.size
        if len(b) != i + change_count * REVOCATION_ENTRY_SIZE + REVOCATION_SIGNATURE_SIZE:
            raise RevocationListError("malformed", f"length {len(b)} does not match {change_count} changes")
        previous = b""
        for at in range(i, i + 17 * change_count, 17):
            guid = b[at : at + 16]
            if b[at + 16] > STATUS_REVOKED:
                raise RevocationListError("malformed", "a change's status must be 0, 1 or 2")
            if at > i and not previous < guid:
                raise RevocationListError("malformed", "changes must be strictly ascending GUIDs")
            previous = guid
        return cls(
            kid,
            base_sequence,
            sequence,
            issued_at,
            None if next_update == 0 else next_update,
            count,
            change_count,
            b,
            i,
        )

    def apply(
        self,
        base: Optional[RevocationList],
        public_keys: Mapping[str, bytes],
        max_bytes: int = REVOCATION_DEFAULT_MAX_BYTES,
        index_limit: int = INDEX_LIMIT,
    ) -> RevocationList:
        """Applies the changes to `base`, the list in force, and returns the verified list they
        make: rules 5-9 of §4.3 in order (delta_base_mismatch, too_large, malformed,
        unknown_key, bad_signature). Rollback and equivocation are the caller's checks.

        The list in force is not re-checked against `max_bytes`; the result is.
        """
        if base is None or not base.verified:
            raise RevocationListError(
                "delta_base_mismatch", f"the delta applies to list {self.base_sequence}, and no list is in force"
            )
        if base.sequence != self.base_sequence:
            raise RevocationListError(
                "delta_base_mismatch",
                f"the delta applies to list {self.base_sequence}, the list in force is {base.sequence}",
            )
        kid = self.kid.encode("ascii")
        size = 34 + len(kid) + REVOCATION_ENTRY_SIZE * self.count + REVOCATION_SIGNATURE_SIZE
        if size > max_bytes:
            raise RevocationListError(
                "too_large", f"the resulting list of {self.count} entries exceeds {max_bytes} bytes"
            )
        header = (
            REVOCATION_MAGIC
            + bytes([REVOCATION_VERSION, len(kid)])
            + kid
            + _HEADER_TAIL.pack(self.sequence, self.issued_at, self.next_update or 0, self.count)
        )
        entries = _merge(base, self.raw, self._start, self.change_count)
        if len(entries) != REVOCATION_ENTRY_SIZE * self.count:
            raise RevocationListError(
                "malformed",
                f"the changes leave {len(entries) // REVOCATION_ENTRY_SIZE} entries, the delta says {self.count}",
            )
        rebuilt = header + entries + self.signature
        _check_list_signature(rebuilt, self.kid, public_keys)
        return RevocationList(
            kid=self.kid,
            sequence=self.sequence,
            issued_at=self.issued_at,
            next_update=self.next_update,
            raw=rebuilt,
            verified=True,
            count=self.count,
            start=len(header),
            index_limit=index_limit,
        )


def _merge(base: RevocationList, d: bytes, first: int, change_count: int) -> bytes:
    """The base's entries with the changes d[first : first + 17 * change_count] merged in.

    Runs of unchanged entries are copied as slices; each change finds its place by a galloping
    search from the last one (changes are ascending), so a few changes to a long list cost a
    few binary searches and one copy. Raises `malformed` for a change that changes nothing.
    """
    r, start, total = base.raw, base._start, base.count
    view = memoryview(r)
    parts: List[Union[bytes, memoryview]] = []
    done = 0  # the first base entry not yet copied or replaced
    for at in range(first, first + 17 * change_count, 17):
        guid = d[at : at + 16]
        status = d[at + 16]
        # Galloping search from `done`: lo ends at the first entry whose GUID is not below guid.
        lo, probe, step = done, done, 1
        while probe < total:
            p = start + 17 * probe
            if r[p : p + 16] >= guid:
                break
            lo = probe + 1
            probe = done + step
            step <<= 1
        hi = min(probe, total)
        while lo < hi:
            mid = (lo + hi) >> 1
            p = start + 17 * mid
            if r[p : p + 16] < guid:
                lo = mid + 1
            else:
                hi = mid
        if lo > done:
            parts.append(view[start + 17 * done : start + 17 * lo])
        p = start + 17 * lo
        listed = lo < total and r[p : p + 16] == guid
        current = r[p + 16] if listed else 0
        if current == status:
            raise RevocationListError(
                "malformed",
                "a change removes a GUID the list in force does not hold"
                if status == 0
                else "a change sets the status a GUID already has",
            )
        done = lo + 1 if listed else lo
        if status != 0:
            parts.append(d[at : at + 17])
    if done < total:
        parts.append(view[start + 17 * done : start + 17 * total])
    return b"".join(parts)


@dataclass(frozen=True)
class Outcome:
    """What offering a list or delta to a RevocationStore did: `installed`, `unchanged` or
    `refused`. `delta` says whether the bytes offered were a delta (§4.3)."""

    kind: Literal["installed", "unchanged", "refused"]
    sequence: Optional[int] = None
    error: Optional[RevocationListError] = None
    delta: bool = False


class RevocationStore:
    """The list in force for a service, swapped atomically while verifiers read it.

    A list is parsed and its signature checked before the lock is taken; the lock serialises
    installs only (the rollback and equivocation checks and the swap are one step). Readers
    take one reference to the list in force and never lock, so they see the old list or the
    new one, never a mix. A refused list (forged, malformed, older: rollback, same sequence
    with other bytes: equivocation) changes nothing and the old list stays in force.

    `load()`, `load_file()` and `offer()` take a delta (§4.3, `SGLD`) as well as a full list:
    it is parsed first, then applied to the list in force under the install lock (so the base
    it was checked against is the list it replaces), and the list it makes goes through the
    same checks as a full one. A delta for another list than the one in force is refused with
    `delta_base_mismatch`.

    Policies, both explicit: `stale_policy` ("keep_serving", the default, or "fail_closed":
    refuse every token with revocations_stale once the list is past next_update) and
    `when_no_list` ("fail_open" or "fail_closed": what to do before the first list).
    """

    def __init__(
        self,
        public_keys: Mapping[str, bytes],
        fail_closed: bool = False,
        max_bytes: int = REVOCATION_DEFAULT_MAX_BYTES,
        *,
        stale_policy: Optional[StalePolicy] = None,
        when_no_list: NoListPolicy = "fail_open",
        on_event: Optional[Callable[[Outcome], None]] = None,
        index_limit: int = INDEX_LIMIT,
        initial: Optional[RevocationList] = None,
    ) -> None:
        """`initial`: a verified list to start with (parse_revocation_list with keys), not
        checked against `max_bytes`; None (the default) starts with no list in force."""
        if stale_policy is None:
            stale_policy = "fail_closed" if fail_closed else "keep_serving"
        if stale_policy not in ("keep_serving", "fail_closed"):
            raise ValueError("stale_policy is keep_serving or fail_closed")
        if when_no_list not in ("fail_open", "fail_closed"):
            raise ValueError("when_no_list is fail_open or fail_closed")
        self.public_keys: Dict[str, bytes] = dict(public_keys)
        self.stale_policy: StalePolicy = stale_policy
        self.when_no_list: NoListPolicy = when_no_list
        self.max_bytes = max_bytes
        self.index_limit = index_limit
        self.on_event = on_event
        if initial is not None and not initial.verified:
            raise ValueError("the initial list must be verified (parse_revocation_list with keys)")
        self._current: Optional[RevocationList] = initial
        self._install_lock = threading.Lock()

    @property
    def fail_closed(self) -> bool:
        """Whether a stale list refuses every token."""
        return self.stale_policy == "fail_closed"

    @property
    def current(self) -> Optional[RevocationList]:
        """The list in force, or None before the first one."""
        return self._current

    def load(self, data: bytes) -> RevocationList:
        """Verifies `data`, a full list or a delta, and installs the list it makes if that is
        newer. Returns the list in force.

        Raises RevocationListError; the old list then stays in force.
        """
        outcome = self.offer(data)
        if outcome.error is not None:
            raise outcome.error
        cur = self._current
        assert cur is not None
        return cur

    def load_file(self, path: Union[str, "os.PathLike[str]"]) -> RevocationList:
        """Reads at most max_bytes + 1 bytes of `path` and loads them (`io` if unreadable)."""
        try:
            with open(path, "rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError as e:
            error = RevocationListError("io", f"cannot read the list: {e.strerror}")
            self._tell(Outcome("refused", error=error))
            raise error from None
        return self.load(data)

    def offer(self, data: bytes) -> Outcome:
        """The checks of RevocationListUpdate (§4.2, or §4.3 for a delta), then the swap;
        never raises for a bad list or delta."""
        if is_revocation_delta(data):
            return self._offer_delta(data)
        try:
            candidate = parse_revocation_list(data, self.public_keys, self.max_bytes, self.index_limit)
        except RevocationListError as e:
            return self._tell(Outcome("refused", error=e))
        with self._install_lock:
            outcome = self._install(candidate, delta=False)
        return self._tell(outcome)

    def _offer_delta(self, data: bytes) -> Outcome:
        try:
            delta = RevocationDelta.parse(data, self.max_bytes)
        except RevocationListError as e:
            return self._tell(Outcome("refused", error=e, delta=True))
        # Applied under the install lock: the list it is checked against is the one it
        # replaces. Readers never take this lock, so the signature check does not stall them.
        with self._install_lock:
            try:
                candidate = delta.apply(self._current, self.public_keys, self.max_bytes, self.index_limit)
            except RevocationListError as e:
                outcome = Outcome("refused", error=e, delta=True)
            else:
                outcome = self._install(candidate, delta=True)
        return self._tell(outcome)

    def _install(self, candidate: RevocationList, delta: bool) -> Outcome:
        """Rollback and equivocation checks, then the swap; the caller holds the install lock."""
        cur = self._current
        if cur is not None and candidate.sequence < cur.sequence:
            error = RevocationListError("rollback", f"sequence {candidate.sequence} < {cur.sequence} in force")
            return Outcome("refused", candidate.sequence, error, delta)
        if cur is not None and candidate.sequence == cur.sequence:
            if candidate.raw == cur.raw:
                return Outcome("unchanged", candidate.sequence, delta=delta)
            error = RevocationListError("equivocation", f"sequence {candidate.sequence}")
            return Outcome("refused", candidate.sequence, error, delta)
        self._current = candidate  # one reference store: readers see old or new
        return Outcome("installed", candidate.sequence, delta=delta)

    def _tell(self, outcome: Outcome) -> Outcome:
        if self.on_event is not None:
            self.on_event(outcome)
        return outcome

    def is_stale(self, now: Optional[int] = None) -> bool:
        """Whether the list in force is past its next_update (False before the first list)."""
        cur = self._current
        return cur is not None and cur.is_stale(int(time.time()) if now is None else now)

    def check(self, guid: bytes, now: int) -> RevocationCheck:
        cur = self._current  # one read: a concurrent swap cannot mix two lists
        if cur is None:
            return "stale" if self.when_no_list == "fail_closed" else None
        if self.stale_policy == "fail_closed" and cur.is_stale(now):
            return "stale"
        s = cur.status(guid)
        if s == "revoked":
            return "revoked"
        if s == "deactivated":
            return "deactivated"
        return None
