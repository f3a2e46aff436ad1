#!/usr/bin/env bash
# numens segment --t1 on real scans no one here made (Colin27 and its 0.5 mm version from
# mricron-data, ITK's KmeansTest T1 with permuted 2x2x3 mm axes, nibabel's big-endian
# anatomical.nii; scripts/install-deps.sh installs them), an MGZ scan, an ensemble, and the faults.
# The models are the tiny phantom ones of make_segment_inputs.sh (5 mm grid), so the labels mean
# nothing; what is checked is the subject directory: its files, the native-grid segmentation on
# the scan's own grid and affine, the volume table's arithmetic, the ensemble's maps.
#   segment_t1.sh <numens> <numens_test_tool> <segment_data dir>
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
numens=$1 tool=$2 d=$3
w=$(mktemp -d "$d/t1.XXXXXX")
trap 'rm -rf "$w"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Two volume-header outputs agree: same dims and non-zero count, affine entries within 1e-5 mm
# (NIfTI's sform and MGH's geometry are float32; a float64 qform is stored to that precision).
same_geometry() {
  paste -d'\n' <(echo "$1") <(echo "$2") | awk '
    NR % 2 == 1 { split($0, a, " "); next }
    { n = split($0, b, " ");
      for (i = 1; i <= n; ++i) {
        if (a[i] == b[i]) continue;
        if (a[1] != "affine") exit 1;
        d = a[i] - b[i]; if (d < 0) d = -d;
        if (d > 1e-5) exit 1 } }'
}

scans=(/usr/share/mricron/templates/ch2.nii.gz
       /usr/share/mricron/templates/ch2better.nii.gz
       /usr/share/doc/insighttoolkit5-examples/examples/Data/KmeansTest_T1UCharRaw.nii.gz
       /usr/lib/python3/dist-packages/nibabel/tests/data/anatomical.nii)
for s in "${scans[@]}"; do
  [ -f "$s" ] || fail "$s missing: scripts/install-deps.sh installs the package holding it"
done

i=0
for s in "${scans[@]}"; do
  out=$w/subj$i
  "$numens" segment --t1 "$s" --models "$d/models" --voxel-size 5 --out "$out" > "$w/log$i" 2>&1 ||
    { cat "$w/log$i"; fail "segment --t1 $s"; }
  for f in mri/orig.mgz mri/orig.nii.gz mri/seg.mgz mri/seg.nii.gz mri/seg.native.nii.gz \
           mri/seg.native.mgz seg-lut.txt stats/seg.stats seg-preview.png segment.toml; do
    [ -s "$out/$f" ] || fail "$s: $out/$f missing"
  done
  [ ! -e "$out/summary.html" ] || fail "$s: one model set, yet an ensemble summary"
  # The segmentation on the scan's own grid: the scan's dims and affine.
  src=$("$tool" volume-header "$s" | head -2)
  for f in mri/seg.native.nii.gz mri/seg.native.mgz; do
    got=$("$tool" volume-header "$out/$f" | head -2)
    same_geometry "$src" "$got" || fail "$s: $f is not on the scan's grid:
$got
scan:
$src"
  done
  # The conformed files agree with each other (MGZ and NIfTI, T1 and labels).
  a=$("$tool" volume-header "$out/mri/orig.mgz" | head -2)
  b=$("$tool" volume-header "$out/mri/seg.nii.gz" | head -2)
  same_geometry "$a" "$b" || fail "$s: orig.mgz and seg.nii.gz grids differ"
  # The volume table: rows sum to the labelled volume = labelled voxels x voxel volume, and the
  # labelled voxels are the non-zero voxels of seg.mgz.
  awk -F'\t' -v who="$s" '
    /^# VoxelVolume_mm3/ { split($0, p, " "); vox = p[3] }
    /^# Measure Labelled, LabelledVoxels/ { split($0, p, ", "); nvox = p[4] }
    /^# Measure Labelled, LabelledVol,/ { split($0, p, ", "); vol = p[4] }
    !/^#/ { rows += $4; rowvox += $3 }
    END {
      if (vox == "" || nvox == "" || vol == "") { print who ": table header incomplete"; exit 1 }
      d1 = rows - vol; d2 = nvox * vox - vol
      if (d1 < -0.01 || d1 > 0.01 || d2 < -0.01 || d2 > 0.01 || rowvox != nvox) {
        print who ": rows " rows " (" rowvox " voxels), total " vol ", " nvox " x " vox; exit 1 }
    }' "$out/stats/seg.stats" || fail "$s: volume table does not add up"
  labelled=$(awk '/^# Measure Labelled, LabelledVoxels/ { split($0, p, ", "); print p[4] }' \
    "$out/stats/seg.stats")
  nz=$("$tool" volume-header "$out/mri/seg.mgz" | awk '/^nonzero/ { print $2 }')
  [ "$labelled" = "$nz" ] || fail "$s: table says $labelled labelled voxels, seg.mgz has $nz"
  i=$((i + 1))
done
grep -q "pixdim\|warning" "$w/log3" && fail "anatomical.nii: unexpected warning: $(cat "$w/log3")"

# An MGZ scan: the conformed orig.mgz of Colin27, segmented again, gives the same labels (the
# grid is already conformed, so conforming it again is a re-indexing without blur).
"$numens" segment --t1 "$w/subj0/mri/orig.mgz" --models "$d/models" --voxel-size 5 \
  --out "$w/from_mgz" > /dev/null
[ "$("$tool" volume-header "$w/from_mgz/mri/seg.mgz")" = \
  "$("$tool" volume-header "$w/subj0/mri/seg.mgz")" ] || fail "MGZ input: different segmentation"

# Many scans from a CSV (import's format; age optional, paths relative to the CSV): one subject
# directory per id, the same files as --t1 gives.
printf 'id,image\ncolin,%s\nanat,%s\n' "${scans[0]}" "${scans[3]}" > "$w/scans.csv"
"$numens" segment --csv "$w/scans.csv" --models "$d/models" --voxel-size 5 --out "$w/many" \
  > /dev/null
[ "$(ls "$w/many")" = "$(printf 'anat\ncolin')" ] || fail "--csv: $(ls "$w/many")"
cmp -s "$w/many/colin/stats/seg.stats" "$w/subj0/stats/seg.stats" ||
  diff <(grep -v '^# cmdline' "$w/many/colin/stats/seg.stats") \
    <(grep -v '^# cmdline' "$w/subj0/stats/seg.stats") > /dev/null ||
  fail "--csv: colin's table differs from --t1's"
[ "$("$tool" volume-header "$w/many/anat/mri/seg.native.nii.gz")" = \
  "$("$tool" volume-header "$w/subj3/mri/seg.native.nii.gz")" ] || fail "--csv: anat differs"

# An ensemble run directory (three members whose models differ by training seed): the majority
# segmentation, each member's, the entropy map, the spread table, the one-page summary.
for m in 0 1 2; do
  md=$w/ens/members/m000$m
  mkdir -p "$md"
  printf 'id = %d\narm = "seed"\nkind = "seed"\nindex = %d\n' $m $m > "$md/member.toml"
  cp "$md/member.toml" "$md/DONE"
  for v in axial coronal sagittal; do
    "$tool" checkpoint --cohort "$d/cohort.h5" --view $v --steps 20 --seed $((3 + m)) \
      --out "$md/ckpt_$v.h5" > /dev/null
  done
done
"$numens" segment --t1 "${scans[0]}" --models "$w/ens" --voxel-size 5 --out "$w/ens_subj" \
  > "$w/ens.log"
grep -q "3 model sets" "$w/ens.log" || fail "ensemble: $(cat "$w/ens.log")"
for f in mri/entropy.mgz mri/entropy.nii.gz mri/members/m0000.seg.mgz mri/members/m0002.seg.mgz \
         stats/seg-spread.tsv summary.html; do
  [ -s "$w/ens_subj/$f" ] || fail "ensemble: $f missing"
done
awk -F'\t' 'NR > 1 && $3 != 3 { exit 1 }' "$w/ens_subj/stats/seg-spread.tsv" ||
  fail "ensemble: spread table does not count 3 members"
nz=$("$tool" volume-header "$w/ens_subj/mri/entropy.mgz" | awk '/^nonzero/ { print $2 }')
[ "$nz" -gt 0 ] || fail "ensemble: members that differ, yet an all-zero entropy map"
grep -q "Numerical uncertainty of" "$w/ens_subj/summary.html" || fail "ensemble: summary.html"

# Faults: one line, exit 1, nothing of the user's touched, no temporary left.
expect_fail() {  # expect_fail <pattern> <args...>
  local pat=$1
  shift
  set +e
  "$numens" "$@" > /dev/null 2> "$w/err"
  local rc=$?
  set -e
  [ "$rc" = 1 ] || fail "exit $rc for: $* ($(cat "$w/err"))"
  [ "$(wc -l < "$w/err")" = 1 ] || fail "not one line for: $*: $(cat "$w/err")"
  grep -qF -- "$pat" "$w/err" || fail "no '$pat' in: $(cat "$w/err")"
}
mkdir "$w/taken" && echo keep > "$w/taken/notes.txt"
expect_fail "exists and is not empty" segment --t1 "${scans[0]}" --models "$d/models" \
  --voxel-size 5 --out "$w/taken"
[ "$(cat "$w/taken/notes.txt")" = keep ] && [ "$(ls "$w/taken")" = notes.txt ] ||
  fail "the user's directory was touched"
expect_fail "nowhere.nii.gz" segment --t1 "$w/nowhere.nii.gz" --models "$d/models" --out "$w/x1"
expect_fail "not both" segment --t1 "${scans[0]}" --cohort "$d/cohort.h5" --models "$d/models" \
  --out "$w/x2"
expect_fail "--probs" segment --t1 "${scans[0]}" --models "$d/models" --probs --out "$w/x3"
expect_fail "--voxel-size 'big'" segment --t1 "${scans[0]}" --models "$d/models" \
  --voxel-size big --out "$w/x4"
printf 'id,image\nok,%s\nbad,%s\n' "${scans[0]}" "$w/nowhere.nii" > "$w/bad.csv"
expect_fail "nowhere.nii" segment --csv "$w/bad.csv" --models "$d/models" --voxel-size 5 \
  --out "$w/x5"
for x in x1 x2 x3 x4 x5; do [ ! -e "$w/$x" ] || fail "$x left behind"; done
compgen -G "$w/*.tmp-*" > /dev/null && fail "temporary directory left behind"
echo "segment --t1: ${#scans[@]} real scans, MGZ input, --csv, ensemble of 3 and 6 faults checked"
