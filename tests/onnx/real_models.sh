#!/bin/sh
# Real exported models (torchvision resnet18 and mobilenet_v2, an LSTM and a
# GRU classifier) compiled by nn2c, built and run against PyTorch (1e-4), and
# through the interpreter. Skipped (77) without python3-torch, python3-onnx or
# python3-torchvision. Extra flags go to real_models.py (--models, --interp).
# usage: real_models.sh NN2C TEST_SRC_DIR WORK [FLAGS]
set -u
nn2c=$1 src=$2 work=$3
shift 3
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 "$src/real_models.py" "$nn2c" "$work" --harness "$src/infer_harness.c" "$@"
