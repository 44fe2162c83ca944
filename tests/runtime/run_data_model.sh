#!/bin/sh
# run_data_model.sh MODE NN2C MODEL.nn WORK [ARGS...]
#   build        compiles MODEL.nn with nn2c --train into WORK and builds the
#                trainer warning-free (-Werror); the other modes run that trainer
#                with ARGS:
#   final        exit 0 with a "final: test_loss=... test_accuracy=..." line
#   same-seed    two runs with --seed 5 print the same final line, --seed 6 another
#   learns       train_loss of the last epoch below the first's and the last
#                train_accuracy >= 0.4 (speech commands: 30 words, chance 0.033)
#   interp       `nn2c run MODEL.nn ARGS` (the interpreter) ends with a final line
#   fails PATTERN  run from WORK (no data/ folder there): exit 1, PATTERN in stderr
# With NEED_DIR set to a missing directory it exits 77 (skipped).
set -u
mode=$1 nn2c=$2 model=$3 work=$4
shift 4
if [ -n "${NEED_DIR:-}" ] && [ ! -d "$NEED_DIR" ]; then
  echo "skipped: $NEED_DIR is missing"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
name=$(basename "$model" .nn)
final_re='^final: test_loss=[0-9]+\.[0-9]{6} test_accuracy=[01]\.[0-9]{4}$'

if [ "$mode" = interp ]; then
  out=$("$nn2c" run "$model" "$@" 2>&1) || { echo "$out"; fail "nn2c run exited with $?"; }
  echo "$out" | tail -n 3
  echo "$out" | grep -Eq "$final_re" || fail "no final line"
  exit 0
fi

bin=$work/src/${name}_train
if [ "$mode" = build ]; then
  rm -rf "$work"
  mkdir -p "$work"
  "$nn2c" compile "$model" --train -o "$work/src" >"$work/compile.log" 2>&1 ||
    { cat "$work/compile.log"; fail "nn2c compile failed"; }
  make -s -C "$work/src" CFLAGS="-O2 -std=c99 -Wall -Wextra -pedantic -Werror" >"$work/make.log" 2>&1 ||
    { cat "$work/make.log"; fail "make failed"; }
  echo "PASS: built $bin"
  exit 0
fi
[ -x "$bin" ] || fail "$bin is missing (the build test did not run)"

case $mode in
final)
  out=$("$bin" "$@" 2>&1) || { echo "$out"; fail "trainer exited with $?"; }
  echo "$out" | tail -n 3
  echo "$out" | grep -Eq "$final_re" || fail "no final line"
  ;;
same-seed)
  a=$("$bin" --quiet --seed 5 "$@") && b=$("$bin" --quiet --seed 5 "$@") && c=$("$bin" --quiet --seed 6 "$@") ||
    fail "trainer failed"
  printf 'seed 5: %s\nseed 5: %s\nseed 6: %s\n' "$a" "$b" "$c"
  [ "$a" = "$b" ] || fail "the same seed gave different runs"
  [ "$a" != "$c" ] || fail "another seed gave the same run"
  ;;
learns)
  out=$("$bin" "$@" 2>&1) || { echo "$out"; fail "trainer exited with $?"; }
  echo "$out" | grep '^epoch [0-9]*:'
  echo "$out" | awk '/^epoch [0-9]+:/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if (!n++) first = v["train_loss"]; last = v["train_loss"]; acc = v["train_accuracy"] }
    END { if (n < 2 || !(last < first) || !(acc >= 0.4)) {
            print "FAIL: train_loss " first " -> " last ", last train_accuracy " acc; exit 1 } }' || exit 1
  ;;
fails)
  pattern=$1
  shift
  out=$(cd "$work" && "$bin" "$@" 2>&1)
  rc=$?
  echo "$out"
  [ "$rc" = 1 ] || fail "exit status $rc, expected 1"
  echo "$out" | grep -Fq -e "$pattern" || fail "output lacks: $pattern"
  ;;
*) fail "unknown mode $mode" ;;
esac
echo "PASS: $mode"
