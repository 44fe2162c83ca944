#!/bin/sh
# fuzz.sh - runs the libFuzzer targets long (CI runs each for 20 s: ctest -L fuzz).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS   per target (default 600); TARGET: fuzz_nn fuzz_onnx fuzz_ckpt fuzz_idx
#           fuzz_cifar fuzz_imdb fuzz_word_index fuzz_wav fuzz_train_flags fuzz_npy_csv (default: all)
# RUNS=N    also stops a target after N executions (issue 16's target is 10 million each)
#
# 1. configures build-fuzz/ with clang, -DNN2C_FUZZ=ON (coverage instrumentation
#    and ASan everywhere) and -DNN2C_SANITIZE=ON (UBSan too), and builds the targets;
# 2. runs each in turn from its seeds (tests/fuzz/corpus/T/) plus what earlier
#    runs found (build-fuzz/fuzz/T/corpus/, kept between runs), stopping at the
#    first crash, leak or timeout; JOBS=N runs N processes per target (their
#    logs in build-fuzz/fuzz/T/fuzz-*.log);
# 3. prints one line per target: executions, corpus size, and the reproducer's
#    path when it crashed (build-fuzz/fuzz/T/crash-*, leak-*, timeout-*).
# A reproducer belongs in tests/fuzz/crashes/T/ (fuzz.T.replay then fails
# until the bug is fixed). To keep new seeds small, merge them into the
# checked-in corpus: build-fuzz/tests/fuzz/T -merge=1 tests/fuzz/corpus/T build-fuzz/fuzz/T/corpus
set -eu
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS
cd "$(dirname "$0")/.."
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-fuzz_nn fuzz_onnx fuzz_ckpt fuzz_idx fuzz_cifar fuzz_imdb fuzz_word_index fuzz_wav fuzz_train_flags fuzz_npy_csv}
jobs=${JOBS:-1}
command -v clang >/dev/null 2>&1 || { echo "fuzz.sh: needs clang (Debian: apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNN2C_FUZZ=ON -DNN2C_SANITIZE=ON >/dev/null
# shellcheck disable=SC2086
cmake --build build-fuzz -j2 --target $targets
status=0
for t in $targets; do
  w=$(pwd)/build-fuzz/fuzz/$t
  mkdir -p "$w/corpus"
  dict= par=
  [ "$jobs" -gt 1 ] && par="-jobs=$jobs -workers=$jobs"
  [ -n "${RUNS:-}" ] && par="$par -runs=$RUNS"
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  rc=0
  # shellcheck disable=SC2086
  build-fuzz/tests/fuzz/$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
    -print_final_stats=1 $par -artifact_prefix="$w/" $dict \
    "$w/corpus" "tests/fuzz/corpus/$t" >"$w/log" 2>&1 || rc=$?
  # executions: the final stats, or after a crash the last status line (#N ...)
  execs=$(cat "$w/log" "$w"/fuzz-*.log 2>/dev/null | sed -n 's/^stat::number_of_executed_units: *//p' | awk '{s += $1} END {print s + 0}')
  [ "$execs" = 0 ] && execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$w/log" | tail -n 1)
  found=$(ls "$w"/crash-* "$w"/leak-* "$w"/timeout-* "$w"/oom-* 2>/dev/null | tr '\n' ' ')
  if [ "$rc" = 0 ] && [ -z "$found" ]; then
    echo "$t: $execs executions in $secs s, corpus $(ls "$w/corpus" | wc -l), no crash"
  else
    echo "$t: $execs executions, FOUND: ${found:-exit $rc} (log: $w/log)"
    status=1
  fi
done
exit $status
