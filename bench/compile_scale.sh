#!/usr/bin/env bash
# compile_scale.sh [NN2C]: how compile time and memory grow with model size (issue 16's
# scale targets: a 100,000-layer .nn compiles in under 10 s and 1 GB; a 10,000-step LSTM
# lowers in under 10 s). Prints seconds, peak MB and the time per layer/step, whose
# ratio between sizes shows whether growth is linear (ratio near 1).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
nn2c=${1:-$root/build/compiler/nn2c}
WORK=$(mktemp -d); . "$root/bench/common.sh"
cpu_line
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$WORK"' EXIT

# measure LABEL COUNT CMD...: one line of figures; sets per_unit (microseconds per unit)
measure() {
  label=$1 count=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >/dev/null 2>&1 || { echo "$label: FAILED"; exit 1; }
  read -r secs kb <"$tmp/time"
  per_unit=$(awk -v s="$secs" -v n="$count" 'BEGIN { printf "%.1f", s * 1e6 / n }')
  printf "%-34s %8s s %8d MB %10s us/unit\n" "$label" "$secs" $((kb / 1024)) "$per_unit"
}

for n in 1000 10000 100000; do
  sh "$root/tests/scale/make_models.sh" "$tmp/d$n" "$n" 10
  measure "compile, $n dense layers" "$n" "$nn2c" compile "$tmp/d$n/deep.nn" -o "$tmp/d$n/out"
  eval "deep_$n=$per_unit"
done
for n in 1000 10000; do
  measure "compile --train, $n dense layers" "$n" "$nn2c" compile "$tmp/d$n/deep_train.nn" --train -o "$tmp/d$n/train"
  eval "train_$n=$per_unit"
done
for n in 1000 10000; do
  sh "$root/tests/scale/make_models.sh" "$tmp/l$n" 10 "$n"
  measure "lower, LSTM of $n steps" "$n" "$nn2c" compile "$tmp/l$n/lstm.nn" --emit=ir --passes=shape
  eval "lstm_$n=$per_unit"
done
awk -v a="$deep_1000" -v b="$deep_100000" -v c="$lstm_1000" -v d="$lstm_10000" -v e="$train_1000" -v f="$train_10000" 'BEGIN {
  printf "time per layer, 100k / 1k layers: %.2fx;  --train, 10k / 1k layers: %.2fx;  time per step, 10k / 1k LSTM steps: %.2fx  (1.0 = linear)\n", b / a, f / e, d / c }'
