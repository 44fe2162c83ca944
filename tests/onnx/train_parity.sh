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
    "$d/gen/$m.c" "$d/gen/nn2c_rt.c" "$d/gen/nn2c_ckpt.c" -o "$d/harness" -lm || exit 1
  "$d/harness" "$d/x.bin" "$d/y.bin" 5 4 "$d/trained.ckpt" > "$d/steps.log" || { cat "$d/steps.log"; exit 1; }
  "$nn2c" export "$d/model.onnx" "$d/trained.ckpt" -o "$d/trained.onnx" || exit 1
  "$nn2c" run "$d/trained.onnx" --dim batch=2 "$d/probe.pb" > "$d/run.txt" || exit 1
  /usr/bin/python3 "$src/train_parity.py" check "$work" "$m" || exit 1
done
# the generic trainer with adam on random data, its checkpoint exported
d=$work/mlp
"$nn2c" compile "$d/model.onnx" --train --loss sparse_categorical_crossentropy --optimizer adam --lr 1e-3 --batch 8 \
  --dataset "random samples=64 classes=5" --name mlp -o "$d/adam" 2> /dev/null || exit 1
make -s -C "$d/adam" > /dev/null 2>&1 || { echo "trainer build failed"; exit 1; }
"$d/adam/mlp_train" --epochs 2 --save "$d/adam.ckpt" | grep '^final: test_loss=' > "$d/adam_c.txt" || exit 1
# the interpreter trains the same model to the same printed figures
"$nn2c" run "$d/model.onnx" --train --loss sparse_categorical_crossentropy --optimizer adam --lr 1e-3 --batch 8 \
  --dataset "random samples=64 classes=5" --epochs 2 | grep '^final: test_loss=' > "$d/adam_interp.txt" || exit 1
cmp "$d/adam_c.txt" "$d/adam_interp.txt" || { cat "$d/adam_c.txt" "$d/adam_interp.txt"; exit 1; }
"$nn2c" export "$d/model.onnx" "$d/adam.ckpt" -o "$d/adam.onnx" || exit 1
/usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$d/adam.onnx" || exit 1
# --ema: the same trainer keeping the weights' moving average; C and the
# interpreter print the same figures, and the export (the average) checks.
"$nn2c" compile "$d/model.onnx" --train --loss sparse_categorical_crossentropy --optimizer adam --lr 1e-3 --batch 8 \
  --ema 0.9 --dataset "random samples=64 classes=5" --name mlp -o "$d/ema" 2> /dev/null || exit 1
grep -q '#define mlp_EMA_OFFSET' "$d/ema/mlp.h" || { echo "--ema: no moving average in mlp.h"; exit 1; }
make -s -C "$d/ema" > /dev/null 2>&1 || { echo "ema trainer build failed"; exit 1; }
"$d/ema/mlp_train" --epochs 2 --save "$d/ema.ckpt" | grep '^final: test_loss=' > "$d/ema_c.txt" || exit 1
"$nn2c" run "$d/model.onnx" --train --loss sparse_categorical_crossentropy --optimizer adam --lr 1e-3 --batch 8 \
  --ema 0.9 --dataset "random samples=64 classes=5" --epochs 2 | grep '^final: test_loss=' > "$d/ema_interp.txt" || exit 1
cmp "$d/ema_c.txt" "$d/ema_interp.txt" || { cat "$d/ema_c.txt" "$d/ema_interp.txt"; exit 1; }
cmp -s "$d/ema_c.txt" "$d/adam_c.txt" && { echo "--ema changed nothing: $(cat "$d/ema_c.txt")"; exit 1; }
"$nn2c" export "$d/model.onnx" "$d/ema.ckpt" -o "$d/ema.onnx" || exit 1
/usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))" "$d/ema.onnx" || exit 1
