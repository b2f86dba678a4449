#!/usr/bin/env bash
# Formats every Swift package of the repository with its .swift-format, then lints strictly
# (STYLE.md §8). `--check` only lints: CI runs it so, over the same folders.
set -euo pipefail
cd "$(dirname "$0")/.."
folders=(Sources Tests Server/Sources Server/IntegrationTests Benchmarks/Sources Examples Fuzz/Sources)
if [ "${1:-}" != "--check" ]; then
    swift format format --in-place --recursive "${folders[@]}"
fi
swift format lint --strict --recursive "${folders[@]}"
