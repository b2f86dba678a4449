#!/usr/bin/env bash
# End-to-end check of Examples/HummingbirdService against the real sigil CLI.
#
# Builds sigil and devices-service, issues tokens into a throwaway home, exports the service's
# keyset and revocation list, starts the service on 127.0.0.1 (a free port), and checks every
# answer with curl: 200/401/403 per RFC 6750 for each Sigil reason, then deactivate, activate
# and revoke through hot-reloaded revocation lists. Prints PASS/FAIL per check; exits 1 on any
# failure. Needs swift, curl and python3.
#
# SIGIL_SCRATCH_PATH (optional): build sigil there instead of .build (--scratch-path).
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no
unset SIGIL_NOW

for tool in swift curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "example-integration: $tool is required but not installed (on Debian: apt-get install $tool)" >&2
        exit 1
    fi
done

now() { python3 -c 'import time; print(f"{time.monotonic():.3f}")'; }
elapsed() { python3 -c "print(f'{$(now) - $1:.1f}')"; }

# --- build ------------------------------------------------------------------------------------
build_started=$(now)
main_build=()
[[ -n "${SIGIL_SCRATCH_PATH:-}" ]] && main_build=(--scratch-path "$SIGIL_SCRATCH_PATH")
example_build=(--package-path Examples/HummingbirdService)

echo "== build sigil"
swift build --product sigil "${main_build[@]}"
SIGIL="$(swift build "${main_build[@]}" --show-bin-path)/sigil"
echo "== build Examples/HummingbirdService"
swift build "${example_build[@]}"
SERVICE="$(swift build "${example_build[@]}" --show-bin-path)/devices-service"
build_seconds=$(elapsed "$build_started")

# --- state and clean-up -----------------------------------------------------------------------
run_started=$(now)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sigil-example.XXXXXX")"
export SIGIL_HOME="$WORK/home"
KEYSET="$WORK/devices.keyset.json"
REVOCATIONS="$WORK/revocations.sgl"
SERVICE_LOG="$WORK/service.log"
SERVICE_PID=""
passed=0
failed=0

cleanup() {
    local status=$?
    if [[ -n "$SERVICE_PID" ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
        kill -TERM "$SERVICE_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
    fi
    if [[ $failed -gt 0 || $status -ne 0 ]] && [[ -f "$SERVICE_LOG" ]]; then
        echo "---- devices-service log (stderr) ----" >&2
        cat "$SERVICE_LOG" >&2
        echo "---- sigil log ----" >&2
        cat "$WORK/sigil.log" >&2 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { passed=$((passed + 1)); echo "PASS  $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

sigil() { "$SIGIL" "$@" 2>>"$WORK/sigil.log"; }

# Issues a token and writes an `Authorization: Bearer` header file for curl's -H @file, so no
# token appears on a command line. Prints the token's GUID.
issue() {
    local name="$1"
    shift
    local json
    json=$(sigil issue --json --name "$name" "$@")
    python3 -c 'import json, sys
d = json.loads(sys.argv[1])
open(sys.argv[2], "w").write("Authorization: Bearer " + d["token"] + "\n")
open(sys.argv[3], "a").write(d["token"] + "\n")
print(d["guid"])' "$json" "$WORK/auth-$name" "$WORK/tokens"
}

# request METHOD PATH AUTH: AUTH is a header file name under $WORK (auth-NAME), or - for none.
# Sets STATUS, CHALLENGE (the WWW-Authenticate value), ERROR/REASON/SCOPE (from the JSON body).
request() {
    local method="$1" path="$2" auth="$3"
    local args=(-sS --max-time 5 -X "$method" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}')
    [[ "$auth" != "-" ]] && args+=(-H "@$WORK/$auth")
    rm -f "$WORK/body" "$WORK/headers"
    STATUS=$(curl "${args[@]}" "http://127.0.0.1:$PORT$path" 2>/dev/null) || STATUS="000"
    CHALLENGE=$(python3 - "$WORK/headers" <<'EOF'
import sys
try:
    lines = open(sys.argv[1], encoding="latin-1").readlines()
except OSError:
    lines = []
for line in lines:
    name, _, value = line.partition(":")
    if name.strip().lower() == "www-authenticate":
        print(value.strip())
EOF
)
    read -r ERROR REASON SCOPE < <(python3 - "$WORK/body" <<'EOF'
import json, sys
try:
    body = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    body = {}
if not isinstance(body, dict):
    body = {}
print(body.get("error", "-"), body.get("reason", "-"), body.get("scope", "-"))
EOF
)
}

# expect NAME METHOD PATH AUTH STATUS [CHALLENGE [REASON]]: one request, one PASS/FAIL line.
# With QUIET=1 it prints nothing and returns 1 on a mismatch (for polling).
expect() {
    local name="$1" method="$2" path="$3" auth="$4" want_status="$5"
    local want_challenge="${6-}" want_reason="${7-}"
    request "$method" "$path" "$auth"
    local problems=()
    [[ "$STATUS" == "$want_status" ]] || problems+=("status $STATUS, want $want_status")
    if [[ $# -ge 6 && "$CHALLENGE" != "$want_challenge" ]]; then
        problems+=("WWW-Authenticate '$CHALLENGE', want '$want_challenge'")
    fi
    if [[ $# -ge 7 && "$REASON" != "$want_reason" ]]; then
        problems+=("body reason '$REASON', want '$want_reason'")
    fi
    if [[ ${#problems[@]} -eq 0 ]]; then
        [[ "${QUIET:-0}" == 1 ]] || pass "$name → $STATUS${CHALLENGE:+ ($CHALLENGE)}"
        return 0
    fi
    [[ "${QUIET:-0}" == 1 ]] && return 1
    fail "$name: $(IFS=';'; echo "${problems[*]}")"   # counted; the remaining checks still run
}

# eventually TIMEOUT NAME METHOD PATH AUTH STATUS [CHALLENGE [REASON]]: polls until it holds.
eventually() {
    local timeout="$1" started
    shift
    started=$(now)
    while ! QUIET=1 expect "$@"; do
        if python3 -c "import sys; sys.exit(0 if $(now) - $started > $timeout else 1)"; then
            expect "$@"   # prints the FAIL line with what was last seen
            return 0
        fi
        sleep 0.2
    done
    pass "$1 → $STATUS${CHALLENGE:+ ($CHALLENGE)} after $(elapsed "$started") s"
}

invalid() { echo "Bearer error=\"invalid_token\", error_description=\"$1\""; }
insufficient() { echo "Bearer error=\"insufficient_scope\", scope=\"$1\""; }

# --- tokens, keyset, revocation list ----------------------------------------------------------
echo "== issue tokens and export the service's files (home: $SIGIL_HOME)"
sigil init >/dev/null
ALL_GUID=$(issue all --audience devices --all --expires-in 1d)
issue list-only --audience devices --scope devices.list --expires-in 1d >/dev/null
issue other-audience --audience billing --all --expires-in 1d >/dev/null
in_one_hour=$(python3 -c 'import time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)))')
issue not-yet-valid --audience devices --all --valid-from "$in_one_hour" --expires-in 1d >/dev/null
# Issued "two hours ago" for one hour: expired an hour ago, well past the 60 s leeway.
SIGIL_NOW=$(($(date +%s) - 7200)) issue expired --audience devices --all --expires-in 1h >/dev/null
# Forged: one character of the MAC changed (well inside the tag, so the text stays canonical).
python3 - "$WORK/auth-all" "$WORK/auth-forged" <<'EOF'
import sys
line = open(sys.argv[1]).read()
i = len(line.rstrip("\n")) - 10
open(sys.argv[2], "w").write(line[:i] + ("B" if line[i] == "A" else "A") + line[i + 1:])
EOF
printf 'Authorization: Bearer not-a-sigil-token\n' >"$WORK/auth-garbage"
printf 'Authorization: Basic dXNlcjpwYXNz\n' >"$WORK/auth-basic"

sigil keys export --audience devices -o "$KEYSET"
sigil revocations export -o "$REVOCATIONS"

# --- service ----------------------------------------------------------------------------------
echo "== start devices-service on 127.0.0.1"
"$SERVICE" --keyset "$KEYSET" --revocations "$REVOCATIONS" --hostname 127.0.0.1 --port 0 --poll-interval 1 \
    >"$WORK/service.out" 2>"$SERVICE_LOG" &
SERVICE_PID=$!
PORT=""
for _ in $(seq 300); do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
        echo "FAIL  devices-service exited during start-up" >&2
        failed=1
        exit 1
    fi
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$SERVICE_LOG" | head -n 1)
    if [[ -n "$PORT" ]] && request GET /devices - && [[ "$STATUS" != "000" ]]; then break; fi
    sleep 0.1
done
if [[ -z "$PORT" || "$STATUS" == "000" ]]; then
    echo "FAIL  devices-service did not answer within 30 s" >&2
    failed=1
    exit 1
fi
echo "devices-service answers on port $PORT (pid $SERVICE_PID)"

# --- checks -----------------------------------------------------------------------------------
echo "== authentication and scope"
expect "valid all-scope token, GET /devices" GET /devices auth-all 200
expect "no Authorization header" GET /devices - 401 "Bearer"
expect "Basic credentials, not Bearer" GET /devices auth-basic 401 "Bearer"
expect "garbage token" GET /devices auth-garbage 401 "$(invalid malformed)" malformed
expect "token for another audience" GET /devices auth-other-audience 401 "$(invalid wrong_audience)" wrong_audience
expect "forged token (one character changed)" GET /devices auth-forged 401 "$(invalid bad_signature)" bad_signature
expect "expired token" GET /devices auth-expired 401 "$(invalid expired)" expired
expect "not-yet-valid token" GET /devices auth-not-yet-valid 401 "$(invalid not_yet_valid)" not_yet_valid
expect "devices.list token, GET /devices" GET /devices auth-list-only 200
expect "devices.list token, DELETE /devices/dev-1" DELETE /devices/dev-1 auth-list-only 403 \
    "$(insufficient devices.delete)" scope_not_granted
expect "devices.list token, GET /devices/dev-1" GET /devices/dev-1 auth-list-only 403 \
    "$(insufficient devices.get)" scope_not_granted
expect "all-scope token, GET /devices/dev-1" GET /devices/dev-1 auth-all 200
expect "all-scope token, DELETE /devices/dev-2" DELETE /devices/dev-2 auth-all 204
expect "all-scope token, GET /devices/dev-2 after delete" GET /devices/dev-2 auth-all 404

echo "== hot-reloaded revocation list (the service polls every 1 s)"
sigil deactivate "$ALL_GUID" >/dev/null
sigil revocations export -o "$REVOCATIONS"
eventually 10 "deactivated token" GET /devices auth-all 401 "$(invalid deactivated)" deactivated

printf 'not a revocation list\n' >"$REVOCATIONS"
started=$(now)
until grep -q 'revocations refused' "$SERVICE_LOG"; do
    python3 -c "import sys; sys.exit(0 if $(now) - $started > 10 else 1)" && break
    sleep 0.2
done
if grep -q 'revocations refused' "$SERVICE_LOG"; then pass "corrupt list refused and logged"; else fail "corrupt list not reported in the log"; fi
expect "deactivated token while the corrupt file is in place" GET /devices auth-all 401 "$(invalid deactivated)" deactivated

sigil activate "$ALL_GUID" >/dev/null
sigil revocations export -o "$REVOCATIONS"
eventually 10 "re-activated token" GET /devices auth-all 200

sigil revoke --yes "$ALL_GUID" >/dev/null
sigil revocations export -o "$REVOCATIONS"
eventually 10 "revoked token" GET /devices auth-all 401 "$(invalid revoked)" revoked
expect "devices.list token unaffected by the revocation" GET /devices auth-list-only 200

echo "== logs"
if grep -qF -f "$WORK/tokens" "$SERVICE_LOG" "$WORK/service.out"; then
    fail "a token appears in the service's output"
else
    pass "no token appears in the service's output"
fi
if grep -q 'revocations loaded' "$SERVICE_LOG"; then pass "reloads logged to stderr"; else fail "no reload in the log"; fi

echo "example-integration: $passed passed, $failed failed (build ${build_seconds} s, run $(elapsed "$run_started") s)"
[[ $failed -eq 0 ]]
