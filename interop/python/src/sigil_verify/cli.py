"""The command-line verifier: `sigil-verify` or `python -m sigil_verify`.

Exit codes are those of `sigil verify`: 0 valid; 10..19 per reason (EXIT_CODES); 64 usage,
65 a bad keyset or list, 66 an unreadable file, 20..24 a refused list (24: a revocation delta,
which needs a list in force: give the full list).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List, Optional

from .core import (
    DEFAULT_LEEWAY,
    KeysetError,
    RevocationListError,
    RevocationStore,
    Verifier,
    is_valid_pair,
    read_keyset,
)
from .ed25519 import Ed25519Unavailable

#: Exit codes, the same as `sigil verify`.
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
#: Exit codes for a refused revocation list or keyset, the same as `sigil`.
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
    "delta_base_mismatch": 24,
    "io": EXIT_NO_INPUT,
}


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the CLI; returns the exit code."""
    p = argparse.ArgumentParser(
        prog="sigil-verify",
        description="Verify a Sigil v1 token offline (independent Python implementation).",
        epilog="Exit codes: 0 valid; 10 malformed, 11 wrong_audience, 12 unknown_key, 13 bad_signature, "
        "14 revoked, 15 deactivated, 16 not_yet_valid, 17 expired, 18 scope_not_granted, "
        "19 revocations_stale; 64 usage, 65 bad keyset or list, 66 unreadable file, "
        "20-24 list unknown_key/bad_signature/rollback/equivocation/delta_base_mismatch.",
    )
    p.add_argument("token", nargs="?", default="-", help="the token, or - to read it from stdin (default)")
    p.add_argument("--keyset", required=True, help="keyset export (sigil keys export)")
    p.add_argument("--revocations", help="signed revocation list file (a full list: a delta needs a list in force)")
    p.add_argument("--fail-closed", action="store_true", help="refuse all tokens once the list is past next_update")
    p.add_argument("--permission", help="resource.action the request needs")
    p.add_argument("--access", choices=("read", "write"), help="whether the permission reads or writes")
    p.add_argument("--at", type=int, help="Unix seconds to verify at (default now)")
    p.add_argument("--leeway", type=int, default=DEFAULT_LEEWAY, help="clock-skew leeway in seconds (default 60)")
    args = p.parse_args(argv)

    def fail(code: int, reason: str, message: str) -> int:
        print(json.dumps({"error": reason, "message": message, "exit_code": code}))
        print(f"sigil-verify: {message}", file=sys.stderr)
        return code

    if (args.permission is None) != (args.access is None):
        return fail(EXIT_USAGE, "usage", "--permission and --access go together")
    if args.permission is not None and not is_valid_pair(args.permission):
        return fail(EXIT_USAGE, "usage", "--permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}")
    try:
        keyset = read_keyset(args.keyset)
    except OSError as e:
        return fail(EXIT_NO_INPUT, "io", f"cannot read the keyset: {e.strerror}")
    except KeysetError as e:
        return fail(EXIT_DATA, "bad_keyset", str(e))
    store = None
    if args.revocations is not None:
        store = RevocationStore(keyset.revocation_keys, fail_closed=args.fail_closed)
        try:
            store.load_file(args.revocations)
        except RevocationListError as e:
            return fail(REVOCATION_EXIT_CODES.get(e.reason, EXIT_DATA), e.reason, f"revocation list refused: {e}")
        except Ed25519Unavailable as e:
            return fail(EXIT_DATA, "unavailable", str(e))
    try:
        verifier = Verifier(keyset.audience, keyset.token_keys, leeway=args.leeway, revocations=store)
    except KeysetError as e:
        return fail(EXIT_USAGE, "usage", str(e))
    token = args.token
    if token == "-":
        token = sys.stdin.read(1 << 20).strip()
    valid, reason, claims = verifier.verify(token, args.permission, args.access, args.at)
    out: Dict[str, object] = {"valid": valid, "reason": reason, "guid": claims.guid if claims else None}
    if claims is not None:
        out.update({k: v for k, v in claims.to_json().items() if k != "guid"})
    print(json.dumps(out))
    return 0 if reason is None else EXIT_CODES[reason]


if __name__ == "__main__":
    sys.exit(main())
