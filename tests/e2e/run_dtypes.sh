#!/bin/sh
# run_dtypes.sh NN2C CKPT_COMPARE TEMPLATE WORKDIR DTYPE - instantiates the
# dtype template for DTYPE and runs it through run_e2e.sh (emitted C built with
# -Werror by gcc and clang against the interpreter).
set -eu
nn2c=$1 cmp=$2 template=$3 work=$4 dt=$5
mkdir -p "$work"
sed "s/@DT@/$dt/g" "$template" >"$work/e2e_dtype_$dt.nn"
exec sh "$(dirname "$0")/run_e2e.sh" "$nn2c" "$cmp" "$work/e2e_dtype_$dt.nn" "$work/$dt" 3 --epochs 100
