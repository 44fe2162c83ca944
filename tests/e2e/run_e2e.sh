#!/bin/sh
# run_e2e.sh - emitted C against the interpreter for one model.
#
#   run_e2e.sh NN2C CKPT_COMPARE MODEL WORKDIR STEPS [TRAINER FLAGS...]
#
# 1. nn2c compile MODEL --train -o WORKDIR/src
# 2. builds the folder with gcc at -O0 and -O2 and, when present, clang at -O2,
#    all with -std=c99 -Wall -Wextra -Werror -pedantic;
# 3. per build (TRAINER FLAGS come first, so the flags below override them):
#    --epochs 0 (initial parameters) and --steps STEPS runs save
#    checkpoints that must match `nn2c run`'s (ckpt_compare, rtol/atol below),
#    and the --quiet output (the final: line, inline outputs) must match
#    number by number.
# Environment: E2E_CONFIGS (builds as CC:OPT or CC:OPT:openblas, the latter
# with the Makefile's BLAS=openblas), E2E_RTOL, E2E_ATOL (checkpoints), E2E_OUT_RTOL, E2E_OUT_ATOL
# (printed numbers, which are rounded to 6 decimals).
set -eu
nn2c=$1 cmp=$2 model=$3 work=$4 steps=$5
shift 5
rtol=${E2E_RTOL:-1e-5} atol=${E2E_ATOL:-1e-6}
ortol=${E2E_OUT_RTOL:-1e-4} oatol=${E2E_OUT_ATOL:-3e-6}

fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
"$nn2c" compile "$model" --train -o "$work/src" 2>"$work/compile.log" ||
  { cat "$work/compile.log" >&2; fail "nn2c compile $model --train failed"; }
name=$(sed -n 's/^\(.*\)_train:.*/\1/p' "$work/src/Makefile" | head -n 1)
[ -n "$name" ] || fail "no NAME_train target in $work/src/Makefile"

# Compares two --quiet outputs token by token: words equal, numbers within tolerance.
compare_out() { awk -v rt="$ortol" -v at="$oatol" -v fa="$1" -v fb="$2" -f "$(dirname "$0")/compare_out.awk"; }

# The interpreter's runs, the reference.
"$nn2c" run "$model" "$@" --epochs 0 --save "$work/interp0.ckpt" --quiet >"$work/interp0.out" ||
  fail "nn2c run --epochs 0 failed"
"$nn2c" run "$model" "$@" --steps "$steps" --save "$work/interp.ckpt" --quiet >"$work/interp.out" ||
  fail "nn2c run --steps $steps failed"
grep -q '^final: ' "$work/interp.out" || fail "nn2c run printed no final: line"
if "$nn2c" run "$model" "$@" --steps 0 --save "$work/steps0.ckpt" --quiet >/dev/null 2>&1; then
  [ -f "$work/steps0.ckpt" ] || fail "--steps 0 succeeded but saved no checkpoint"
else
  echo "note: --steps 0 is rejected by the trainer; --epochs 0 checks the initial parameters"
fi

configs="gcc:-O0 gcc:-O2"
command -v clang >/dev/null 2>&1 && configs="$configs clang:-O2"
configs=${E2E_CONFIGS:-$configs}
case $configs in *openblas*)
  pkg-config --exists openblas 2>/dev/null || { echo "SKIP: OpenBLAS not installed (libopenblas-dev)"; exit 77; } ;;
esac
for c in $configs; do
  cc=${c%%:*} opt=${c#*:} blas=
  case $opt in *:openblas) opt=${opt%:openblas} blas=openblas ;; esac
  command -v "$cc" >/dev/null 2>&1 || fail "compiler $cc not found"
  d="$work/$cc$opt$blas"
  cp -R "$work/src" "$d"
  make -s -C "$d" CC="$cc" CFLAGS="$opt -std=c99 -Wall -Wextra -Werror -pedantic" BLAS="$blas" >"$d/make.log" 2>&1 ||
    { cat "$d/make.log" >&2; fail "$cc $opt: make failed"; }
  if [ -n "$blas" ]; then # the model must really call the library, not the native loops
    nm "$d/$name.o" | grep -q ' U cblas_sgemm' || fail "$cc $opt $blas: the model does not call cblas_sgemm"
  fi
  "$d/${name}_train" "$@" --epochs 0 --save "$d/init.ckpt" --quiet >"$d/init.out" ||
    fail "$cc $opt: ${name}_train --epochs 0 failed"
  echo "== $cc $opt: initial parameters"
  "$cmp" "$d/init.ckpt" "$work/interp0.ckpt" --rtol 0 --atol 0 || fail "$cc $opt: initial parameters differ"
  compare_out "$d/init.out" "$work/interp0.out" || fail "$cc $opt: --epochs 0 outputs differ"
  "$d/${name}_train" "$@" --steps "$steps" --save "$d/a.ckpt" --quiet >"$d/a.out" ||
    fail "$cc $opt: ${name}_train --steps $steps failed"
  echo "== $cc $opt: after $steps steps"
  "$cmp" "$d/a.ckpt" "$work/interp.ckpt" --rtol "$rtol" --atol "$atol" ||
    fail "$cc $opt: checkpoints after $steps steps differ"
  compare_out "$d/a.out" "$work/interp.out" || fail "$cc $opt: outputs after $steps steps differ"
  sed -n 's/^final: /  emitted final: /p' "$d/a.out"
done
sed -n 's/^final: /  interp  final: /p' "$work/interp.out"
echo "PASS: $model ($configs)"
