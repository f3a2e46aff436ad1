#!/usr/bin/env bash
# numens brainage end to end on a small summary: outputs exist with the documented layout, the
# printed table has every scheme, and results do not depend on the thread count (the CSVs of a
# 1-thread and a 2-thread run are byte-identical).  brainage_e2e.sh <numens> <dir>
set -euo pipefail
numens=$1 dir=$2
cd "$dir"
rm -rf e2e && mkdir e2e
args=(brainage --summary good.h5 --folds 4 --inner-folds 3 --combinations 2 --bootstrap 200
      --seed 3)
OMP_WAIT_POLICY=passive "$numens" "${args[@]}" --threads 1 --out e2e/one.h5 > e2e/one.txt
OMP_WAIT_POLICY=passive "$numens" "${args[@]}" --threads 2 --out e2e/two.h5 > e2e/two.txt
cat e2e/one.txt
fail() { echo "FAIL: $*"; exit 1; }
for f in one.h5 one_curve.csv one_schemes.csv two.h5; do [ -s "e2e/$f" ] || fail "missing e2e/$f"; done
cmp e2e/one_curve.csv e2e/two_curve.csv || fail "curve differs between 1 and 2 threads"
cmp e2e/one_schemes.csv e2e/two_schemes.csv || fail "schemes differ between 1 and 2 threads"
for s in none ensemble gaussian ensemble+gaussian; do
  grep -q "^$s " e2e/one.txt || fail "scheme $s missing from the printed table"
done
[ "$(wc -l < e2e/one_curve.csv)" -eq 5 ] || fail "curve should have N = 0..3 (4 rows + header)"
[ "$(wc -l < e2e/one_schemes.csv)" -eq 9 ] || fail "schemes CSV should have 8 rows + header"
if command -v h5dump > /dev/null; then
  # Captured first: grep -q closing the pipe early would fail h5dump under pipefail.
  attrs=$(h5dump -A e2e/one.h5)
  header=$(h5dump -H e2e/one.h5)
  grep -q '"numens-brainage"' <<< "$attrs" || fail "format attribute missing"
  grep -q 'DATASET "metrics"' <<< "$header" || fail "/schemes/metrics missing"
  grep -q 'DATASET "mae_reference"' <<< "$header" || fail "/curve/mae_reference missing"
fi
ls e2e/*.tmp.* 2> /dev/null && fail "temp files left behind"
echo "brainage e2e: ok"
