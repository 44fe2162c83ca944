#!/bin/sh
# Issue 18's ONNX forms (tests/onnx/coverage_cases.py): every generated case
# passes nn2c test-onnx (interpreter and emitted C against plain-Python
# reference outputs), and the training models compile, build and train to
# the interpreter's losses; a model with a symbolic batch runs at batch 64 and
# 1 from one build (tests/onnx/batch_harness.c).
# usage: coverage.sh NN2C TEST_SRC_DIR WORK
set -eu
nn2c=$1 src=$2 work=$3
command -v python3 > /dev/null || { echo "skipped: python3 is not installed"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
python3 "$src/coverage_cases.py" "$work/cases"
"$nn2c" test-onnx -j2 --work "$work/run" "$work/cases" > "$work/results.txt"
cat "$work/results.txt"
want=$(ls "$work/cases" | wc -l)
tail -n 1 "$work/results.txt" | grep -q "^$want passed, 0 failed, 0 skipped" || { echo "FAIL: not all $want cases pass"; exit 1; }
# training: the trainer (float) and the interpreter (double) end at the same loss within 1e-5
# relative and the same accuracy
same_final() {
  awk -F'[= ]' 'NR == FNR { l = $3; a = $5; next }
    { d = $3 - l; d = d < 0 ? -d : d; m = l < 0 ? -l : l; exit !(d <= 1e-5 * (m > 1 ? m : 1) && $5 == a) }' "$1" "$2"
}
for m in matmul_train conv3d_train; do
  python3 "$src/coverage_cases.py" --model "$work/$m.onnx" "$m"
  "$nn2c" compile "$work/$m.onnx" --train --loss categorical_crossentropy -o "$work/$m" 2> "$work/$m.log"
  make -s -C "$work/$m" > /dev/null 2>&1 || { echo "FAIL: $m does not build"; exit 1; }
  "$work/$m/${m}_train" --epochs 2 | grep '^final:' > "$work/$m.c.txt"
  "$nn2c" run "$work/$m.onnx" --train --loss categorical_crossentropy --epochs 2 | grep '^final:' > "$work/$m.interp.txt"
  same_final "$work/$m.c.txt" "$work/$m.interp.txt" ||
    { echo "FAIL: $m: trainer ($(cat "$work/$m.c.txt")) and interpreter ($(cat "$work/$m.interp.txt")) differ"; exit 1; }
  echo "ok $m: $(cat "$work/$m.c.txt"), interpreter $(cat "$work/$m.interp.txt")"
done
# the symbolic batch shared by two inputs is N: one build runs batch 64 and 1
python3 "$src/coverage_cases.py" --model "$work/batch_cnn.onnx" batch_cnn
"$nn2c" compile "$work/batch_cnn.onnx" -o "$work/batch_cnn" 2> "$work/batch_cnn.log"
grep -q 'inputs\[1\]  z f32\[N,4\]' "$work/batch_cnn/batch_cnn.h"
cc -std=c11 -O1 -Wall -Wextra -Werror -DM=batch_cnn -DXN=50 -DZN=4 -DYN=4 -include "$work/batch_cnn/batch_cnn.h" \
  "$src/batch_harness.c" "$work/batch_cnn/batch_cnn.c" -lm -o "$work/batch_harness"
"$work/batch_harness" > "$work/batch_cnn.txt"
python3 "$src/coverage_cases.py" --check-batch "$work/batch_cnn.txt"
# ops whose result's shape depends on values need those values at compile time
python3 "$src/coverage_cases.py" --model "$work/nonzero_runtime.onnx" nonzero_runtime
if "$nn2c" compile "$work/nonzero_runtime.onnx" -o "$work/nz" 2> "$work/nz.err"; then echo "FAIL: NonZero of an input compiled"; exit 1; fi
grep -q "NonZero's input must be a constant" "$work/nz.err" || { cat "$work/nz.err"; exit 1; }
echo ok
