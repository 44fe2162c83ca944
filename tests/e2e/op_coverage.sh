#!/bin/sh
# op_coverage.sh NN2C OPS_DEF MODEL... - fails unless every op of ops.def
# appears in the compiled training graph (--emit=ir --train) of some model.
set -eu
nn2c=$1 def=$2
shift 2
tmp=${TMPDIR:-/tmp}/nn2c_op_coverage.$$
trap 'rm -f "$tmp"' EXIT
: >"$tmp"
for m in "$@"; do
  "$nn2c" compile "$m" --emit=ir --train >>"$tmp" || { echo "FAIL: nn2c compile $m --emit=ir --train" >&2; exit 1; }
done
ops=$(sed -n 's/^\(EW\|OP\|SCRATCH_OP\)([A-Z_0-9]*, *\([a-z_0-9]*\),.*/\2/p' "$def")
[ -n "$ops" ] || { echo "FAIL: no ops read from $def" >&2; exit 1; }
missing=0 n=0
for op in $ops; do
  n=$((n + 1))
  if grep -q "= $op(" "$tmp"; then
    printf '%-18s %s uses\n' "$op" "$(grep -c "= $op(" "$tmp")"
  else
    echo "FAIL: op '$op' appears in no e2e model's training graph"
    missing=$((missing + 1))
  fi
done
echo "$n ops, $missing missing"
[ "$missing" -eq 0 ]
