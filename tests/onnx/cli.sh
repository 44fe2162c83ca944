#!/bin/sh
# The ONNX command line: nn2c run MODEL.onnx INPUT.pb, nn2c compile MODEL.onnx
# --dim NAME=VALUE -o DIR (the folder builds), and flag errors.
# usage: cli.sh NN2C TEST_SRC_DIR ONNX_CASES WORK
set -eu
nn2c=$1 src=$2 cases=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
relu=$cases/node/test_relu
if [ -d "$relu" ]; then
  "$nn2c" run "$relu/model.onnx" "$relu/test_data_set_0/input_0.pb" > "$work/run.txt"
  grep -q '^y f32\[3,4,5\]: ' "$work/run.txt"
  # relu leaves no negative numbers
  ! tr ' ' '\n' < "$work/run.txt" | grep -q '^-[0-9]'
  if "$nn2c" run "$relu/model.onnx" 2> "$work/err.txt"; then exit 1; fi
  grep -q "input 'x' f32\[3,4,5\] needs a value" "$work/err.txt"
fi
"$nn2c" compile "$src/symbolic_dim.onnx" --dim batch=4 -o "$work/sym"
grep -q 'inputs\[0\]  x f32\[4,3\]' "$work/sym/symbolic_dim.h"
grep -q 'outputs\[0\] y f32\[4,3\]' "$work/sym/symbolic_dim.h"
make -s -C "$work/sym" > /dev/null
# without --dim the symbolic first dimension is the batch N
"$nn2c" compile "$src/symbolic_dim.onnx" -o "$work/symn" 2> /dev/null
grep -q 'inputs\[0\]  x f32\[N,3\]' "$work/symn/symbolic_dim.h"
if "$nn2c" compile "$src/symbolic_dim.onnx" --dim batch -o "$work/x" 2> "$work/err.txt"; then exit 1; fi
grep -q -- "--dim needs NAME=VALUE" "$work/err.txt"
# training flags: the symbolic batch becomes N; bad values are named
"$nn2c" compile "$src/symbolic_dim.onnx" --train --loss mse --batch 3 -o "$work/tr" 2> /dev/null
grep -q 'define symbolic_dim_DEFAULT_BATCH 3' "$work/tr/symbolic_dim.h"
bad_flag() { # expected message, then the flags
  msg=$1; shift
  if "$nn2c" compile "$src/symbolic_dim.onnx" "$@" -o "$work/x" 2> "$work/err.txt"; then exit 1; fi
  grep -q -- "$msg" "$work/err.txt"
}
bad_flag "--loss must be mse" --train --loss foo
bad_flag "--loss must be mse.*(missing)" --train
bad_flag "--optimizer must be sgd, momentum or adam, got 'rms'" --train --loss mse --optimizer rms
bad_flag "--lr must be a positive number, got '-1'" --train --loss mse --lr -1
bad_flag "--batch must be an integer" --train --loss mse --batch 0
bad_flag "--dataset: dataset random has no option 'foo'" --train --loss mse --dataset "random foo=1"
bad_flag "go with --train" --loss mse
head -c 40 "$work/sym/symbolic_dim.h" > "$work/bad.ckpt"
if "$nn2c" export "$src/symbolic_dim.onnx" "$work/bad.ckpt" -o "$work/x.onnx" 2> "$work/err.txt"; then exit 1; fi
grep -q "not an nn2c checkpoint" "$work/err.txt"
echo ok
