#!/bin/sh
# nn2c summary: Keras's table and totals. The MNIST CNN's counts are Keras's
# (conv 3x3x1x32 + 32 = 320 parameters, 26*26*32*9 = 194,688 multiply-adds),
# the arena scales with --batch as fixed + per-sample * B, --train adds the
# training step, an ONNX model (when built with ONNX) gets rows per node, and
# bad flags exit 1.
set -eu
nn2c=$1 src=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out" "$tmp/err" 2>/dev/null; exit 1; }
"$nn2c" summary "$src/examples/mnist_cnn.nn" --batch 64 >"$tmp/out" 2>"$tmp/err" || fail "summary exited $?"
grep -Eq '^conv1 +conv2d +\[N,26,26,32\] +320 +0 +194,688$' "$tmp/out" || fail "conv1 row"
grep -Eq '^dense2 +dense +\[N,10\] +650 +0 +640$' "$tmp/out" || fail "dense2 row"
grep -q '^Total params: 93,322 (373,288 bytes)$' "$tmp/out" || fail "total params"
grep -q '^Trainable params: 93,322$' "$tmp/out" || fail "trainable"
grep -q '^Forward per sample: 2,794,240 multiply-adds' "$tmp/out" || fail "forward MACs"
line=$(grep '^Inference arena at batch 64:' "$tmp/out") || fail "no inference arena"
nums=$(echo "$line" | tr -d , | sed 's/.*: \([0-9]*\) bytes (\([0-9]*\) + \([0-9]*\) per sample)/\1 \2 \3/')
set -- $nums
[ "$1" -eq $(($2 + $3 * 64)) ] && [ "$3" -gt 0 ] || fail "arena $1 is not $2 + $3 * 64"
! grep -q '^Training' "$tmp/out" || fail "training totals without --train"
"$nn2c" summary "$src/examples/mnist_cnn.nn" --train >"$tmp/out" 2>"$tmp/err" || fail "--train exited $?"
grep -Eq '^Training step at batch 32: [0-9,]+ FLOPs' "$tmp/out" || fail "training step"
grep -q '^Gradients: 93,322 params' "$tmp/out" || fail "gradients"
"$nn2c" summary "$src/examples/imdb_lstm.nn" >"$tmp/out" 2>"$tmp/err" || fail "imdb exited $?"
grep -Eq '^lstm1 +lstm +\[N,64\] +49,408 ' "$tmp/out" || fail "lstm row (Keras: 4*(128*64+64*64+64))"
if "$nn2c" --help | grep -q 'export MODEL.onnx'; then
  "$nn2c" summary "$src/tests/onnx/weights/small_cnn.onnx" --train --loss mse >"$tmp/out" 2>"$tmp/err" || fail "onnx"
  grep -q '^Total params: 188 ' "$tmp/out" && grep -q '^Training step at batch 1' "$tmp/out" || fail "onnx totals"
fi
for bad in "--batch 0" "--bogus" "--loss mse" "-o $tmp/x"; do
  if "$nn2c" summary "$src/examples/xor.nn" $bad >"$tmp/out" 2>"$tmp/err"; then fail "'$bad' was accepted"; fi
  grep -q 'error' "$tmp/err" || fail "'$bad': no error message"
done
echo "ok: summary table, totals, --batch, --train, ONNX and bad flags"
