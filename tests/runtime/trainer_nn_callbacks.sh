#!/bin/sh
# trainer_nn_callbacks.sh NN2C MODEL.nn WORKDIR
# The train section's callback lines (lr_schedule, early_stop, monitor,
# save_best) reach the generated trainer (NAME_TRAIN_FLAGS in the header) and
# `nn2c run`: both announce them, save the best checkpoint and train with the
# scheduled learning rates; a command-line flag overrides a line.
set -u
nn2c=$1 model=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
"$nn2c" compile "$model" --train -o "$dir/c" > "$dir/log" 2>&1 || fail "compile: $(cat "$dir/log")"
grep -qF '#define callbacks_TRAIN_FLAGS "--lr-schedule step every=2 factor=0.5\n--early-stop 3\n--monitor test_loss\n--save-best best.ckpt\n"' \
  "$dir/c/callbacks.h" || fail "header: $(grep TRAIN_FLAGS "$dir/c/callbacks.h")"
make -C "$dir/c" > "$dir/log" 2>&1 || fail "make: $(tail "$dir/log")"
line='callbacks: monitor test_loss; early stop after 3 epochs without improvement; best checkpoint to best.ckpt; lr schedule step every=2 factor=0.5'
lrs() { awk -F, '$1 == "epoch" { printf "%s%g", sep, $10; sep = " " } END { print "" }' "$1"; }
for how in trainer interp; do
  mkdir -p "$dir/$how" && cd "$dir/$how" || exit 1
  if [ $how = trainer ]; then
    run="$dir/c/callbacks_train"
  else
    run="$nn2c run $model"
  fi
  $run --metrics m.csv > out 2>&1 || fail "$how: $(cat out)"
  grep -qxF "$line" out || fail "$how: no callbacks line: $(head -3 out)"
  [ -f best.ckpt ] || fail "$how: no best.ckpt"
  [ "$(lrs m.csv)" = "0.5 0.5 0.25 0.25 0.125 0.125" ] || fail "$how: lrs $(lrs m.csv)"
  $run --metrics m2.csv --lr-schedule "step every=1 factor=0.5" --save-best other.ckpt > out 2>&1 || fail "$how: $(cat out)"
  [ "$(lrs m2.csv)" = "0.5 0.25 0.125 0.0625 0.03125 0.015625" ] || fail "$how: override: lrs $(lrs m2.csv)"
  [ -f other.ckpt ] || fail "$how: --save-best did not override save_best"
  $run --metrics m3.csv --lr-schedule constant --early-stop 0 > out 2>&1 || fail "$how: $(cat out)"
  [ "$(lrs m3.csv)" = "0.5 0.5 0.5 0.5 0.5 0.5" ] || fail "$how: constant: lrs $(lrs m3.csv)"
done
cmp "$dir/trainer/best.ckpt" "$dir/interp/best.ckpt" 2>/dev/null || echo "note: the two best.ckpt differ (float rounding)"
echo "train-section callbacks: ok"
