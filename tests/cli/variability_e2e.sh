#!/usr/bin/env bash
# `numens variability` end to end on the fixture of make_variability_inputs.sh: the printed
# tables, the closed-form Dice/volume/majority values (numens_test_tool verify-summary), the CSV
# tables, identical summaries at 1 and 2 threads, --no-maps, base 10 and the General estimator.
#   variability_e2e.sh <numens> <numens_test_tool> <fixture dir>
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
numens=$1 tool=$2 d=$3
cd "$d"
out=$(mktemp -d "$PWD/e2e.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# cohort from the members' seg.h5 (recorded as cohort.h5, relative to this directory)
log=$("$numens" variability --ensemble ens --out "$out/summary.h5")
echo "$log"
grep -q "8 members in 3 arms, 3 subjects" <<< "$log" || fail "header line"
grep -q "minimum pairwise Dice, mean +- std" <<< "$log" || fail "cortical table"
grep -qE "^  seed +seed +3 " <<< "$log" || fail "seed arm row"
grep -q "seed vs sr24, 1-min_pairwise_dice over" <<< "$log" || fail "correlation line"
for f in summary.h5 summary_regions.csv summary_cortical.csv summary_correlation.csv; do
  [ -f "$out/$f" ] || fail "no $f"
done
compgen -G "$out/*.tmp.*" > /dev/null && fail "temp file left behind"
"$tool" verify-summary --summary "$out/summary.h5" --cohort cohort.h5 --k 3 || fail "closed forms"

# CSV: header, one row per arm and region, the perturbed region first in perturbed arms
head -1 "$out/summary_regions.csv" | grep -q \
  "^arm,kind,members,region,name,cortical,min_pairwise_dice,mean_pairwise_dice,volume_mean_mm3,volume_cv,sigdigits,member_dice,majority_dice,ieee_dice$" \
  || fail "regions CSV header"
regions=$(( $(wc -l < "$out/summary_regions.csv") - 1 ))
[ $(( regions % 3 )) -eq 0 ] || fail "regions CSV rows: $regions"
first_seed=$(grep -m1 '^seed,' "$out/summary_regions.csv")
first_sr=$(grep -m1 '^sr24,' "$out/summary_regions.csv")
[ "$(cut -d, -f4 <<< "$first_seed")" = "$(cut -d, -f4 <<< "$first_sr")" ] \
  || fail "most variable region differs between arms: $first_seed / $first_sr"
awk -F, 'NR > 1 && $1 == "seed" && $7 != "nan" && $7 < 1 { n++ } END { exit n == 1 ? 0 : 1 }' \
  "$out/summary_regions.csv" || fail "seed arm: exactly one region below Dice 1"
grep -q "^ieee,ieee,1,nan,nan,0," "$out/summary_cortical.csv" || fail "ieee arm: no pairs"
grep -q "^seed,sr24,1-min_pairwise_dice," "$out/summary_correlation.csv" || fail "correlation CSV"

# 2 threads, base 10, general, no maps, explicit cohort
OMP_NUM_THREADS=2 "$numens" variability --ensemble ens --cohort cohort.h5 \
  --out "$out/t2.h5" > /dev/null
"$tool" same-summary "$out/summary.h5" "$out/t2.h5" || fail "1 vs 2 threads"
"$numens" variability --ensemble ens --out "$out/g.h5" --sigdigits general --base 10 --no-maps \
  > /dev/null
# general in base 10: an unperturbed volume gets 52 log10(2) = 15.65 digits
"$tool" verify-summary --summary "$out/g.h5" --cohort cohort.h5 --k 3 --sig-floor 15.6 --maps 0 \
  || fail "general, base 10, no maps"
"$tool" same-summary "$out/summary.h5" "$out/g.h5" > /dev/null && fail "general == cnh"
# the recorded relative cohort path: current directory first, then the ensemble directory
log=$(cd "$out" && "$numens" variability --ensemble ../ens_local --out local.h5)
grep -q "cohort ../ens_local/cohort.h5" <<< "$log" || fail "cohort next to the members"
if (cd "$out" && "$numens" variability --ensemble ../ens --out none.h5 2> err.txt > /dev/null); then
  fail "a recorded cohort found nowhere was accepted"
fi
grep -q "cohort.h5: cohort recorded in ../ens/members/m0000/seg.h5 not found" "$out/err.txt" \
  || fail "message for a cohort found nowhere: $(cat "$out/err.txt")"
[ ! -e "$out/none.h5" ] || fail "summary written despite the error"
# numens export of what variability and segment wrote: the summary's voxel maps and a member's
# labels, on the scan's grid (found through the cohort each file names) and on the conformed one,
# as NIfTI and MGZ; geometry compared with the cohort's own export of the T1.
"$numens" export --in cohort.h5 --subject sub-0000 --out "$out/t1.nii.gz" > /dev/null
t1geo=$("$tool" volume-header "$out/t1.nii.gz" | head -2)
for spec in "summary.h5 entropy" "summary.h5 majority" "summary.h5 disagreement"; do
  set -- $spec
  for ext in nii.gz mgz; do
    "$numens" export --in "$out/$1" --subject sub-0000 --dataset "$2" --arm seed \
      --out "$out/$2.$ext" > /dev/null || fail "export $spec .$ext"
    [ "$("$tool" volume-header "$out/$2.$ext" | head -2)" = "$t1geo" ] ||
      fail "export $spec .$ext: not on the scan's grid"
  done
done
[ "$("$tool" volume-header "$out/entropy.nii.gz" | awk '/^nonzero/ {print $2}')" -gt 0 ] ||
  fail "exported seed-arm entropy is all zero"
"$numens" export --in ens/members/m1000/seg.h5 --subject sub-0001 --out "$out/seg.mgz" \
  > /dev/null || fail "export of a member's labels"
"$numens" export --in ens/members/m1000/seg.h5 --subject sub-0001 --space conformed \
  --out "$out/segc.nii" > /dev/null || fail "conformed export"
"$numens" export --in cohort.h5 --subject sub-0001 --dataset labels --space conformed \
  --out "$out/labc.nii" > /dev/null
[ "$("$tool" volume-header "$out/segc.nii" | head -2)" = \
  "$("$tool" volume-header "$out/labc.nii" | head -2)" ] || fail "conformed grids differ"
if "$numens" export --in ens/members/m1000/seg.h5 --subject sub-0001 --dataset probs \
     --out "$out/p.nii" 2> "$out/err.txt"; then fail "probs of a file without them"; fi
grep -q "has no probabilities" "$out/err.txt" || fail "probs message: $(cat "$out/err.txt")"
if "$numens" export --in "$out/summary.h5" --subject sub-0000 --arm nope \
     --out "$out/n.nii" 2> "$out/err.txt"; then fail "unknown arm"; fi
grep -q "in arm 'nope'" "$out/err.txt" || fail "arm message: $(cat "$out/err.txt")"
[ ! -e "$out/p.nii" ] && [ ! -e "$out/n.nii" ] || fail "output left by a failed export"
echo "variability e2e: ok"
