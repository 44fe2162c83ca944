#!/bin/sh
# run_threads.sh - a trainer's parameters do not depend on its thread count.
#
#   run_threads.sh NN2C CKPT_COMPARE WORKDIR STEPS MODEL...
#
# Per model: nn2c compile MODEL --train; make with OpenMP and
# -DNN2C_PARALLEL_MIN_WORK=1 (and its _PASSIVE twin, as the runs use
# OMP_WAIT_POLICY=passive), so every parallel loop runs on the threads
# however small the model; then --steps STEPS with --threads 1, 2 and 3 must
# save identical checkpoints (rtol 0, atol 0): each parallel loop writes its
# own outputs, and split sums (conv2d_grad_weight's image slices) add their
# partials in a fixed order. Exit 77 (skip) when the compiler lacks OpenMP.
set -eu
nn2c=$1 cmp=$2 work=$3 steps=$4
shift 4
fail() { echo "FAIL: $*" >&2; exit 1; }
printf 'int main(void){return 0;}' | cc -fopenmp -x c - -o /dev/null 2>/dev/null ||
  { echo "SKIP: cc has no -fopenmp"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
for model in "$@"; do
  m=$(basename "$model" .nn) d="$work/$(basename "$model" .nn)"
  "$nn2c" compile "$model" --train -o "$d" 2>"$work/$m.compile.log" ||
    { cat "$work/$m.compile.log" >&2; fail "nn2c compile $model --train failed"; }
  name=$(sed -n 's/^\(.*\)_train:.*/\1/p' "$d/Makefile" | head -n 1)
  grep -q 'NN2C_PARALLEL_FOR_DYN(' "$d/$name.c" || fail "$m: no parallel loop to test"
  make -s -C "$d" CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror -pedantic -DNN2C_PARALLEL_MIN_WORK=1 -DNN2C_PARALLEL_MIN_WORK_PASSIVE=1" >"$d/make.log" 2>&1 ||
    { cat "$d/make.log" >&2; fail "$m: make failed"; }
  nm "$d/$name.o" | grep -q 'GOMP_parallel' || fail "$m: built without OpenMP"
  for t in 1 2 3; do
    OMP_WAIT_POLICY=passive "$d/${name}_train" --steps "$steps" --threads $t --save "$d/t$t.ckpt" --quiet >"$d/t$t.out" ||
      fail "$m: ${name}_train --threads $t failed"
  done
  for t in 2 3; do
    "$cmp" "$d/t$t.ckpt" "$d/t1.ckpt" --rtol 0 --atol 0 >"$d/cmp$t.log" ||
      { cat "$d/cmp$t.log" >&2; fail "$m: $t threads give other parameters than 1"; }
    cmp -s "$d/t$t.out" "$d/t1.out" || fail "$m: $t threads print other numbers than 1"
  done
  echo "ok: $m (1, 2 and 3 threads, $steps steps, identical)"
done
echo "PASS"
