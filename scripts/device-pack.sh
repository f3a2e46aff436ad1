#!/usr/bin/env bash
# Builds the GPU test and benchmark executables for the lent GPU machine (generic x86-64, no
# -march=native: that machine's CPU differs) and copies them with the shared libraries it may lack
# into .devcarry/, which the device tool carries. Then scripts/device-run.sh runs there.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/device -G Ninja -DCMAKE_BUILD_TYPE=Release -DNUMENS_NATIVE=OFF >/dev/null
cmake --build build/device -j "$(nproc)" --target numens_gpu_tests mca_ops_cuda kernels_bench
rm -rf .devcarry && mkdir -p .devcarry/lib
cp build/device/tests/numens_gpu_tests \
   build/device/bench/mca_ops_cuda build/device/bench/kernels .devcarry/
for exe in .devcarry/numens_gpu_tests .devcarry/mca_ops_cuda .devcarry/kernels; do
  ldd "$exe" | awk '/=> \// {print $3}' | grep -v -E 'libc\.so|libm\.so|ld-linux|libpthread|libdl|librt' \
    | xargs -r -I{} cp -n {} .devcarry/lib/
done
du -sh .devcarry
