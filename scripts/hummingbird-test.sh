#!/usr/bin/env bash
# SigilHummingbird (a product of Server/): the resolution rule and its tests.
#
# 1. A throwaway package that depends on Sigil's SigilVerifier product only must resolve no
#    Hummingbird and no swift-nio: the root package names no server package (docs/DESIGN.md).
# 2. The same with Server/'s SigilHummingbird product must resolve Hummingbird (so check 1 can fail).
# 3. One swift test in Server/ for both test targets (one build of the package's tests):
#    SigilHummingbirdTests, the bearer middleware and the revocation follower over real HTTP on
#    127.0.0.1, including a real sigil-server process changed through the real sigil CLI (both
#    built here; scripts/test.sh has built them already in its server stage); and
#    SigilServerTests, sigil-server's router through HummingbirdTesting (error mapping, query
#    parsing, sessions, the failed-authentication limiter, the broadcaster).
#    Bounded by HUMMINGBIRD_TEST_TIMEOUT seconds (default 1800).
set -euo pipefail
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no
root="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/sigil-trait.XXXXXX")"
trap 'rm -rf "$work"' EXIT

consumer() {  # consumer DIR PRODUCT PACKAGE-NAME PACKAGE-PATH
    mkdir -p "$1/Sources/Consumer"
    cat >"$1/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "Consumer",
    dependencies: [.package(name: "$3", path: "$4")],
    targets: [.target(name: "Consumer", dependencies: [.product(name: "$2", package: "$3")])]
)
SWIFT
    echo "import $2" >"$1/Sources/Consumer/Consumer.swift"
}

status=0
if grep -iE '\.package\(' Package.swift | grep -qiE 'hummingbird|swift-nio|swift-log|service-lifecycle|postgres-nio|swift-metrics|swift-prometheus'; then
    echo "FAIL  the root Package.swift names a server package; keep it in Server/"
    status=1
fi
consumer "$work/plain" SigilVerifier Sigil "$root"
(cd "$work/plain" && swift package resolve >resolve.log 2>&1) || { cat "$work/plain/resolve.log"; exit 1; }
pins=$(grep -o '"identity" : "[^"]*"' "$work/plain/Package.resolved" 2>/dev/null | cut -d'"' -f4 | tr '\n' ' ' || true)
checkouts=$(ls "$work/plain/.build/checkouts" 2>/dev/null | tr '\n' ' ' || true)
if grep -qiE 'hummingbird|swift-nio' <<<"$pins $checkouts"; then
    echo "FAIL  SigilVerifier alone resolved Hummingbird or NIO: pins [$pins] checkouts [$checkouts]"
    status=1
else
    echo "PASS  SigilVerifier alone resolves only: ${pins:-nothing}"
fi

consumer "$work/service" SigilHummingbird SigilServer "$root/Server"
(cd "$work/service" && swift package resolve >resolve.log 2>&1) || { cat "$work/service/resolve.log"; exit 1; }
if grep -q '"identity" : "hummingbird"' "$work/service/Package.resolved"; then
    echo "PASS  SigilHummingbird from Server/ resolves hummingbird" \
        "($(grep -c '"identity"' "$work/service/Package.resolved") packages)"
else
    echo "FAIL  SigilHummingbird did not resolve hummingbird"
    status=1
fi
[[ $status -eq 0 ]] || exit 1

swift build --package-path Server
swift build --product sigil
export SIGIL_SERVER_BIN="$root/Server/.build/debug/sigil-server"
export SIGIL_BIN="$root/.build/debug/sigil"

set +e
timeout "${HUMMINGBIRD_TEST_TIMEOUT:-1800}" swift test --package-path Server --filter 'SigilHummingbirdTests|SigilServerTests' \
    >"$work/test.log" 2>&1
status=$?
set -e
mkdir -p .build
cp "$work/test.log" .build/hummingbird-test-output.log
grep -E "Test run with|^✘|recorded an issue|error:|revocation enforced|revoke enforced|skipped" .build/hummingbird-test-output.log | tail -40
[[ $status -eq 124 ]] && echo "Server tests did not finish within ${HUMMINGBIRD_TEST_TIMEOUT:-1800} s"
[[ $status -eq 0 ]] || { echo "Server tests failed (exit $status); log: .build/hummingbird-test-output.log"; exit 1; }
