#!/bin/sh
# The ONNX backend test cases through nn2c test-onnx (interpreter and emitted
# C); fails when fewer than FLOOR cases pass. Raise FLOOR as the count improves.
# usage: run_conformance.sh NN2C CASES_DIR WORK_DIR
set -u
FLOOR=909
nn2c=$1 cases=$2 work=$3
[ -d "$cases/node" ] || { echo "no ONNX test cases at $cases; skipping"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$nn2c" test-onnx -j2 --ops-list "$(dirname "$0")/issue_ops.txt" --work "$work/run" "$cases/node" "$cases/simple" > "$work/results.txt"
tail -n 2 "$work/results.txt"
passed=$(tail -n 1 "$work/results.txt" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
[ -n "$passed" ] || { echo "FAIL: no summary line"; exit 1; }
grep '^FAIL' "$work/results.txt" | head -n 40
if [ "$passed" -lt "$FLOOR" ]; then
  echo "FAIL: $passed cases pass, below the floor of $FLOOR"
  exit 1
fi
echo "ok: $passed >= $FLOOR"
