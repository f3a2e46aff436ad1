#!/usr/bin/env bash
# README command 2: install what numens needs, build it (release preset), run every test.
# CI (.ci/run) calls exactly this. GPU tests report "skipped" on a machine without a GPU. Then a
# short smoke run of the fuzzers (scripts/fuzz.sh; NUMENS_FUZZ_SECONDS per target, default 10; 0
# skips it) and the unit tests again under AddressSanitizer + UBSan, from the same sanitized
# build (scripts/sanitize.sh is the full run, with the end-to-end tests: ~30 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
ctest --preset release -j "$(nproc)"
fuzz_seconds=${NUMENS_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" -gt 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build/fuzz/fuzz/sanitized_tests
fi
