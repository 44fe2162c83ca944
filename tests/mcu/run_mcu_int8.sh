#!/bin/sh
# run_mcu_int8.sh - int8 models on a microcontroller (issue 15's int8 part), each through
# run_mcu.sh (bare-metal C, -Werror build, qemu, the interpreter as the oracle):
# 1. int8 edge cases of tests/onnx/int8_cases.py (QLinearConv, QLinearMatMul,
#    MatMulInteger, a QDQ network): their outputs must equal the interpreter's bit for
#    bit (integer outputs exactly; the QDQ network's float output is a dequantized int8,
#    so exact too). Their size check is skipped: a few hundred bytes of code, which the
#    report's per-line estimate misses by more than the firmware's share.
# 2. mnist_cnn quantized by nn2c quantize (seeded weights, 20 calibration images): int8
#    kernels into a float softmax (1e-5 relative), and the size report within 5%.
#
#   run_mcu_int8.sh NN2C MCU_CHECK SRC_DIR DATA_DIR TARGET WORK
set -eu
nn2c=$1 check=$2 src=$3 data=$4/mnist target=$5 work=$6
run=$src/tests/mcu/run_mcu.sh
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
python3 "$src/tests/onnx/int8_cases.py" "$work/cases"
for c in int8_qdq_cnn int8_qlinearconv_per_channel_bias int8_qlinearconv_depthwise int8_qlinearconv_stride_groups \
  int8_qlinearmatmul_ends int8_qlinearmatmul_long_k int8_matmulinteger_row_col_zp; do
  rc=0
  MCU_CHECK_FLAGS="--rtol 0 --atol 0" MCU_SKIP_SIZE=1 sh "$run" "$nn2c" "$check" "$work/cases/$c/model.onnx" \
    "$target" "$work/$c" 1 >"$work/$c.log" 2>&1 || rc=$?
  [ $rc -eq 77 ] && { tail -n 1 "$work/$c.log"; exit 77; }
  [ $rc -eq 0 ] || { cat "$work/$c.log"; echo "FAIL: $c"; exit 1; }
  grep '^mcu_check' "$work/$c.log" | sed "s/^/$c: /"
done
if [ -f "$data/train-images-idx3-ubyte.gz" ] || [ -f "$data/train-images-idx3-ubyte" ]; then
  "$nn2c" quantize "$src/examples/mnist_cnn.nn" --data "$data" --calibrate 20 --test 20 -o "$work/q_cnn.onnx" \
    >"$work/quantize.txt"
  sh "$run" "$nn2c" "$check" "$work/q_cnn.onnx" "$target" "$work/q_cnn" 1 >"$work/q_cnn.log" 2>&1 ||
    { cat "$work/q_cnn.log"; echo "FAIL: quantized mnist_cnn"; exit 1; }
  grep -E '^(size|mcu_check)' "$work/q_cnn.log" | sed 's/^/q_cnn: /'
else
  echo "note: no MNIST data at $data: the quantized mnist_cnn was not run"
fi
echo "PASS: int8 models on $target"
