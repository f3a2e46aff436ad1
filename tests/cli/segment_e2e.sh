#!/usr/bin/env bash
# `numens segment` end to end on the fixture of make_segment_inputs.sh: a 3-view run with
# probabilities and Dice; identical files at 1 and 2 OpenMP threads and for two batch sizes
# (ieee); sr reproducible for one seed and different for another; a one-view run.
#   segment_e2e.sh <numens> <numens_test_tool> <fixture dir>
set -euo pipefail
numens=$1 tool=$2 d=$3
cd "$d"
out=$(mktemp -d "$PWD/e2e.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

log=$("$numens" segment --cohort cohort.h5 --models models --out "$out/a.h5" --probs)
echo "$log"
grep -q "sub-0003 .* mean Dice 0\.[0-9]" <<< "$log" || fail "no per-subject Dice line"
grep -q "mean Dice .* over 3 labelled subjects" <<< "$log" || fail "no final mean Dice"
[ -f "$out/a.h5" ] || fail "no output"

OMP_NUM_THREADS=1 "$numens" segment --cohort cohort.h5 --models models --out "$out/t1.h5" \
  --probs --batch 8 > /dev/null
OMP_NUM_THREADS=2 "$numens" segment --cohort cohort.h5 --models models --out "$out/t2.h5" \
  --probs --batch 3 > /dev/null
"$tool" same "$out/a.h5" "$out/t1.h5" || fail "threads: default vs 1 thread"
"$tool" same "$out/t1.h5" "$out/t2.h5" || fail "1 thread batch 8 vs 2 threads batch 3"

sr=(segment --cohort cohort.h5 --models models --subjects sub-0001,sub-0002 --probs --mode sr --t 10)
OMP_NUM_THREADS=1 "$numens" "${sr[@]}" --seed 1 --out "$out/s1.h5" > /dev/null
OMP_NUM_THREADS=2 "$numens" "${sr[@]}" --seed 1 --out "$out/s1b.h5" > /dev/null
"$numens" "${sr[@]}" --seed 2 --out "$out/s2.h5" > /dev/null
"$tool" same "$out/s1.h5" "$out/s1b.h5" || fail "sr seed 1 not reproducible"
"$tool" differ "$out/s1.h5" "$out/s2.h5" || fail "sr seeds 1 and 2 agree"

"$numens" segment --cohort cohort.h5 --axial models/ckpt_axial.h5 --subjects sub-0002 \
  --accumulator float32 --out "$out/one.h5" | grep -q "views axial," || fail "one-view run"
echo "segment e2e: ok"
