#!/bin/sh
# trainer_callbacks.sh SCRIPTED_TRAIN WORKDIR
# Callbacks on a crafted run (scripted.h: the test losses and accuracies come
# from $SCRIPTED_LOSSES / $SCRIPTED_ACCURACIES, one step an epoch, the step's
# loss is the lr the model was given):
#  - --early-stop P stops after the epoch where the monitored metric has not
#    improved for P epochs (losses lower is better, accuracies higher; a tie is
#    no improvement), and never when it keeps improving;
#  - --save-best keeps the checkpoint of the best epoch;
#  - each --lr-schedule gives the model Keras's learning rates, step by step;
#  - bad flags are refused.
set -u
train=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
export SCRIPTED_LOSSES="1.0,0.8,0.9,0.85,0.95,0.7,0.6,0.5,0.4,0.3"

last_epoch() { grep -E '^epoch [0-9]+:' "$1" | tail -1 | sed 's/^epoch \([0-9]*\):.*/\1/'; }
stops_after() { # stops_after EPOCH ARGS...: trains with ARGS and must end after EPOCH
  want=$1
  shift
  "$train" --epochs 10 "$@" > "$dir/out" 2>&1 || fail "$*: $(cat "$dir/out")"
  [ "$(last_epoch "$dir/out")" = "$want" ] || fail "$*: stopped after epoch $(last_epoch "$dir/out"), expected $want"
}

stops_after 4 --early-stop 2 --monitor test_loss
grep -qx 'early stop: test_loss has not improved for 2 epochs (best 0.800000 at epoch 2)' "$dir/out" ||
  fail "no early stop line: $(cat "$dir/out")"
grep -q '^callbacks: monitor test_loss; early stop after 2 epochs without improvement$' "$dir/out" || fail "callbacks line"
stops_after 4 --early-stop 2 # test_loss is the default without a validation split
stops_after 5 --early-stop 3 --monitor test_loss
stops_after 10 --early-stop 4 --monitor test_loss # 0.7 at epoch 6 beats 0.8, then it keeps improving
SCRIPTED_ACCURACIES=0.5,0.75,0.75,0.5,1 stops_after 4 --early-stop 2 --monitor test_accuracy
SCRIPTED_ACCURACIES=0.5,0.75,0.75,1,0.5 stops_after 6 --early-stop 2 --monitor test_accuracy

# --save-best: the best epoch's checkpoint (one step an epoch: step = epoch)
stops_after 4 --early-stop 2 --save-best "$dir/best.ckpt" --save "$dir/last.ckpt"
grep -q "^epoch 2: test_loss improved from 1.000000 to 0.800000: saved $dir/best.ckpt" "$dir/out" ||
  fail "no improvement line: $(cat "$dir/out")"
"$train" --load "$dir/best.ckpt" --epochs 2 > "$dir/resume" 2>&1 || fail "loading best.ckpt: $(cat "$dir/resume")"
grep -q "resumed from $dir/best.ckpt at step 2 " "$dir/resume" || fail "best.ckpt is not step 2's: $(cat "$dir/resume")"
"$train" --load "$dir/last.ckpt" --epochs 4 > "$dir/resume" 2>&1 || fail "loading last.ckpt"
grep -q "at step 4 " "$dir/resume" || fail "last.ckpt is not step 4's: $(cat "$dir/resume")"
ls "$dir" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$dir")"

# learning rates, step by step: the metrics file's train_loss is the lr the model trained with
lrs() { # lrs EPOCHS SCHEDULE: the lr of each step, one line
  rm -f "$dir/m.csv"
  "$train" --quiet --epochs "$1" --lr-schedule "$2" --metrics "$dir/m.csv" --log-every 1 > "$dir/out" 2>&1 ||
    fail "--lr-schedule $2: $(cat "$dir/out")"
  awk -F, '$1 == "step" { if ($4 != $10) bad = 1; printf "%s%.6g", sep, $4; sep = " " } END { print ""; exit bad }' \
    "$dir/m.csv" || fail "--lr-schedule $2: the lr column is not the lr the model used"
}
expect_lrs() {
  got=$(lrs "$1" "$2")
  [ "$got" = "$3" ] || fail "--lr-schedule '$2': lrs $got, expected $3"
}
expect_lrs 5 "step every=2 factor=0.5" "1 1 0.5 0.5 0.25"
expect_lrs 5 "exponential rate=0.5 steps=2" "1 0.707107 0.5 0.353553 0.25"
expect_lrs 5 "exponential,rate=0.5,steps=2,staircase=1" "1 1 0.5 0.5 0.25"
expect_lrs 5 "cosine steps=4" "1 0.853553 0.5 0.146447 0"
expect_lrs 4 "cosine" "1 0.853553 0.5 0.146447"
expect_lrs 5 "cosine steps=4 alpha=0.2" "1 0.882843 0.6 0.317157 0.2"
# plateau: 0.9 and 0.85 at epochs 3-4 do not beat 0.8, so step 5 on trains at half the lr (0.95 at
# epoch 5 does not beat it either, but 0.7 at epoch 6 does, before the patience runs out again)
expect_lrs 7 "plateau factor=0.5 patience=2" "1 1 1 1 0.5 0.5 0.5"
expect_lrs 7 "plateau factor=0.5 patience=2 min_lr=0.75" "1 1 1 1 0.75 0.75 0.75"

# bad flags
expect_error() {
  msg=$1
  shift
  "$train" "$@" > "$dir/out" 2>&1 && fail "$* was accepted"
  grep -qF -e "$msg" "$dir/out" || fail "$*: expected '$msg', got $(cat "$dir/out")"
}
expect_error "--monitor val_loss: needs --validation-split F (or monitor test_loss)" --monitor val_loss --early-stop 2
expect_error "--monitor: unknown metric 'loss' (expected train_loss," --monitor loss --early-stop 2
expect_error "--early-stop: expected a non-negative integer, got '-1'" --early-stop -1
stops_after 10 --early-stop 0 # off
expect_error "--lr-schedule: unknown lr schedule 'warp' (expected step, exponential, cosine or plateau)" --lr-schedule warp
expect_error "--lr-schedule: lr schedule step: every=0 is out of range (an integer 1 to 1e+09)" --lr-schedule "step every=0"
expect_error "--lr-schedule: lr schedule cosine: unknown option 'rate'" --lr-schedule "cosine rate=2"
expect_error "--lr-schedule: lr schedule plateau: factor=1 is out of range" --lr-schedule "plateau factor=1"
expect_error "--lr-schedule: lr schedule step: expected key=value, got 'fast'" --lr-schedule "step fast"
expect_error "--save-best: $dir: not a regular file" --save-best "$dir"
expect_error "--save-best: $dir/x.ckpt is the --save file too" --save-best "$dir/x.ckpt" --save "$dir/x.ckpt"
echo "callbacks: ok"
