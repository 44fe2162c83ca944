#!/bin/sh
# torch_parity.sh NN2C EXAMPLES_DIR WORK - examples/lstm_classifier.nn trained
# 20 Adam steps by the generated trainer and by PyTorch from the same initial
# weights (read from nn2c's checkpoint) on the same batch: the losses agree
# within 1e-4 (torch_parity.py). Exit 77 (skip) without Debian's python3-torch.
set -eu
nn2c=$1 ex=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] && "$py" -c 'import torch' 2>/dev/null || { echo "SKIP: $py cannot import torch (apt-get install python3-torch)"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$py" "$here/torch_parity.py" data "$work/lstm.nn" "$ex/lstm_classifier.nn"
"$nn2c" compile "$work/lstm.nn" --train -o "$work/src" 2>"$work/compile.log" || { cat "$work/compile.log"; exit 1; }
make -s -C "$work/src" >"$work/make.log" 2>&1 || { cat "$work/make.log"; exit 1; }
"$work/src/lstm_classifier_train" --epochs 0 --save "$work/init.ckpt" >/dev/null
"$work/src/lstm_classifier_train" >"$work/train.out"
"$py" "$here/torch_parity.py" check "$work/src/lstm_classifier.h" "$work/init.ckpt" "$work/train.out"
