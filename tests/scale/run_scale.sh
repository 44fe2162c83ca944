#!/bin/sh
# A guard against quadratic compile time (issue 16): 20,000 dense layers compile (also
# exported to ONNX and imported), a
# 3,000-step LSTM lowers and the training graph of 10,000 dense layers is planned well
# inside CTest's timeout (about 2 s, 1 s and 4 s here; before the name index, the reader
# table in fuse and the segment tree in memplan, minutes; before the suffix hint of
# graph_unique_name, the root marks in fuse and memplan's coalesced runs, the training
# graph took 42 s at 1,000 layers and 7 minutes at 4,000; before the importer's binding
# index, the 20,000-layer ONNX model 135 s).
# The figures themselves are measured by bench/compile_scale.sh.
set -eu
nn2c=$1 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$(dirname "$0")/make_models.sh" "$tmp" 20000 3000
"$nn2c" compile "$tmp/deep.nn" -o "$tmp/deep" >/dev/null 2>&1 || { echo "FAIL: 20,000-layer model did not compile"; exit 1; }
grep -q "dense20001_z" "$tmp/deep/deep.c" || { echo "FAIL: the last layer is missing from the emitted C"; exit 1; }
"$nn2c" compile "$tmp/lstm.nn" --emit=ir --passes=shape >"$tmp/lstm.ir" 2>&1 || { echo "FAIL: 3,000-step LSTM did not lower"; exit 1; }
grep -q "lstm1_h2999" "$tmp/lstm.ir" || { echo "FAIL: the last LSTM step is missing from the IR"; head -5 "$tmp/lstm.ir"; exit 1; }
# the ONNX importer on the 20,000 layers, exported (nn2c built without ONNX support skips this)
if "$nn2c" export "$tmp/deep.nn" -o "$tmp/deep.onnx" --quiet >"$tmp/export.log" 2>&1; then
  "$nn2c" compile "$tmp/deep.onnx" -o "$tmp/deep_onnx" --quiet >/dev/null 2>&1 || { echo "FAIL: the 20,000-layer ONNX model did not compile"; exit 1; }
  grep -q "dense20001" "$tmp/deep_onnx/deep.c" || { echo "FAIL: the last layer is missing from the ONNX model's C"; exit 1; }
  echo "ok: the 20,000 layers exported to ONNX and compiled from it"
else
  grep -q "without ONNX support" "$tmp/export.log" || { cat "$tmp/export.log"; exit 1; }
fi
sh "$(dirname "$0")/make_models.sh" "$tmp/t" 10000 1
"$nn2c" summary "$tmp/t/deep_train.nn" --train >"$tmp/t/summary" 2>&1 || { echo "FAIL: 10,000-layer training graph"; cat "$tmp/t/summary"; exit 1; }
grep -q "^Training arena at batch 32: " "$tmp/t/summary" || { echo "FAIL: no training arena in the summary"; cat "$tmp/t/summary"; exit 1; }
echo "ok: 20,000 dense layers compiled, 3,000 LSTM steps lowered, a 10,000-layer training step planned"
