#!/usr/bin/env bash
# Builds build/sigil-verify.jar (library + tools) and, with --tests, build/sigil-verify-tests.jar,
# with javac and jar only. Rebuilds only when a source is newer than the jar; a lock keeps two
# runs (say, two conformance runs at once) from writing the same files together.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
mkdir -p build
exec 9>build/.lock
flock 9

stale() { # jar, dirs...
  local jar="$1"; shift
  [[ ! -f "$jar" ]] && return 0
  [[ -n "$(find "$@" -name '*.java' -newer "$jar" -print -quit)" ]]
}

if stale build/sigil-verify.jar src tools; then
  rm -rf build/classes && mkdir -p build/classes
  javac --release 17 -Xlint:all -Xdoclint:all,-missing -Werror -d build/classes $(find src tools -name '*.java')
  jar --create --file build/sigil-verify.jar -C build/classes .
fi
if [[ "${1:-}" == "--tests" ]] && stale build/sigil-verify-tests.jar tests examples src tools; then
  rm -rf build/test-classes && mkdir -p build/test-classes
  javac --release 17 -Xlint:all,-try -Werror -cp build/sigil-verify.jar -d build/test-classes \
    $(find tests examples -name '*.java')
  jar --create --file build/sigil-verify-tests.jar -C build/test-classes .
fi
