#!/bin/sh
# run_example.sh MODE NN2C EXAMPLES_DIR WORKDIR [MNIST_DIR [MIN_ACCURACY]]
#   xor             compile examples/xor.nn --train, make, run with no flags:
#                   exit 0 and the 4 outputs within 0.1 of 0 1 1 0
#   mnist           mnist_mlp on 10000 training / 2000 test images, 1 epoch:
#                   test_accuracy >= MIN_ACCURACY
#   valgrind-xor    the xor trainer, --epochs 5, under valgrind (77 without it)
#   valgrind-mnist  the mnist trainer, 64 images, 2 steps, under valgrind
# MNIST modes exit 77 (skip) when MNIST_DIR lacks the gz files.
set -eu
mode=$1 nn2c=$2 ex=$3 work=$4 mnist=${5:-} minacc=${6:-0.9}
fail() { echo "FAIL: $*" >&2; exit 1; }

case $mode in
*mnist) model=mnist_mlp ;;
*) model=xor ;;
esac
case $mode in
valgrind-*) command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not found"; exit 77; } ;;
esac
if [ "$model" = mnist_mlp ]; then
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$mnist/$f.gz" ] || { echo "SKIP: $mnist/$f.gz not found (set NN2C_SHARED_DATA)"; exit 77; }
  done
fi

rm -rf "$work"
mkdir -p "$work"
"$nn2c" compile "$ex/$model.nn" --train -o "$work/src" || fail "nn2c compile $model.nn --train failed"
# valgrind builds without -march=native (valgrind lacks some of its instructions)
if [ "${mode#valgrind-}" != "$mode" ]; then
  make -s -C "$work/src" CFLAGS="-O2 -g -std=c99" >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make failed"; }
else
  make -s -C "$work/src" >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make failed"; }
fi
bin="$work/src/${model}_train"
out="$work/out.txt"

case $mode in
xor)
  "$bin" >"$out" 2>&1 || { cat "$out" >&2; fail "xor_train exited with $?"; }
  tail -n 5 "$out"
  awk 'BEGIN { want[0] = 0; want[1] = 1; want[2] = 1; want[3] = 0 }
       /^output\[[0-9]+\] = / { i = substr($1, 8) + 0; v = $3 + 0; n++
         d = v - want[i]; if (d < 0) d = -d
         if (d > 0.1) { print "output[" i "] = " v ", want " want[i] " +- 0.1"; bad = 1 } }
       END { if (n != 4) { print "expected 4 output lines, got " n; bad = 1 }; exit bad }' "$out" ||
    fail "xor outputs are not 0 1 1 0"
  ;;
mnist)
  "$bin" --data "$mnist" --limit-train 10000 --limit-test 2000 --epochs 1 >"$out" 2>&1 ||
    { cat "$out" >&2; fail "mnist_mlp_train failed"; }
  grep '^epoch 1:' "$out" || true
  acc=$(sed -n 's/^final: .*test_accuracy=\([0-9.]*\).*/\1/p' "$out")
  [ -n "$acc" ] || { cat "$out" >&2; fail "no final: test_accuracy line"; }
  awk -v a="$acc" -v m="$minacc" 'BEGIN { exit !(a + 0 >= m + 0) }' ||
    fail "test_accuracy $acc below $minacc"
  echo "test_accuracy $acc >= $minacc"
  ;;
valgrind-xor)
  valgrind -q --error-exitcode=3 --leak-check=full "$bin" --epochs 5 >"$out" 2>&1 ||
    { cat "$out" >&2; fail "valgrind reported errors (or the trainer failed)"; }
  tail -n 5 "$out"
  ;;
valgrind-mnist)
  valgrind -q --error-exitcode=3 --leak-check=full "$bin" --data "$mnist" --limit-train 64 --limit-test 64 --steps 2 \
    >"$out" 2>&1 || { cat "$out" >&2; fail "valgrind reported errors (or the trainer failed)"; }
  tail -n 2 "$out"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode"
