#!/bin/sh
# Small PyTorch-exported models (an MLP, a CNN with the Shape -> Gather ->
# Reshape chain torch emits, and a 3-D ConvTranspose with strides, pads,
# dilations and output_padding feeding dilated/padded 3-D pools) through nn2c
# test-onnx against PyTorch's outputs; plus a float16 initializer case made
# with onnx.helper (its constant is emitted as float16 bits); GridSample in all
# 18 mode/padding/align_corners forms against torch's grid_sample, RoiAlign in
# 4 forms against torchvision's roi_align; a model training through GridSample:
# the generated trainer's epochs equal the interpreter's.
# Skipped (77) without python3-torch / python3-onnx.
# usage: torch_cases.sh NN2C TEST_SRC_DIR WORK
set -u
nn2c=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 "$src/torch_cases.py" "$work/cases" > "$work/export.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "no python3-torch/python3-onnx; skipping"; exit 77; }
[ $rc -eq 0 ] || { cat "$work/export.log"; exit 1; }
"$nn2c" test-onnx --work "$work/run" "$work/cases" || exit 1
# training through GridSample: the generated trainer's epochs equal the interpreter's
cd "$work" || exit 1
flags="--train --loss sparse_categorical_crossentropy --batch 4"
data="random samples=16 classes=3"
"$nn2c" compile warp.onnx $flags --dataset "$data" -o warp 2> /dev/null || exit 1
make -s -C warp CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror -pedantic" > /dev/null || exit 1
./warp/warp_train --epochs 3 | grep '^epoch [0-9]:' | sed 's/ time=.*//' > c.txt
"$nn2c" run warp.onnx $flags --dataset "$data" --epochs 3 | grep '^epoch [0-9]:' | sed 's/ time=.*//' > interp.txt
# the losses agree to 1e-5 relative (float C against the double interpreter)
paste -d' ' c.txt interp.txt | awk '{ for (i = 3; i <= 6; i++) { split($i, a, "="); split($(i + 6), b, "=");
  d = a[2] - b[2]; if (d < 0) d = -d; if (d > 1e-5 * (b[2] < 0 ? -b[2] : b[2]) + 1e-6) bad = 1 } n++ }
  END { exit !(n == 3 && !bad) }' || { echo "FAIL: GridSample training differs"; cat c.txt interp.txt; exit 1; }
echo "ok: GridSample training, trainer = interpreter"
