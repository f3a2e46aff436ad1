#!/usr/bin/env bash
# Runs on the lent GPU machine (see docs and GPU.md): GPU tests, then the CUDA benchmarks:
# mca_ops_cuda, bench/kernels --device cuda (all kernels at 256x256, the convolutions at every
# FastSurfer size) and its cuDNN peer (PyTorch, TF32 off and on) when torch is importable there.
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
  rc=0
  .devcarry/kernels --device cuda --size 256 > "$OUT/kernels_cuda.txt" 2>&1 || rc=$?
  for s in 128 64 32 16; do
    .devcarry/kernels --device cuda --size "$s" --only conv >> "$OUT/kernels_cuda.txt" 2>&1 || rc=$?
  done
  echo "kernels --device cuda rc=$rc" | tee -a "$OUT/summary.txt"
  cat "$OUT/kernels_cuda.txt"
  if python3 -c "import torch" 2>/dev/null; then
    python3 bench/peers/conv_torch.py --device cuda --size 256 128 64 32 16 \
      > "$OUT/conv_torch_cuda.txt" 2>&1
    echo "conv_torch --device cuda rc=$?" | tee -a "$OUT/summary.txt"
    cat "$OUT/conv_torch_cuda.txt"
  fi
fi
