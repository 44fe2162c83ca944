#!/bin/sh
# Checkpoint and resume: training 2 epochs straight and training 1 epoch,
# saving, then resuming for 1 more must end with the same parameters, state
# and step (1 thread, fixed seed). Uses the given example on a data slice.
#   resume.sh NN2C CKPT_COMPARE MODEL.nn WORK DATA_DIR [trainer flags...]
set -eu
nn2c=$1 compare=$2 model=$3 work=$4 data=$5
shift 5
[ -d "$data" ] || { echo "SKIP: no data at $data"; exit 77; }
name=$(basename "$model" .nn)
rm -rf "$work" && mkdir -p "$work/data"
cp "$data"/* "$work/data/"
"$nn2c" compile "$model" --train -o "$work/out" 2>/dev/null
make -s -C "$work/out" CFLAGS="-O2 -std=c99" >/dev/null
bin="$work/out/${name}_train"
common="--data $work/data --threads 1 --seed 3 --quiet $*"
"$bin" $common --epochs 2 --save "$work/straight.ckpt" >"$work/straight.log"
"$bin" $common --epochs 1 --save "$work/half.ckpt" >"$work/half.log"
"$bin" $common --epochs 2 --load "$work/half.ckpt" --save "$work/resumed.ckpt" >"$work/resumed.log"
# Exact equality: same operations in the same order.
"$compare" "$work/straight.ckpt" "$work/resumed.ckpt" --rtol 0 --atol 0
grep final "$work/straight.log" "$work/resumed.log"
[ "$(grep final "$work/straight.log")" = "$(grep final "$work/resumed.log")" ] || { echo "FAIL: final lines differ"; exit 1; }
echo "ok: resumed run matches the straight run"
