#!/bin/sh
# fast_math.sh SRC_DIR - builds tests/unit/fast_math.c against templates/fast_math.c.in with
# gcc and clang (each if present), at -march=native (the emitted Makefile's default, vector
# code) and the plain x86-64 / generic target, with -O3 and the no-trapping-math the emitted
# model files set for gcc (so the plain target vectorizes too), and runs each.
set -eu
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -v '^##' "$src/templates/fast_math.c.in" >"$work/fast_math.h"
ran=0
for cc in gcc clang; do
  command -v $cc >/dev/null 2>&1 || { echo "fast_math: $cc not found, skipped"; continue; }
  for march in -march=native ""; do
    echo "== $cc -O3 $march"
    $cc -std=c99 -O3 -fno-trapping-math $march -Wall -Wextra -Werror -pedantic \
      -DFAST_MATH_H="\"$work/fast_math.h\"" "$src/tests/unit/fast_math.c" -lm -o "$work/t" 2>"$work/err" ||
      { cat "$work/err"; exit 1; }
    "$work/t"
    ran=$((ran + 1))
  done
done
[ "$ran" -gt 0 ]
