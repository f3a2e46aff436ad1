#!/usr/bin/env bash
# End-to-end checks of `numens train` on a tiny phantom cohort (seconds, not minutes):
#   resume:  2 epochs straight == 1 epoch, stop, --resume to 2 epochs (params, Adam moments, BN
#            statistics, bitwise)
#   threads: the same run at OMP_NUM_THREADS=1 and 2 gives bitwise-identical weights, in ieee and
#            in sr (t = 12, where every op is perturbed)
#   seeds:   another MCA seed gives other weights (the comparison can fail)
#   usage:   train_checks.sh <numens> <work dir>
set -euo pipefail
numens=$1 d=$2
# Passive waits: a busy-waiting OpenMP team on a shared 2-core test machine is slower by orders of
# magnitude, and none of these checks is about speed.
export OMP_WAIT_POLICY=passive
rm -rf "$d" && mkdir -p "$d" && cd "$d"
"$numens" synth --template phantom --subjects 4 --voxel-size 3 --out cohort.h5 > /dev/null
"$numens" slices --cohort cohort.h5 --view coronal --out coronal.h5 > /dev/null
cat > tiny.toml <<'TOML'
[data]
slices = "{view}.h5"
view = "coronal"
validation_fraction = 0.25
[model]
filters = 4
kernel = 3
levels = 2
[train]
batch_size = 2
accumulation = 2
steps_per_epoch = 3
checkpoint_every = 1
[optim]
optimizer = "adamw"
schedule = "cosine"
t0 = 1
[augment]
translate = 2
[seeds]
init = 11
data = 12
augment = 13
mca = 14
TOML

fail() { echo "FAIL: $*"; exit 1; }
same() {  # same <a.h5> <b.h5>: parameters, optimizer state and BN statistics bitwise equal
  for g in /params /optim /bn; do
    h5diff -d 0 "$1" "$2" "$g" "$g" > /dev/null || fail "$1 and $2 differ in $g"
  done
}
differ() { h5diff -d 0 "$1" "$2" /params /params > /dev/null && fail "$1 and $2 have equal params" || true; }

# resume
"$numens" train --config tiny.toml --epochs 2 --out straight > straight.log
"$numens" train --config tiny.toml --epochs 1 --out split > split1.log
cp split/ckpt_coronal.h5 epoch1.h5
"$numens" train --config tiny.toml --epochs 2 --out split --resume epoch1.h5 > split2.log
grep -q "epochs 2..2" split2.log || fail "resumed run did not start at epoch 2"
same straight/ckpt_coronal.h5 split/ckpt_coronal.h5
# the whole curve survives the resume
[ "$(wc -l < split/train_coronal.csv)" -eq 3 ] || fail "resumed history has not 2 epoch rows"
cmp -s <(cut -d, -f1-8 straight/train_coronal.csv) <(cut -d, -f1-8 split/train_coronal.csv) ||
  fail "loss/validation curves differ after resume"
# the first epoch's checkpoint of the straight run is the split run's epoch-1 checkpoint
"$numens" train --config tiny.toml --epochs 1 --out again > /dev/null
same again/ckpt_coronal.h5 epoch1.h5

# threads, ieee and sr
for mode in ieee sr; do
  OMP_NUM_THREADS=1 "$numens" train --config tiny.toml --epochs 1 --set arith.mode=$mode \
    --set arith.t32=12 --out t1_$mode > /dev/null
  OMP_NUM_THREADS=2 "$numens" train --config tiny.toml --epochs 1 --set arith.mode=$mode \
    --set arith.t32=12 --out t2_$mode > /dev/null
  same t1_$mode/ckpt_coronal.h5 t2_$mode/ckpt_coronal.h5
done
differ t1_ieee/ckpt_coronal.h5 t1_sr/ckpt_coronal.h5
"$numens" train --config tiny.toml --epochs 1 --set arith.mode=sr --set arith.t32=12 \
  --set seeds.mca=15 --out sr_seed15 > /dev/null
differ t1_sr/ckpt_coronal.h5 sr_seed15/ckpt_coronal.h5
echo "train checks passed"
