#!/bin/sh
# Emitted code is deterministic: compiling the same model twice gives the same bytes.
set -eu
nn2c=$1 model=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nn2c" compile "$model" --train -o "$tmp/a" 2>/dev/null
"$nn2c" compile "$model" --train -o "$tmp/b" 2>/dev/null
if ! diff -r "$tmp/a" "$tmp/b" >"$tmp/diff"; then
  echo "FAIL: two compilations of $model differ:"; head -20 "$tmp/diff"; exit 1
fi
n=$(ls "$tmp/a" | wc -l)
[ "$n" -ge 7 ] || { echo "FAIL: expected at least 7 emitted files, got $n"; exit 1; }
echo "ok: $n files identical"
