#!/bin/sh
# trainer_guards.sh NN2C SRC_DIR WORK CASE
# Checks one guard of the generated trainer (built from guard_mnist.nn by
# nn2c compile --train and the emitted Makefile, once, by CASE build):
#   build        compile and make the trainer into WORK/gen
#   idx_32x32    MNIST IDX images of 32x32 are refused, naming the file and both shapes
#   idx_run      and by nn2c run, which shares the loader
#   idx_7x7      and so are 7x7 ones (they used to train on garbage)
#   ckpt_tmp     --save creates its temp file exclusively (a planted symlink at an old
#                predictable name is left alone) and removes a stale one of a dead run
#   save_special --save onto a FIFO or a device node (not a regular file) is refused
#                before training
#   lr_nonfinite --lr 1e30: the loss turns non-finite, training stops with exit 1,
#                naming the epoch and step, and no checkpoint is written
#   lr_underflow --lr 1e-50 rounds to 0 as a float and is refused
#   save_says    --save prints one line naming the file, its bytes and parameters;
#                --quiet suppresses it
set -u
nn2c=$1 src=$2 work=$3 case=$4
gen=$work/gen train=$work/gen/guard_mnist_train
fail() { echo "FAIL: $*"; exit 1; }

# idx DIR ROWS COLS N: tiny MNIST IDX files (train and t10k) with N images of ROWSxCOLS
idx() {
  /usr/bin/python3 - "$@" <<'PY'
import os, struct, sys
d, r, c, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(d, exist_ok=True)
for split in ("train", "t10k"):
    with open(f"{d}/{split}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, r, c) + bytes((i * 7) % 256 for i in range(n * r * c)))
    with open(f"{d}/{split}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
}

# expect RC PATTERN CMD...: CMD exits RC and its output matches the fixed string PATTERN
expect() {
  want=$1 pat=$2
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ "$rc" = "$want" ] || fail "exit status $rc, expected $want: $*"
  printf '%s\n' "$out" | grep -qF -e "$pat" || fail "output lacks '$pat'"
}

case $case in
build)
  rm -rf "$work" && mkdir -p "$work" || exit 1
  "$nn2c" compile "$src/guard_mnist.nn" --train -o "$gen" || fail "nn2c compile"
  make -s -C "$gen" >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make"; }
  ;;
idx_32x32)
  idx "$work/d32" 32 32 8
  expect 1 "$work/d32/train-images-idx3-ubyte: images are 32x32 (1024 values each), but the model takes 28x28 (784)" \
    "$train" --data "$work/d32"
  ;;
idx_run)
  idx "$work/d32" 32 32 8
  expect 1 "$work/d32/train-images-idx3-ubyte: images are 32x32 (1024 values each), but the model takes 28x28 (784)" \
    "$nn2c" run "$src/guard_mnist.nn" --data "$work/d32"
  ;;
idx_7x7)
  idx "$work/d7" 7 7 8
  expect 1 "$work/d7/train-images-idx3-ubyte: images are 7x7 (49 values each), but the model takes 28x28 (784)" \
    "$train" --data "$work/d7"
  ;;
ckpt_tmp)
  idx "$work/ok" 28 28 8
  d=$work/tmpcase
  rm -rf "$d" && mkdir -p "$d" || exit 1
  echo keep >"$d/victim"
  # a stale temp of a run that no longer exists (pid 2^22+1 is above Linux's pid_max default)
  : >"$d/m.ckpt.tmp.4194305.AbC123"
  # the old predictable names, planted as symlinks, must not be followed
  pid=$$
  for p in $(seq $((pid + 1)) $((pid + 40))); do ln -s "$d/victim" "$d/m.ckpt.tmp.$p"; done
  "$train" --data "$work/ok" --save "$d/m.ckpt" --quiet || fail "training with --save"
  [ "$(cat "$d/victim")" = keep ] || fail "a planted symlink was followed"
  [ -f "$d/m.ckpt" ] && [ ! -L "$d/m.ckpt" ] || fail "no checkpoint"
  [ ! -e "$d/m.ckpt.tmp.4194305.AbC123" ] || fail "the stale temp file of a dead run is still there"
  ls "$d" | grep -v '^m\.ckpt\.tmp\.[0-9]*$' | grep -q '\.tmp\.' && fail "temp files left: $(ls "$d")"
  echo "ckpt_tmp: ok"
  ;;
save_special)
  # Never /dev/null itself: a trainer without the guard, run as root, replaces
  # it with a regular file. A FIFO and (as root) a null device node of our own.
  idx "$work/ok" 28 28 8
  rm -f "$work/fifo" "$work/nulldev"
  mkfifo "$work/fifo" || fail "mkfifo"
  targets=$work/fifo
  [ "$(id -u)" = 0 ] && mknod -m 666 "$work/nulldev" c 1 3 && targets="$targets $work/nulldev"
  for f in $targets; do
    expect 1 "--save: $f: not a regular file (a device, FIFO or directory); refusing to replace it" \
      "$train" --data "$work/ok" --save "$f"
    printf '%s\n' "$out" | grep -q "^epoch" && fail "it trained before refusing"
    [ -p "$f" ] || [ -c "$f" ] || fail "$f was replaced"
  done
  ;;
lr_nonfinite)
  idx "$work/big" 28 28 64
  rm -f "$work/nan.ckpt"
  expect 1 "the loss is not finite" "$train" --data "$work/big" --lr 1e30 --save "$work/nan.ckpt"
  printf '%s\n' "$out" | grep -qE "at epoch 1, step [0-9]+" || fail "the message does not name the epoch and step"
  [ ! -e "$work/nan.ckpt" ] || fail "a checkpoint was written"
  ;;
lr_underflow)
  expect 1 "--lr: 1e-50 is not a positive finite float (it rounds to 0)" "$train" --lr 1e-50
  ;;
save_says)
  idx "$work/ok" 28 28 8
  expect 0 "saved $work/s.ckpt (12736 parameters, 51342 bytes)" "$train" --data "$work/ok" --save "$work/s.ckpt"
  out=$("$train" --data "$work/ok" --save "$work/s.ckpt" --quiet 2>&1) || fail "--quiet run"
  printf '%s\n' "$out" | grep -q saved && fail "--quiet still says what it saved"
  echo "save_says: ok"
  ;;
batch_huge)
  # a batch above the data set is one batch per epoch, planned at the set's size (it asked for 18 GB)
  idx "$work/ok" 28 28 8
  # a 4 GB address-space cap makes the old 18 GB request fail (not under ASan, whose shadow needs more)
  [ -n "${ASAN_OPTIONS:-}" ] || ulimit -v 4000000 2>/dev/null || true
  expect 0 "final:" "$train" --data "$work/ok" --batch 1122784515 --epochs 1
  ;;
*) fail "unknown case $case" ;;
esac
exit 0
