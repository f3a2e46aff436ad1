#!/usr/bin/env bash
# One command-line error case: the command must exit with status 1, print exactly one line,
# "numens: error: ..." containing every given pattern, and leave neither `out` nor a temp file
# `out.tmp.*` (a file) nor `out.tmp-*` (a directory) behind.
#   expect_error.sh <dir> <out> <pattern>[|<pattern>...] -- <command> [args...]
set -uo pipefail
dir=$1 out=$2 patterns=$3
shift 3
[ "$1" = "--" ] && shift
cd "$dir" || exit 2
rm -f "$out"
err=$(mktemp "$PWD/stderr.XXXXXX")  # per test: ctest runs cases in parallel
trap 'rm -f "$err"' EXIT
"$@" > /dev/null 2> "$err"
rc=$?
fail() { echo "FAIL: $*"; echo "--- stderr:"; cat "$err"; exit 1; }
[ "$rc" -eq 1 ] || fail "exit status $rc, expected 1"
[ "$(wc -l < "$err")" -eq 1 ] || fail "expected one line on stderr"
grep -q '^numens: error: ' "$err" || fail "line does not start with 'numens: error: '"
IFS='|' read -ra pats <<< "$patterns"
for p in "${pats[@]}"; do
  grep -qF -- "$p" "$err" || fail "message lacks '$p'"
done
[ ! -e "$out" ] || fail "output $out was left behind"
compgen -G "$out.tmp.*" > /dev/null && fail "temp file $out.tmp.* was left behind"
compgen -G "$out.tmp-*" > /dev/null && fail "temp directory $out.tmp-* was left behind"
cat "$err"
exit 0
