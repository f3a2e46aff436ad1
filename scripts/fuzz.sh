#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (NIfTI, MGH/MGZ, the subjects CSV and colour tables, the HDF5
# schemas, the TOML configurations): builds the `fuzz` preset (clang, ASan + UBSan) and runs each
# target for SECONDS (default 20) over its committed corpus fuzz/corpus/<target>/. New inputs go to a scratch directory, so the committed
# corpora change only by hand. A crash, sanitizer report, leak, timeout or an allocation past
# 1 GiB fails the run; its input is kept as fuzz-artifacts/<target>-* for a regression test.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
command -v clang++ > /dev/null || { echo "fuzz: clang++ not found (scripts/install-deps.sh)" >&2; exit 1; }
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz -j "$(nproc)"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p fuzz-artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in nifti mgh tables h5schema config; do
  mkdir -p "$scratch/$t"
  echo "fuzz: $t for ${secs} s"
  rc=0
  build/fuzz/fuzz/fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="fuzz-artifacts/$t-" \
    "$scratch/$t" "fuzz/corpus/$t" > "$scratch/$t.log" 2>&1 || rc=$?
  grep -E "stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY" "$scratch/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -40 "$scratch/$t.log" >&2
    echo "fuzz: $t found a problem (exit $rc): fuzz-artifacts/$t-*" >&2
    exit 1
  fi
done
rmdir fuzz-artifacts 2> /dev/null || true
echo "fuzz: nothing found"
