#!/bin/sh
# run_dtypes.sh NN2C CKPT_COMPARE TEMPLATE WORKDIR DTYPE - instantiates the
# dtype template for DTYPE and runs it through run_e2e.sh (emitted C built with
# -Werror by gcc and clang against the interpreter).
set -eu
nn2c=$1 cmp=$2 template=$3 work=$4 dt=$5
mkdir -p "$work"
# micro scales the ops' sum into the output: for f64, pow(xi, xi) reaches 22^22,
# and at 1e-6 the squared error overflows f32, which the trainer refuses (a
# non-finite loss stops training).
micro=0.000001
[ "$dt" = f64 ] && micro=1e-16
sed -e "s/@DT@/$dt/g" -e "s/@MICRO@/$micro/" "$template" >"$work/e2e_dtype_$dt.nn"
exec sh "$(dirname "$0")/run_e2e.sh" "$nn2c" "$cmp" "$work/e2e_dtype_$dt.nn" "$work/$dt" 3 --epochs 100
