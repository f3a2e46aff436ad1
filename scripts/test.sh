#!/usr/bin/env bash
# README command 2: install what numens needs, build it (release preset), run every test.
# CI (.ci/run) calls exactly this. GPU tests report "skipped" on a machine without a GPU. Then a
# short smoke run of the fuzzers (scripts/fuzz.sh; NUMENS_FUZZ_SECONDS per target, default 10; 0
# skips it), then, from the same sanitized build (AddressSanitizer + UBSan), the unit tests and the
# fault campaign as a short end to end (scripts/sanitize.sh is the full run: ~30 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
ctest --preset release -j "$(nproc)"
fuzz_seconds=${NUMENS_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" -gt 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 build/fuzz/fuzz/sanitized_tests
  # A short end to end under the sanitizers: the fault campaign (every writer, good and faulty
  # runs) with the sanitized numens on the fixtures ctest made. Leak detection off: OpenMPI's
  # MPI_Init keeps its allocations for the process' life.
  t=build/release/tests
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 bash tests/cli/fault_campaign.sh \
    "$PWD/build/fuzz/drivers/numens" "$PWD/build/fuzz/fault_campaign" "$PWD/$t/cli_data" \
    "$PWD/$t/segment_data" "$PWD/$t/variability_data" "$PWD/$t/brainage_data" \
    "$PWD/$t/report_data"
fi
