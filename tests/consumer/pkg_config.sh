#!/bin/sh
# pkg_config.sh NN2C WORK
# A program of our own links the library of an emitted folder with the flags
# of its NAME.pc, as a build system using pkg-config would: once as `make`
# builds it by default (OpenMP when the compiler has it: the .pc must carry
# -fopenmp, or the link fails on GOMP_* symbols), once with `make OPENMP=0`
# (no -fopenmp). Skipped (77) without pkg-config.
set -u
nn2c=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }
command -v pkg-config >/dev/null || { echo "no pkg-config; skipping"; exit 77; }
rm -rf "$work" && mkdir -p "$work" || exit 1
cat >"$work/tiny.nn" <<'NN'
model tiny
input 4
dense 3 activation=relu
dense 2 activation=softmax
NN
cat >"$work/main.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "tiny.h"
int main(void) {
  static float params[tiny_PARAM_FLOATS + 1], state[tiny_STATE_FLOATS + 1];
  float x[4] = {1, 2, 3, 4}, out[2];
  tiny_Model m = {params, state, NULL, 1, 0.0f, 0, 1};
  m.arena = aligned_alloc(64, (tiny_arena_bytes(1) + 63) / 64 * 64 + 64);
  tiny_init(params, 1);
  tiny_set_threads(&m, 2);
  if (!m.arena || tiny_forward(&m, x, out, 1)) return 1;
  printf("sum %.3f\n", out[0] + out[1]);
  return 0;
}
C
for omp in 1 0; do
  d=$work/omp$omp
  "$nn2c" compile "$work/tiny.nn" -o "$d" 2>/dev/null || fail "nn2c compile"
  make -s -C "$d" OPENMP=$omp >"$d/make.log" 2>&1 || { cat "$d/make.log"; fail "make OPENMP=$omp"; }
  [ -f "$d/tiny.pc" ] || fail "make wrote no tiny.pc"
  flags=$(PKG_CONFIG_PATH=$d pkg-config --cflags --libs tiny) || fail "pkg-config --cflags --libs tiny"
  echo "OPENMP=$omp: $flags"
  case $omp$flags in 0*-fopenmp*) fail "OPENMP=0 but the .pc asks for -fopenmp" ;; esac
  # shellcheck disable=SC2086 # the flags are words
  cc -std=c11 "$work/main.c" -o "$d/main" $flags || fail "linking with the .pc's flags (OPENMP=$omp)"
  "$d/main" | grep -qx "sum 1.000" || fail "the program's output"
done
echo "pkg-config consumer: ok"
