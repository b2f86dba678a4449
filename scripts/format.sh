#!/usr/bin/env bash
# Formats Sources and Tests with the repository's .swift-format, then lints strictly (as STYLE.md asks).
set -euo pipefail
cd "$(dirname "$0")/.."
swift format format --in-place --recursive Sources Tests
swift format lint --strict --recursive Sources Tests
