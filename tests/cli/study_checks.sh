#!/usr/bin/env bash
# End-to-end checks of `numens study` on a tiny phantom study (3 members x 2 views, 6 test subjects):
#   run:     every stage runs, the run directory holds each stage's outputs and timings.csv
#   rerun:   a rerun of a complete study runs nothing and changes no file
#   partial: removing the summary reruns variability and what depends on it, nothing before
#   kill:    kill -9 during the ensemble stage, rerun: the study completes with the same summary
#            and brain-age results as the uninterrupted run, bit for bit
#   layout:  under `mpirun -np 2` the same results again (when mpirun exists)
#   config:  a rerun with a different [study] section is refused, naming the difference
#   usage:   study_checks.sh <numens> <study.toml> <work dir> [report]
set -euo pipefail
numens=$1 config=$2 d=$3 report=${4:-}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
fail() { echo "study checks: FAIL: $*" >&2; exit 1; }
rm -rf "$d" && mkdir -p "$d" && cd "$d"
cp "$config" study.toml

"$numens" study --config study.toml --out one > one.log 2>&1 || { tail -20 one.log; fail "first run"; }
for f in study.toml cohort.h5 test-cohort.h5 slices/axial.h5 slices/coronal.h5 summary.h5 \
  summary_regions.csv summary_cortical.csv brainage_ridge.h5 timings.csv; do
  [ -f "one/$f" ] || fail "one/$f missing"
done
[ -z "$report" ] || [ -f one/report/index.html ] || fail "one/report/index.html missing"
[ "$(compgen -G 'one/ensemble/members/*/DONE' | wc -l)" = 3 ] || fail "not 3 complete members"
grep -q '^ensemble,ran,' one/timings.csv || fail "timings.csv: $(cat one/timings.csv)"

# rerun: nothing to do, nothing touched
find one -type f -printf '%p %T@\n' | sort > before.txt
"$numens" study --config study.toml --out one > again.log 2>&1 || fail "rerun: $(tail -3 again.log)"
[ "$(grep -c 'up to date, skipped' again.log)" = "$(grep -c '^\[' again.log)" ] ||
  fail "rerun ran a stage: $(grep '^\[' again.log)"
find one -type f -printf '%p %T@\n' | sort | grep -v timings.csv > after.txt
grep -v timings.csv before.txt | diff - after.txt > /dev/null || fail "rerun changed files"

# partial: the summary gone, variability and the stages after it run again, not the ensemble
rm one/summary.h5
"$numens" study --config study.toml --out one > partial.log 2>&1 || fail "partial: $(tail -3 partial.log)"
grep -q '\] ensemble: up to date' partial.log || fail "partial rerun retrained"
grep -q '\] variability: running' partial.log || fail "partial rerun skipped variability"
grep -q '\] brainage-ridge: running' partial.log || fail "partial rerun skipped brainage (older than its input)"

same() {  # the results of two runs, bit for bit
  for ds in /dice /volume_mm3 /dice_pairwise_min /majority_dice; do
    h5diff -d 0 "$1/summary.h5" "$2/summary.h5" $ds $ds > /dev/null || fail "$2: $ds differs"
  done
  h5diff "$1/brainage_ridge.h5" "$2/brainage_ridge.h5" /schemes/metrics /schemes/metrics > /dev/null ||
    fail "$2: brain-age metrics differ"
}
same one one

# kill -9 as soon as a first member checkpoint exists, then rerun
"$numens" study --config study.toml --out two > two1.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  compgen -G "two/ensemble/members/*/ckpt_*.h5" > /dev/null && break
  sleep 0.05
done
kill -9 $pid
if wait $pid; then fail "the study exited 0 after kill -9"; fi
[ "$(compgen -G 'two/ensemble/members/*/DONE' | wc -l || true)" -lt 3 ] ||
  fail "the kill came too late: every member was already complete"
[ ! -e two/summary.h5 ] || fail "a summary exists after the kill"
"$numens" study --config study.toml --out two > two2.log 2>&1 || fail "rerun after kill: $(tail -3 two2.log)"
grep -q '\] synth: up to date' two2.log || fail "rerun after kill made the cohorts again"
same one two

if command -v mpirun > /dev/null; then
  mpirun=(mpirun --oversubscribe --bind-to none -np 2)
  if [ "$(id -u)" = 0 ]; then mpirun+=(--allow-run-as-root); fi
  "${mpirun[@]}" "$numens" study --config study.toml --out three > three.log 2>&1 ||
    fail "mpirun -np 2: $(tail -5 three.log)"
  grep -q "2 ranks" three.log || fail "mpirun run was not on 2 ranks"
  same one three
fi

# a different [study] section in the same directory is refused
if "$numens" study --config study.toml --out one --set study.test_seed=5 > cfg.log 2>&1; then
  fail "a changed [study] was accepted"
fi
grep -q "another configuration.*test_seed" cfg.log || fail "config error: $(cat cfg.log)"
echo "study checks: ok"
