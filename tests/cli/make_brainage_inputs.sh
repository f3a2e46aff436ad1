#!/usr/bin/env bash
# Inputs of the brain-age command-line tests: small variability summaries, good and faulty, and a
# file that claims another numens kind.  make_brainage_inputs.sh <numens_brainage_tool> <dir>
set -euo pipefail
tool=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
"$tool" summary good.h5 24 3
"$tool" summary nan.h5 12 3 nan
"$tool" summary three.h5 3 3
"$tool" summary one.h5 1 3
"$tool" summary noieee.h5 12 3 noieee
"$tool" summary other.h5 12 3 cohort
