#!/usr/bin/env bash
# --out naming one of the command's own inputs is refused before anything is read or written
# (drivers/main.cpp, for every subcommand), and an output directory that is a file is refused
# (io::make_output_dir): exit 1, one error line naming the path, the input byte for byte unchanged.
#   out_not_input.sh <numens> <cli fixture dir>
set -uo pipefail
numens=$1 d=$2
cd "$d" || exit 2
fail() { echo "FAIL: $*"; exit 1; }
case_() {  # case_ <input file> <pattern> <numens args...>
  local input=$1 pat=$2
  shift 2
  local before err rc=0
  before=$(md5sum "$input")
  err=$("$numens" "$@" 2>&1 > /dev/null) || rc=$?
  [ "$rc" -eq 1 ] || fail "$*: exit $rc, expected 1 ($err)"
  [ "$(wc -l <<< "$err")" -eq 1 ] || fail "$*: expected one error line, got: $err"
  grep -q '^numens: error: ' <<< "$err" || fail "$*: not an error line: $err"
  grep -qF -- "$pat" <<< "$err" || fail "$*: message lacks '$pat': $err"
  [ "$(md5sum "$input")" = "$before" ] || fail "$*: the input $input changed"
  echo "ok: $err"
}
cp cohort.h5 oni_cohort.h5
cp slices.h5 oni_slices.h5
trap 'rm -f oni_cohort.h5 oni_slices.h5' EXIT
case_ oni_cohort.h5 "--out oni_cohort.h5 is the input given as --cohort" \
  slices --cohort oni_cohort.h5 --view axial --out oni_cohort.h5
# the same file under another spelling
case_ oni_cohort.h5 "is the input given as --cohort" \
  slices --cohort oni_cohort.h5 --view axial --out ./oni_cohort.h5
case_ oni_cohort.h5 "is the input given as --cohort" \
  segment --cohort oni_cohort.h5 --axial trained/ckpt_axial.h5 --out oni_cohort.h5
case_ oni_cohort.h5 "is the input given as --in" \
  preview --in oni_cohort.h5 --subject sub-0000 --out oni_cohort.h5
# train's --out is a directory: an existing file there (here its own slice file) is refused
case_ oni_slices.h5 "oni_slices.h5: exists and is not a directory" \
  train --config train.toml --set data.slices=oni_slices.h5 --out oni_slices.h5
echo "out_not_input: ok"
