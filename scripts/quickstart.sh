#!/usr/bin/env bash
# README command 1: install what numens needs, build it, and run the main job on the embedded
# default: `numens study --config configs/quickstart.toml` (docs/study.md) -> runs/quickstart,
# whose report is runs/quickstart/report/index.html. Under mpirun when it is there (one rank per
# core, members shared by the ranks). Rerunning continues an interrupted study where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
bin=build/release/drivers/numens
out=${1:-runs/quickstart}
mkdir -p "$out"
"$bin" --version
# The arithmetic sanity check of the perturbed configuration the study trains with.
"$bin" mca-check --mode sr --t 24 --samples 200000 | tee "$out/mca-check-sr-t24.txt"
study=("$bin" study --config configs/quickstart.toml --out "$out")
if command -v mpirun > /dev/null && [ "$(nproc)" -gt 1 ]; then
  as_root=()
  [ "$(id -u)" = 0 ] && as_root=(--allow-run-as-root)
  # One single-threaded rank per core for the ensemble; unbound, so that rank 0 can use every
  # core in the stages it runs alone (the other ranks sleep meanwhile).
  OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive mpirun --oversubscribe --bind-to none "${as_root[@]}" \
    -np "$(nproc)" "${study[@]}"
else
  "${study[@]}"
fi
# A look at one test subject: its T1 with the ground-truth labels.
"$bin" preview --in "$out/test-cohort.h5" --subject sub-0000 --view coronal --labels \
  --out "$out/preview-sub-0000.png"
echo "quickstart: results in $out; open $out/report/index.html"
