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
# One ensemble member, briefly: the 2.5D slices of each view, a small network per view trained for
# 40 optimizer steps (configs/train-small.toml; the full recipes are configs/train-*.toml), and the
# 3-view segmentation of two held-out subjects with their Dice against the ground truth. A demo of
# the pipeline, not a trained model: docs/train.md shows what longer training reaches.
abs_out=$(cd "$out" && pwd)
for v in axial coronal sagittal; do
  "$bin" slices --cohort "$out/cohort.h5" --view "$v" --out "$out/slices-$v.h5"
  "$bin" train --config configs/train-small.toml --view "$v" --force \
    --set "data.slices=\"$abs_out/slices-{view}.h5\"" --set model.kernel=3 \
    --set train.epochs=1 --set train.steps_per_epoch=40 --out "$out/members/m0000"
done
"$bin" segment --cohort "$out/cohort.h5" --models "$out/members/m0000" \
  --subjects sub-0004,sub-0009 --out "$out/members/m0000/seg.h5"
echo "quickstart: results in $out"
