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
"$nn2c" compile "$src/bad/symbolic_dim.onnx" --dim batch=4 -o "$work/sym"
grep -q 'inputs\[0\]  x f32\[4,3\]' "$work/sym/symbolic_dim.h"
grep -q 'outputs\[0\] y f32\[4,3\]' "$work/sym/symbolic_dim.h"
make -s -C "$work/sym" > /dev/null
if "$nn2c" compile "$src/bad/symbolic_dim.onnx" --dim batch -o "$work/x" 2> "$work/err.txt"; then exit 1; fi
grep -q -- "--dim needs NAME=VALUE" "$work/err.txt"
echo ok
