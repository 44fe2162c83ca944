#!/bin/sh
# run_mcu.sh - a microcontroller build of one model, end to end.
#
#   run_mcu.sh NN2C MCU_CHECK MODEL TARGET WORKDIR [BATCH [STEPS]]
#
# 0. with STEPS: nn2c run MODEL --steps STEPS --save WORKDIR/trained.ckpt (the interpreter
#    trains it), and the build and the check below take --weights trained.ckpt;
# 1. nn2c compile MODEL --target TARGET [--batch BATCH] -o WORKDIR/src (the size report
#    goes to WORKDIR/report.txt);
# 2. NAME.c includes only <math.h> <stddef.h> <stdint.h> <string.h> and its header, and
#    names no heap, stdio or OpenMP function;
# 3. make (arm-none-eabi-gcc, the target's -mcpu/-mfpu/-mfloat-abi) with
#    -std=c99 -Wall -Wextra -Werror -pedantic -Wdouble-promotion;
# 4. arm-none-eabi-size NAME.elf: flash (text + data) and RAM (data + bss) within 5% of
#    the report's figures for the test firmware (flash within 10% under 16 KB, where the
#    firmware's own code dominates);
# 5. make run: qemu-system-arm runs the firmware (under `timeout`, so it never hangs);
#    mcu_check compares its outputs with the interpreter's (1e-5 relative) and checks
#    the stack the firmware measured fits the one it reserved.
# Environment: MCU_CHECK_FLAGS (extra mcu_check flags, e.g. "--rtol 0 --atol 0": bit for
# bit), MCU_SKIP_SIZE=1 (no step 4: tiny models, whose code the report's per-line
# estimate misses by more than the firmware's share).
# Exits 77 (skipped) without arm-none-eabi-gcc, its newlib or qemu-system-arm.
set -eu
nn2c=$1 check=$2 model=$3 target=$4 work=$5 batch=${6:-1} steps=${7:-}

fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm timeout; do
  command -v $tool >/dev/null 2>&1 ||
    { echo "SKIP: $tool not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"; exit 77; }
done
printf '#include <string.h>\n' | arm-none-eabi-gcc -x c -c - -o /dev/null 2>/dev/null ||
  { echo "SKIP: arm-none-eabi-gcc has no C library (Debian: libnewlib-arm-none-eabi)"; exit 77; }

rm -rf "$work"
mkdir -p "$work"
weights=
if [ -n "$steps" ]; then
  "$nn2c" run "$model" --steps "$steps" --save "$work/trained.ckpt" --quiet >"$work/train.txt" ||
    fail "nn2c run --steps $steps failed"
  weights="--weights $work/trained.ckpt"
fi
# shellcheck disable=SC2086
"$nn2c" compile "$model" --target "$target" --batch "$batch" $weights -o "$work/src" 2>"$work/report.txt" ||
  { cat "$work/report.txt" >&2; fail "nn2c compile --target $target failed"; }
cat "$work/report.txt"
name=$(sed -n 's/^\(.*\)\.elf:.*/\1/p' "$work/src/Makefile" | head -n 1)
[ -n "$name" ] || fail "no NAME.elf target in the Makefile"

# 2. what the model file may use
includes=$(grep '^#include' "$work/src/$name.c" | sort | tr '\n' ' ')
[ "$includes" = "#include \"$name.h\" #include <math.h> #include <stddef.h> #include <stdint.h> #include <string.h> " ] ||
  fail "$name.c includes: $includes"
! grep -nE '\b(malloc|calloc|realloc|free|printf|fprintf|puts|fopen|omp_[a-z_]+|cblas_[a-z]+)\(|#pragma omp' \
  "$work/src/$name.c" || fail "$name.c uses the heap, stdio, OpenMP or BLAS"
! grep -n 'static float\|static double' "$work/src/$name.c" | grep -v 'static const' ||
  fail "$name.c has writable float tables (the weights must be const)"

# 3. the build, warnings as errors
make -s -C "$work/src" CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror -pedantic -Wdouble-promotion" \
  >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; fail "make failed"; }

# 4. the report against arm-none-eabi-size
if [ "${MCU_SKIP_SIZE:-0}" != 1 ]; then
arm-none-eabi-size "$work/src/$name.elf" | tee "$work/size.txt"
set -- $(sed -n 2p "$work/size.txt")
flash=$(($1 + $2)) ram=$(($2 + $3))
set -- $(sed -n 's/.*: flash ~\([0-9]*\), RAM ~\([0-9]*\) bytes.*/\1 \2/p' "$work/report.txt")
[ $# -eq 2 ] || fail "no test firmware line in the report"
within() { # within MEASURED REPORTED: |m - r| <= 5% of m
  d=$(($1 - $2)); [ $d -lt 0 ] && d=$((-d))
  [ $((d * 20)) -le "$1" ]
}
if [ "$flash" -lt 16384 ]; then # the test firmware's own ~1.5 KB dominate: a few hundred bytes off is all we claim
  within $((flash * 2)) $((flash * 2 - flash + $1)) ||
    fail "flash: arm-none-eabi-size $flash bytes, the report ~$1 (more than 10% apart)"
else
  within $flash "$1" || fail "flash: arm-none-eabi-size $flash bytes, the report ~$1 (more than 5% apart)"
fi
within $ram "$2" || fail "RAM: arm-none-eabi-size $ram bytes, the report ~$2 (more than 5% apart)"
echo "size: flash $flash (report ~$1), RAM $ram (report ~$2)"
fi

# 5. the emulator, then the interpreter
make -s -C "$work/src" run QEMU_TIMEOUT=60 >"$work/run.txt" 2>&1 || { cat "$work/run.txt" >&2; fail "make run failed"; }
# shellcheck disable=SC2086
"$check" "$model" "$work/run.txt" --batch "$batch" $weights ${MCU_CHECK_FLAGS:-} || { head -20 "$work/run.txt" >&2; fail "outputs differ"; }
echo "PASS: $model on $target (batch $batch)"
