#!/bin/sh
# The layout pass on PyTorch-exported CNNs (tests/onnx/layout_cases.py: a
# resnet with batch_norm nodes, the same with batch_norm folded, a
# mobilenet_v2-style inverted residual with depthwise conv and Clip, the same
# with SiLU as x * sigmoid(x)). Per
# model: the transposes left without and with the pass (printed; with it
# only the input's must be left), and the emitted C with and without the
# pass, the interpreter (nn2c run, which does not run the pass) and PyTorch
# all give the same output (rtol 1e-4, atol 1e-5).
# Skipped (77) without python3-torch / python3-onnx.
# usage: layout_cases.sh NN2C TEST_SRC_DIR WORK
set -u
nn2c=$1 src=$2 work=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 "$src/layout_cases.py" "$work" > "$work/export.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "no python3-torch/python3-onnx; skipping"; exit 77; }
[ $rc -eq 0 ] || { cat "$work/export.log"; exit 1; }
infer="shape,layout,simplify,constfold,dce,fuse,schedule,memplan"

# same FILE_A FILE_B WHAT: one number a line, within tolerance
same() {
  awk -v what="$3" 'NR == FNR { a[FNR] = $1; n = FNR; next }
    { d = $1 - a[FNR]; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1; if (d > 1e-5 + 1e-4 * m) { print what ": output " FNR ": " a[FNR] " vs " $1; bad = 1 } }
    END { if (FNR != n) { print what ": " n " and " FNR " outputs"; bad = 1 } exit bad }' "$1" "$2" || fail "$3"
}

for m in resblock resfused mobile swish; do
  d=$work/$m
  before=$("$nn2c" compile "$d/model.onnx" --emit=ir --passes=shape,simplify,constfold,dce | grep -c '= transpose(')
  after=$("$nn2c" compile "$d/model.onnx" --emit=ir --passes=shape,layout,simplify,constfold,dce | grep -c '= transpose(')
  echo "$m: transposes $before without the layout pass, $after with it"
  [ "$after" -eq 1 ] || fail "$m: $after transposes left (only the input's should be)"
  for v in with without; do
    p=$infer
    [ $v = without ] && p=$(echo "$infer" | sed 's/layout,//')
    "$nn2c" compile "$d/model.onnx" --passes="$p" -o "$d/$v" 2>"$d/$v.log" || { cat "$d/$v.log"; fail "$m: compile ($v)"; }
    gcc -O2 -std=gnu11 -Wall -Wextra -Werror -DM=model -include "$d/$v/model.h" "$src/../e2e/layout_forward.c" \
      "$d/$v/model.c" -o "$d/$v/fwd" -lm >"$d/$v.make" 2>&1 || { cat "$d/$v.make"; fail "$m: build ($v)"; }
    "$d/$v/fwd" 1 "$d/x.bin" >"$d/$v.txt" || fail "$m: forward ($v)"
  done
  "$nn2c" run "$d/model.onnx" "$d/x.pb" | sed 's/^[^:]*://' | tr ' ' '\n' | grep . >"$d/interp.txt" || fail "$m: nn2c run"
  same "$d/interp.txt" "$d/with.txt" "$m: emitted C with the layout pass vs the interpreter"
  same "$d/interp.txt" "$d/without.txt" "$m: emitted C without the layout pass vs the interpreter"
  same "$d/y.txt" "$d/with.txt" "$m: emitted C with the layout pass vs PyTorch"
done
echo "PASS: layout cases"
