#!/bin/sh
# Malformed ONNX models must give a clear error and exit status 1, never a
# crash: (1) hand-made cases in bad/ (NAME.expect holds text the error must
# contain; bad/crash_* are inputs the fuzzer once crashed on), (2) byte-wise
# mutations of real models, (3) some of both under valgrind for leaks and memory errors.
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
# (3) valgrind, only where it demonstrably works: it must run nn2c and report a known leak. A
# sanitized nn2c (ASan wants the shadow memory valgrind uses) skips, saying so; any other failure
# to run under valgrind fails, as does a run that did not end as nn2c ends (status 0 or 1).
vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 "$@"; }
if ! command -v valgrind > /dev/null; then
  echo "SKIP valgrind leg: valgrind is not installed"
elif ! vg "$nn2c" --version > "$work/vg.txt" 2>&1 || ! grep -q '^nn2c ' "$work/vg.txt"; then
  if [ -n "${NN2C_SANITIZED:-}" ]; then
    echo "SKIP valgrind leg: nn2c is built with sanitizers, which valgrind cannot run"
  else
    echo "FAIL valgrind cannot run $nn2c:"; head -20 "$work/vg.txt"; fails=$((fails + 1))
  fi
else
  printf '#include <stdlib.h>\nint main(void) { char *volatile p = malloc(64); p[0] = 1; p = 0; return 0; }\n' \
    > "$work/leak.c"
  ${CC:-cc} -O0 -o "$work/leak" "$work/leak.c" && vg "$work/leak" > /dev/null 2>&1
  [ $? -eq 9 ] || { echo "FAIL valgrind does not report a leak in a program that leaks"; fails=$((fails + 1)); }
  n=0
  for f in "$src"/bad/*.onnx $(ls "$work"/mut/*.onnx 2>/dev/null | head -n 6); do
    vg "$nn2c" compile "$f" --emit=ir > "$work/vg.out" 2> "$work/vg.txt"
    rc=$?
    n=$((n + 1))
    if [ $rc -eq 9 ]; then
      echo "FAIL $f: valgrind:"; head -20 "$work/vg.txt"; fails=$((fails + 1))
    elif ! { [ $rc -eq 1 ] && grep -q "nn2c: error" "$work/vg.txt"; } && ! { [ $rc -eq 0 ] && grep -q "^graph" "$work/vg.out"; }; then
      echo "FAIL $f: under valgrind, exit status $rc without nn2c's output:"; head -20 "$work/vg.txt"; fails=$((fails + 1))
    fi
  done
  echo "valgrind: $n models, no leaks or memory errors"
fi
[ $fails -eq 0 ] && echo "ok" || { echo "$fails failures"; exit 1; }
