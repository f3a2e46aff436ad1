#!/usr/bin/env bash
# README command 1: install what numens needs, build it, and run the main job on the embedded
# default. The full study pipeline (synth -> train ensemble -> variability -> brain age -> report)
# is being built stage by stage; this script runs every stage that exists today.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
bin=build/release/drivers/numens
out=${1:-runs/quickstart}
mkdir -p "$out"
"$bin" --version
# Stage available today: the arithmetic sanity check of the two perturbed configurations the
# quickstart study trains with (stochastic rounding at t = 24 and t = 12).
for t in 24 12; do
  "$bin" mca-check --mode sr --t "$t" --samples 200000 | tee "$out/mca-check-sr-t$t.txt"
done
echo "quickstart: results in $out"
