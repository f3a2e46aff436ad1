#!/usr/bin/env bash
# End-to-end checks of `numens ensemble` on a tiny phantom cohort (3 members x 3 views):
#   layout:  a single-rank run (no mpirun) and `mpirun -np 2` give bitwise-identical member
#            outputs: checkpoints (/params /optim /bn), segmentations (/subjects), the loss and
#            validation history (all columns but the wall-clock seconds)
#   kill:    kill -9 one rank while members are training, rerun: the ensemble completes and its
#            outputs are bitwise identical to the uninterrupted run
#   rerun:   a rerun of a complete ensemble trains nothing; a bigger arm trains only the new member
#   usage:   ensemble_checks.sh <numens> <work dir>
set -euo pipefail
numens=$1 d=$2
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
mpirun=(mpirun --oversubscribe -np 2)
if [ "$(id -u)" = 0 ]; then mpirun+=(--allow-run-as-root); fi
rm -rf "$d" && mkdir -p "$d" && cd "$d"
"$numens" synth --template phantom --subjects 4 --phantom-voxel 3 --voxel-size 5 --out cohort.h5 > /dev/null
for v in axial coronal sagittal; do
  "$numens" slices --cohort cohort.h5 --view $v --out $v.h5 > /dev/null
done
cat > ens.toml <<'TOML'
[data]
slices = "{view}.h5"
validation_fraction = 0.25
[model]
filters = 4
kernel = 3
levels = 2
[train]
epochs = 2
batch_size = 2
steps_per_epoch = 3
checkpoint_every = 1
[optim]
lr = 0.01
[seeds]
init = 1
data = 2
augment = 3
mca = 4
[ensemble]
dir = "one"
segment_cohort = "cohort.h5"
segment_subjects = ["sub-0000", "sub-0003"]
[[ensemble.arms]]
name = "ieee"
kind = "ieee"
[[ensemble.arms]]
name = "seed"
kind = "seed"
members = 1
[[ensemble.arms]]
name = "sr12"
kind = "mca"
mode = "sr"
t = 12
members = 1
TOML

fail() { echo "FAIL: $*"; exit 1; }
members="m0000 m1000 m2000"
same_runs() {  # same_runs <dir a> <dir b>
  for m in $members; do
    for v in axial coronal sagittal; do
      for g in /params /optim /bn; do
        h5diff -d 0 "$1/members/$m/ckpt_$v.h5" "$2/members/$m/ckpt_$v.h5" $g $g > /dev/null ||
          fail "$1 and $2 differ: $m ckpt_$v.h5 $g"
      done
      cmp -s <(cut -d, -f1-8 "$1/members/$m/train_$v.csv") <(cut -d, -f1-8 "$2/members/$m/train_$v.csv") ||
        fail "$1 and $2 differ: $m train_$v.csv"
    done
    h5diff -d 0 "$1/members/$m/seg.h5" "$2/members/$m/seg.h5" /subjects /subjects > /dev/null ||
      fail "$1 and $2 differ: $m seg.h5"
    [ -f "$2/members/$m/DONE" ] || fail "$2/members/$m has no DONE"
  done
}

# layout independence
"$numens" ensemble --config ens.toml > one.log
grep -q "3 members trained, 0 already complete, 0 failed" one.log || fail "single rank: $(tail -1 one.log)"
"${mpirun[@]}" "$numens" ensemble --config ens.toml --dir two > two.log
grep -q "3 members trained, 0 already complete, 0 failed; .* on 2 ranks" two.log ||
  fail "two ranks: $(tail -1 two.log)"
same_runs one two
# the members differ from each other (so the comparisons above can fail)
h5diff -d 0 one/members/m0000/ckpt_axial.h5 one/members/m1000/ckpt_axial.h5 /params /params > /dev/null &&
  fail "seed member equals the ieee member"
h5diff -d 0 one/members/m0000/ckpt_axial.h5 one/members/m2000/ckpt_axial.h5 /params /params > /dev/null &&
  fail "sr member equals the ieee member"

# kill -9 one rank as soon as a first epoch checkpoint exists
"${mpirun[@]}" "$numens" ensemble --config ens.toml --dir three > three1.log 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
  compgen -G "three/members/*/ckpt_*.h5" > /dev/null && break
  sleep 0.05
done
victim=$(pgrep -f "numens ensemble --config ens.toml --dir three" | grep -v "^$launcher$" | head -1)
[ -n "$victim" ] || fail "no rank process to kill"
kill -9 "$victim"
if wait $launcher; then fail "mpirun exited 0 after a rank was killed"; fi
done_count=$(compgen -G "three/members/*/DONE" | wc -l || true)
[ "$done_count" -lt 3 ] || fail "the kill came too late: every member was already complete"
"${mpirun[@]}" "$numens" ensemble --config ens.toml --dir three > three2.log
grep -q "failed; " three2.log || fail "rerun did not finish: $(tail -1 three2.log)"
same_runs one three

# a complete ensemble is not retrained; a bigger arm adds exactly its new member
"$numens" ensemble --config ens.toml > again.log
grep -q "0 members trained, 3 already complete" again.log || fail "rerun retrained: $(tail -1 again.log)"
"$numens" ensemble --config ens.toml --set 'ensemble.arms=[{name="ieee",kind="ieee"},{name="seed",kind="seed",members=2},{name="sr12",kind="mca",mode="sr",t=12,members=1}]' > grow.log
grep -q "1 members trained, 3 already complete" grow.log || fail "growing the seed arm: $(tail -1 grow.log)"
[ -f one/members/m1001/DONE ] || fail "m1001 not made"
echo "ensemble checks: ok"
