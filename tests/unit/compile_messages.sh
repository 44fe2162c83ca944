#!/bin/sh
# nn2c compile says what it wrote, the same with or without a trailing slash on -o, and
# nothing with --quiet (issue 20).
set -eu
nn2c=$1 model=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for out in "$tmp/a" "$tmp/a/" "$tmp/a//"; do
  "$nn2c" compile "$model" --train -o "$out" 2>"$tmp/err"
  grep -qx "nn2c: wrote $tmp/a/: xor.c and xor.h, xor_train.c, the runtime and a Makefile (\`make -C $tmp/a\`)" "$tmp/err" ||
    { echo "FAIL: -o $out:"; cat "$tmp/err"; exit 1; }
  [ -f "$tmp/a/xor.c" ] && [ -f "$tmp/a/xor_train.c" ] || { echo "FAIL: -o $out wrote no xor.c"; exit 1; }
done
"$nn2c" compile "$model" -o "$tmp/b" --quiet 2>"$tmp/err"
[ ! -s "$tmp/err" ] || { echo "FAIL: --quiet printed:"; cat "$tmp/err"; exit 1; }
[ -f "$tmp/b/xor.c" ] || { echo "FAIL: --quiet wrote no xor.c"; exit 1; }
echo "ok: compile names what it wrote; --quiet is silent"
