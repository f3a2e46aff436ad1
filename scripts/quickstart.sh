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
# The arithmetic sanity check of the two perturbed configurations the
# quickstart study trains with (stochastic rounding at t = 24 and t = 12).
for t in 24 12; do
  "$bin" mca-check --mode sr --t "$t" --samples 200000 | tee "$out/mca-check-sr-t$t.txt"
done
# The embedded default cohort: real Colin27 anatomy with synthetic ageing (docs/synthetic-cohort.md),
# 2 mm for the quickstart, its ground-truth regional volumes, and a look at two of its subjects.
"$bin" synth --template colin27 --subjects 40 --seed 0 --voxel-size 2 \
  --out "$out/cohort.h5" --stats "$out/volumes.csv"
for s in sub-0000 sub-0039; do
  "$bin" preview --in "$out/cohort.h5" --subject "$s" --view coronal --labels \
    --out "$out/preview-$s.png"
done
# A small numerical ensemble (configs/quickstart.toml): the 2.5D slices of each view, then an ieee
# reference and 2 seed members, each training a small network per
# view briefly and segmenting two held-out subjects (members shared by the ranks when mpirun is
# there), then the variability summary of the members' segmentations (docs/variability.md).
abs_out=$(cd "$out" && pwd)
for v in axial coronal sagittal; do
  "$bin" slices --cohort "$out/cohort.h5" --view "$v" --class-weight-floor 0.1 \
    --out "$out/slices-$v.h5"
done
ensemble=("$bin" ensemble --config configs/quickstart.toml --dir "$out"
  --set "data.slices=\"$abs_out/slices-{view}.h5\""
  --set "ensemble.segment_cohort=\"$abs_out/cohort.h5\"")
if command -v mpirun > /dev/null; then
  as_root=()
  [ "$(id -u)" = 0 ] && as_root=(--allow-run-as-root)
  OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive mpirun --oversubscribe "${as_root[@]}" \
    -np "$(nproc)" "${ensemble[@]}"
else
  "${ensemble[@]}"
fi
"$bin" variability --ensemble "$out" --out "$out/summary.h5"
echo "quickstart: results in $out"
