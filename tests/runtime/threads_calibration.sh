#!/bin/sh
# threads_calibration.sh - the parallel loops' thresholds (templates/parallel.h):
# measured when set_threads sees more than one thread, overridden by the
# environment variable NN2C_PARALLEL_MIN_WORK and by -DNN2C_PARALLEL_MIN_WORK
# (-DNN2C_PARALLEL_MIN_WORK_PASSIVE under OMP_WAIT_POLICY=passive), absent
# without OpenMP, and reported by the trainer. Not a timed test: the driver
# (threads_calibration.c) checks the thresholds against their measurements.
#
#   threads_calibration.sh NN2C MODEL.nn DRIVER.c WORK
#
# Exit 77 (skip) when cc has no -fopenmp.
set -eu
nn2c=$1 model=$2 driver=$3 work=$4
fail() { echo "FAIL: $*" >&2; exit 1; }
printf 'int main(void){return 0;}' | cc -fopenmp -x c - -o /dev/null 2>/dev/null ||
  { echo "SKIP: cc has no -fopenmp"; exit 77; }
strict="-O2 -std=c99 -Wall -Wextra -Werror -pedantic"
rm -rf "$work"
mkdir -p "$work"
"$nn2c" compile "$model" --train -o "$work/m" 2>"$work/compile.log" ||
  { cat "$work/compile.log" >&2; fail "nn2c compile failed"; }
make -s -C "$work/m" CFLAGS="$strict" >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make failed"; }
unset NN2C_PARALLEL_MIN_WORK OMP_WAIT_POLICY
grep -q 'NN2C_PARALLEL_FOR_EW(' "$work/m/threads_cnn.c" || fail "no elementwise parallel loop to test"

# build CC OUT FLAGS...: the model file and the driver, warning-free
build() {
  c=$1 out=$2
  shift 2
  $c $strict "$@" -c "$work/m/threads_cnn.c" -o "$work/$out.o" 2>"$work/$out.log" &&
    $c $strict "$@" -I"$work/m" "$driver" "$work/$out.o" -o "$work/$out" -lm 2>>"$work/$out.log" ||
    { cat "$work/$out.log" >&2; fail "$out: build failed"; }
}
# run OUT ARGS...: the driver must print ok (with the environment given before it)
run() {
  out=$("$@" 2>&1) || { echo "$out" >&2; fail "$*"; }
  echo "  $* -> $(echo "$out" | grep '^threads=')"
}

echo "calibrated (gcc -fopenmp):"
build cc omp -fopenmp
for policy in "" passive; do
  [ -z "$policy" ] || export OMP_WAIT_POLICY=$policy
  run "$work/omp" check 2
  run "$work/omp" check 3
  unset OMP_WAIT_POLICY
done
run "$work/omp" lazy
NN2C_PARALLEL_MIN_WORK=junk run "$work/omp" check 2 # not a number: ignored
echo "overrides:"
NN2C_PARALLEL_MIN_WORK=12345 run "$work/omp" expect 12345 2
NN2C_PARALLEL_MIN_WORK=0 run "$work/omp" expect 0 2 # every loop on the threads, same outputs
NN2C_PARALLEL_MIN_WORK=99999999999999999999999 run "$work/omp" expect max 2
build cc fixed -fopenmp -DNN2C_PARALLEL_MIN_WORK=777
run "$work/fixed" expect 777 2
NN2C_PARALLEL_MIN_WORK=5 run "$work/fixed" expect 5 2
build cc passive -fopenmp -DNN2C_PARALLEL_MIN_WORK=777 -DNN2C_PARALLEL_MIN_WORK_PASSIVE=99
run "$work/passive" expect 777 2
OMP_WAIT_POLICY=PASSIVE run "$work/passive" expect 99 2
echo "without OpenMP:"
build cc serial
run "$work/serial" expect max 2
if command -v clang >/dev/null 2>&1; then
  echo "clang:"
  if printf 'int main(void){return 0;}' | clang -fopenmp -x c - -o /dev/null 2>/dev/null; then
    build clang clang_omp -fopenmp
    run "$work/clang_omp" check 2
  fi
  build clang clang_serial
  run "$work/clang_serial" expect max 2
fi

echo "trainer:"
tr="$work/m/threads_cnn_train"
"$tr" --threads 2 --epochs 1 >"$work/t2.out" || fail "trainer --threads 2"
grep -E '^threads: 2, (for loops of at least [0-9]+ multiply-adds( or [0-9]+ elements)?|for elementwise loops of at least [0-9]+ elements|no loop runs on them) \(measured in [0-9.]+ ms: parallel loop [0-9.]+ us(; multiply-add [0-9.]+ ps on 1 thread, [0-9.]+ shared; element [0-9.]+ ps, [0-9.]+)?\)$' "$work/t2.out" ||
  { cat "$work/t2.out" >&2; fail "no threads line"; }
NN2C_PARALLEL_MIN_WORK=1000 "$tr" --threads 2 --epochs 1 >"$work/t2e.out" || fail "trainer with the override"
grep -Fx 'threads: 2, for loops of at least 1000 multiply-adds or 1000 elements (set by NN2C_PARALLEL_MIN_WORK)' "$work/t2e.out" ||
  { cat "$work/t2e.out" >&2; fail "no threads line with the override"; }
"$tr" --threads 1 --epochs 1 >"$work/t1.out" || fail "trainer --threads 1"
! grep -q '^threads:' "$work/t1.out" || fail "a threads line at 1 thread"
"$tr" --threads 2 --epochs 1 --quiet >"$work/t2q.out" || fail "trainer --quiet"
! grep -q '^threads:' "$work/t2q.out" || fail "a threads line with --quiet"
tail -n 1 "$work/t1.out" >"$work/t1.final"
tail -n 1 "$work/t2.out" | cmp -s - "$work/t1.final" || fail "2 threads end with another final line than 1"
tail -n 1 "$work/t2e.out" | cmp -s - "$work/t1.final" || fail "2 threads on every loop end with another final line than 1"
echo "PASS"
