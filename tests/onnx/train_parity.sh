#!/bin/sh
# An imported PyTorch MLP and CNN trained 5 plain-SGD steps on fixed batches by
# nn2c's generated trainer end with PyTorch's weights (1e-4); nn2c export
# writes them back as an ONNX model that onnx.checker accepts and nn2c run
# reproduces. Skipped (77) without python3-torch / python3-onnx.
# usage: train_parity.sh NN2C TEST_SRC_DIR WORK
set -u
nn2c=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 "$src/train_parity.py" prepare "$work" > "$work/prepare.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "no python3-torch/python3-onnx; skipping"; exit 77; }
[ $rc -eq 0 ] || { cat "$work/prepare.log"; exit 1; }
for m in mlp cnn; do
  d=$work/$m
  "$nn2c" compile "$d/model.onnx" --train --loss "$(cat "$d/loss")" --optimizer sgd --lr 0.1 --batch 4 \
    --name "$m" -o "$d/gen" 2>"$d/compile.log" || { cat "$d/compile.log"; exit 1; }
  cc -O2 -std=gnu11 -Wall -Wextra -Werror -DM="$m" -include "$d/gen/$m.h" -I"$d/gen" "$src/train_harness.c" \
    "$d/gen/$m.c" "$d/gen/nn2c_rt.c" -o "$d/harness" -lm || exit 1
  "$d/harness" "$d/x.bin" "$d/y.bin" 5 4 "$d/trained.ckpt" > "$d/steps.log" || { cat "$d/steps.log"; exit 1; }
  "$nn2c" export "$d/model.onnx" "$d/trained.ckpt" -o "$d/trained.onnx" || exit 1
  "$nn2c" run "$d/trained.onnx" --dim batch=2 "$d/probe.pb" > "$d/run.txt" || exit 1
  /usr/bin/python3 "$src/train_parity.py" check "$work" "$m" || exit 1
done
