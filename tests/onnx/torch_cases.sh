#!/bin/sh
# Small PyTorch-exported models (an MLP, a CNN with the Shape -> Gather ->
# Reshape chain torch emits, and a 3-D ConvTranspose with strides, pads,
# dilations and output_padding feeding dilated/padded 3-D pools) through nn2c
# test-onnx against PyTorch's outputs; plus a float16 initializer case made
# with onnx.helper (its constant is emitted as float16 bits); GridSample in all
# 18 mode/padding/align_corners forms against torch's grid_sample, RoiAlign in
# 4 forms against torchvision's roi_align.
# Skipped (77) without python3-torch / python3-onnx.
# usage: torch_cases.sh NN2C TEST_SRC_DIR WORK
set -u
nn2c=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 "$src/torch_cases.py" "$work/cases" > "$work/export.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "no python3-torch/python3-onnx; skipping"; exit 77; }
[ $rc -eq 0 ] || { cat "$work/export.log"; exit 1; }
"$nn2c" test-onnx --work "$work/run" "$work/cases"
