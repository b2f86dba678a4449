#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/ and runs each for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     HARNESS: token revocations keyset-ledger cli-parsers
#
# Exits non-zero if a harness crashes or a property fails; the input is kept in
# fuzz-out/artifacts/<harness>/ (git-ignored). Reproduce one with:
#   .build-fuzz/release/fuzz-<harness> fuzz-out/artifacts/<harness>/crash-…
# The working corpus grows in fuzz-out/corpus/<harness>/, seeded from Fuzz/corpus/<harness>/.
# Minimized inputs that once found a bug are in Fuzz/regressions/<harness>/; every run
# executes them first.
# FUZZ_JOBS=N runs N workers per harness (default 1: the machine is shared).
set -euo pipefail

seconds="${1:-60}"
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(token revocations keyset-ledger cli-parsers)
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

build=.build-fuzz
out=fuzz-out
echo "fuzz: building harnesses into $build (release, -sanitize=fuzzer,address)"
mkdir -p "$build"
# Other work may edit Sources during the build ("modified during the build"): retry then.
for attempt in 1 2 3; do
    if swift build --package-path Fuzz --scratch-path "$build" -c release \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -g -Xswiftc -use-ld=lld >"$build/fuzz-build.log" 2>&1; then
        break
    fi
    grep -v "Cannot export local symbol" "$build/fuzz-build.log" | grep -E "error" | head -5 >&2
    [ $attempt -lt 3 ] || { echo "fuzz: build failed; see $build/fuzz-build.log" >&2; exit 2; }
    sleep 5
done
bin="$build/release"

export SWIFT_BACKTRACE=enable=no                  # else a trap is misreported under ASan
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"

failed=0
summary=()
for h in "${harnesses[@]}"; do
    exe="$bin/fuzz-$h"
    [ -x "$exe" ] || { echo "fuzz: no harness $exe" >&2; exit 2; }
    mkdir -p "$out/corpus/$h" "$out/artifacts/$h" "$out/logs"
    log="$out/logs/$h.log"
    echo "fuzz: $h for ${seconds}s (log: $log)"
    set +e
    regressions=()
    [ -d "Fuzz/regressions/$h" ] && regressions=("Fuzz/regressions/$h")
    "$exe" "$out/corpus/$h" "Fuzz/corpus/$h" "${regressions[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$out/artifacts/$h/" \
        ${FUZZ_JOBS:+-fork="$FUZZ_JOBS"} >"$log" 2>&1
    status=$?
    set -e
    runs=$(grep -E "^stat::number_of_executed_units" "$log" | awk '{s+=$2} END {print s+0}')
    if [ $status -ne 0 ]; then
        failed=1
        summary+=("$h: FAILED (exit $status) after $runs runs; see $log and $out/artifacts/$h/")
        grep -E "PROPERTY FAILED|ERROR: AddressSanitizer|ERROR: libFuzzer|Fatal error|runtime failure" "$log" | head -5 >&2 || true
    else
        summary+=("$h: ok, $runs runs in ${seconds}s, corpus $(ls "$out/corpus/$h" | wc -l) inputs")
    fi
done
printf 'fuzz: %s\n' "${summary[@]}"
exit $failed
