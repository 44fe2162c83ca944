#!/bin/sh
# run_mnist_e2e.sh NN2C CKPT_COMPARE MODEL WORKDIR MNIST_DIR
# run_e2e.sh on a 256-sample slice of MNIST, 5 steps; exit 77 (skip) without
# the data. The gz files are copied into WORKDIR's sibling data folder.
set -eu
nn2c=$1 cmp=$2 model=$3 work=$4 src=$5
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$src/$f.gz" ] || { echo "SKIP: $src/$f.gz not found (set NN2C_SHARED_DATA)"; exit 77; }
done
data="$work.data"
mkdir -p "$data"
for f in "$src"/*-ubyte.gz; do
  [ -f "$data/$(basename "$f")" ] || cp "$f" "$data/"
done
exec sh "$(dirname "$0")/run_e2e.sh" "$nn2c" "$cmp" "$model" "$work" 5 --data "$data" --limit-train 256 --limit-test 256
