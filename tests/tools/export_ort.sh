#!/bin/sh
# export_ort.sh NN2C INTERP_FORWARD SRC WORK ORT_DIR - `nn2c export MODEL.nn`
# checked against ONNX Runtime: every example .nn model and the layer models of
# tests/e2e that the examples lack (batch normalization, LSTMs, strided and 1x1
# convolutions, pooling, dropout), with their initial weights, then xor and the
# batch-norm model trained by `nn2c run` (their checkpoint's weights and
# running statistics exported). Each ONNX file runs in onnxruntime-node
# (ort_forward.js) on the same input as nn2c's interpreter (interp_forward);
# the first outputs agree within 1e-5 * max(1, max |output|).
# onnxruntime-node is looked up in ORT_DIR/node_modules (scripts/get-ort.sh
# installs it there; .ci/run does), then the usual node paths. Exits 77 (skip)
# without node or onnxruntime-node.
set -u
nn2c=$1 forward=$2 src=$3 work=$4 ort=$5
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null 2>&1 || { echo "skip: node is not installed (apt-get install nodejs npm)"; exit 77; }
export NODE_PATH="$ort/node_modules${NODE_PATH:+:$NODE_PATH}"
if ! node -e "require('onnxruntime-node')" >/dev/null 2>&1; then
  echo "skip: onnxruntime-node is not installed in $ort/node_modules (scripts/get-ort.sh $(dirname "$ort") installs it)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work" || exit 1
failed=0

# check NAME MODEL.nn [CHECKPOINT]: export, run both, compare
check() {
  name=$1 model=$2 ckpt=${3:-}
  if ! "$nn2c" export "$model" $ckpt -o "$work/$name.onnx" --quiet 2>"$work/$name.log" ||
    ! dims=$("$forward" --make-input "$model" 3 "$work/$name.in" 2>>"$work/$name.log") ||
    ! "$forward" "$model" 3 "$work/$name.in" "$work/$name.out" $ckpt 2>>"$work/$name.log"; then
    echo "$name: FAIL: $(cat "$work/$name.log")"
    failed=1
    return
  fi
  # shellcheck disable=SC2086 # dims is a list of numbers
  out=$(node "$here/ort_forward.js" "$work/$name.onnx" "$work/$name.in" "$work/$name.out" $dims 2>&1) || failed=1
  echo "$name${ckpt:+ (trained)}: $out"
}

for f in "$src"/examples/*.nn; do
  check "$(basename "$f" .nn)" "$f"
done
for m in e2e_batchnorm e2e_bidir e2e_lstm e2e_conv e2e_conv1x1 e2e_dropout e2e_fuse_pool e2e_softmax e2e_winograd; do
  check "$m" "$src/tests/e2e/models/$m.nn"
done
# Trained weights: the checkpoint's params, and for batch normalization its running mean and variance.
for m in examples/xor tests/e2e/models/e2e_batchnorm; do
  name=$(basename "$m")
  "$nn2c" run "$src/$m.nn" --epochs 30 --save "$work/$name.ckpt" --quiet >"$work/$name.train.log" 2>&1 ||
    { echo "$name: training failed: $(cat "$work/$name.train.log")"; failed=1; continue; }
  check "${name}_trained" "$src/$m.nn" "$work/$name.ckpt"
done
[ $failed = 0 ] && echo "ok: every export computes nn2c's outputs in ONNX Runtime" || echo FAIL
exit $failed
