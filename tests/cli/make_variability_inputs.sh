#!/usr/bin/env bash
# Fixture setup of the `numens variability` tests: a small phantom cohort, a fake ensemble of
# three arms over it with closed-form variability (numens_test_tool ensemble stands in for
# `numens ensemble`), and broken ensembles, one fault each.
#   make_variability_inputs.sh <numens> <numens_test_tool> <output dir>
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
numens=$1 tool=$2 d=$3
rm -rf "$d" && mkdir -p "$d"
cd "$d"
# Another cohort first: creation times have one-second resolution, and the fixture needs the two
# to differ.
"$numens" synth --template phantom --subjects 2 --seed 5 --phantom-voxel 3 --voxel-size 5 \
  --out other_cohort.h5 > /dev/null
sleep 1
"$numens" synth --template phantom --subjects 3 --seed 2 --phantom-voxel 3 --voxel-size 5 \
  --out cohort.h5 > /dev/null
"$tool" ensemble --cohort cohort.h5 --out ens --arms ieee:ieee:1,seed:seed:3,sr24:mca:4 --k 3 \
  --config 1 > /dev/null
# the cohort recorded as "cohort.h5" found next to the members rather than in the current directory
"$tool" ensemble --cohort cohort.h5 --out ens_local --arms ieee:ieee:1,seed:seed:2 > /dev/null
cp cohort.h5 ens_local/cohort.h5
for f in no-done no-seg corrupt lut subjects grid cohort-time member-attr dup-id foreign-subject \
         all-grid; do
  "$tool" ensemble --cohort cohort.h5 --out "bad_$f" --arms ieee:ieee:1,seed:seed:2 --fault "$f" \
    > /dev/null
done
# a configured member that was never made
"$tool" ensemble --cohort cohort.h5 --out bad_config --arms ieee:ieee:1,seed:seed:2 --config 1 \
  > /dev/null
sed -i 's/members = 2/members = 3/' bad_config/ensemble.toml
echo ok
