"""The HTTP side shared by the ASGI and WSGI middleware: reading `Authorization: Bearer`
and the answers SigilHummingbird gives (Server/Sources/SigilHummingbird/SigilChallenge.swift).

| case                                           | status | WWW-Authenticate                                              |
|------------------------------------------------|--------|---------------------------------------------------------------|
| no Bearer credentials                          | 401    | `Bearer`                                                      |
| two Authorization headers, or not one b64token | 400    | `Bearer error="invalid_request"`                              |
| a token that fails verification                | 401    | `Bearer error="invalid_token", error_description="<reason>"`  |
| a valid token without the permission           | 403    | `Bearer error="insufficient_scope", scope="<resource.action>"`|
| revocation list stale, policy fails closed     | 503    | none                                                          |

Everything put in a header or body is a reason code or a permission name, never anything the
client sent: the token is never logged or echoed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

from .core import Claims, Permission, VerificationError, Verifier

__all__ = ["Challenge", "Credentials", "authorize", "read_credentials"]

logger = logging.getLogger("sigil_verify")

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class Credentials:
    """What the Authorization header holds: kind is absent, repeated, malformed or bearer."""

    kind: str
    token: str = ""

    def __repr__(self) -> str:  # never show the token
        return f"Credentials(kind={self.kind!r})"


def read_credentials(values: Sequence[str]) -> Credentials:
    """RFC 6750 §2.1, read as SigilVerifier's BearerCredentials does: exactly one header, the
    scheme name in any case, one or more spaces, then one b64token and nothing else."""
    if len(values) > 1:
        return Credentials("repeated")
    if not values:
        return Credentials("absent")
    value = values[0]
    space = value.find(" ")
    scheme = value if space < 0 else value[:space]
    if scheme.lower() != "bearer" or len(scheme) != 6:
        return Credentials("absent")
    if space < 0:
        return Credentials("malformed")
    token = value[space:].lstrip(" ")
    if not token.isascii() or _B64TOKEN.fullmatch(token) is None:
        return Credentials("malformed")
    return Credentials("bearer", token)


@dataclass(frozen=True)
class Challenge:
    """A refusal: status, WWW-Authenticate (or None) and a JSON body."""

    status: int
    www_authenticate: Optional[str]
    body: str

    @property
    def reason_phrase(self) -> str:
        return {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}[self.status]

    def headers(self) -> List[Tuple[str, str]]:
        out = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store")]
        if self.www_authenticate is not None:
            out.insert(0, ("WWW-Authenticate", self.www_authenticate))
        return out

    @staticmethod
    def for_refusal(error: VerificationError, permission: Optional[Permission]) -> "Challenge":
        code = error.reason
        if code == "scope_not_granted":
            scope = permission.name if permission is not None else ""
            return Challenge(
                403,
                f'Bearer error="insufficient_scope", scope="{scope}"',
                f'{{"error":"insufficient_scope","reason":"{code}","scope":"{scope}"}}',
            )
        if code == "revocations_stale":
            # The service's list is too old and its policy fails closed: not the client's fault.
            return Challenge(503, None, f'{{"error":"temporarily_unavailable","reason":"{code}"}}')
        return Challenge(
            401,
            f'Bearer error="invalid_token", error_description="{code}"',
            f'{{"error":"invalid_token","reason":"{code}"}}',
        )


MISSING_TOKEN = Challenge(401, "Bearer", '{"error":"missing_token"}')
REPEATED_CREDENTIALS = Challenge(
    400, 'Bearer error="invalid_request"', '{"error":"invalid_request","reason":"multiple_authorization_headers"}'
)
MALFORMED_CREDENTIALS = Challenge(
    400, 'Bearer error="invalid_request"', '{"error":"invalid_request","reason":"malformed_authorization"}'
)


def authorize(
    verifier: Verifier, authorization: Sequence[str], permission: Optional[Permission] = None
) -> Union[Claims, Challenge]:
    """The whole middleware decision for one request: the token's claims, or the answer to
    give. Refusals are logged with their reason code only."""
    creds = read_credentials(authorization)
    if creds.kind == "absent":
        return MISSING_TOKEN
    if creds.kind == "repeated":
        logger.info("refused: more than one Authorization header")
        return REPEATED_CREDENTIALS
    if creds.kind == "malformed":
        logger.info("refused: Bearer credentials that are not one b64token")
        return MALFORMED_CREDENTIALS
    try:
        return verifier.check(creds.token, permission)
    except VerificationError as e:
        extra = f" permission={permission.name}" if permission is not None else ""
        logger.info("refused token: reason=%s%s", e.reason, extra)
        return Challenge.for_refusal(e, permission)
