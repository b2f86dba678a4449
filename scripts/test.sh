#!/usr/bin/env bash
# The whole test suite: what README's quick start and CI run (bash .ci/run calls this).
#
#   scripts/test.sh            everything (about 20 minutes on 2 cores from a cold build)
#   scripts/test.sh --fast     import rules + swift test only
#   scripts/test.sh --skip-swift-test   everything but swift test (.ci/run runs that itself first)
#
# Stages: import rules; swift build + swift test (unit, vectors, end-to-end CLI, hostile input,
# crash safety, secret hygiene); the scanners' rules; sigil-server; the deployment files (deploy/);
# the verifiers in other languages (scripts/interop-test.sh: each one's tests, conformance, a live revoke); SigilHummingbird (the resolution check,
# its tests over real HTTP; scripts/hummingbird-test.sh); the Hummingbird example against
# real HTTP; the PostgreSQL store on a throwaway cluster (scripts/postgres-test.sh); the
# concurrent verify-while-reload tests under ThreadSanitizer; sigil-bench --quick
# (builds the benchmark and runs it once; figures are printed, never asserted); each libFuzzer
# harness for FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no
fast=0
skip_swift_test=0
[[ "${1:-}" == "--fast" ]] && fast=1
[[ "${1:-}" == "--skip-swift-test" ]] && skip_swift_test=1
start=$SECONDS
stage() { echo; echo "== $* ($((SECONDS - start)) s elapsed)"; }

stage "import rules"
bash scripts/check-imports.sh

if [[ $skip_swift_test -eq 0 ]]; then
stage "build and tests (swift test)"
swift build
set +e
swift test >.build/test-output.log 2>&1
status=$?
set -e
grep -E "Test run with|^✘|recorded an issue|error:" .build/test-output.log | tail -40
[[ $status -eq 0 ]] || { echo "swift test failed (exit $status); full log: .build/test-output.log"; exit 1; }
fi

if [[ $fast -eq 1 ]]; then stage "fast tests passed"; exit 0; fi

stage "the secret scanners' rules (interop/scanning)"
python3 -m pytest -q interop/scanning

stage "sigil-server: real processes on 127.0.0.1, pytest and schemathesis (Server/tests)"
bash scripts/server-test.sh

# After server-test.sh, which built sigil-server: the Containerfile test reads what it links.
stage "deployment files: the systemd unit (systemd-analyze verify, security) and the Containerfile's rules"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (Debian: systemd)"; exit 1; }
python3 -m pytest -q deploy

# After server-test.sh, which builds Server/ (sigil-server for the live stage).
stage "verifiers in Python, Go, TypeScript, Java: their tests, conformance with Swift, a live revoke"
bash scripts/interop-test.sh

stage "PostgreSQL: a throwaway cluster, the use-case and store tests on it, two server replicas"
bash scripts/postgres-test.sh

stage "SigilHummingbird: the root package resolves no Hummingbird; middleware and follower over real HTTP"
bash scripts/hummingbird-test.sh

stage "Hummingbird example: real HTTP requests against a Sigil-protected service"
bash scripts/example-integration.sh

stage "ThreadSanitizer: concurrent verify while reloading"
# pthread mutexes (not Synchronization.Mutex, which TSan on Linux cannot see) guard the
# revocation store, so any report here is a real race.
set +e
swift test --sanitize=thread --scratch-path .build-tsan \
    --filter 'RevocationStoreTests|VerifierConcurrencyTests|RevocationWatcherTests' >.build/tsan-output.log 2>&1
status=$?
set -e
grep -E "Test run with|ThreadSanitizer" .build/tsan-output.log | tail -5
grep -q "WARNING: ThreadSanitizer" .build/tsan-output.log && { echo "TSan reported a race"; exit 1; }
[[ $status -eq 0 ]] || { echo "TSan run failed (exit $status); log: .build/tsan-output.log"; exit 1; }

stage "benchmark builds and runs (--quick)"
swift run -c release --package-path Benchmarks sigil-bench --quick

stage "fuzzing: each harness for ${FUZZ_SECONDS:-60} s"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

stage "all tests passed"
