#!/usr/bin/env bash
# The verifiers in other languages (issue 23): each language's own `test`, then the
# conformance suite against the Swift runner (scripts/conformance.sh), then the live test of
# every example server against a real sigil-server (interop/live). Prints each stage's time.
#
# Needs the Swift binaries already built: .build/debug/sigil and sigil-conformance, and
# Server/.build/debug/sigil-server for the live stages (SIGIL_BIN, SIGIL_CONFORMANCE_BIN,
# SIGIL_SERVER_BIN override them). A language whose folder or toolchain is missing is skipped
# with a note. Every stage runs even after a failure, so one run shows every problem.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export SIGIL_BIN=${SIGIL_BIN:-$ROOT/.build/debug/sigil}
export SIGIL_SERVER_BIN=${SIGIL_SERVER_BIN:-$ROOT/Server/.build/debug/sigil-server}
export SIGIL_CONFORMANCE_BIN=${SIGIL_CONFORMANCE_BIN:-$ROOT/.build/debug/sigil-conformance}
# The whole of this script must stay well under CI's 5-minute allowance for issue 23.
BUDGET=${SIGIL_INTEROP_BUDGET:-300}
STAGE_LIMIT=${SIGIL_INTEROP_STAGE_TIMEOUT:-240}

RESULTS=()
failed=0
ms() { echo $(( $(date +%s%N) / 1000000 )); }
began=$(ms)

stage() {
    local name=$1
    shift
    echo "==> $name"
    local start status
    start=$(ms)
    timeout "$STAGE_LIMIT" "$@"
    status=$?
    local took=$(( $(ms) - start ))
    if [ "$status" -eq 0 ]; then
        RESULTS+=("$(printf '%-22s ok      %6d ms' "$name" "$took")")
    else
        RESULTS+=("$(printf '%-22s FAILED  %6d ms (exit %d)' "$name" "$took" "$status")")
        failed=1
    fi
}

skip() { RESULTS+=("$(printf '%-22s skipped (%s)' "$1" "$2")"); echo "==> $1 skipped: $2"; }

for entry in python:python3 go:go typescript:node java:javac; do
    lang=${entry%%:*}
    tool=${entry#*:}
    if [ ! -x "interop/$lang/test" ]; then
        skip "$lang test" "no interop/$lang/test"
    elif ! command -v "$tool" >/dev/null; then
        skip "$lang test" "$tool is not installed"
    else
        stage "$lang test" "interop/$lang/test"
    fi
done

stage conformance scripts/conformance.sh

if python3 -c 'import pytest' 2>/dev/null; then
    stage "live (all languages)" python3 -m pytest -q -s -p no:cacheprovider interop/live/test_live.py
else
    skip "live (all languages)" "pytest is not installed"
fi

total=$(( $(ms) - began ))
echo
echo "interop stages:"
printf '  %s\n' "${RESULTS[@]}"
echo "  total                          $total ms"
if [ "$total" -gt $(( BUDGET * 1000 )) ]; then
    echo "interop: took more than the ${BUDGET} s budget"
    failed=1
fi
exit "$failed"
