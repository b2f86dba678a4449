"""The conformance runner (ISSUE23.md item 3): JSON Lines cases on stdin, one JSON answer per
case on stdout, in order.

    case:   {"keyset": {...}, "revocations": "<base64>" | null, "token": "...", "audience": "...",
             "permission": "resource.action" | null, "access": "read" | "write" | null,
             "now": <int>, "leeway": <int>, "when_no_list": "fail_open" | "fail_closed"}
    answer: {"valid": true, "guid": "..."} | {"valid": false, "reason": "..."}
            | {"valid": false, "list_error": "..."}
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from typing import IO, Dict, Mapping, Optional

from .core import (
    KeysetError,
    Permission,
    RevocationListError,
    RevocationStore,
    Verifier,
    load_keyset,
)


def _list_bytes(text: str) -> Optional[bytes]:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def answer(case: Mapping[str, object]) -> Dict[str, object]:
    """The answer to one case."""
    keyset = load_keyset(json.dumps(case["keyset"]))
    audience = case.get("audience")
    audience = audience if isinstance(audience, str) else keyset.audience
    closed = case.get("when_no_list") == "fail_closed"
    store = RevocationStore(keyset.revocation_keys, when_no_list="fail_closed" if closed else "fail_open")
    revocations = case.get("revocations")
    if isinstance(revocations, str):
        data = _list_bytes(revocations)
        if data is None:
            return {"valid": False, "list_error": "malformed"}
        try:
            store.load(data)
        except RevocationListError as e:
            return {"valid": False, "list_error": e.reason}
    leeway = case.get("leeway")
    verifier = Verifier(audience, keyset.token_keys, leeway=leeway if isinstance(leeway, int) else 60, revocations=store)
    name, access = case.get("permission"), case.get("access")
    permission = None
    if isinstance(name, str):
        permission = Permission(name, "write" if access == "write" else "read")
    now = case.get("now")
    token = case.get("token")
    valid, reason, claims = verifier.verify(
        token if isinstance(token, str) else "", permission, None, now if isinstance(now, int) else None
    )
    if valid and claims is not None:
        return {"valid": True, "guid": claims.guid}
    return {"valid": False, "reason": reason}


def run(stdin: IO[str], stdout: IO[str]) -> int:
    """Answers every line of `stdin`; a case that cannot be run answers {"error": ...}."""
    for line in stdin:
        if not line.strip():
            continue
        try:
            out = answer(json.loads(line))
        except (KeysetError, ValueError, KeyError, TypeError) as e:
            out = {"error": f"{type(e).__name__}: {e}"}
        stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
    stdout.flush()
    return 0


def main() -> int:
    return run(sys.stdin, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
