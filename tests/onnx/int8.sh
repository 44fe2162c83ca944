#!/bin/sh
# int8 kernels (issue 14, docs/int8.md): the edge cases of tests/onnx/int8_cases.py
# and ONNX's integer/quantization backend cases pass nn2c test-onnx (interpreter
# and emitted C against ONNX's definitions, integers exactly, so the two agree
# bit for bit); the emitted models build warning-free with gcc and clang under
# -std=c99 -pedantic -Werror, also with -DNN2C_NO_SIMD; scales of 0 or NaN are
# refused with exit 1 and a message naming the node.
# usage: int8.sh NN2C TEST_SRC_DIR ONNX_TESTS_DIR WORK
set -eu
nn2c=$1 src=$2 onnx=$3 work=$4
command -v python3 > /dev/null || { echo "skipped: python3 is not installed"; exit 77; }
rm -rf "$work" && mkdir -p "$work/cases"
python3 "$src/int8_cases.py" "$work/cases"
for c in convinteger_with_padding convinteger_without_padding dequantizelinear dequantizelinear_axis \
  dynamicquantizelinear dynamicquantizelinear_max_adjusted dynamicquantizelinear_min_adjusted matmulinteger \
  qlinearconv qlinearmatmul_2D qlinearmatmul_3D quantizelinear quantizelinear_axis; do
  [ -d "$onnx/node/test_$c" ] && ln -s "$onnx/node/test_$c" "$work/cases/test_$c"
done
"$nn2c" test-onnx -j2 --work "$work/run" "$work/cases" > "$work/results.txt" || true
cat "$work/results.txt"
want=$(ls "$work/cases" | wc -l)
tail -n 1 "$work/results.txt" | grep -q "^$want passed, 0 failed, 0 skipped" || { echo "FAIL: not all $want cases pass"; exit 1; }
# the int8 kernels are in the emitted code (not float ops standing in)
grep -q "matmul_integer" "$work/run/int8_qlinearmatmul_ends/model.c" || { echo "FAIL: no matmul_integer kernel"; exit 1; }
grep -q "conv_integer" "$work/run/int8_qlinearconv_stride_groups/model.c" || { echo "FAIL: no conv_integer kernel"; exit 1; }
# the QDQ network runs on int8 kernels only (passes/qdq_fold.c): no float conv, pool or matmul left
q=$work/run/int8_qdq_cnn/model.c
for k in conv_integer maxpool2d_int matmul_integer; do
  grep -q "= $k(" "$q" || { echo "FAIL: int8_qdq_cnn has no $k"; exit 1; }
done
if grep -E "= (conv2d|maxpool2d|matmul|relu|requantize)\(" "$q"; then echo "FAIL: float layers left in int8_qdq_cnn"; exit 1; fi
# Clip(0, 6) folds too: the int8 convolution clamps at q(0) = 3 and q(6) = 51 (zero point, lo, hi)
grep -q "nn2c_q8_requant(.*, 3, 3, 51, " "$work/run/int8_qdq_cnn_relu6/model.c" ||
  { echo "FAIL: int8_qdq_cnn_relu6's clip is not an int8 clamp"; exit 1; }
flags="-std=c99 -Wall -Wextra -Werror -pedantic -c"
for cc in gcc clang; do
  command -v $cc > /dev/null || { echo "note: $cc not installed, not checked"; continue; }
  for m in int8_qlinearmatmul_per_column int8_qlinearconv_per_channel_bias int8_matmulinteger_row_col_zp int8_qdq_cnn; do
    for d in "" -DNN2C_NO_SIMD; do
      $cc $flags -O2 $d -o "$work/$m.o" "$work/run/$m/model.c" || { echo "FAIL: $cc $d $m"; exit 1; }
    done
  done
done
# the dot-product kernels of every ISA this machine runs give the portable build's bytes
# (test-onnx builds the harnesses at -O0 without -march: the portable C99 path)
isa_run() { # NAME RUNNER CC FLAGS...: each case's harness built so, run, compared
  name=$1 runner=$2 cc=$3
  shift 3
  for d in "$work"/run/*/; do
    grep -q nn2c_q8_tile "$d/model.c" || continue
    rm -rf "$work/isa" && mkdir -p "$work/isa" && cp "$d"/set0_in*.bin "$work/isa/" 2> /dev/null || true
    $cc -std=c99 -Wall -Wextra -Werror -pedantic -O2 "$@" -o "$work/isa/h" "$d/main.c" -lm ||
      { echo "FAIL: $name does not build $d"; exit 1; }
    $runner "$work/isa/h" "$work/isa/set0" && cmp "$work/isa/set0_out0.bin" "$d/set0_out0.bin" ||
      { echo "FAIL: $name differs from the portable path on $d"; exit 1; }
  done
  echo "ok: $name"
}
has() { grep -q -w "$1" /proc/cpuinfo 2> /dev/null; }
if [ "$(uname -m)" = x86_64 ]; then
  has avx2 && isa_run "gcc avx2" "" gcc -mavx2 -mfma
  has avx_vnni && isa_run "gcc avx-vnni" "" gcc -mavx2 -mavxvnni
  for cc in gcc clang; do
    command -v $cc > /dev/null || continue
    has avx512_vnni && has avx512bw && isa_run "$cc avx512-vnni" "" $cc -mavx512f -mavx512bw -mavx512vnni
  done
fi
printf '#include <stdio.h>\nint main(void) { return 0; }\n' > "$work/hello.c"
if command -v qemu-aarch64 > /dev/null && aarch64-linux-gnu-gcc -static -o "$work/hello" "$work/hello.c" 2> /dev/null; then
  isa_run "aarch64 sdot (qemu)" qemu-aarch64 aarch64-linux-gnu-gcc -static -march=armv8.2-a+dotprod
  isa_run "aarch64 plain (qemu)" qemu-aarch64 aarch64-linux-gnu-gcc -static -march=armv8-a
else
  echo "note: qemu-aarch64 or a working aarch64-linux-gnu-gcc (libc6-dev-arm64-cross) missing: AArch64 not run"
fi
python3 "$src/int8_cases.py" bad "$work/bad"
for m in scale_zero scale_nan qlinear_zero_scale; do
  if "$nn2c" compile "$work/bad/$m.onnx" -o "$work/bad/$m.out" 2> "$work/bad/$m.err"; then
    echo "FAIL: $m compiled"; exit 1
  else
    rc=$?
  fi
  [ "$rc" = 1 ] || { echo "FAIL: $m: exit $rc, not 1"; exit 1; }
  grep -q "scales must be positive and finite" "$work/bad/$m.err" || { echo "FAIL: $m: $(cat "$work/bad/$m.err")"; exit 1; }
done
echo "ok: $want int8 cases, warning-free builds, bad scales refused"
