#!/bin/sh
# trainer_resume.sh TRAINER WORKDIR
# Training 7 steps, saving, then resuming to 12 steps must give the same
# checkpoint (byte for byte) and final line as training 12 steps at once.
# With batch 3 on 8 samples an epoch is 3 steps (the last one partial), so
# step 7 is inside epoch 3: this checks mid-epoch resume too.
set -u
train=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

"$train" --batch 3 --steps 7 --save "$dir/a.ckpt" > "$dir/a.out" || fail "first run"
"$train" --batch 3 --load "$dir/a.ckpt" --steps 12 --save "$dir/b.ckpt" > "$dir/b.out" ||
  fail "resumed run"
"$train" --batch 3 --steps 12 --save "$dir/c.ckpt" > "$dir/c.out" || fail "straight run"
cat "$dir/b.out"
grep -q 'resumed from .*a.ckpt at step 7 (epoch 3, batch 1)' "$dir/b.out" || fail "no resume line"
cmp "$dir/b.ckpt" "$dir/c.ckpt" || fail "resumed and straight checkpoints differ"
b=$(grep '^final:' "$dir/b.out") c=$(grep '^final:' "$dir/c.out")
[ -n "$b" ] && [ "$b" = "$c" ] || fail "final lines differ: '$b' vs '$c'"
cmp "$dir/a.ckpt" "$dir/c.ckpt" >/dev/null && fail "7 and 12 steps gave the same checkpoint"

# Loading a finished run trains no further and keeps the checkpoint's step.
"$train" --batch 3 --load "$dir/c.ckpt" --steps 12 --save "$dir/d.ckpt" > "$dir/d.out" ||
  fail "reloaded run"
cmp "$dir/c.ckpt" "$dir/d.ckpt" || fail "reloading a finished run changed it"
[ "$(grep '^final:' "$dir/d.out")" = "$c" ] || fail "reloaded final line differs"
echo "resume: ok"
