#!/usr/bin/env bash
# Fixture setup of the `numens report` tests: a run directory as `numens study` lays it out,
# made from the variability fixture (summary.h5 with maps, cohort recorded by absolute path) and
# the brain-age fixture (two regressors), plus timings.csv; and broken run directories.
#   make_report_inputs.sh <numens> <variability fixture dir> <brainage fixture dir> <output dir>
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
numens=$1 var=$(cd "$2" && pwd) ba=$(cd "$3" && pwd) d=$4
rm -rf "$d" && mkdir -p "$d/run"
cd "$d"
"$numens" variability --ensemble "$var/ens" --cohort "$var/cohort.h5" --out run/summary.h5 \
  > /dev/null
"$numens" brainage --summary "$ba/good.h5" --folds 4 --inner-folds 3 --combinations 2 \
  --bootstrap 200 --seed 3 --out run/brainage_ridge.h5 > /dev/null
"$numens" brainage --summary "$ba/good.h5" --model svr --kernel linear --C 1 --folds 4 \
  --combinations 2 --bootstrap 200 --seed 3 --scheme none,ensemble --out run/brainage_svr.h5 \
  > /dev/null
printf 'stage,status,seconds\nensemble,ran,120.5\nvariability,ran,3.25\nbrainage,skipped,\n' \
  > run/timings.csv
# broken: no summary; a truncated summary; a file where the run directory should be
mkdir -p run_empty run_corrupt
cp run/timings.csv run_empty/
head -c 3000 run/summary.h5 > run_corrupt/summary.h5
echo "not a directory" > notadir
echo ok
