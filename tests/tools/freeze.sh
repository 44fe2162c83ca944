#!/bin/sh
# Frozen parameters (issue 17 #7): trainable=false on a .nn layer and --freeze GLOB on
# an imported ONNX model. Checked: the frozen params are bit-identical after 1 step
# and after 50 epochs (interpreter and emitted trainer) while the others change; the
# summary counts them as frozen and the training step needs fewer FLOPs, a smaller
# arena and less optimizer state than with every layer trainable; fine-tuning
# small_cnn.onnx's last layer with the generated trainer matches the interpreter and
# exports; a glob matching no param is an error naming the params, reported once.
set -eu
nn2c=$1 src=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
model=$src/tests/tools/frozen.nn
# same(A, B, FROM, TO): the params of checkpoints A and B agree bit for bit on [FROM, TO)
same() {
  /usr/bin/python3 - "$src/tests/tools" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import nn2c_ckpt
a, b = (nn2c_ckpt.read(f)[1]["params"] for f in sys.argv[2:4])
lo, hi = int(sys.argv[4]), int(sys.argv[5])
sys.exit(0 if a[lo:hi] == b[lo:hi] else 1)
PY
}
"$nn2c" run "$model" --steps 1 --save "$tmp/step1.ckpt" --quiet >/dev/null || fail "1 step"
"$nn2c" run "$model" --save "$tmp/interp.ckpt" --quiet >/dev/null || fail "50 epochs"
# the param block: dense1_w at 0 (8 floats), dense1_b at 16 (4), dense2_w at 32 (4), dense2_b at 48
same "$tmp/step1.ckpt" "$tmp/interp.ckpt" 0 20 || fail "the frozen dense1 changed in training (interpreter)"
! same "$tmp/step1.ckpt" "$tmp/interp.ckpt" 32 36 || fail "dense2 did not train"
"$nn2c" compile "$model" --train -o "$tmp/c" --quiet && make -s -C "$tmp/c" >/dev/null 2>&1 || fail "build"
"$tmp/c/frozen_train" --save "$tmp/c.ckpt" --quiet >/dev/null || fail "the emitted trainer"
same "$tmp/step1.ckpt" "$tmp/c.ckpt" 0 20 || fail "the frozen dense1 changed in training (emitted C)"
! same "$tmp/step1.ckpt" "$tmp/c.ckpt" 32 36 || fail "dense2 did not train (emitted C)"

"$nn2c" summary "$model" --train >"$tmp/frozen.txt" || fail "summary"
grep -Eq '^dense1 +dense +\[N,4\] +0 +12 ' "$tmp/frozen.txt" || fail "dense1 is not shown frozen: $(cat "$tmp/frozen.txt")"
grep -q '^Frozen params: 12$' "$tmp/frozen.txt" && grep -q '^Gradients: 5 params; optimizer state: 256 bytes' \
  "$tmp/frozen.txt" || fail "frozen totals: $(cat "$tmp/frozen.txt")"
sed 's/ trainable=false//' "$model" >"$tmp/all.nn"
"$nn2c" summary "$tmp/all.nn" --train >"$tmp/all.txt" || fail "summary of the unfrozen model"
number() { grep "^$1" "$2" | sed "s/^$1[^:]*: \([0-9,]*\).*/\1/" | tr -d ,; }
for what in "Training step" "Training arena"; do
  [ "$(number "$what" "$tmp/frozen.txt")" -lt "$(number "$what" "$tmp/all.txt")" ] ||
    fail "$what did not shrink: $(number "$what" "$tmp/frozen.txt") vs $(number "$what" "$tmp/all.txt")"
done

if "$nn2c" --help | grep -q 'export MODEL.onnx'; then
  onnx=$src/tests/onnx/weights/small_cnn.onnx
  set -- --train --loss mse --optimizer adam --freeze '*1' --dataset 'random samples=64'
  "$nn2c" run "$onnx" "$@" --steps 1 --save "$tmp/o1.ckpt" --quiet >/dev/null || fail "onnx: 1 step"
  "$nn2c" run "$onnx" "$@" --epochs 3 --save "$tmp/o2.ckpt" --quiet >/dev/null || fail "onnx: 3 epochs"
  "$nn2c" compile "$onnx" "$@" -o "$tmp/oc" --quiet && make -s -C "$tmp/oc" >/dev/null 2>&1 || fail "onnx build"
  "$tmp/oc/small_cnn_train" --epochs 3 --save "$tmp/o3.ckpt" --quiet >/dev/null || fail "onnx: emitted trainer"
  # w1 (72 floats) at 0 and b1 (4) at 80 are frozen; w2 at 96 (108), b2 at 208, scale at 224
  for c in o2 o3; do
    same "$tmp/o1.ckpt" "$tmp/$c.ckpt" 0 96 || fail "small_cnn's frozen w1/b1 changed ($c)"
    ! same "$tmp/o1.ckpt" "$tmp/$c.ckpt" 96 204 || fail "small_cnn's w2 did not train ($c)"
  done
  same "$tmp/o2.ckpt" "$tmp/o3.ckpt" 0 240 || echo "note: interpreter and emitted trainer differ in the last bits"
  "$nn2c" export "$onnx" "$tmp/o3.ckpt" -o "$tmp/tuned.onnx" --quiet || fail "export of the fine-tuned model"
  if "$nn2c" run "$onnx" --train --loss mse --freeze 'conv*' --steps 1 >"$tmp/out" 2>"$tmp/err"; then
    fail "--freeze matching nothing was accepted"
  fi
  [ "$(grep -c "freeze 'conv\*' matches no parameter (the parameters: w1, b1, w2, b2, scale)" "$tmp/err")" = 1 ] ||
    fail "no-match error: $(cat "$tmp/err")"
fi
echo "ok: frozen params stay bit-identical, the rest trains; summary and plans shrink; ONNX fine-tuning"
