#!/usr/bin/env bash
# The seed files of fuzz/h5schema.cpp: one valid file of each HDF5 schema numens reads, written by
# numens itself from the test fixtures (run ctest once first, so BUILD/tests holds them).
#   fuzz/make_h5_seeds.sh [BUILD]   (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-build/release}
numens=$PWD/$b/drivers/numens t=$PWD/$b/tests out=$PWD/fuzz/seeds/h5
mkdir -p "$out"
(cd "$t/cli_data" && "$numens" import --csv good.csv --out "$out/cohort.h5" --size 16 > /dev/null)
(cd "$t/cli_data" && "$numens" slices --cohort cohort.h5 --view axial --thickness 3 \
  --out "$out/slices.h5" --min-labelled 1 > /dev/null)
(cd "$t/segment_data" && "$numens" segment --cohort cohort.h5 --models models --subjects sub-0000 \
  --out "$out/seg.h5" > /dev/null)
(cd "$t/variability_data" && "$numens" variability --ensemble ens --out "$out/summary.h5" > /dev/null)
rm -f "$out"/summary_*.csv
(cd "$t/brainage_data" && "$numens" brainage --summary good.h5 --folds 4 --inner-folds 3 \
  --combinations 2 --bootstrap 20 --seed 3 --out "$out/brainage.h5" > /dev/null)
rm -f "$out"/brainage_*.csv
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
printf '[data]\nslices = "%s"\nview = "axial"\n[model]\nfilters = 2\nkernel = 3\nlevels = 1\n[train]\nepochs = 1\nbatch_size = 2\nsteps_per_epoch = 1\n' \
  "$t/cli_data/slices.h5" > "$w/t.toml"
"$numens" train --config "$w/t.toml" --out "$w/run" > /dev/null 2>&1
cp "$w/run/ckpt_axial.h5" "$out/ckpt.h5"
ls -la "$out"
