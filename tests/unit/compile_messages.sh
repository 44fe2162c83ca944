#!/bin/sh
# nn2c compile, dot and plot say what they wrote, the same with or without a trailing slash on -o, and
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
# dot and plot: one "wrote FILE (N bytes)" line, none with --quiet
printf 'epoch,train_loss,train_accuracy\n1,0.5,0.8\n2,0.3,0.9\n' >"$tmp/m.csv"
check_wrote() { # FILE CMD...: CMD wrote FILE and said so, then is silent with --quiet
  file=$1; shift
  "$@" 2>"$tmp/err"
  grep -qx "nn2c: wrote $file ($(wc -c <"$file") bytes)" "$tmp/err" || { echo "FAIL: $*:"; cat "$tmp/err"; exit 1; }
  rm "$file"
  "$@" --quiet 2>"$tmp/err"
  [ ! -s "$tmp/err" ] && [ -s "$file" ] || { echo "FAIL: $* --quiet:"; cat "$tmp/err"; exit 1; }
}
check_wrote "$tmp/g.dot" "$nn2c" dot "$model" --train -o "$tmp/g.dot"
check_wrote "$tmp/c.svg" "$nn2c" plot "$tmp/m.csv" -o "$tmp/c.svg"
echo "ok: compile, dot and plot name what they wrote; --quiet is silent"
