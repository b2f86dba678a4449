#!/usr/bin/env bash
# Builds sigil-server (Server/, its own package) and the sigil CLI, then runs the server's
# end-to-end tests (Server/tests, pytest) against real processes on 127.0.0.1.
#
#   scripts/server-test.sh            # build, then python3 -m pytest -q Server/tests
#   scripts/server-test.sh -k audit   # extra arguments go to pytest
#
# Exits non-zero if a build fails, a test fails, or pytest collected no test (its exit 5).
# The schemathesis test is skipped when schemathesis is not installed (pip install schemathesis),
# the console's browser tests without chromium, chromium-driver and selenium.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --package-path Server
swift build --product sigil

export SIGIL_SERVER_BIN="${SIGIL_SERVER_BIN:-$PWD/Server/.build/debug/sigil-server}"
export SIGIL_BIN="${SIGIL_BIN:-$PWD/.build/debug/sigil}"

# docs/openapi.yaml is embedded through a symbolic link; a copy instead of the link would drift.
if ! cmp -s docs/openapi.yaml Server/Sources/SigilServer/Resources/openapi.yaml; then
    echo "server-test: Server/Sources/SigilServer/Resources/openapi.yaml differs from docs/openapi.yaml" >&2
    exit 1
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "server-test: chromium or chromedriver not found; the console's browser tests will be skipped" >&2
fi

status=0
python3 -m pytest -q Server/tests "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "server-test: pytest collected no test; counting that as a failure" >&2
    exit 1
fi
exit $status
