#!/usr/bin/env bash
# Every language's verifier answers the same generated cases as the Swift reference (issue 23).
#
#   scripts/conformance.sh [--count N] [--seed S]
#
# Generates the cases once with sigil-conformance (SIGIL_CONFORMANCE_BIN, default
# .build/debug/sigil-conformance; built only if missing), runs every runner that exists and
# whose toolchain is installed (Swift, interop/python, interop/go, interop/typescript,
# interop/java: each `conformance`), and fails with a readable diff on any disagreement.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

GENERATE=()
while [ $# -gt 0 ]; do
    case "$1" in
        --count | --seed) GENERATE+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        *) echo "usage: scripts/conformance.sh [--count N] [--seed S]" >&2; exit 2 ;;
    esac
done

BIN=${SIGIL_CONFORMANCE_BIN:-$ROOT/.build/debug/sigil-conformance}
if [ ! -x "$BIN" ]; then
    echo "conformance: $BIN is missing; building sigil-conformance" >&2
    swift build --product sigil-conformance >&2
fi
# A runner that hangs must not hold CI: each gets this long for all cases.
LIMIT=${SIGIL_CONFORMANCE_TIMEOUT:-120}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ms() { echo $(( $(date +%s%N) / 1000000 )); }

start=$(ms)
"$BIN" generate "${GENERATE[@]}" --labels "$WORK/labels.txt" >"$WORK/cases.jsonl"
count=$(wc -l <"$WORK/cases.jsonl")
echo "conformance: $count cases generated in $(( $(ms) - start )) ms"

# name, command, the toolchain it needs (empty: none beyond the script)
RUNNERS=("swift|$BIN run|")
add() { [ -x "$ROOT/interop/$1/conformance" ] && RUNNERS+=("$1|$ROOT/interop/$1/conformance|$2"); return 0; }
add python python3
add go go
add typescript node
add java java

ANSWERS=()
failed=0
for entry in "${RUNNERS[@]}"; do
    IFS='|' read -r name command tool <<<"$entry"
    if [ -n "$tool" ] && ! command -v "$tool" >/dev/null; then
        echo "conformance: $name skipped: $tool is not installed"
        continue
    fi
    start=$(ms)
    status=0
    # Unquoted on purpose: the Swift entry is "binary run".
    timeout "$LIMIT" $command <"$WORK/cases.jsonl" >"$WORK/$name.jsonl" 2>"$WORK/$name.err" || status=$?
    elapsed=$(( $(ms) - start ))
    lines=$(wc -l <"$WORK/$name.jsonl")
    if [ "$status" -ne 0 ]; then
        echo "conformance: $name FAILED (exit $status after $elapsed ms, $lines answers); its stderr ends:"
        tail -n 20 "$WORK/$name.err" | sed 's/^/    /'
        failed=1
        [ "$name" = swift ] && exit 1
        continue
    fi
    echo "conformance: $name answered $lines cases in $elapsed ms"
    ANSWERS+=("$name=$WORK/$name.jsonl")
done

if [ "${#ANSWERS[@]}" -lt 2 ]; then
    echo "conformance: only the Swift runner ran; nothing to compare"
else
    python3 "$ROOT/interop/conformance/compare.py" "$WORK/cases.jsonl" "$WORK/labels.txt" "${ANSWERS[@]}" || failed=1
fi
if [ "$failed" -ne 0 ]; then
    echo "conformance: FAILED (the Swift answer is the reference)"
    exit 1
fi
echo "conformance: every runner agrees with Swift on all $count cases"
