#!/bin/bash
# bench/int8.sh - int8 against float inference of examples/mnist_cnn.nn (issue 14).
#
#   bench/int8.sh                      # about 5 minutes on the 2-core machine
#   EPOCHS=2 TEST=10000 bench/int8.sh
#
# Settings: DATA (the MNIST directory; default ../shared/data/mnist next to the
# repository), EPOCHS (1: full epochs of the emitted trainer), CAL (1000
# calibration images), TEST (2000 test images for the accuracies; nn2c quantize
# runs them through the interpreter, about 25 ms per image and graph), ROUNDS
# (3 alternating runs per model and batch), ITERS (200 calls per run), WORK
# (/tmp/nn2c-int8-bench), NN2C (default build/compiler/nn2c of this tree).
# 1. Trains mnist_cnn with its emitted trainer and saves the checkpoint.
# 2. nn2c quantize: calibration on CAL training images, float and int8
#    accuracy (the int8 kernels of the interpreter, bit-identical to the
#    emitted C) on TEST test images.
# 3. Compiles the float model (nn2c compile mnist_cnn.nn) and the int8 one
#    (nn2c compile q.onnx), builds each with its own Makefile (-O3
#    -march=native) and bench/infer_nn2c.c.in, and runs them alternately at
#    batch 1 and 64, 1 thread: the median of ROUNDS runs' medians of ITERS
#    calls; the weights' bytes (the ONNX files' int8 initializers against the
#    float parameters) and the arenas at batch 64.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/nn2c-int8-bench}
NN2C=${NN2C:-$ROOT/build/compiler/nn2c}
DATA=${DATA:-$ROOT/../shared/data/mnist}
EPOCHS=${EPOCHS:-1} CAL=${CAL:-1000} TEST=${TEST:-2000} ROUNDS=${ROUNDS:-3} ITERS=${ITERS:-200}
mkdir -p "$WORK"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cc: $(cc --version | head -n 1)"

"$NN2C" compile "$ROOT/examples/mnist_cnn.nn" --train -o "$WORK/train" > "$WORK/train.log" 2>&1
make -s -C "$WORK/train" >> "$WORK/train.log" 2>&1
"$WORK/train/mnist_cnn_train" --data "$DATA" --epochs "$EPOCHS" --save "$WORK/mnist_cnn.ckpt" --quiet |
  tail -n 1 | sed 's/^/trained: /'
"$NN2C" quantize "$ROOT/examples/mnist_cnn.nn" --load "$WORK/mnist_cnn.ckpt" --data "$DATA" --calibrate "$CAL" \
  --test "$TEST" -o "$WORK/q.onnx" > "$WORK/quantize.txt"
grep -E '^(wrote|calibration set|test set)' "$WORK/quantize.txt"

"$NN2C" compile "$ROOT/examples/mnist_cnn.nn" -o "$WORK/float" > "$WORK/float.log" 2>&1
"$NN2C" compile "$WORK/q.onnx" --name mnist_cnn_int8 -o "$WORK/int8" > "$WORK/int8.log" 2>&1
"$NN2C" export "$ROOT/examples/mnist_cnn.nn" "$WORK/mnist_cnn.ckpt" -o "$WORK/float.onnx" --quiet
for v in float:mnist_cnn int8:mnist_cnn_int8; do
  d=$WORK/${v%%:*} m=${v#*:}
  sed "s/@NAME@/$m/g" "$ROOT/bench/infer_nn2c.c.in" > "$d/infer_$m.c"
  make -s -C "$d" -f Makefile -f "$ROOT/bench/harness.mk" NAME="$m" "infer_$m" >> "$d.log" 2>&1
done
for b in 1 64; do
  for r in $(seq "$ROUNDS"); do
    for v in float:mnist_cnn int8:mnist_cnn_int8; do
      d=$WORK/${v%%:*} m=${v#*:}
      "$d/infer_$m" --batch "$b" --iters "$ITERS" --seconds 0 --threads 1 |
        sed -n "s/.*median_us=\([0-9.]*\).*/${v%%:*} $b \1/p"
    done
  done
done > "$WORK/runs.txt"
echo "latency, 1 thread (median of $ROUNDS runs' medians of $ITERS calls), load $(cut -d' ' -f1 /proc/loadavg):"
for b in 1 64; do
  sort -g -k3 "$WORK/runs.txt" | awk -v b=$b '$2 == b { t[$1, ++n[$1]] = $3 } END {
    f = t["float", int((n["float"] + 1) / 2)]; q = t["int8", int((n["int8"] + 1) / 2)]
    printf "  batch %2d: float %8.1f us, int8 %8.1f us, int8/float %.2f\n", b, f, q, q / f }'
done
echo "files: float.onnx $(stat -c %s "$WORK/float.onnx") bytes, q.onnx $(stat -c %s "$WORK/q.onnx") bytes"
for v in float:mnist_cnn int8:mnist_cnn_int8; do
  d=$WORK/${v%%:*} m=${v#*:}
  printf '#include <stdio.h>\n#include "%s.h"\nint main(void) { printf("%%lu\\n", (unsigned long)%s_arena_bytes(64)); return 0; }\n' \
    "$m" "$m" > "$d/arena.c"
  cc -fopenmp -I"$d" -o "$d/arena" "$d/arena.c" "$d/$m.o" -lm 2> /dev/null && echo "arena at batch 64, ${v%%:*}: $("$d/arena") bytes"
done
