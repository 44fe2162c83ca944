#!/bin/sh
# roundtrip.sh NN2C MODEL... - the IR text form reads back to the same text.
#
# For each model: A = `nn2c compile MODEL --emit=ir --train` (the compiled
# training graph; plain --emit=ir for models without a train section), then
# B = `nn2c compile A --emit=ir --passes=shape`, and A must equal B byte for
# byte. The printed IR has no train section, so A is read back as an
# inference graph; that keeps a dropout whose mask a gradient reads (reading
# an inference graph otherwise drops dropout nodes, model.c remove_dropout).
# Only the graph is compared: the train section (optimizer, batch, data) is
# not part of the IR text.
set -eu
nn2c=$1
shift
tmp=${TMPDIR:-/tmp}/nn2c_roundtrip.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
bad=0
for m in "$@"; do
  b=$(basename "$m" .nn)
  train=--train
  grep -q '^train' "$m" || train=
  "$nn2c" compile "$m" --emit=ir $train >"$tmp/$b.a.ir" || { echo "FAIL: $m: --emit=ir $train"; bad=1; continue; }
  "$nn2c" compile "$tmp/$b.a.ir" --emit=ir --passes=shape >"$tmp/$b.b.ir" ||
    { echo "FAIL: $m: its IR does not read back"; bad=1; continue; }
  if cmp -s "$tmp/$b.a.ir" "$tmp/$b.b.ir"; then
    echo "ok   $m ($(wc -l <"$tmp/$b.a.ir") lines${train:+, training graph})"
  else
    echo "FAIL: $m: IR text changes when read back"
    diff "$tmp/$b.a.ir" "$tmp/$b.b.ir" || true
    bad=1
  fi
done
exit $bad
