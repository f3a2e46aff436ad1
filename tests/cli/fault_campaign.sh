#!/usr/bin/env bash
# The fault campaign over every command that writes an output (issue 22): for each writer, the
# faults an ordinary user meets, and the same outcome for each. A fault ends with exit status 1
# (or, for a signal, death by that signal: 128 + n), exactly one line `numens: error: ...` that
# names the output and says what happened, nothing left at the output (no partial file or
# directory, no temp file), and nothing of the user's changed.
#
# Per writer (12 of them; ensemble and study, whose run directories resume by design, get the
# three signals at their first commit and must leave no temp output):
#   disk full        a tmpfs as the output's file system, sized to 4 KiB, 30 % and 85 % of the
#                    output (the command may also succeed; then the output must be complete)
#   read-only fs     a read-only tmpfs: "Read-only file system"
#   SIGTERM, SIGINT, SIGHUP
#                    delivered while the complete output waits under its temp name to be renamed
#                    into place (NUMENS_TEST_PAUSE_BEFORE_COMMIT, io/atomic_file.hpp), the point
#                    where an interrupted write would leave the most
#   a directory where the output goes, holding a user's file (untouched)
#   an output directory that does not exist
# The mount cases need root (a tmpfs); without it they are skipped and said so.
#   fault_campaign.sh <numens> <work dir> <cli_data> <segment_data> <variability_data>
#                     <brainage_data> <report_data>
set -uo pipefail
# Job control: without it bash starts background commands with SIGINT ignored, and numens (like
# any program) keeps an ignored signal ignored. A signal already ignored when this script starts
# (nohup, some CI runners) stays ignored for every child: those cases are skipped, and said so.
set -m
here=$(cd "$(dirname "$0")" && pwd)
numens=$1 w=$2 cli=$3 seg=$4 var=$5 ba=$6 rep=$7
rm -rf "$w" && mkdir -p "$w/mnt" "$w/ref" && cd "$w" || exit 2
w=$PWD
mnt=$w/mnt
cases=0 failures=0
fail() {
  echo "FAIL [$1]: $2"
  failures=$((failures + 1))
}

"$numens" export --in "$seg/cohort.h5" --subject sub-0000 --out "$w/t1.nii.gz" > /dev/null ||
  { echo "setup: export failed"; exit 2; }
cat > "$w/train.toml" << TOML
[data]
slices = "$cli/slices.h5"
view = "axial"
[model]
filters = 2
kernel = 3
levels = 1
[train]
epochs = 1
batch_size = 2
steps_per_epoch = 1
TOML

# name | working dir | file or dir | output name | arguments (OUT: the output)
writers=(
  "synth|$w|file|c.h5|synth --subjects 2 --voxel-size 4 --out OUT"
  "import|$cli|file|i.h5|import --csv good.csv --out OUT --size 16"
  "slices|$cli|file|s.h5|slices --cohort cohort.h5 --view axial --thickness 3 --out OUT --min-labelled 1"
  "segment|$seg|file|g.h5|segment --cohort cohort.h5 --models models --out OUT"
  "segment-t1|$seg|dir|subj|segment --t1 $w/t1.nii.gz --models models --voxel-size 5 --out OUT"
  "export-nii|$seg|file|e.nii.gz|export --in cohort.h5 --subject sub-0000 --out OUT"
  "export-mgz|$seg|file|e.mgz|export --in cohort.h5 --subject sub-0001 --dataset labels --out OUT"
  "preview|$seg|file|p.png|preview --in cohort.h5 --subject sub-0000 --view axial --out OUT"
  "variability|$var|file|v.h5|variability --ensemble ens --out OUT"
  "brainage|$ba|file|b.h5|brainage --summary good.h5 --folds 4 --inner-folds 3 --combinations 2 --bootstrap 20 --seed 3 --out OUT"
  "report|$rep|dir|r|report --run run --out OUT"
  "train|$w|dir|t|train --config $w/train.toml --out OUT"
)

# Whether process `pid` ignores signal `sig` (its SigIgn mask in /proc).
ignores() {  # <pid> <sig>
  local mask bit
  mask=$(awk '/^SigIgn:/ {print $2}' "/proc/$1/status" 2> /dev/null) || return 1
  [ -n "$mask" ] || return 1
  bit=$(( $(kill -l "$2") - 1 ))
  (( (16#$mask >> bit) & 1 ))
}
skipped=0

# run_case <label> <dir> <args with OUT> <out path>: runs it, stdout dropped, stderr kept in $err
run_case() {
  local dir=$2 args=$3 out=$4
  local -a argv
  read -ra argv <<< "${args//OUT/$out}"
  rc=0
  err=$(cd "$dir" && "$numens" "${argv[@]}" 2>&1 > /dev/null) || rc=$?
  cases=$((cases + 1))
}

# The one-line error: status 1, one line, `numens: error: `, names `name`, says `what`. A
# command's own progress lines before it (`numens train: epoch ...`) are not counted.
check_error() {  # <label> <name> <what>
  local label=$1 name=$2 what=$3
  [ "$rc" -eq 1 ] || { fail "$label" "exit status $rc, expected 1: $err"; return 1; }
  err=$(grep -vE '^numens [a-z-]+: ' <<< "$err")
  [ "$(wc -l <<< "$err")" -eq 1 ] || { fail "$label" "expected one line: $err"; return 1; }
  grep -q '^numens: error: ' <<< "$err" || { fail "$label" "not an error line: $err"; return 1; }
  grep -qF -- "$name" <<< "$err" || { fail "$label" "does not name $name: $err"; return 1; }
  grep -qiF -- "$what" <<< "$err" || { fail "$label" "does not say '$what': $err"; return 1; }
  return 0
}

# interrupt <name> <signal> <working dir> <arguments with OUT> <output name> <leaves-nothing |
# resumable>: runs the command on $w/sig_<name>_<signal>/<output name> with every commit paused,
# delivers the signal once a temp output exists, and checks the status (128 + n) and what is left:
# nothing at all, or (a resumable run directory) no temp file or directory anywhere.
interrupt() {
  local name=$1 sig=$2 dir=$3 args=$4 out=$5 mode=$6
  local root=$w/sig_${name}_$sig pid seen=0 rc=0 want left
  rm -rf "$root" && mkdir -p "$root"
  local -a argv
  read -ra argv <<< "${args//OUT/$root/$out}"
  (cd "$dir" && OMP_NUM_THREADS=1 NUMENS_TEST_PAUSE_BEFORE_COMMIT=20000 exec "$numens" "${argv[@]}") \
    > "$root.log" 2>&1 &
  pid=$!
  temps() { find "$root" \( -name '*.tmp.*' -o -name '*.tmp-*' \) 2> /dev/null; }
  for _ in $(seq 1 1200); do
    [ -n "$(temps | head -1)" ] && { seen=1; break; }
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.025
  done
  if [ "$seen" -eq 1 ] && ignores "$pid" "$sig"; then
    kill -KILL "$pid" 2> /dev/null
    { wait "$pid"; } 2> /dev/null
    skipped=$((skipped + 1))
    echo "skip $name: SIG$sig is ignored in this environment (inherited), not testable here"
    return
  fi
  cases=$((cases + 1))
  if [ "$seen" -eq 0 ]; then
    kill -KILL "$pid" 2> /dev/null
    { wait "$pid"; } 2> /dev/null
    fail "$name SIG$sig" "no temp output appeared: $(tail -3 "$root.log")"
    return
  fi
  sleep 0.1  # into the pause
  kill "-$sig" "$pid"
  { wait "$pid"; } 2> /dev/null || rc=$?  # (bash would report the job's signal on stderr)
  want=$((128 + $(kill -l "$sig")))
  if [ "$mode" = resumable ]; then left=$(temps); else left=$(ls -A "$root"); fi
  if [ "$rc" -ne "$want" ]; then
    fail "$name SIG$sig" "exit status $rc, expected $want: $(tail -3 "$root.log")"
  elif [ -n "$left" ]; then
    fail "$name SIG$sig" "left $left"
  else
    echo "ok   $name: SIG$sig at the commit: status $rc, $([ "$mode" = resumable ] &&
      echo 'no temp output left' || echo 'nothing left')"
  fi
}

can_mount=1
umount "$mnt" 2> /dev/null
mount -t tmpfs -o size=64k tmpfs "$mnt" 2> /dev/null && umount "$mnt" || can_mount=0

# Reference sizes (KiB) of each output, written to a plain directory.
declare -A ref_kb
for wr in "${writers[@]}"; do
  IFS='|' read -r name dir kind out args <<< "$wr"
  run_case "$name ref" "$dir" "$args" "$w/ref/$out"
  [ "$rc" -eq 0 ] || { echo "setup: $name failed on good input: $err"; exit 2; }
  ref_kb[$name]=$(du -sk "$w/ref/$out" | cut -f1)
done
cases=0

for wr in "${writers[@]}"; do
  IFS='|' read -r name dir kind out args <<< "$wr"

  # disk full at three levels, then a read-only file system
  if [ "$can_mount" -eq 1 ]; then
    for kb in 4 $((ref_kb[$name] * 30 / 100 + 4)) $((ref_kb[$name] * 85 / 100 + 4)); do
      mount -t tmpfs -o size=${kb}k tmpfs "$mnt" || { echo "mount failed"; exit 2; }
      run_case "$name full ${kb}k" "$dir" "$args" "$mnt/$out"
      if [ "$rc" -eq 0 ]; then
        [ -e "$mnt/$out" ] || fail "$name full ${kb}k" "exit 0 and no $out"
      elif check_error "$name full ${kb}k" "${out%%.*}" "No space left on device"; then
        [ -z "$(ls -A "$mnt")" ] && echo "ok   $name: disk full at ${kb} KiB: $err" ||
          fail "$name full ${kb}k" "left $(ls -A "$mnt")"
      fi
      umount "$mnt"
    done
    mount -t tmpfs -o size=1m,ro tmpfs "$mnt" || { echo "mount failed"; exit 2; }
    run_case "$name ro" "$dir" "$args" "$mnt/$out"
    check_error "$name read-only" "${out%%.*}" "Read-only file system" &&
      echo "ok   $name: read-only file system: $err"
    umount "$mnt"
  fi

  # signals while the finished output waits for its rename
  for sig in TERM INT HUP; do interrupt "$name" "$sig" "$dir" "$args" "$out" leaves-nothing; done

  # a directory where the output goes, holding a user's file
  if [ "$kind" = file ]; then
    d=$w/isdir_$name/$out
    mkdir -p "$d" && echo "mine" > "$d/notes.txt"
    run_case "$name dir" "$dir" "$args" "$d"
    check_error "$name is a directory" "$out" "directory" &&
      { [ "$(cat "$d/notes.txt")" = mine ] && [ "$(ls -A "$d")" = notes.txt ] &&
        echo "ok   $name: output is a directory: $err" ||
        fail "$name is a directory" "the user's directory changed: $(ls -A "$d")"; }
  else
    d=$w/full_$name/$out
    mkdir -p "$d" && echo "mine" > "$d/notes.txt"
    run_case "$name user dir" "$dir" "$args" "$d"
    if [ "$name" = train ]; then
      # a run directory: train adds its named files (and refuses to replace a checkpoint without
      # --resume or --force, tests/cli/train_checks.sh); the user's file stays as it was
      [ "$rc" -eq 0 ] && [ "$(cat "$d/notes.txt")" = mine ] &&
        echo "ok   $name: a user's directory as the run directory: files added, notes.txt kept" ||
        fail "$name user dir" "status $rc or the user's file changed: $err"
    else
      check_error "$name user dir" "$out" "not" &&
        { [ "$(ls -A "$d")" = notes.txt ] && echo "ok   $name: output is a user's directory: $err" ||
          fail "$name user dir" "the user's directory changed: $(ls -A "$d")"; }
    fi
  fi

  # the output's directory does not exist
  if [ "$kind" = file ]; then
    run_case "$name no dir" "$dir" "$args" "$w/nowhere/$out"
    check_error "$name missing directory" "nowhere" "not exist" &&
      { [ ! -e "$w/nowhere" ] && echo "ok   $name: missing output directory: $err" ||
        fail "$name missing directory" "created $w/nowhere"; }
  fi
done

# Run directories (ensemble, study): they resume by design, so an interrupted run keeps what it
# finished; a signal at the first commit must still leave no temp file or directory anywhere in
# the run directory, and the process dies of the signal.
cat > "$w/ens.toml" << TOML
[data]
slices = "$cli/slices.h5"
validation_fraction = 0.0
[model]
filters = 2
kernel = 3
levels = 1
[train]
epochs = 1
batch_size = 2
steps_per_epoch = 1
[ensemble]
views = ["axial"]
segment_cohort = "$cli/cohort.h5"
[[ensemble.arms]]
name = "ieee"
kind = "ieee"
TOML
rundirs=(
  "ensemble|ensemble --config $w/ens.toml --dir OUT"
  "study|study --config $here/study.toml --out OUT"
)
for rd in "${rundirs[@]}"; do
  IFS='|' read -r name args <<< "$rd"
  for sig in TERM INT HUP; do interrupt "$name" "$sig" "$w" "$args" run resumable; done
done

echo "fault campaign: $cases cases, $failures failed$([ "$can_mount" -eq 1 ] || echo ' (mount cases skipped: no tmpfs)')$([ "$skipped" -eq 0 ] || echo ", $skipped signal cases skipped (signal ignored on entry)")"
[ "$failures" -eq 0 ]
