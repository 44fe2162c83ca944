#!/bin/sh
# kill_trials.sh - kill -9 a training run at random moments and check what it leaves (issue 16).
#
#   scripts/kill_trials.sh NN2C [TRIALS [WORK [SEED [EPOCHS]]]]
#   (defaults: 200 trials, WORK /tmp/nn2c-kill-trials, seed 1, 300 epochs)
#
# Builds the trainer of tests/runtime/guard_mnist.nn (nn2c compile --train, the emitted Makefile) and a
# small MNIST folder, times one uninterrupted run of EPOCHS epochs that saves after every epoch
# (--save), and keeps its checkpoint as the reference. Then, TRIALS times:
#   1. start the same run with --save m.ckpt and send it SIGKILL after a random delay in [0, the
#      run's time) (seeded: the same SEED gives the same delays);
#   2. the checkpoint it left, if any, must load: the next run resumes from it (--load m.ckpt, same
#      --epochs, --save m.ckpt) and must end with a checkpoint byte for byte equal to the reference
#      (resuming is bit-identical to never having stopped); without a checkpoint the next run starts
#      afresh and must reach the reference too;
#   3. after that next run no temporary file (m.ckpt.tmp.*) may remain: a save the kill cut short
#      leaves one, and the next save removes it.
# Prints a line per failure and a summary: how many kills left a checkpoint, none, or a temporary
# file (a kill during a save), and the failures. Exits 1 if any trial failed.
set -u
nn2c=$1 trials=${2:-200} work=${3:-/tmp/nn2c-kill-trials} seed=${4:-1} epochs=${5:-300}
src=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work" && mkdir -p "$work" || exit 1
work=$(cd "$work" && pwd)
fail() { echo "FAIL: $*"; exit 1; }

"$nn2c" compile "$src/tests/runtime/guard_mnist.nn" --train -o "$work/gen" --quiet || fail "nn2c compile"
make -s -C "$work/gen" >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make"; }
train=$work/gen/guard_mnist_train
/usr/bin/env python3 - "$work/data" <<'PY' || fail "writing the data"
import os, struct, sys
d = sys.argv[1]
os.makedirs(d)
for split, n in (("train", 16), ("t10k", 8)):
    with open(f"{d}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes((i * 7) % 256 for i in range(n * 784)))
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
run() { "$train" --data "$work/data" --epochs $epochs --quiet "$@"; }

# the reference, and how long a run takes (ms): the kills fall inside that span
start=$(date +%s%N)
run --save "$work/ref.ckpt" >/dev/null || fail "the reference run"
span=$((($(date +%s%N) - start) / 1000000))
[ "$span" -gt 0 ] || span=1
echo "kill trials: $trials, a run of $epochs epochs (a save after each) takes ${span} ms"

with_ckpt=0 without=0 with_tmp=0 failed=0
t=1
while [ "$t" -le "$trials" ]; do
  d=$work/trial && rm -rf "$d" && mkdir "$d" || exit 1
  delay=$(awk -v s="$seed" -v t="$t" -v span="$span" 'BEGIN { srand(s * 100003 + t); printf "%.3f", rand() * span / 1000 }')
  # the trainer itself in the background (not a subshell running it: the kill must reach it)
  "$train" --data "$work/data" --epochs $epochs --quiet --save "$d/m.ckpt" >"$d/killed.out" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  ls "$d" | grep -q '^m\.ckpt\.tmp\.' && with_tmp=$((with_tmp + 1))
  problem=
  if [ -e "$d/m.ckpt" ]; then
    with_ckpt=$((with_ckpt + 1))
    run --load "$d/m.ckpt" --save "$d/m.ckpt" >"$d/next.out" 2>&1 || problem="the checkpoint does not load: $(cat "$d/next.out")"
  else
    without=$((without + 1))
    run --save "$d/m.ckpt" >"$d/next.out" 2>&1 || problem="the run after the kill failed: $(cat "$d/next.out")"
  fi
  [ -z "$problem" ] && ! cmp -s "$d/m.ckpt" "$work/ref.ckpt" && problem="the resumed checkpoint differs from the reference"
  left=$(ls "$d" | grep '^m\.ckpt\.tmp\.')
  [ -z "$problem" ] && [ -n "$left" ] && problem="temporary files remain after the next run: $left"
  if [ -n "$problem" ]; then
    failed=$((failed + 1))
    echo "FAIL trial $t (killed after ${delay} s): $problem"
    cp -r "$d" "$work/failed-$t"
  fi
  t=$((t + 1))
done
echo "kill trials: $trials kills: $with_ckpt left a checkpoint, $without none; $with_tmp left a temporary file" \
  "(killed during a save); $failed failed (every checkpoint loads and resumes bit-identically, no temporary" \
  "file after the next run: $([ $failed -eq 0 ] && echo yes || echo no))"
[ "$failed" -eq 0 ]
