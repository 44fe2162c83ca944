#!/bin/bash
# bench/layout.sh - what the layout pass buys on torchvision CNNs.
#
#   bench/layout.sh                    # resnet18 and mobilenet_v2, about 10 minutes
#   MODELS=mobilenet_v2 ROUNDS=2 bench/layout.sh
#
# Settings: MODELS ("resnet18 mobilenet_v2"), ROUNDS (4: alternating runs per
# side), ITERS (50 calls per run), CLOCK (wall, or cpu: the calling thread's
# CPU time, CLOCK_THREAD_CPUTIME_ID, which time-slicing on a loaded machine
# does not inflate), WORK (/tmp/nn2c-layout-bench), NN2C (the nn2c binary,
# default build/compiler/nn2c of this tree).
# 1. Exports each torchvision model (weights=None, eval, batch 1, 3x224x224,
#    opset 13) with /usr/bin/python3 (python3-torch, python3-torchvision).
# 2. Counts the transposes left in the inference graph without and with the
#    layout pass (--emit=ir after shape,[layout,]simplify,constfold,dce).
# 3. Compiles the model to C with the default inference pipeline and with the
#    same pipeline minus layout, builds each with its own Makefile and the
#    latency harness (bench/infer_nn2c.c.in, 1 thread), and runs the two
#    alternately ROUNDS times: each run prints the median of ITERS forward
#    calls (CLOCK); the table shows the median and the best of the runs'
#    medians. The weights are C literals: gcc takes about 2.5 minutes for
#    resnet18's 180 MB file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/nn2c-layout-bench}
NN2C=${NN2C:-$ROOT/build/compiler/nn2c}
MODELS=${MODELS:-"resnet18 mobilenet_v2"}
ROUNDS=${ROUNDS:-4} ITERS=${ITERS:-50} CLOCK=${CLOCK:-wall}
clk=CLOCK_MONOTONIC
[ "$CLOCK" = cpu ] && clk=CLOCK_THREAD_CPUTIME_ID
INFER="shape,layout,simplify,constfold,dce,fuse,schedule,memplan"
mkdir -p "$WORK"

for m in $MODELS; do
  d=$WORK/$m
  mkdir -p "$d"
  [ -f "$d/model.onnx" ] || /usr/bin/python3 - "$m" "$d/model.onnx" <<'PY'
import sys, torch, torchvision
model = getattr(torchvision.models, sys.argv[1])(weights=None).eval()
torch.onnx.export(model, torch.randn(1, 3, 224, 224), sys.argv[2], input_names=["x"], output_names=["y"], opset_version=13)
PY
  for v in with without; do
    p=$INFER
    [ $v = without ] && p=${INFER/layout,/}
    n=$("$NN2C" compile "$d/model.onnx" --emit=ir --passes="${p%%,fuse*}" | grep -c '= transpose(' || true)
    echo "$m $v the layout pass: $n transposes"
    [ -f "$d/$v/$m.c" ] || "$NN2C" compile "$d/model.onnx" --name "$m" --passes="$p" -o "$d/$v" 2>"$d/$v.log"
    sed "s/@NAME@/$m/g; s/CLOCK_MONOTONIC/$clk/" "$ROOT/bench/infer_nn2c.c.in" >"$d/$v/infer_$m.c"
    make -s -C "$d/$v" -f Makefile -f "$ROOT/bench/harness.mk" NAME="$m" "infer_$m" >>"$d/$v.log" 2>&1
    grep '^nn2c: forward' "$d/$v.log" | sed "s/^/  $v: /"
  done
  for r in $(seq "$ROUNDS"); do
    for v in with without; do
      "$d/$v/infer_$m" --iters "$ITERS" --seconds 0 --threads 1 | sed -n "s/.*median_us=\([0-9.]*\).*/$v \1/p"
    done
  done >"$d/runs.txt"
  echo "$m batch 1, 1 thread, $CLOCK clock, load $(cut -d' ' -f1 /proc/loadavg):"
  for v in with without; do
    sort -g -k2 "$d/runs.txt" | awk -v v=$v '$1 == v { t[++n] = $2 } END {
      printf "  %-7s the layout pass: median %.1f ms, best %.1f ms (%d runs of the median of '"$ITERS"' calls)\n", v, t[int((n + 1) / 2)] / 1000, t[1] / 1000, n }'
  done
done
