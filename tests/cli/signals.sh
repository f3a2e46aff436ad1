#!/usr/bin/env bash
# Faults as normal events: a long write interrupted by SIGTERM or SIGINT leaves neither its output
# nor its temp file `<out>.tmp.<pid>`, and the process dies of the signal (status 128 + n); a temp
# file left by a process that no longer exists (SIGKILL) is removed by the next write of the same
# output, with one note line.   signals.sh <numens> <work dir>
set -uo pipefail
# Job control: without it bash starts background commands with SIGINT ignored, as for `cmd &` in
# any script, and numens (like any program) keeps an ignored SIGINT ignored.
set -m
numens=$1 d=$2
mkdir -p "$d" && cd "$d" || exit 2
fail() { echo "FAIL: $*"; exit 1; }
rm -f sig*.h5 sig*.h5.tmp.*

interrupt() {  # interrupt <signal> <out>
  local sig=$1 out=$2
  "$numens" synth --subjects 400 --voxel-size 1 --threads 1 --out "$out" > /dev/null 2>&1 &
  local pid=$! i
  # wait until the write is under way (its temp file exists)
  for i in $(seq 1 300); do
    compgen -G "$out.tmp.*" > /dev/null && break
    kill -0 "$pid" 2> /dev/null || fail "$sig: synth ended before it was interrupted"
    sleep 0.1
  done
  if ! compgen -G "$out.tmp.*" > /dev/null; then
    kill -KILL "$pid"
    fail "$sig: no temp file appeared"
  fi
  kill "-$sig" "$pid"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2> /dev/null; then
    kill -KILL "$pid"
    fail "$sig: the process did not end within 10 s"
  fi
  wait "$pid"
  local rc=$?
  local want=$((128 + $(kill -l "$sig")))
  [ "$rc" -eq "$want" ] || fail "$sig: exit status $rc, expected $want"
  [ ! -e "$out" ] || fail "$sig: output $out exists"
  compgen -G "$out.tmp.*" > /dev/null && fail "$sig: temp file left: $(ls "$out".tmp.*)"
  echo "ok: $sig -> status $rc, nothing left"
}
interrupt TERM sig_term.h5
interrupt INT sig_int.h5

# a stale temp file of a dead process: created by a process killed with SIGKILL
"$numens" synth --subjects 400 --voxel-size 1 --threads 1 --out sig_kill.h5 > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 300); do
  compgen -G "sig_kill.h5.tmp.*" > /dev/null && break
  sleep 0.1
done
kill -KILL "$pid"
wait "$pid" 2> /dev/null
stale=$(ls sig_kill.h5.tmp.* 2> /dev/null) || fail "SIGKILL left no temp file to test with"
err=$("$numens" synth --subjects 2 --voxel-size 2 --out sig_kill.h5 2>&1 > /dev/null) \
  || fail "the next write failed: $err"
grep -qE "numens: note: removed (\./)?$stale " <<< "$err" || fail "no note about $stale: $err"
[ ! -e "$stale" ] || fail "stale $stale was not removed"
[ -s sig_kill.h5 ] || fail "the next write left no output"
rm -f sig_kill.h5
echo "signals: ok"
