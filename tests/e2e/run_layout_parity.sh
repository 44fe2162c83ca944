#!/bin/sh
# run_layout_parity.sh - the layout pass changes no output.
#
#   run_layout_parity.sh NN2C MODEL WORKDIR MAX_TRANSPOSES
#
# 1. Counts the transposes in the inference graph without and with the layout
#    pass (printed); with it there must be at most MAX_TRANSPOSES and fewer.
# 2. Compiles MODEL for inference with the default pipeline and with the same
#    pipeline minus layout, builds a forward harness (tests/e2e/layout_forward.c)
#    for each with gcc -O2 -Werror, and runs both on the same 4 samples from
#    the same initial parameters: the outputs must agree (rtol 1e-5, atol 1e-6).
# Training with the pass is checked by run_e2e.sh on the same model (emitted
# C against the interpreter) and by gradcheck's layout family (autodiff on the
# rewritten graph against central differences).
set -eu
nn2c=$1 model=$2 work=$3 max=$4
src=$(dirname "$0")
fail() { echo "FAIL: $*" >&2; exit 1; }
infer="shape,layout,simplify,constfold,dce,fuse,schedule,memplan"
rm -rf "$work"
mkdir -p "$work"

count() { "$nn2c" compile "$model" --emit=ir --passes="$1" | grep -c '= transpose(' || true; }
before=$(count shape,simplify,constfold,dce)
after=$(count shape,layout,simplify,constfold,dce)
echo "transposes: $before without the layout pass, $after with it"
[ "$after" -lt "$before" ] && [ "$after" -le "$max" ] || fail "expected at most $max transposes, and fewer than $before"

for v in with without; do
  p=$infer
  [ $v = without ] && p=$(echo "$infer" | sed 's/layout,//')
  "$nn2c" compile "$model" --passes="$p" -o "$work/$v" 2>"$work/$v.log" || { cat "$work/$v.log"; fail "compile ($v)"; }
  name=$(sed -n 's/^#define \(.*\)_IN_NUMEL .*/\1/p' "$work/$v"/*.h | head -n 1)
  [ -n "$name" ] || fail "no NAME_IN_NUMEL in the emitted header"
  gcc -O2 -std=gnu11 -Wall -Wextra -Werror -DM="$name" -include "$work/$v/$name.h" "$src/layout_forward.c" "$work/$v/$name.c" \
    -o "$work/$v/fwd" -lm >"$work/$v.make" 2>&1 || { cat "$work/$v.make"; fail "build ($v)"; }
  "$work/$v/fwd" 4 >"$work/$v.out" || fail "forward ($v)"
done
awk -v rt=1e-5 -v at=1e-6 'NR == FNR { a[FNR] = $1; n = FNR; next }
  { d = $1 - a[FNR]; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1; if (d > at + rt * m) { print "output " FNR ": " a[FNR] " vs " $1; bad = 1 } }
  END { if (FNR != n) { print "output counts differ"; bad = 1 } exit bad }' "$work/with.out" "$work/without.out" ||
  fail "outputs differ with and without the layout pass"
echo "PASS: $model: $(wc -l <"$work/with.out") outputs agree with and without the layout pass"
