#!/usr/bin/env bash
# A full disk is a normal event: on a small tmpfs filled at several levels, each writer either
# succeeds or exits 1 with one error line that says the disk is full, leaves neither its output
# nor a temp file, and never crashes (HDF5's clean-up after a failed write used to SIGSEGV); a
# training run leaves no run directory it created.
# Needs root to mount a tmpfs; exits 77 (skipped) where it cannot.   disk_full.sh <numens> <dir>
set -uo pipefail
numens=$1 d=$2
mkdir -p "$d/mnt" && cd "$d" || exit 2
mnt=$PWD/mnt
umount "$mnt" 2> /dev/null
mount -t tmpfs -o size=1m tmpfs "$mnt" 2> /dev/null || { echo "cannot mount a tmpfs: skipped"; exit 77; }
trap 'umount "$mnt" 2> /dev/null' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$numens" synth --subjects 6 --voxel-size 2 --out ref.h5 > /dev/null || fail "reference synth"
"$numens" slices --cohort ref.h5 --view axial --out ref_slices.h5 > /dev/null || fail "reference slices"
cohort_kb=$(( $(stat -c %s ref.h5) / 1024 ))
slices_kb=$(( $(stat -c %s ref_slices.h5) / 1024 ))
checked=0 failed_clean=0
attempt() {  # attempt <size KiB> <output name> <numens args...>
  local kb=$1 out=$2
  shift 2
  umount "$mnt"
  mount -t tmpfs -o size=${kb}k tmpfs "$mnt" || fail "remount"
  local err rc=0
  err=$("$numens" "$@" 2>&1 > /dev/null) || rc=$?
  checked=$((checked + 1))
  if [ "$rc" -eq 0 ]; then
    [ -s "$mnt/$out" ] || fail "$* at ${kb}k: exit 0 but no $out"
    return
  fi
  [ "$rc" -eq 1 ] || fail "$* at ${kb}k: exit status $rc ($err)"
  [ "$(wc -l <<< "$err")" -eq 1 ] || fail "$* at ${kb}k: expected one line, got: $err"
  grep -q "No space left on device" <<< "$err" || fail "$* at ${kb}k: does not say the disk is full: $err"
  [ -z "$(ls -A "$mnt")" ] || fail "$* at ${kb}k: left $(ls -A "$mnt")"
  failed_clean=$((failed_clean + 1))
  echo "ok ${kb}k: $err"
}
for frac in 1 10 50 90 97 99; do
  attempt $((cohort_kb * frac / 100 + 4)) c.h5 synth --subjects 6 --voxel-size 2 --out "$mnt/c.h5"
  attempt $((slices_kb * frac / 100 + 4)) s.h5 slices --cohort ref.h5 --view axial --out "$mnt/s.h5"
done
# train: a checkpoint that does not fit; the run directory it created is removed again
cat > dfull_train.toml <<'TOML'
[data]
slices = "ref_slices.h5"
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
umount "$mnt"
mount -t tmpfs -o size=40k tmpfs "$mnt" || fail "remount"
rc=0
err=$("$numens" train --config dfull_train.toml --out "$mnt/run" 2>&1 > /dev/null) || rc=$?
[ "$rc" -eq 1 ] || fail "train at 40k: exit status $rc ($err)"
tail -1 <<< "$err" | grep -q "^numens: error: .*No space left on device" \
  || fail "train at 40k: the error line does not say the disk is full: $err"
[ -z "$(ls -A "$mnt")" ] || fail "train at 40k: left $(ls -A "$mnt")"
echo "ok train 40k: $(tail -1 <<< "$err")"
[ "$failed_clean" -ge 8 ] || fail "only $failed_clean of $checked attempts ran out of space"
echo "disk_full: ok ($checked attempts, $failed_clean out of space, all clean)"
