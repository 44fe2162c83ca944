#!/bin/sh
# A guard against quadratic compile time (issue 16): 20,000 dense layers compile and a
# 3,000-step LSTM lowers well inside CTest's timeout (about 2 s and 1 s here; before the
# name index, the reader table in fuse and the segment tree in memplan, minutes).
# The figures themselves are measured by bench/compile_scale.sh.
set -eu
nn2c=$1 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$(dirname "$0")/make_models.sh" "$tmp" 20000 3000
"$nn2c" compile "$tmp/deep.nn" -o "$tmp/deep" >/dev/null 2>&1 || { echo "FAIL: 20,000-layer model did not compile"; exit 1; }
grep -q "dense20001_z" "$tmp/deep/deep.c" || { echo "FAIL: the last layer is missing from the emitted C"; exit 1; }
"$nn2c" compile "$tmp/lstm.nn" --emit=ir --passes=shape >"$tmp/lstm.ir" 2>&1 || { echo "FAIL: 3,000-step LSTM did not lower"; exit 1; }
grep -q "lstm1_h2999" "$tmp/lstm.ir" || { echo "FAIL: the last LSTM step is missing from the IR"; head -5 "$tmp/lstm.ir"; exit 1; }
echo "ok: 20,000 dense layers compiled, 3,000 LSTM steps lowered"
