#!/usr/bin/env bash
# The asan preset (AddressSanitizer + UBSan, debug, CPU only): builds it, runs every unit test
# with leak detection, then the command-line end-to-end tests of the data layer, segmentation,
# export, variability and the report. Those run with leak detection off: OpenMPI's MPI_Init keeps
# allocations for the process' life (LeakSanitizer lists ~120 KB in libmpi/hwloc, no numens frame).
# Fails on any test failure or sanitizer report. About 30 minutes on 2 cores (build 15, tests 15).
#   scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset asan > /dev/null
cmake --build --preset asan -j "$(nproc)"
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
build/asan/tests/numens_tests
ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build/asan -j "$(nproc)" --output-on-failure \
  -R "cli_segment|cli_io_setup|cli_err_nii|cli_err_export|cli_err_segment|cli_variability|cli_report_e2e"
if grep -q "runtime error\|ERROR: AddressSanitizer" build/asan/Testing/Temporary/LastTest.log; then
  echo "sanitize: a sanitizer report in build/asan/Testing/Temporary/LastTest.log" >&2
  exit 1
fi
echo "sanitize: clean"
