#!/usr/bin/env bash
# The whole test suite: what README's quick start and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no

echo "== import rules"
bash scripts/check-imports.sh

echo "== build and unit/end-to-end tests"
swift build
swift test

if [[ -d interop/python ]]; then
    echo "== Python interop verifier"
    python3 -m pytest -q interop/python
fi
echo "== Hummingbird example: real HTTP requests against a Sigil-protected service"
bash scripts/example-integration.sh

echo "== all tests passed"
