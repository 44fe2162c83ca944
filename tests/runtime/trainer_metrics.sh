#!/bin/sh
# trainer_metrics.sh TRAINER WORKDIR
# --metrics FILE --log-every 1 (batch 3 on 8 samples: 3 steps an epoch):
#  - CSV: the header, a step row per step, an epoch row per epoch with the
#    test metrics, empty validation columns;
#  - a run trained in pieces (6 steps; a run from there to 8 steps that is
#    thrown away; resumed from step 6 to 12) keeps one row per step, and its
#    rows equal a straight 12-step run's in every column but the timings;
#  - JSON Lines: the same rows, each line a JSON object (checked with python3
#    when it is there), null for what does not apply.
set -u
train=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
run() { "$train" --batch 3 --quiet --log-every 1 "$@" >> "$dir/log" 2>&1 || fail "run $*: $(tail -3 "$dir/log")"; }
cut_timing() { grep -v '^kind' "$1" | cut -d, -f1-10; } # kind .. lr

run --steps 12 --metrics "$dir/straight.csv"
head -1 "$dir/straight.csv" | grep -qx 'kind,epoch,step,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,test_accuracy,lr,samples_per_s,elapsed_s' ||
  fail "header: $(head -1 "$dir/straight.csv")"
[ "$(grep -c '^step,' "$dir/straight.csv")" = 12 ] || fail "expected 12 step rows"
[ "$(grep -c '^epoch,' "$dir/straight.csv")" = 4 ] || fail "expected 4 epoch rows"
grep -Eq '^epoch,2,6,[0-9.e-]+,[0-9.]+,,,[0-9.e-]+,[0-9.]+,0\.5,[0-9.e+]+,[0-9.e-]+$' "$dir/straight.csv" ||
  fail "no epoch 2 row of the expected form"
grep -Eq '^step,1,2,[0-9.e-]+,[0-9.]+,,,,,0\.5,[0-9.e+]+,[0-9.e-]+$' "$dir/straight.csv" || fail "no step 2 row"

run --steps 6 --save "$dir/s6.ckpt" --metrics "$dir/pieces.csv"
run --load "$dir/s6.ckpt" --steps 8 --metrics "$dir/pieces.csv"
[ "$(grep -c '^step,' "$dir/pieces.csv")" = 8 ] || fail "after 8 steps: $(cat "$dir/pieces.csv")"
run --load "$dir/s6.ckpt" --steps 12 --metrics "$dir/pieces.csv"
[ "$(cut -d, -f3 "$dir/pieces.csv" | grep -c '^8$')" = 1 ] || fail "the thrown-away run's rows were kept"
# resumed at an epoch's end, so even the epoch rows are the straight run's
cut_timing "$dir/straight.csv" > "$dir/a" && cut_timing "$dir/pieces.csv" > "$dir/b"
cmp "$dir/a" "$dir/b" || fail "rows of the resumed run differ from the straight run's: $(diff "$dir/a" "$dir/b")"
awk -F, 'NR > 1 { if ($12 + 0 < last) exit 1; last = $12 }' "$dir/pieces.csv" || fail "elapsed_s goes back on resume"

run --steps 12 --metrics "$dir/straight.jsonl"
[ "$(wc -l < "$dir/straight.jsonl")" = 16 ] || fail "expected 16 JSON lines"
grep -q '^{"kind":"epoch","epoch":1,"step":3,"train_loss":[0-9.e-]*,"train_accuracy":[0-9.]*,"val_loss":null,"val_accuracy":null,"test_loss":[0-9.e-]*,' "$dir/straight.jsonl" ||
  fail "epoch row: $(sed -n 4p "$dir/straight.jsonl")"
if command -v python3 >/dev/null 2>&1; then
  python3 -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows if r["kind"] == "step"] == list(range(1, 13)), rows
assert all(r["test_loss"] is None for r in rows if r["kind"] == "step")' "$dir/straight.jsonl" || fail "JSON Lines"
fi

# a file that is not a metrics file is never appended to (nor replaced)
printf 'a,b\n1,2\n' > "$dir/other.csv"
"$train" --batch 3 --quiet --load "$dir/s6.ckpt" --metrics "$dir/other.csv" > "$dir/out" 2>&1 && fail "other.csv accepted"
grep -q 'other.csv: its first line is not the metrics header' "$dir/out" || fail "message: $(cat "$dir/out")"
[ "$(cat "$dir/other.csv")" = "$(printf 'a,b\n1,2')" ] || fail "other.csv was changed"
echo "metrics: ok"
