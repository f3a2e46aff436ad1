#!/usr/bin/env bash
# Fixture setup of the `numens segment` tests: a small phantom cohort, three tiny view models
# trained a few steps (numens_test_tool stands in for `numens train`), and bad checkpoints.
#   make_segment_inputs.sh <numens> <numens_test_tool> <output dir>
set -euo pipefail
# One thread unless a case asks for two, and threads that sleep rather than spin at barriers:
# on a shared, oversubscribed test machine spinning OpenMP threads made a 2-thread run of these
# tiny models 25x slower than a 1-thread one.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
numens=$1 tool=$2 d=$3
rm -rf "$d" && mkdir -p "$d/models" "$d/empty_models"
cd "$d"
"$numens" synth --template phantom --subjects 3 --seed 2 --phantom-voxel 3 --voxel-size 5 \
  --out cohort.h5 > /dev/null
for v in axial coronal sagittal; do
  "$tool" checkpoint --cohort cohort.h5 --view $v --steps 20 --seed 3 --out models/ckpt_$v.h5 > /dev/null
done
# Bad checkpoints, one fault each.
"$tool" checkpoint --cohort cohort.h5 --view sagittal --drop-classes 1 --out other_classes.h5 > /dev/null
"$tool" checkpoint --cohort cohort.h5 --view axial --unknown-class 999 --out unknown_class.h5 > /dev/null
"$tool" checkpoint --cohort cohort.h5 --view coronal --thickness 5 --out thick5.h5 > /dev/null
head -c $(( $(stat -c %s models/ckpt_axial.h5) / 2 )) models/ckpt_axial.h5 > corrupt.h5
echo ok
