#!/bin/sh
# nn2c quantize (docs/int8.md): mnist_cnn trained briefly, calibrated on 100
# training images, gives a QDQ ONNX model whose int8 run (the interpreter's
# int8 kernels after qdq_fold) is within 1.5 points of the float accuracy on
# 300 test images; nn2c compile turns it into int8 C only (no float conv, pool
# or matmul; requantization fused into the integer kernels) that builds
# warning-free; --calib percentile:99.9 narrows at least one range, keeps the
# accuracy within 1.5 points as well and gives a different model; a
# calibration set of 0 samples, a model without a conv2d or dense layer and a
# bad --calib are refused with exit 1.
# usage: int8_quantize.sh NN2C SRC_DIR DATA_DIR WORK
set -eu
nn2c=$1 src=$2 data=$3/mnist work=$4
[ -f "$data/train-images-idx3-ubyte.gz" ] || [ -f "$data/train-images-idx3-ubyte" ] ||
  { echo "skipped: no MNIST data at $data"; exit 77; }
command -v make > /dev/null || { echo "skipped: make is not installed"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$nn2c" compile "$src/examples/mnist_cnn.nn" --train -o "$work/mc" > /dev/null
make -s -C "$work/mc" > /dev/null 2>&1 || { echo "FAIL: the trainer does not build"; exit 1; }
"$work/mc/mnist_cnn_train" --data "$data" --epochs 2 --limit-train 8000 --limit-test 1000 --save "$work/mc.ckpt" \
  > "$work/train.txt"
tail -n 1 "$work/train.txt"
"$nn2c" quantize "$src/examples/mnist_cnn.nn" --load "$work/mc.ckpt" --data "$data" --calibrate 100 --test 300 \
  -o "$work/q.onnx" > "$work/quantize.txt"
cat "$work/quantize.txt"
grep -q "5 layers quantized, 5 run as int8 kernels" "$work/quantize.txt" || { echo "FAIL: not every layer is int8"; exit 1; }
line=$(grep '^test set' "$work/quantize.txt")
f=$(echo "$line" | sed -n 's/.*accuracy float \([0-9.]*\)%, int8 \([0-9.]*\)%.*/\1/p')
q=$(echo "$line" | sed -n 's/.*accuracy float \([0-9.]*\)%, int8 \([0-9.]*\)%.*/\2/p')
awk -v f="$f" -v q="$q" 'BEGIN { d = f - q; exit !(f >= 90 && d <= 1.5 && d >= -1.5) }' ||
  { echo "FAIL: float $f% vs int8 $q% (want float >= 90 and int8 within 1.5 points)"; exit 1; }
"$nn2c" compile "$work/q.onnx" -o "$work/qc" > /dev/null
for k in conv_integer maxpool2d_int matmul_integer; do
  grep -q "= $k(" "$work/qc/q.c" || { echo "FAIL: no $k in the compiled model"; exit 1; }
done
if grep -E "= (conv2d|maxpool2d|matmul|requantize)\(" "$work/qc/q.c"; then echo "FAIL: float or unfused layers"; exit 1; fi
cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 -c -o "$work/q.o" "$work/qc/q.c" || { echo "FAIL: q.c does not build"; exit 1; }
# percentile calibration: ranges narrower than min/max somewhere, accuracy as good, another model
"$nn2c" quantize "$src/examples/mnist_cnn.nn" --load "$work/mc.ckpt" --data "$data" --calibrate 100 --test 300 \
  --calib percentile:99.9 -o "$work/qp.onnx" > "$work/quantize_p.txt"
grep -q "ranges clipped to the 99.9% percentiles" "$work/quantize_p.txt" || { echo "FAIL: no percentile run"; exit 1; }
narrower=$(paste "$work/quantize.txt" "$work/quantize_p.txt" | awk -F'\t' '$1 ~ /^  (input|output) / {
  split($1, a, /[][,]/); split($2, b, /[][,]/); if (b[3] + 0 < a[3] + 0 || b[2] + 0 > a[2] + 0) n++ } END { print n + 0 }')
[ "$narrower" -gt 0 ] || { echo "FAIL: percentile ranges are all the min/max ones"; exit 1; }
qp=$(sed -n 's/^test set.*accuracy float [0-9.]*%, int8 \([0-9.]*\)%.*/\1/p' "$work/quantize_p.txt")
awk -v f="$f" -v q="$qp" 'BEGIN { d = f - q; exit !(d <= 1.5 && d >= -1.5) }' ||
  { echo "FAIL: percentile: float $f% vs int8 $qp%"; exit 1; }
cmp -s "$work/q.onnx" "$work/qp.onnx" && { echo "FAIL: percentile and min/max models are the same"; exit 1; }
refused() { # WHAT MESSAGE ARGS...: exit status 1 and the message
  what=$1 msg=$2
  shift 2
  if "$nn2c" quantize "$@" 2> "$work/err.txt"; then echo "FAIL: $what accepted"; exit 1; else rc=$?; fi
  [ "$rc" = 1 ] && grep -q "$msg" "$work/err.txt" || { echo "FAIL: $what: exit $rc: $(cat "$work/err.txt")"; exit 1; }
}
refused "--calibrate 0" "a calibration set of 0 samples" "$src/examples/mnist_cnn.nn" --data "$data" --calibrate 0 \
  -o "$work/bad.onnx"
refused "no quantizable layer" "no quantizable layer" "$src/tests/onnx/int8/no_layer.nn" --data "$data" \
  --calibrate 10 -o "$work/bad.onnx"
refused "--calib percentile:20" "calib needs minmax, percentile" "$src/examples/mnist_cnn.nn" --data "$data" \
  --calibrate 10 --calib percentile:20 -o "$work/bad.onnx"
[ ! -e "$work/bad.onnx" ] || { echo "FAIL: a refused run wrote its output"; exit 1; }
echo "ok: float $f%, int8 $q% (min/max), $qp% (percentile 99.9: $narrower ranges narrower)"
