#!/bin/sh
# run_mpi.sh - data-parallel trainers on MPI (nn2c compile --mpi, docs/distributed.md).
#
#   run_mpi.sh NN2C CKPT_COMPARE SRC_DIR WORK CASE [DATA_DIR]
#
# CASE:
#   agree   mpi_cnn.nn, 20 steps: in exact mode (NN2C_MPI_SLICES=12) 1, 2 and 3
#           ranks save bit-identical checkpoints and print the same figures; in
#           the default mode (one MPI_Allreduce) 2 and 3 ranks, and 1 rank against
#           the one-process trainer (`make MPI=0`, the fused train step), agree
#           within 1e-4 relative + 1e-6 (sums in another order; Adam divides by
#           small moments, so a few elements move more than 1e-5).
#   repeat  two runs on 2 ranks (default mode) save identical checkpoints and print
#           the same figures; rank 0 alone prints the final line.
#   resume  exact mode: 10 steps on 3 ranks, resumed to 20 on 2 ranks, equals 20
#           steps on 1 rank bit for bit.
#   fault   a bad flag on rank 1, rank 1 killed mid-run, and (with DATA_DIR/mnist)
#           rank 1 unable to read its data: mpirun exits non-zero within 30 s, and
#           the message names the rank and the cause.
#   batchnorm  tests/e2e/models/e2e_batchnorm.nn (running statistics, which the
#           ranks average): exact mode on 1 and 2 ranks, bit-identical.
#   onnx    an imported ONNX CNN (tests/onnx/weights/small_cnn.onnx) trains on 2
#           ranks to the 1-rank checkpoint (exact mode).
# Exit 77 (skip) without mpirun and mpicc. Runs as root with Open MPI's consent
# variables; every mpirun is bounded by `timeout`.
set -u
nn2c=$1 cmp=$2 src=$3 work=$4 case=$5 data=${6:-}
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1 ||
  { echo "SKIP: no mpirun/mpicc (Debian: openmpi-bin libopenmpi-dev)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
unset NN2C_MPI_SLICES
# under the sanitizers (scripts/test-sanitize.sh): full allocation stacks, so that
# scripts/lsan.supp can match Open MPI's libraries below the first frame
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
rm -rf "$work" && mkdir -p "$work"

# build MODEL DIR [nn2c flags]: nn2c compile --train --mpi, make (MPI=1 by default)
build() {
  model=$1 dir=$2
  shift 2
  "$nn2c" compile "$model" --train --mpi "$@" -o "$dir" --quiet 2>"$work/compile.log" || {
    grep -q 'without ONNX support' "$work/compile.log" && { echo "SKIP: nn2c was built without ONNX"; exit 77; }
    cat "$work/compile.log" >&2
    fail "nn2c compile $model --mpi"
  }
  make -s -C "$dir" CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror -pedantic" >"$work/make.log" 2>&1 ||
    { cat "$work/make.log" >&2; fail "make -C $dir (MPI=1)"; }
}

# run NP OUT [trainer flags]: mpirun -np NP, bounded by 120 s (a loaded machine); stdout to OUT
run() {
  np=$1 out=$2
  shift 2
  timeout 120 mpirun -np "$np" "$@" >"$out" 2>"$out.err" || { cat "$out.err" >&2; fail "mpirun -np $np $*"; }
}

# lines OUT: the figures a run printed, without timings and file names
lines() { grep -v -e 'samples/s$' -e '^saved ' "$1" | sed 's/ time=.*//'; }

same() { "$cmp" "$1" "$2" --rtol "$3" --atol "$4" >"$work/cmp.log" || { cat "$work/cmp.log" >&2; fail "$5"; }; }

d=$work/cnn t=$work/cnn/mpi_cnn_train
case $case in
agree)
  build "$src/mpi_cnn.nn" "$d"
  for np in 1 2 3; do
    NN2C_MPI_SLICES=12 run $np "$work/exact$np.out" "$t" --steps 20 --save "$work/exact$np.ckpt"
    run $np "$work/fast$np.out" "$t" --steps 20 --save "$work/fast$np.ckpt"
  done
  for np in 2 3; do
    same "$work/exact$np.ckpt" "$work/exact1.ckpt" 0 0 "exact mode: $np ranks differ from 1 rank"
    [ "$(lines "$work/exact$np.out")" = "$(lines "$work/exact1.out")" ] ||
      fail "exact mode: $np ranks print other figures than 1"
    same "$work/fast$np.ckpt" "$work/fast1.ckpt" 1e-4 1e-6 "default mode: $np ranks far from 1 rank"
  done
  make -s -C "$d" clean && make -s -C "$d" MPI=0 >"$work/make0.log" 2>&1 || fail "make MPI=0"
  "$t" --steps 20 --save "$work/plain.ckpt" >"$work/plain.out" || fail "the one-process trainer"
  same "$work/fast1.ckpt" "$work/plain.ckpt" 1e-4 1e-6 "1 rank far from the one-process trainer"
  echo "ok: 1, 2, 3 ranks agree (exact mode: bit-identical); 1 rank agrees with the one-process trainer"
  ;;
repeat)
  build "$src/mpi_cnn.nn" "$d"
  for k in 1 2; do run 2 "$work/r$k.out" "$t" --steps 20 --save "$work/r$k.ckpt"; done
  same "$work/r2.ckpt" "$work/r1.ckpt" 0 0 "two 2-rank runs differ"
  [ "$(lines "$work/r1.out")" = "$(lines "$work/r2.out")" ] || fail "two 2-rank runs print other figures"
  [ "$(grep -c '^final:' "$work/r1.out")" = 1 ] || fail "not exactly one final line (rank 0 alone prints)"
  echo "ok: 2 ranks repeat bit for bit"
  ;;
resume)
  build "$src/mpi_cnn.nn" "$d"
  export NN2C_MPI_SLICES=12
  run 3 "$work/a.out" "$t" --steps 10 --save "$work/a.ckpt"
  run 2 "$work/b.out" "$t" --steps 20 --load "$work/a.ckpt" --save "$work/b.ckpt"
  grep -q 'resumed from .* at step 10' "$work/b.out" || fail "no resume line"
  run 1 "$work/c.out" "$t" --steps 20 --save "$work/c.ckpt"
  same "$work/b.ckpt" "$work/c.ckpt" 0 0 "3 ranks then 2 ranks differ from 1 rank throughout"
  echo "ok: a 3-rank checkpoint resumes on 2 ranks exactly"
  ;;
fault)
  build "$src/mpi_cnn.nn" "$d"
  # expect_fail NAME PATTERN CMD...: non-zero within 30 s, stderr matching PATTERN
  expect_fail() {
    name=$1 pat=$2
    shift 2
    start=$(date +%s)
    timeout 30 "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$? took=$(($(date +%s) - start))
    [ $rc -ne 0 ] || fail "$name: mpirun exited 0"
    [ $rc -ne 124 ] || fail "$name: still running after 30 s (a hang)"
    grep -q "$pat" "$work/$name.err" || { cat "$work/$name.err" >&2; fail "$name: no message matching '$pat'"; }
    echo "ok: $name: exit $rc after ${took}s"
  }
  # one CMD: a shell line that runs CMD on rank 1 and the trainer unchanged elsewhere
  one() { printf 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then %s; else exec "$0" "$@"; fi' "$1"; }
  expect_fail bad_flag "rank 1 of 2): error: --batch: expected a positive integer, got 'x'" \
    mpirun -np 2 sh -c "$(one 'exec "$0" "$@" --batch x')" "$t" --steps 20
  expect_fail killed "rank 1 with PID .* exited on signal 9" \
    mpirun -np 2 sh -c "$(one '(sleep 2; kill -9 $$) & exec "$0" "$@"')" "$t" --epochs 100000
  if [ -f "$data/mnist/train-images-idx3-ubyte.gz" ] || [ -f "$data/mnist/train-images-idx3-ubyte" ]; then
    build "$src/mpi_mnist.nn" "$work/mnist"
    mkdir -p "$work/empty"
    expect_fail no_data "rank 1 of 2): error: .*$work/empty" \
      mpirun -np 2 sh -c "$(one "exec \"\$0\" \"\$@\" --data $work/empty")" "$work/mnist/mpi_mnist_train" \
      --data "$data/mnist" --limit-train 64 --limit-test 16
  else
    echo "note: no MNIST in $data; the unreadable-data case is not checked"
  fi
  ;;
batchnorm)
  build "$src/../e2e/models/e2e_batchnorm.nn" "$work/bn"
  export NN2C_MPI_SLICES=2
  grep -q '#define e2e_batchnorm_RUNNING_STATE_FLOATS [1-9]' "$work/bn/e2e_batchnorm.h" || fail "no running statistics"
  run 1 "$work/bn1.out" "$work/bn/e2e_batchnorm_train" --epochs 3 --save "$work/bn1.ckpt"
  run 2 "$work/bn2.out" "$work/bn/e2e_batchnorm_train" --epochs 3 --save "$work/bn2.ckpt"
  same "$work/bn2.ckpt" "$work/bn1.ckpt" 0 0 "batchnorm: 2 ranks differ from 1 rank in exact mode"
  echo "ok: batchnorm's running statistics on 2 ranks = 1 rank"
  ;;
onnx)
  build "$src/../onnx/weights/small_cnn.onnx" "$work/onnx" --loss mse --optimizer adam --lr 0.01 --batch 8 \
    --dataset "random samples=64 classes=3" --name scnn
  export NN2C_MPI_SLICES=4
  run 2 "$work/o2.out" "$work/onnx/scnn_train" --epochs 2 --save "$work/o2.ckpt"
  run 1 "$work/o1.out" "$work/onnx/scnn_train" --epochs 2 --save "$work/o1.ckpt"
  same "$work/o2.ckpt" "$work/o1.ckpt" 0 0 "the imported model on 2 ranks differs from 1 rank"
  grep -q '^final: test_loss=' "$work/o2.out" || fail "no final line"
  echo "ok: imported ONNX CNN on 2 ranks = 1 rank"
  ;;
*) fail "unknown case $case" ;;
esac
echo PASS
