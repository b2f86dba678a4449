#!/usr/bin/env bash
# Quick start: build sigil, issue a token (a development keyring is created on first use,
# in ./keys, and sigil says so), then verify it the way a service would.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product sigil >/dev/null
bin="$(swift build --show-bin-path)/sigil"

echo "\$ TOKEN=\$(sigil issue --name quickstart --audience billing --scope 'devices.*' --expires-in 30d)"
TOKEN=$("$bin" issue --name quickstart --audience billing --scope 'devices.*' --expires-in 30d)
echo
echo "\$ echo \"\$TOKEN\" | sigil verify - --audience billing --permission devices.delete --access write"
echo "$TOKEN" | "$bin" verify - --audience billing --permission devices.delete --access write
echo
echo "\$ echo \"\$TOKEN\" | sigil verify - --audience billing --permission users.invite --access write"
set +e
echo "$TOKEN" | "$bin" verify - --audience billing --permission users.invite --access write
echo "(exit code $?: scope_not_granted)"
echo
"$bin" list --name quickstart
