#!/usr/bin/env bash
# README command 2: install what numens needs, build it (release preset), run every test.
# CI (.ci/run) calls exactly this. GPU tests report "skipped" on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
ctest --preset release -j "$(nproc)"
