#!/usr/bin/env bash
# Fixture setup of the command-line error tests: good inputs (a CSV, a cohort with labels, a
# cohort without) and bad ones derived from them at test time, so only tiny files are committed.
#   make_inputs.sh <numens> <tests/fixtures dir> <output dir>
set -euo pipefail
numens=$1 fixtures=$2 d=$3
rm -rf "$d" && mkdir -p "$d"
cd "$d"

# Good: the committed 7x5x3 int16 oblique image; its own integer values serve as a label map.
cp "$fixtures/big_endian_oblique.nii" good.nii
gzip -c good.nii > good.nii.gz
printf 'id,age,image,labels,sex\ns1,40,good.nii,good.nii,F\ns2,55.5,good.nii.gz,,M\n' > good.csv
"$numens" import --csv good.csv --out cohort.h5 --size 16 > /dev/null
printf 'id,age,image\ns1,40,good.nii\n' > nolabels.csv
"$numens" import --csv nolabels.csv --out nolabels.h5 --size 16 > /dev/null
"$numens" slices --cohort cohort.h5 --view axial --thickness 3 --out slices.h5 --min-labelled 1 > /dev/null

# Bad NIfTI files.
head -c $(( $(stat -c %s good.nii.gz) - 30 )) good.nii.gz > truncated.nii.gz  # data cut short
cp good.nii badmagic.nii && printf 'XXXX' | dd of=badmagic.nii bs=1 seek=344 conv=notrunc 2>/dev/null
# dim[1] (big-endian int16 at byte 42) = 0
cp good.nii baddims.nii && printf '\x00\x00' | dd of=baddims.nii bs=1 seek=42 conv=notrunc 2>/dev/null
# dim[1] = 70: the header promises 70x5x3 voxels, the file holds 7x5x3
cp good.nii bigdims.nii && printf '\x00\x46' | dd of=bigdims.nii bs=1 seek=42 conv=notrunc 2>/dev/null
# dim[0] (number of dimensions, big-endian int16 at byte 40) = 9
cp good.nii badndim.nii && printf '\x00\x09' | dd of=badndim.nii bs=1 seek=40 conv=notrunc 2>/dev/null
# datatype (big-endian int16 at byte 70) = 1234
cp good.nii baddtype.nii && printf '\x04\xd2' | dd of=baddtype.nii bs=1 seek=70 conv=notrunc 2>/dev/null
# pixdim[1] (big-endian float32 at byte 80) = 0: a voxel size the nifti library would read as 1
cp good.nii badpixdim.nii && printf '\x00\x00\x00\x00' | dd of=badpixdim.nii bs=1 seek=80 conv=notrunc 2>/dev/null
# every voxel 0 (the 7x5x3 int16 data after vox_offset, a big-endian float32 at byte 108)
off=$(od -An -t f4 --endian=big -j 108 -N 4 good.nii | tr -d ' ')
cp good.nii const.nii && dd if=/dev/zero of=const.nii bs=1 seek="${off%.*}" count=210 conv=notrunc 2>/dev/null
# NaN: the committed NIfTI-2 float32 file with its first voxel set to a quiet NaN (little-endian)
gzip -dc "$fixtures/nifti2_small.nii.gz" > nan.nii
off=$(od -An -t d8 -j 168 -N 8 nan.nii | tr -d ' ')
printf '\x00\x00\xc0\x7f' | dd of=nan.nii bs=1 seek="$off" conv=notrunc 2>/dev/null
printf 'not a nifti file at all, just some text that is long enough to pass the size check %0300d\n' 0 > text.nii

# Bad CSVs (one fault each).
csv() { printf "$2" > "$1"; }
csv truncated.csv 'id,age,image\ns1,40,truncated.nii.gz\n'
csv badmagic.csv 'id,age,image\ns1,40,badmagic.nii\n'
csv baddims.csv 'id,age,image\ns1,40,baddims.nii\n'
csv bigdims.csv 'id,age,image\ns1,40,bigdims.nii\n'
csv badndim.csv 'id,age,image\ns1,40,badndim.nii\n'
csv badpixdim.csv 'id,age,image\ns1,40,badpixdim.nii\n'
csv const.csv 'id,age,image\ns1,40,const.nii\n'
csv noimage.csv 'id,age\ns1,40\n'
csv baddtype.csv 'id,age,image\ns1,40,baddtype.nii\n'
csv nan.csv 'id,age,image\ns1,40,nan.nii\n'
csv text.csv 'id,age,image\ns1,40,text.nii\n'
csv noage.csv 'id,image\ns1,good.nii\n'
csv emptyage.csv 'id,age,image\ns1,,good.nii\n'
csv negage.csv 'id,age,image\ns1,-3,good.nii\n'
csv wordage.csv 'id,age,image\ns1,old,good.nii\n'
csv dupid.csv 'id,age,image\ns1,40,good.nii\ns1,41,good.nii\n'
csv missingimg.csv 'id,age,image\ns1,40,nowhere.nii\n'
csv badid.csv 'id,age,image\ns 1,40,good.nii\n'
csv unknowncol.csv 'id,age,image,weight\ns1,40,good.nii,70\n'
csv fields.csv 'id,age,image\ns1,40\n'
csv badsex.csv 'id,age,image,sex\ns1,40,good.nii,X\n'
cp "$fixtures/nifti2_small.nii.gz" other_grid.nii.gz
csv labeldims.csv 'id,age,image,labels\ns1,40,good.nii,other_grid.nii.gz\n'
csv empty.csv ''
csv lut.csv 'id,age,image,labels\ns1,40,good.nii,good.nii\n'
# A LUT that lacks most of good.nii's values (-50..254), and a malformed one.
printf '# value name r g b a\n0 Unknown 0 0 0 0\n-50 low 1 2 3 0\n' > small_lut.txt
printf '0 Unknown 0 0 0 0\n1 only-three 1 2\n' > broken_lut.txt

# Bad HDF5 files.
head -c $(( $(stat -c %s cohort.h5) / 2 )) cohort.h5 > truncated.h5
# Training configurations: a good tiny one (each error case breaks one thing with --set), one
# with a TOML syntax error, one with an unknown section, a checkpoint of another configuration.
cat > train.toml <<'TOML'
[data]
slices = "slices.h5"
view = "axial"
[model]
filters = 2
kernel = 3
levels = 1
[train]
epochs = 1
batch_size = 2
steps_per_epoch = 1
[output]
dir = "train_out"
TOML
printf '[train]\nepochs = = 3\n' > broken.toml
printf '[data]\nslices = "slices.h5"\n[trainer]\nepochs = 3\n' > badsection.toml
"$numens" train --config train.toml --out trained > /dev/null 2>&1
"$numens" train --config train.toml --out trained_exists > /dev/null 2>&1
# An ensemble configuration of the same tiny model (train.toml without its view and output, plus
# [ensemble]; each error case breaks one thing), and a run
# directory made by it, for the "directory of another configuration" case.
{ grep -v '^view = \|^\[output\]\|^dir = ' train.toml; cat <<'TOML'; } > ens.toml
[ensemble]
dir = "ens_made"
views = ["axial"]
segment_cohort = "cohort.h5"
[[ensemble.arms]]
name = "ieee"
kind = "ieee"
TOML
OMP_NUM_THREADS=1 "$numens" ensemble --config ens.toml > /dev/null 2>&1

# A cohort whose subject lacks its T1 dataset (committed: made by h5py, which numens is not).
cp "$fixtures/cohort_no_t1.h5" no_t1.h5
echo ok
