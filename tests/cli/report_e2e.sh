#!/usr/bin/env bash
# `numens report` end to end on the run directory of make_report_inputs.sh: the page has every
# section, one inline <svg> per figure file and one data: PNG per entropy image, no URL, the
# cortical table agrees with the variability CSVs, the default output directory is replaced
# whole on a rerun and no temporary directory is left; --out refuses anything that is not numens'
# own report (a user's directory, the run directory or a folder holding it, a file).   report_e2e.sh <numens> <fixture dir>
set -euo pipefail
numens=$1 d=$2
cd "$d"
out=$(mktemp -d "$PWD/e2e.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

log=$("$numens" report --run run --out "$out/report")
echo "$log"
page=$out/report/index.html
[ -s "$page" ] || fail "no index.html"
grep -q "^wrote $out/report/index.html$" <<< "$log" || fail "final line"
[ "$(grep -c "^$out/report/" <<< "$log")" -eq "$(ls "$out/report" | wc -l)" ] \
  || fail "one printed line per written file"
for h in "1. Run" "2. Findings" "3. Variability by region" "4. Cortical vs non-cortical" \
         "5. Entropy maps" "6. Ensemble vs baseline accuracy" "7. Brain age" "8. Timings"; do
  grep -q "<h2 id=\"[a-z]*\">$h</h2>" "$page" || fail "section '$h' missing"
done
svgs=$(ls "$out/report"/fig_*.svg | wc -l)
# box plot, Dice bars, one MAE curve per brainage file (ridge and svr)
[ "$svgs" -eq 4 ] || fail "expected 4 figure files, got $svgs"
[ "$(grep -o '<svg ' "$page" | wc -l)" -eq "$svgs" ] || fail "inline <svg> count != figure files"
pngs=$(ls "$out/report"/entropy_*.png | wc -l)
[ "$pngs" -eq 3 ] || fail "expected an entropy PNG per arm (3), got $pngs"
[ "$(grep -o 'src="data:image/png;base64,' "$page" | wc -l)" -eq "$pngs" ] || fail "data: PNGs"
# the first inlined PNG decodes to the file beside the page
first=$(ls "$out/report"/entropy_*.png | head -1)
# (captured first: head closing the pipe early would fail grep under pipefail)
uris=$(grep -o 'src="data:image/png;base64,[^"]*"' "$page")
sed -n '1{s/^src="data:image\/png;base64,//; s/"$//; p}' <<< "$uris" | base64 -d | cmp - "$first" \
  || fail "inlined PNG differs from $first"
grep -qi 'http' "$page" && fail "the page references a URL"
grep -q '<script' "$page" && fail "the page has a script"
for f in "$out/report"/fig_*.svg; do
  head -1 "$f" | grep -q '^<?xml' || fail "$f is not a stand-alone SVG"
done
grep -q "ridge (brainage_ridge.h5" "$page" || fail "ridge file not labelled by its model"
grep -q "svr-linear (brainage_svr.h5" "$page" || fail "svr file not labelled by its model"
grep -q "<td>brainage</td><td>skipped</td><td>n/a</td>" "$page" || fail "skipped stage row"
grep -q "<th>total</th><td></td><th>123.8</th>" "$page" || fail "timings total"
grep -qE "Seed vs MCA/SR variability.*seed [0-9.]+ .*the finding (holds|does not hold) on this run" \
  "$page" || fail "finding (a)"
grep -q "ieee (1 members): undefined (one member: no pairs)" "$page" || fail "finding (b), ieee"

# The cortical table against run/summary_regions.csv (mean over regions of the per-region means
# over subjects; every subject has every region in this fixture, so it equals the pooled mean)
# and against run/summary_cortical.csv.
table=$(sed -n '/<table id="cortical-table">/,/<\/table>/p' "$page")
checked=0
for arm in $(tail -n +2 run/summary_cortical.csv | cut -d, -f1); do
  row=$(grep "^<tr><td>$arm</td>" <<< "$table") || fail "no cortical-table row for $arm"
  for col in cortical:1:4:4 non-cortical:0:5:7; do
    IFS=: read -r label flag field csvcol <<< "$col"
    shown=$(awk -F'</td><td>' -v f="$field" '{ split($f, a, " "); print a[1] }' <<< "$row")
    want=$(awk -F, -v a="$arm" -v c="$flag" \
      'NR > 1 && $1 == a && $6 == c && $7 != "nan" { s += $7; n++ }
       END { if (n == 0) print "n/a"; else printf "%.6f\n", s / n }' run/summary_regions.csv)
    csv=$(awk -F, -v a="$arm" -v k="$csvcol" 'NR > 1 && $1 == a { print $k }' run/summary_cortical.csv)
    if [ "$want" = "n/a" ]; then
      [ "$shown" = "n/a" ] || fail "$arm $label: shows $shown, the CSV has no value"
      continue
    fi
    awk -v x="$shown" -v y="$want" -v z="$csv" \
      'BEGIN { d = x - y; e = x - z; exit (d < 6e-5 && d > -6e-5 && e < 6e-5 && e > -6e-5) ? 0 : 1 }' \
      || fail "$arm $label: shows $shown, regions CSV gives $want, cortical CSV $csv"
    checked=$((checked + 1))
  done
done
[ "$checked" -ge 2 ] || fail "only $checked cortical-table cells had values to compare"

# default output directory; a rerun replaces it whole (a stray file does not survive)
"$numens" report --run run > "$out/log2"
[ -s run/report/index.html ] || fail "default --out"
touch run/report/stray
"$numens" report --run run --subject sub-0001 > /dev/null
[ ! -e run/report/stray ] || fail "rerun kept a file of the previous report"
grep -q "Subject sub-0001" run/report/index.html || fail "--subject"
compgen -G "run/report.tmp-*" > /dev/null && fail "temp directory left behind"
compgen -G "run/report.old-*" > /dev/null && fail "old directory left behind"
rm -rf run/report

# --out never replaces what is not numens' own report: a user's directory, the run directory, a
# folder that holds the run, a file. Each refusal is one error line naming the path, exit 1, and
# leaves the directory as it was.
mkdir -p "$out/mine"
echo keep > "$out/mine/notes.txt"
refuse() {  # refuse <--out> <pattern>
  local err rc=0
  err=$("$numens" report --run run --out "$1" 2>&1 > /dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "--out $1: exit $rc, expected 1"
  [ "$(wc -l <<< "$err")" -eq 1 ] || fail "--out $1: expected one error line, got: $err"
  grep -qF -- "$2" <<< "$err" || fail "--out $1: message lacks '$2': $err"
}
refuse "$out/mine" "is not a report numens wrote"
[ "$(cat "$out/mine/notes.txt")" = keep ] || fail "a user's directory was touched"
refuse run "is the input given as --run"
refuse . "is the run directory or holds it"
[ -s run/summary.h5 ] || fail "the run directory was touched"
refuse "$out/mine/notes.txt" "is not a directory"
[ "$(cat "$out/mine/notes.txt")" = keep ] || fail "a user's file was touched"
mkdir -p "$out/withsub/sub"
touch "$out/withsub/.numens-report"
refuse "$out/withsub" "holds a subdirectory"
[ -d "$out/withsub/sub" ] || fail "a subdirectory was removed"
# an empty directory is taken
mkdir "$out/empty"
"$numens" report --run run --out "$out/empty" > /dev/null
[ -s "$out/empty/index.html" ] || fail "an empty --out directory was not used"
echo "report e2e: ok"
