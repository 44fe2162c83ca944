#!/bin/bash
# bench/int8.sh - int8 against float inference of examples/mnist_cnn.nn and
# examples/cifar10_cnn.nn (issue 14), and ONNX Runtime on the same files.
#
#   bench/int8.sh                                   # about 15 minutes on the 2-core machine
#   MODELS=mnist_cnn EPOCHS=2 TEST=10000 bench/int8.sh
#   ARCH="-march=x86-64-v3 -DNN2C_NO_DISPATCH" bench/int8.sh   # AVX2 only, both models
#
# Settings: MODELS (mnist_cnn cifar10_cnn), DATA (the folder holding mnist/
# and cifar-10/; default ../shared/data next to the repository), EPOCHS (per
# model the README's count: 1 for mnist_cnn, 10 for cifar10_cnn), CAL (1000
# calibration images), CALIB (minmax; percentile or mse: nn2c quantize
# --calib), TEST (2000 test images for the accuracies; nn2c quantize runs them
# through the interpreter), ROUNDS (3 alternating runs per model and batch),
# ITERS (200 calls per run), ARCH (-march=native: the C flags of both builds),
# WORK (/tmp/nn2c-int8-bench), NN2C (build/compiler/nn2c of this tree),
# ORT_DIR (build/ort: scripts/get-ort.sh build; without it ONNX Runtime is left out),
# CKPT_DIR (a folder with MODEL.ckpt files to use instead of training).
# Per model:
# 1. Trains it with its emitted trainer and saves the checkpoint.
# 2. nn2c quantize: calibration on CAL training images, float and int8
#    accuracy (the int8 kernels of the interpreter, bit-identical to the
#    emitted C) on TEST test images.
# 3. Compiles the float model (nn2c compile MODEL.nn) and the int8 one
#    (nn2c compile q.onnx), builds each with its own Makefile (-O3 ARCH) and
#    bench/infer_nn2c.c.in, and runs them alternately at batch 1 and 64, 1
#    thread, with ONNX Runtime (bench/ort_infer.js, 1 thread) on the float
#    ONNX export, on q.onnx and on q_nchw.onnx (bench/qdq_nchw.py: the same
#    function with the layout moves on the int8 side, so that ONNX Runtime
#    fuses its int8 kernels) in the same rounds: the median of ROUNDS runs'
#    medians of ITERS calls; the weights' bytes (float params against the
#    int8 model's constants, from the headers) and the arenas at batch 64.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/nn2c-int8-bench}
NN2C=${NN2C:-$ROOT/build/compiler/nn2c}
DATA=${DATA:-$ROOT/../shared/data}
MODELS=${MODELS:-mnist_cnn cifar10_cnn} CAL=${CAL:-1000} CALIB=${CALIB:-minmax} TEST=${TEST:-2000}
ROUNDS=${ROUNDS:-3} ITERS=${ITERS:-200} ARCH=${ARCH:--march=native} ORT_DIR=${ORT_DIR:-$ROOT/build/ort}
PY=${PY:-/usr/bin/python3}
ort=0
[ -d "$ORT_DIR/node_modules/onnxruntime-node" ] && command -v node > /dev/null && ort=1
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cc: $(cc --version | head -n 1), flags -O3 $ARCH; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
[ "$ort" = 1 ] || echo "note: no onnxruntime-node in $ORT_DIR (scripts/get-ort.sh build): ONNX Runtime left out"

# sample_file MODEL OUT: 64 test images as raw f32 NHWC in [0, 1] (ONNX Runtime's input)
sample_file() {
  $PY - "$1" "$2" "$DATA" << 'EOF'
import array, gzip, sys
model, out, data = sys.argv[1:]
if model.startswith('mnist'):
    px = gzip.open(data + '/mnist/t10k-images-idx3-ubyte.gz').read()[16:16 + 64 * 784]
else:  # CIFAR-10 records: a label byte, then 1024 bytes per channel (R, G, B planes)
    raw, px = open(data + '/cifar-10/test_batch.bin', 'rb').read(), []
    for i in range(64):
        r = raw[i * 3073 + 1:(i + 1) * 3073]
        px += [r[c * 1024 + p] for p in range(1024) for c in range(3)]
array.array('f', [b / 255.0 for b in px]).tofile(open(out, 'wb'))
EOF
}

bench_model() { # MODEL DATASET_DIR EPOCHS DIMS
  local m=$1 data=$2 epochs=$3 dims=$4 w=$WORK/$1
  mkdir -p "$w"
  echo "== $m: $epochs epoch(s), calibration $CAL images ($CALIB), $TEST test images"
  if [ -f "${CKPT_DIR:-/nonexistent}/$m.ckpt" ]; then
    cp "$CKPT_DIR/$m.ckpt" "$w/$m.ckpt" && echo "checkpoint: $CKPT_DIR/$m.ckpt (not trained here)"
  else
    "$NN2C" compile "$ROOT/examples/$m.nn" --train -o "$w/train" > "$w/train.log" 2>&1
    make -s -C "$w/train" >> "$w/train.log" 2>&1
    "$w/train/${m}_train" --data "$data" --epochs "$epochs" --save "$w/$m.ckpt" --quiet | tail -n 1 | sed 's/^/trained: /'
  fi
  "$NN2C" quantize "$ROOT/examples/$m.nn" --load "$w/$m.ckpt" --data "$data" --calibrate "$CAL" --calib "$CALIB" \
    --test "$TEST" -o "$w/q.onnx" > "$w/quantize.txt"
  grep -E '^(wrote|calibration set|test set)' "$w/quantize.txt"
  "$NN2C" compile "$ROOT/examples/$m.nn" -o "$w/float" > "$w/float.log" 2>&1
  "$NN2C" compile "$w/q.onnx" --name "${m}_int8" -o "$w/int8" > "$w/int8.log" 2>&1
  "$NN2C" export "$ROOT/examples/$m.nn" "$w/$m.ckpt" -o "$w/float.onnx" --quiet
  sample_file "$m" "$w/x64.f32"
  [ "$ort" = 1 ] && $PY "$ROOT/bench/qdq_nchw.py" "$w/q.onnx" "$w/q_nchw.onnx"
  local v d n
  for v in float:$m int8:${m}_int8; do
    d=$w/${v%%:*} n=${v#*:}
    sed "s/@NAME@/$n/g" "$ROOT/bench/infer_nn2c.c.in" > "$d/infer_$n.c"
    make -s -C "$d" -f Makefile -f "$ROOT/bench/harness.mk" CFLAGS="-O3 $ARCH -std=c99" NAME="$n" "infer_$n" \
      >> "$d.log" 2>&1
  done
  for b in 1 64; do
    for r in $(seq "$ROUNDS"); do
      for v in float:$m int8:${m}_int8; do
        d=$w/${v%%:*} n=${v#*:}
        "$d/infer_$n" --batch "$b" --iters "$ITERS" --seconds 0 --threads 1 |
          sed -n "s/.*median_us=\([0-9.]*\).*/${v%%:*} $b \1/p"
      done
      if [ "$ort" = 1 ]; then
        for v in ort_float:float.onnx ort_int8:q.onnx ort_nchw:q_nchw.onnx; do
          # shellcheck disable=SC2086 # dims: one argument per dimension
          NODE_PATH=$ORT_DIR/node_modules node "$ROOT/bench/ort_infer.js" "$w/${v#*:}" "$w/x64.f32" $dims \
            --batch "$b" --threads 1 --iters "$ITERS" --seconds 0 | sed -n "s/.*median_us=\([0-9.]*\).*/${v%%:*} $b \1/p"
        done
      fi
    done
  done > "$w/runs.txt"
  echo "latency, 1 thread (median of $ROUNDS interleaved runs' medians of $ITERS calls), load $(cut -d' ' -f1 /proc/loadavg):"
  for b in 1 64; do
    sort -g -k3 "$w/runs.txt" | awk -v b=$b '$2 == b { t[$1, ++n[$1]] = $3 } END {
      for (k in n) m[k] = t[k, int((n[k] + 1) / 2)]
      printf "  batch %2d: float %8.1f us, int8 %8.1f us, int8/float %.2f", b, m["float"], m["int8"], m["int8"] / m["float"]
      if ("ort_int8" in m) printf "\n    ORT float %.1f us, ORT q.onnx %.1f us, ORT q_nchw.onnx %.1f us; int8/ORT q.onnx %.2f, int8/ORT q_nchw %.2f, int8/ORT float %.2f",
        m["ort_float"], m["ort_int8"], m["ort_nchw"], m["int8"] / m["ort_int8"], m["int8"] / m["ort_nchw"], m["int8"] / m["ort_float"]
      printf "\n" }'
  done
  local pf cb
  pf=$(sed -n 's/^ \* params: \([0-9]*\) floats.*/\1/p' "$w/float/$m.h")
  cb=$(sed -n 's/^ \* consts: \([0-9]*\) bytes.*/\1/p' "$w/int8/${m}_int8.h")
  echo "weights: float params $((pf * 4)) bytes, int8 constants $cb bytes ($(awk -v a="$pf" -v b="$cb" 'BEGIN { printf "%.2f", 4 * a / b }')x smaller); files: float.onnx $(stat -c %s "$w/float.onnx") bytes, q.onnx $(stat -c %s "$w/q.onnx") bytes"
  for v in float:$m int8:${m}_int8; do
    d=$w/${v%%:*} n=${v#*:}
    printf '#include <stdio.h>\n#include "%s.h"\nint main(void) { printf("%%lu\\n", (unsigned long)%s_arena_bytes(64)); return 0; }\n' \
      "$n" "$n" > "$d/arena.c"
    cc -fopenmp -I"$d" -o "$d/arena" "$d/arena.c" "$d/$n.o" -lm 2> /dev/null && echo "arena at batch 64, ${v%%:*}: $("$d/arena") bytes"
  done
}

for m in $MODELS; do
  case $m in
  mnist_cnn) bench_model mnist_cnn "$DATA/mnist" "${EPOCHS:-1}" "28 28 1" ;;
  cifar10_cnn) bench_model cifar10_cnn "$DATA/cifar-10" "${EPOCHS:-10}" "32 32 3" ;;
  *) echo "bench/int8.sh: unknown model '$m' (mnist_cnn, cifar10_cnn)" >&2; exit 1 ;;
  esac
done
