"""Verify the token on stdin: examples/verify_token.py KEYSET LIST (run by the tests)."""
import sys

from sigil_verify import Permission, RevocationStore, VerificationError, Verifier, read_keyset

keyset = read_keyset(sys.argv[1])  # from `sigil keys export --audience billing`
store = RevocationStore(keyset.revocation_keys, when_no_list="fail_closed")
store.load_file(sys.argv[2])  # or keep it current: RevocationFollower(url, store).start()
verifier = Verifier.from_keyset(keyset, revocations=store)
try:
    claims = verifier.check(sys.stdin.readline().strip(), Permission("devices.list", "read"))
    print("valid", claims.guid)
except VerificationError as e:
    print("refused", e.reason)  # the reason code; never the token
