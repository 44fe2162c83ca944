#!/bin/sh
# run_isa.sh - every path of the kernel layer (templates/simd.h) against the
# interpreter: the emitted C built for one instruction set, checked to report
# that path through NAME_isa(), trained and compared like run_e2e.sh does.
#
#   run_isa.sh runtime NN2C WORK CC...                  runtime objects per compiler
#   run_isa.sh ref NN2C MODEL WORK STEPS [TRAINER FLAGS...]   the interpreter's runs
#   run_isa.sh check CKPT_COMPARE WORK RTDIR STEPS CC VARIANT [TRAINER FLAGS...]
#
# `runtime` builds the trainer's runtime (nn2c_*.c, the same files for every
# model) once per compiler (gcc, clang, aarch64) into WORK/CC, at -O2 without
# ISA flags: only the model's own code depends on the kernel layer. `ref`
# compiles MODEL --train into WORK/src and saves the interpreter's checkpoints
# and --quiet outputs (--epochs 0: the initial parameters and forward outputs;
# --steps STEPS: after that many training steps). `check` copies WORK/src to
# WORK/CC.VARIANT, puts RTDIR/CC's runtime objects in (make builds whatever is
# missing), makes it with
#   CFLAGS = -O2 FLAGS -std=c99 -Wall -Wextra -Werror -pedantic
# and checks, in order:
#   1. NAME_isa() of the built model (a three-line program linked with NAME.o)
#      names the path VARIANT selects;
#   2. the initial parameters equal the interpreter's (rtol 0, atol 0) and the
#      --epochs 0 outputs match;
#   3. after STEPS training steps the checkpoints match (ckpt_compare with
#      run_e2e.sh's rtol/atol) and the outputs match number by number.
#
# CC       VARIANT      FLAGS                      NAME_isa()
# gcc|clang native      -march=native              this CPU's widest path: avx512 with the
#                                                  avx512f flag in /proc/cpuinfo, else avx2
#                                                  with avx, else sse2 (neon on AArch64)
# gcc|clang x86-64-v3   -march=x86-64-v3           "avx512 (dispatched)" with the avx512f flag,
#                                                  else "avx2 (dispatched)": the kernels'
#                                                  clone the loader picked (run where the CPU
#                                                  has the v3 set)
# gcc|clang x86-64-v3-avx2  -march=x86-64-v3 -DNN2C_NO_DISPATCH   avx2
# gcc|clang x86-64      -march=x86-64              sse2
# gcc|clang no-simd     -DNN2C_NO_SIMD             portable
# aarch64   neon        -static, built by          neon, run under qemu-aarch64
#                       aarch64-linux-gnu-gcc
# Exit 77 (skip, with a SKIP: line) when the compiler, the cross compiler or
# qemu-aarch64 is missing, or the CPU cannot run the variant's code.
# Environment: E2E_RTOL, E2E_ATOL, E2E_OUT_RTOL, E2E_OUT_ATOL as in run_e2e.sh.
set -eu
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
warn="-std=c99 -Wall -Wextra -Werror -pedantic"

mode=$1
shift

# The command of a compiler name: aarch64 is the Debian cross compiler.
cc_command() { if [ "$1" = aarch64 ]; then echo aarch64-linux-gnu-gcc; else echo "$1"; fi; }

if [ "$mode" = runtime ]; then
  nn2c=$1 work=$2
  shift 2
  rm -rf "$work"
  mkdir -p "$work"
  # any model brings the runtime's sources; the smallest will do
  printf 'model rt\ninput 2\ndense 1\ntrain {\n  loss mse\n  optimizer sgd lr=0.1\n}\n' >"$work/rt.nn"
  "$nn2c" compile "$work/rt.nn" --train -o "$work/src" >"$work/compile.log" 2>&1 ||
    { cat "$work/compile.log" >&2; fail "nn2c compile failed"; }
  objs=
  for f in "$work"/src/nn2c_*.c; do objs="$objs $(basename "$f" .c).o"; done
  for cc in "$@"; do
    c=$(cc_command "$cc")
    command -v "$c" >/dev/null 2>&1 || { echo "note: no $c; nothing to build for $cc"; continue; }
    cp -R "$work/src" "$work/$cc"
    # shellcheck disable=SC2086 # word splitting of $objs is intended
    make -s -C "$work/$cc" CC="$c" CFLAGS="-O2 $warn" $objs >"$work/$cc/make.log" 2>&1 ||
      { cat "$work/$cc/make.log" >&2; fail "$c: runtime build failed"; }
    echo "runtime built with $c"
  done
  exit 0
fi

if [ "$mode" = ref ]; then
  nn2c=$1 model=$2 work=$3 steps=$4
  shift 4
  rm -rf "$work"
  mkdir -p "$work"
  "$nn2c" compile "$model" --train -o "$work/src" 2>"$work/compile.log" ||
    { cat "$work/compile.log" >&2; fail "nn2c compile $model --train failed"; }
  "$nn2c" run "$model" "$@" --epochs 0 --save "$work/interp0.ckpt" --quiet >"$work/interp0.out" ||
    fail "nn2c run --epochs 0 failed"
  "$nn2c" run "$model" "$@" --steps "$steps" --save "$work/interp.ckpt" --quiet >"$work/interp.out" ||
    fail "nn2c run --steps $steps failed"
  grep -q '^final: ' "$work/interp.out" || fail "nn2c run printed no final: line"
  sed -n 's/^final: /interp final: /p' "$work/interp.out"
  exit 0
fi

[ "$mode" = check ] || fail "unknown mode '$mode' (runtime, ref or check)"
cmp=$1 work=$2 rtdir=$3 steps=$4 cc=$5 variant=$6
shift 6
rtol=${E2E_RTOL:-1e-5} atol=${E2E_ATOL:-1e-6}
ortol=${E2E_OUT_RTOL:-1e-4} oatol=${E2E_OUT_ATOL:-3e-6}
[ -f "$work/interp.out" ] || fail "no reference in $work (run_isa.sh ref, the e2e_isa.*.ref test)"

# One CPU flag of /proc/cpuinfo.
cpu_has() { grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null | tr -s ' \t' '\n' | grep -qx "$1"; }
arch=$(uname -m)
x86_only() { [ "$arch" = x86_64 ] || skip "-march=$1 is an x86-64 target; this machine is $arch"; }

run='' static='' make_cc=$(cc_command "$cc")
case $cc:$variant in
  aarch64:neon)
    flags='' expect=neon static=-static run=qemu-aarch64
    command -v "$make_cc" >/dev/null 2>&1 ||
      skip "no AArch64 cross compiler $make_cc (Debian: apt-get install gcc-aarch64-linux-gnu)"
    command -v "$run" >/dev/null 2>&1 || skip "no $run (Debian: apt-get install qemu-user)" ;;
  gcc:* | clang:*)
    command -v "$cc" >/dev/null 2>&1 || skip "compiler $cc not found"
    case $variant in
      native)
        flags=-march=native
        case $arch in
          x86_64)
            if cpu_has avx512f; then expect=avx512
            elif cpu_has avx; then expect=avx2
            else expect=sse2; fi ;;
          aarch64) expect=neon ;;
          *) skip "no kernel-layer path expected for $arch" ;;
        esac ;;
      x86-64-v3 | x86-64-v3-avx2)
        x86_only x86-64-v3
        if [ "$variant" = x86-64-v3-avx2 ]; then flags="-march=x86-64-v3 -DNN2C_NO_DISPATCH" expect=avx2
        elif cpu_has avx512f; then flags=-march=x86-64-v3 expect="avx512 (dispatched)"
        else flags=-march=x86-64-v3 expect="avx2 (dispatched)"; fi
        # v3's flags as /proc/cpuinfo names them, but lzcnt ("abm"), which
        # some hypervisors leave out of the list while the CPU has it
        for f in avx avx2 bmi1 bmi2 f16c fma movbe xsave; do
          cpu_has $f || skip "this CPU lacks $f of x86-64-v3: its code cannot run here"
        done ;;
      x86-64) x86_only x86-64; flags=-march=x86-64 expect=sse2 ;;
      no-simd) flags=-DNN2C_NO_SIMD expect=portable ;;
      *) fail "unknown variant '$variant'" ;;
    esac
    "$cc" $flags -E -x c /dev/null >/dev/null 2>&1 || skip "$cc does not take $flags" ;;
  *) fail "unknown compiler/variant '$cc $variant'" ;;
esac
cflags="-O2${flags:+ $flags}${static:+ $static} $warn"

# Compares two --quiet outputs token by token (as run_e2e.sh does): words
# equal, numbers within tolerance.
compare_out() { awk -v rt="$ortol" -v at="$oatol" -v fa="$1" -v fb="$2" -f "$(dirname "$0")/compare_out.awk"; }

what="$cc $variant ($make_cc $cflags)"
name=$(sed -n 's/^\(.*\)_train:.*/\1/p' "$work/src/Makefile" | head -n 1)
[ -n "$name" ] || fail "no NAME_train target in $work/src/Makefile"
d="$work/$cc.$variant"
rm -rf "$d"
cp -R "$work/src" "$d"
for f in "$rtdir/$cc"/nn2c_*.o; do
  # prebuilt runtime objects, newer than their sources, so make keeps them
  [ -f "$f" ] || continue
  cp "$f" "$d/" && touch "$d/$(basename "$f")"
done
make -s -C "$d" CC="$make_cc" CFLAGS="$cflags" >"$d/make.log" 2>&1 ||
  { cat "$d/make.log" >&2; fail "$what: make failed"; }

# 1. the path compiled in
printf '#include <stdio.h>\n#include "%s.h"\nint main(void) {\n  puts(%s_isa());\n  return 0;\n}\n' \
  "$name" "$name" >"$d/isa_main.c"
omp=
nm "$d/$name.o" | grep -Eq ' U (GOMP_|__kmpc_|omp_)' && omp=-fopenmp # libgomp, libomp
# shellcheck disable=SC2086 # $cflags and $omp are lists of flags
"$make_cc" $cflags -o "$d/isa" "$d/isa_main.c" "$d/$name.o" $omp -lm >"$d/isa.log" 2>&1 ||
  { cat "$d/isa.log" >&2; fail "$what: the NAME_isa() probe did not build"; }
isa=$($run "$d/isa") || fail "$what: the NAME_isa() probe failed"
[ "$isa" = "$expect" ] || fail "$what: ${name}_isa() is \"$isa\", expected \"$expect\""
echo "== $what: ${name}_isa() = $isa"

# 2. initial parameters and the forward pass
$run "$d/${name}_train" "$@" --epochs 0 --save "$d/init.ckpt" --quiet >"$d/init.out" ||
  fail "$what: ${name}_train --epochs 0 failed"
"$cmp" "$d/init.ckpt" "$work/interp0.ckpt" --rtol 0 --atol 0 || fail "$what: initial parameters differ"
compare_out "$d/init.out" "$work/interp0.out" || fail "$what: --epochs 0 outputs differ"
echo "== $what: initial parameters and outputs"

# 3. training steps
$run "$d/${name}_train" "$@" --steps "$steps" --save "$d/a.ckpt" --quiet >"$d/a.out" ||
  fail "$what: ${name}_train --steps $steps failed"
"$cmp" "$d/a.ckpt" "$work/interp.ckpt" --rtol "$rtol" --atol "$atol" ||
  fail "$what: checkpoints after $steps steps differ"
compare_out "$d/a.out" "$work/interp.out" || fail "$what: outputs after $steps steps differ"
echo "== $what: after $steps steps"
sed -n 's/^final: /  emitted final: /p' "$d/a.out"
sed -n 's/^final: /  interp  final: /p' "$work/interp.out"
echo "PASS: $name, $what"
