#!/bin/sh
# run_mcu_models.sh - every model given, built for a microcontroller and run in qemu.
#
#   run_mcu_models.sh NN2C MCU_CHECK TARGET WORKDIR MODEL...
#
# Each model either compiles with nn2c compile --target TARGET, builds with
# -Werror -Wdouble-promotion, runs in qemu-system-arm and agrees with the
# interpreter (mcu_check), or is refused with nn2c's message that its C would
# compute in double (f64/f16/bf16 tensors, batch statistics, range): never a
# build error or a wrong result. Exits 77 without the toolchain or qemu.
set -eu
nn2c=$1 check=$2 target=$3 work=$4
shift 4
for tool in arm-none-eabi-gcc qemu-system-arm timeout; do
  command -v $tool >/dev/null 2>&1 ||
    { echo "SKIP: $tool not found (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"; exit 77; }
done
rm -rf "$work"
mkdir -p "$work"
ran=0 refused=0
for model in "$@"; do
  n=$(basename "$model" .nn)
  d=$work/$n
  if ! "$nn2c" compile "$model" --target "$target" -o "$d" --quiet 2>"$work/$n.err"; then
    grep -q "would need double arithmetic\|its C would compute in double" "$work/$n.err" ||
      { cat "$work/$n.err" >&2; echo "FAIL: $n: refused without the double message" >&2; exit 1; }
    echo "refused: $n: $(sed 's/^nn2c: error: //' "$work/$n.err" | cut -c1-150)"
    refused=$((refused + 1))
    continue
  fi
  make -s -C "$d" CFLAGS="-O2 -std=c99 -Wall -Wextra -Werror -pedantic -Wdouble-promotion" >"$work/$n.make" 2>&1 ||
    { cat "$work/$n.make" >&2; echo "FAIL: $n: make failed" >&2; exit 1; }
  make -s -C "$d" run QEMU_TIMEOUT=60 >"$work/$n.run" 2>&1 || { cat "$work/$n.run" >&2; echo "FAIL: $n: run" >&2; exit 1; }
  "$check" "$model" "$work/$n.run" >"$work/$n.check" 2>&1 ||
    { cat "$work/$n.check" >&2; echo "FAIL: $n: outputs differ from the interpreter" >&2; exit 1; }
  echo "ok: $n: $(cat "$work/$n.check")"
  ran=$((ran + 1))
done
echo "PASS: $ran models ran on $target and agree with the interpreter; $refused refused with the double message"
