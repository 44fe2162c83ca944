#!/bin/sh
# trainer_resume_callbacks.sh INLINE_SOFTMAX_TRAIN SCRIPTED_TRAIN TOOLS_DIR WORKDIR
# The callbacks' state survives --save / --load, so a run trained in pieces
# decides as one run does:
#  1. inline_softmax (real training, 3 steps an epoch) with early stopping on
#     test_accuracy and reduce-on-plateau stops after epoch 6, the lr halved
#     after epoch 5. Trained in two pieces, cut after epoch 4 or inside
#     epoch 5 (--steps 13), it stops at the same epoch with the same lines,
#     the same metrics rows (but for the timings; step rows every 2 steps; CSV
#     and JSON Lines) and the same final checkpoint, byte for byte.
#  2. scripted (crafted test losses, one step an epoch): the patience counts
#     the epochs before the checkpoint, --save-best keeps the best epoch of
#     both pieces, a checkpoint saved by the early stop stops at once, and a
#     larger --early-stop goes on from it.
#  3. A checkpoint without the "trainer" section (written before it existed)
#     loads with a note; one whose trainer state is of a later version, or
#     another monitored metric, is refused or noted.
set -u
softmax=$1 scripted=$2 tools=$3 dir=$4
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
run() { # run OUT ARGS...
  out=$1
  shift
  "$@" >"$dir/$out" 2>&1 || fail "$*: $(cat "$dir/$out")"
}
lines() { grep -E '^(epoch [0-9]+:|early stop|final)' "$dir/$1" | sed 's/ time=.*//'; } # no progress, timings
rows() { cut -d, -f1-10 "$dir/$1"; }                                  # without samples_per_s, elapsed_s

# 1. real training in pieces
cb="--batch 3 --early-stop 3 --monitor test_accuracy --lr-schedule plateau,factor=0.5,patience=2 --log-every 2"
# shellcheck disable=SC2086 # cb is a list of flags
run straight.out "$softmax" $cb --epochs 30 --save "$dir/straight.ckpt" --metrics "$dir/straight.csv"
grep -qx 'early stop: test_accuracy has not improved for 3 epochs (best 1.000000 at epoch 3)' "$dir/straight.out" ||
  fail "the straight run did not stop as expected: $(cat "$dir/straight.out")"
grep -qx 'epoch 5: test_accuracy has not improved for 2 epochs: lr 0.5 -> 0.25' "$dir/straight.out" ||
  fail "the straight run did not reduce the lr after epoch 5"
for cut in "--epochs 4" "--steps 13"; do
  name=$(echo "$cut" | tr -d ' -')
  # shellcheck disable=SC2086
  run "$name.1.out" "$softmax" $cb $cut --save "$dir/$name.ckpt" --metrics "$dir/$name.csv"
  # shellcheck disable=SC2086
  run "$name.2.out" "$softmax" $cb --epochs 30 --load "$dir/$name.ckpt" --save "$dir/$name.ckpt" --metrics "$dir/$name.csv"
  grep -q "^resumed from $dir/$name.ckpt at step 1[23] " "$dir/$name.2.out" || fail "$cut: no resume line"
  [ "$(lines straight.out | tail -5)" = "$(lines "$name.2.out" | tail -5)" ] ||
    fail "$cut, resumed: $(lines "$name.2.out") -- straight: $(lines straight.out)"
  [ "$(rows straight.csv)" = "$(rows "$name.csv")" ] ||
    fail "$cut: metrics rows differ: $(diff "$dir/straight.csv" "$dir/$name.csv")"
  cmp "$dir/straight.ckpt" "$dir/$name.ckpt" || fail "$cut: the final checkpoints differ"
  echo "cut at $cut: stopped at epoch 6 as the straight run, same rows and checkpoint"
done
# JSON Lines too: the cut epoch's row goes on resume
jrows() { sed 's/,"samples_per_s":.*//' "$dir/$1"; }
# shellcheck disable=SC2086
run j0.out "$softmax" $cb --epochs 30 --metrics "$dir/straight.jsonl"
# shellcheck disable=SC2086
run j1.out "$softmax" $cb --steps 13 --save "$dir/j.ckpt" --metrics "$dir/j.jsonl"
grep -q '^{"kind":"epoch","epoch":5,"step":13,' "$dir/j.jsonl" || fail "no row for the cut epoch 5: $(cat "$dir/j.jsonl")"
# shellcheck disable=SC2086
run j2.out "$softmax" $cb --epochs 30 --load "$dir/j.ckpt" --metrics "$dir/j.jsonl"
[ "$(jrows straight.jsonl)" = "$(jrows j.jsonl)" ] || fail "JSON Lines rows differ: $(diff "$dir/straight.jsonl" "$dir/j.jsonl")"

# 2. the scripted run: test losses 1.0 0.8 0.9 0.85 0.95 0.7 ...; patience 3 stops after epoch 5
export SCRIPTED_LOSSES="1.0,0.8,0.9,0.85,0.95,0.7,0.6,0.5,0.4,0.3"
last_epoch() { grep -E '^epoch [0-9]+:' "$dir/$1" | tail -1 | sed 's/^epoch \([0-9]*\):.*/\1/'; }
run s1.out "$scripted" --epochs 3 --early-stop 3 --save "$dir/s.ckpt" --save-best "$dir/best.ckpt"
run s2.out "$scripted" --epochs 10 --early-stop 3 --load "$dir/s.ckpt" --save "$dir/s.ckpt" --save-best "$dir/best.ckpt"
[ "$(last_epoch s2.out)" = 5 ] || fail "resumed after epoch 3: stopped after epoch $(last_epoch s2.out), not 5"
grep -q "saved $dir/best.ckpt" "$dir/s2.out" && fail "--save-best saved a worse epoch after the resume: $(cat "$dir/s2.out")"
run b.out "$scripted" --load "$dir/best.ckpt" --epochs 2
grep -q "at step 2 " "$dir/b.out" || fail "best.ckpt is not epoch 2's"
run s3.out "$scripted" --epochs 10 --early-stop 3 --load "$dir/s.ckpt"
grep -qx 'early stop: test_loss had not improved for 3 epochs at the checkpoint (best 0.800000 at epoch 2)' \
  "$dir/s3.out" || fail "the early-stopped checkpoint trained on: $(cat "$dir/s3.out")"
grep -qE '^epoch [0-9]+:' "$dir/s3.out" && fail "an epoch after the early stop: $(cat "$dir/s3.out")"
run s4.out "$scripted" --epochs 10 --early-stop 5 --load "$dir/s.ckpt"
[ "$(last_epoch s4.out)" = 10 ] || fail "--early-stop 5 after the stop: ended after epoch $(last_epoch s4.out)"
echo "scripted: the patience, the best checkpoint and the stop carry over"

# 3. older checkpoints, later versions, another metric
command -v python3 >/dev/null 2>&1 || { echo "skipped part 3: no python3"; exit 0; }
python3 - "$tools" "$dir" <<'PY' || fail "writing the crafted checkpoints"
import sys
sys.path.insert(0, sys.argv[1])
import nn2c_ckpt
d = sys.argv[2]
version, s = nn2c_ckpt.read(d + "/s.ckpt")
nn2c_ckpt.write(d + "/old.ckpt", version, [(k, s[k]) for k in ("params", "state", "step")])
later = list(s["trainer"])
later[0] = 2.0  # the version field's lowest 16 bits
nn2c_ckpt.write(d + "/later.ckpt", version, [(k, later if k == "trainer" else v) for k, v in s.items()])
PY
run old.out "$scripted" --epochs 7 --early-stop 3 --load "$dir/old.ckpt"
grep -qx "note: $dir/old.ckpt holds no callback state (an older checkpoint): the callbacks start afresh" \
  "$dir/old.out" || fail "old checkpoint: $(cat "$dir/old.out")"
[ "$(last_epoch old.out)" = 7 ] || fail "old checkpoint: the callbacks did not start afresh"
"$scripted" --epochs 7 --load "$dir/later.ckpt" >"$dir/later.out" 2>&1 && fail "a later trainer state was loaded"
grep -qF "scripted_train: error: $dir/later.ckpt: its trainer state has version 2; this trainer reads version 1" \
  "$dir/later.out" || fail "later version: $(cat "$dir/later.out")"
run monitor.out "$scripted" --epochs 7 --early-stop 3 --monitor test_accuracy --load "$dir/s.ckpt"
grep -qx 'note: the checkpoint'"'"'s callbacks watched test_loss, these watch test_accuracy: they start afresh' \
  "$dir/monitor.out" || fail "another monitor: $(cat "$dir/monitor.out")"
echo "resume callbacks: ok"
