#!/usr/bin/env bash
# Runs on the lent GPU machine (see docs and GPU.md): GPU tests, then the CUDA benchmark.
# Full logs go to $OUT; a short summary is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."
export LD_LIBRARY_PATH="$PWD/.devcarry/lib:${LD_LIBRARY_PATH:-}"
OUT=${OUT:-/tmp/numens-device}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
.devcarry/numens_gpu_tests > "$OUT/gpu_tests.log" 2>&1; echo "numens_gpu_tests rc=$?" | tee -a "$OUT/summary.txt"
tail -4 "$OUT/gpu_tests.log"
if [ "${NUMENS_DEVICE_BENCH:-1}" = 1 ]; then
  .devcarry/mca_ops_cuda > "$OUT/mca_ops_cuda.txt" 2>&1; echo "mca_ops_cuda rc=$?" | tee -a "$OUT/summary.txt"
  cat "$OUT/mca_ops_cuda.txt"
fi
