#!/bin/sh
# Malformed ONNX models must give a clear error and exit status 1, never a
# crash: (1) hand-made cases in bad/ (NAME.expect holds text the error must
# contain; bad/crash_* are inputs the fuzzer once crashed on), (2) byte-wise
# mutations of real models, (3) some of both under valgrind for leaks.
# usage: bad_inputs.sh NN2C TEST_SRC_DIR ONNX_CASES WORK
set -u
nn2c=$1 src=$2 cases=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
fails=0
for f in "$src"/bad/*.onnx; do
  "$nn2c" compile "$f" --emit=ir > /dev/null 2> "$work/err.txt"
  rc=$?
  exp="${f%.onnx}.expect"
  if [ $rc -ne 1 ]; then
    echo "FAIL $f: exit status $rc (want 1)"; fails=$((fails + 1))
  elif [ -f "$exp" ] && ! grep -qF "$(cat "$exp")" "$work/err.txt"; then
    echo "FAIL $f: message does not contain '$(cat "$exp")':"; cat "$work/err.txt"; fails=$((fails + 1))
  fi
done
echo "hand-made cases done"
models=""
for c in test_conv_with_strides_padding test_gemm_all_attributes test_reshape_negative_dim test_softmax_axis_1 \
         test_batchnorm_example test_maxpool_2d_pads test_lstm_defaults; do
  [ -f "$cases/node/$c/model.onnx" ] && models="$models $cases/node/$c/model.onnx"
done
if [ -n "$models" ] && command -v python3 > /dev/null; then
  python3 "$src/mutate.py" 1 400 "$work/mut" $models
  for f in "$work"/mut/*.onnx; do
    "$nn2c" compile "$f" --emit=ir > /dev/null 2> "$work/err.txt"
    rc=$?
    if [ $rc -ne 0 ] && { [ $rc -ne 1 ] || ! grep -q "error" "$work/err.txt"; }; then
      echo "FAIL $f: exit status $rc"; head -3 "$work/err.txt"; fails=$((fails + 1))
    fi
  done
  echo "mutations done"
fi
if command -v valgrind > /dev/null; then
  for f in "$src"/bad/*.onnx $(ls "$work"/mut/*.onnx 2>/dev/null | head -n 6); do
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
      "$nn2c" compile "$f" --emit=ir > /dev/null 2> "$work/vg.txt"
    [ $? -eq 9 ] && { echo "FAIL $f: valgrind:"; head -20 "$work/vg.txt"; fails=$((fails + 1)); }
  done
  echo "valgrind done"
fi
[ $fails -eq 0 ] && echo "ok" || { echo "$fails failures"; exit 1; }
