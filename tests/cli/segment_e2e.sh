#!/usr/bin/env bash
# `numens segment` end to end on the fixture of make_segment_inputs.sh: a 3-view run with
# probabilities and Dice; identical files at 1 and 2 OpenMP threads and for two batch sizes
# (ieee); sr reproducible for one seed and different for another; a one-view run.
#   segment_e2e.sh <numens> <numens_test_tool> <fixture dir>
set -euo pipefail
# One thread unless a case asks for two, and threads that sleep rather than spin at barriers:
# on a shared, oversubscribed test machine spinning OpenMP threads made a 2-thread run of these
# tiny models 25x slower than a 1-thread one.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
numens=$1 tool=$2 d=$3
cd "$d"
out=$(mktemp -d "$PWD/e2e.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

log=$("$numens" segment --cohort cohort.h5 --models models --out "$out/a.h5" --probs)
echo "$log"
grep -q "sub-0002 .* mean Dice 0\.[0-9]" <<< "$log" || fail "no per-subject Dice line"
grep -q "mean Dice .* over 3 labelled subjects" <<< "$log" || fail "no final mean Dice"
[ -f "$out/a.h5" ] || fail "no output"

# a.h5 ran at one thread with batch 8
OMP_NUM_THREADS=2 "$numens" segment --cohort cohort.h5 --models models --out "$out/t2.h5" \
  --probs --batch 3 > /dev/null
"$tool" same "$out/a.h5" "$out/t2.h5" || fail "1 thread batch 8 vs 2 threads batch 3"

# sr is the slow reference arithmetic: two views of one subject
sr=(segment --cohort cohort.h5 --axial models/ckpt_axial.h5 --sagittal models/ckpt_sagittal.h5
    --subjects sub-0002 --probs --mode sr --t 10)
OMP_NUM_THREADS=1 "$numens" "${sr[@]}" --seed 1 --out "$out/s1.h5" > /dev/null
OMP_NUM_THREADS=2 "$numens" "${sr[@]}" --seed 1 --out "$out/s1b.h5" > /dev/null
"$numens" "${sr[@]}" --seed 2 --out "$out/s2.h5" > /dev/null
"$tool" same "$out/s1.h5" "$out/s1b.h5" || fail "sr seed 1 not reproducible"
"$tool" differ "$out/s1.h5" "$out/s2.h5" || fail "sr seeds 1 and 2 agree"

log=$("$numens" segment --cohort cohort.h5 --axial models/ckpt_axial.h5 --subjects sub-0002 \
  --accumulator float32 --out "$out/one.h5")
grep -q "views axial, " <<< "$log" || fail "one-view run"
echo "segment e2e: ok"
